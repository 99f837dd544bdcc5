package sandbox

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The default seed's managed identities and federated credential.
const (
	hostIdentityID     = "44444444-4444-4444-4444-444444444444" // system-assigned
	userIdentityID     = "55555555-5555-5555-5555-555555555555"
	readonlyIdentityID = "66666666-6666-6666-6666-666666666666"
	federatedIssuer    = "https://oidc.sandbox.test/aks-contoso/"
	federatedSubject   = "system:serviceaccount:revoke:revoke"
)

var identityRoles = []any{"User.Read.All", "User.EnableDisableAccount.All", "User.RevokeSessions.All", "RoleManagement.Read.Directory"}

func TestDefaultSeedIdentities(t *testing.T) {
	d := DefaultSeed().NewDirectory(testNow)
	for id, want := range map[string]string{hostIdentityID: ManagedSystemAssigned, userIdentityID: ManagedUserAssigned, readonlyIdentityID: ManagedUserAssigned} {
		if a := d.Apps[id]; a == nil || a.ManagedIdentity != want || a.Secret != "" || len(a.Permissions) == 0 {
			t.Errorf("identity %s: %+v, want a %s identity with permissions", id, a, want)
		}
	}
	app := d.Apps[revokeClientID]
	if app.ManagedIdentity != "" || len(app.FederatedCredentials) != 1 {
		t.Fatalf("revoke app: %+v", app)
	}
	fc := app.FederatedCredentials[0]
	if fc.Name != "aks-revoke" || fc.Issuer != federatedIssuer || fc.Subject != federatedSubject ||
		!reflect.DeepEqual(fc.Audiences, []string{"api://AzureADTokenExchange"}) || len(fc.Keys) != 1 {
		t.Errorf("federated credential %+v", fc)
	}
	if _, ok := fc.Keys[0].(*ecdsa.PublicKey); !ok {
		t.Errorf("issuer key %T, want the public half of the seed's EC key", fc.Keys[0])
	}
}

// identityGet asks the tenant's managed identity endpoint for a token.
func identityGet(t *testing.T, tn *Tenant, method, header, query string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, tn.IdentityEndpoint()+"?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if header != "" {
		req.Header.Set("X-IDENTITY-HEADER", header)
	}
	resp, err := httpClient(tn).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("body: %v", err)
	}
	return resp.StatusCode, body
}

func TestIdentityEndpoint(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	if got, want := tn.IdentityEndpoint(), strings.TrimSuffix(tn.AuthorityHost(), "/")+"/msi/token"; got != want {
		t.Errorf("IdentityEndpoint %s, want %s", got, want)
	}
	if h := tn.IdentityHeader(); len(h) < 20 {
		t.Errorf("IdentityHeader %q is too guessable", h)
	}
	graph := "api-version=2019-08-01&resource=https://graph.microsoft.com"
	right := tn.IdentityHeader()
	tests := []struct {
		name, method, header, query string
		status                      int
		message                     string // the error's, or "" for a token
		client                      string
		roles                       []any
	}{
		{"the system-assigned identity", "GET", right, graph, 200, "", hostIdentityID, identityRoles},
		{"Graph by URI with a slash", "GET", right, "api-version=2019-08-01&resource=https://graph.microsoft.com/", 200, "", hostIdentityID, identityRoles},
		{"Graph by app id", "GET", right, "api-version=2019-08-01&resource=00000003-0000-0000-c000-000000000000", 200, "", hostIdentityID, identityRoles},
		{"a user-assigned identity by client id", "GET", right, graph + "&client_id=" + strings.ToUpper(userIdentityID), 200, "", userIdentityID, identityRoles},
		{"a user-assigned identity by object id", "GET", right, graph + "&object_id=" + stableID("servicePrincipal", readonlyIdentityID), 200, "", readonlyIdentityID, []any{"User.Read.All"}},
		{"a user-assigned identity by principal id", "GET", right, graph + "&principal_id=" + stableID("servicePrincipal", userIdentityID), 200, "", userIdentityID, identityRoles},
		{"no header", "GET", "", graph, 401, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.", "", nil},
		{"a wrong header", "GET", right + "x", graph, 401, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.", "", nil},
		{"a wrong header and a wrong version", "GET", "nope", "api-version=2017-09-01", 401, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.", "", nil},
		{"POST", "POST", right, graph, 405, "The managed identity endpoint only accepts GET requests.", "", nil},
		{"IMDS's version", "GET", right, "api-version=2018-02-01&resource=https://graph.microsoft.com", 400, "api-version '2018-02-01' is not supported; use 2019-08-01.", "", nil},
		{"no resource", "GET", right, "api-version=2019-08-01", 400, "The resource parameter is required.", "", nil},
		{"another resource", "GET", right, "api-version=2019-08-01&resource=https://management.azure.com", 400,
			"AADSTS500011: The resource principal named https://management.azure.com was not found in the tenant named 7a3e9f1c-2b4d-4e8a-9c61-0d5f3b2a1e47.", "", nil},
		{"an unknown client id", "GET", right, graph + "&client_id=99999999-9999-9999-9999-999999999999", 400,
			"No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.", "", nil},
		{"an app's client id", "GET", right, graph + "&client_id=" + revokeClientID, 400,
			"No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.", "", nil},
		{"the system-assigned identity's client id", "GET", right, graph + "&client_id=" + hostIdentityID, 400,
			"No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.", "", nil},
		{"a resource id", "GET", right, graph + "&mi_res_id=/subscriptions/x/resourceGroups/y/providers/Microsoft.ManagedIdentity/userAssignedIdentities/z", 400,
			"No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.", "", nil},
		{"two selectors", "GET", right, graph + "&client_id=" + userIdentityID + "&object_id=x", 400,
			"Only one of client_id, object_id (principal_id) and mi_res_id may be given.", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := identityGet(t, tn, tc.method, tc.header, tc.query)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body)
			}
			if tc.message != "" {
				corr, _ := body["correlationId"].(string)
				if body["message"] != tc.message || body["statusCode"] != float64(tc.status) || len(corr) != 36 || len(body) != 3 {
					t.Errorf("body %v, want statusCode %d, message %q and a correlationId", body, tc.status, tc.message)
				}
				return
			}
			q, _ := url.ParseQuery(tc.query)
			exp, err := strconv.ParseInt(fmt.Sprint(body["expires_on"]), 10, 64)
			if err != nil || time.Until(time.Unix(exp, 0)) < 59*time.Minute || time.Until(time.Unix(exp, 0)) > time.Hour {
				t.Errorf("expires_on %#v, want a string of Unix seconds an hour ahead", body["expires_on"])
			}
			if body["token_type"] != "Bearer" || body["resource"] != q.Get("resource") || body["client_id"] != tc.client || len(body) != 5 {
				t.Errorf("body %v", body)
			}
			raw, _ := body["access_token"].(string)
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err != nil {
				t.Fatal(err)
			}
			if claims["appid"] != tc.client || claims["aud"] != "https://graph.microsoft.com" || claims["tid"] != tn.TenantID() ||
				claims["idtyp"] != "app" || claims["oid"] != stableID("servicePrincipal", tc.client) || !reflect.DeepEqual(claims["roles"], tc.roles) {
				t.Errorf("claims %v", claims)
			}
			if status, _, body := do(t, tn, raw, "GET", "/users/"+adeleID+"?$select=id", ""); status != 200 {
				t.Errorf("Graph with the identity's token: %d %v", status, body)
			}
		})
	}
	t.Run("the identity's permissions are its token's", func(t *testing.T) {
		_, body := identityGet(t, tn, "GET", right, graph+"&client_id="+readonlyIdentityID)
		status, _, resp := do(t, tn, body["access_token"].(string), "PATCH", "/users/"+adeleID, `{"accountEnabled":false}`)
		if status != 403 || errCode(resp) != "Authorization_RequestDenied" {
			t.Errorf("PATCH as the read-only identity: %d %v", status, resp)
		}
		if !userState(t, tn, adeleID).Entra.AccountEnabled {
			t.Error("adele was disabled")
		}
	})
	t.Run("token requests are logged under the identity", func(t *testing.T) {
		tn.Log().Reset()
		identityGet(t, tn, "GET", right, graph+"&client_id="+userIdentityID)
		identityGet(t, tn, "GET", "", graph)
		var got []string
		for _, e := range tn.Log().Entries() {
			got = append(got, fmt.Sprintf("%s %s %s %d", e.Client, e.Method, strings.SplitN(e.Path, "?", 2)[0], e.Status))
		}
		if len(got) != 2 || got[0] != userIdentityID+" GET /msi/token 200" || !strings.HasSuffix(got[1], " GET /msi/token 401") {
			t.Errorf("log %q", got)
		}
	})
	t.Run("no client-credentials grant for a managed identity", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {userIdentityID}, "client_secret": {"x"}, "scope": {"https://graph.microsoft.com/.default"}}
		status, oauth, desc := postToken(t, tn, form)
		want := "AADSTS700016: Application with identifier '" + userIdentityID + "' was not found in the directory '" + tn.TenantID() + "'."
		if status != 400 || oauth != "unauthorized_client" || !strings.HasPrefix(desc, want) {
			t.Errorf("got %d %s %q", status, oauth, desc)
		}
	})
}

func TestIdentityEndpointWithoutASystemAssignedIdentity(t *testing.T) {
	t.Parallel()
	seed := DefaultSeed()
	seed.ManagedIdentities = seed.ManagedIdentities[1:]
	tn, err := Start(context.Background(), seed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	status, body := identityGet(t, tn, "GET", tn.IdentityHeader(), "api-version=2019-08-01&resource=https://graph.microsoft.com")
	if status != 400 || body["message"] != "No system-assigned managed identity is enabled on this resource." {
		t.Errorf("got %d %v", status, body)
	}
	other, err := Start(context.Background(), DefaultSeed(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if other.IdentityHeader() == tn.IdentityHeader() {
		t.Error("two tenants share an identity header")
	}
}

// postToken posts a token request and returns the status, the OAuth
// error and its description.
func postToken(t *testing.T, tn *Tenant, form url.Values) (int, string, string) {
	t.Helper()
	resp, err := httpClient(tn).PostForm(tn.AuthorityHost()+tn.TenantID()+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == 200 {
		tok, _ := body["access_token"].(string)
		return 200, "", tok
	}
	oauth, _ := body["error"].(string)
	desc, _ := body["error_description"].(string)
	return resp.StatusCode, oauth, desc
}

// federatedKey is the default seed's issuer key, which the seed gives as a
// private key so that tests can sign as the issuer.
func federatedKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	b, _ := pem.Decode([]byte(DefaultSeed().Apps[0].FederatedCredentials[0].IssuerKey))
	if b == nil {
		t.Fatal("the default seed's issuer_key is not PEM")
	}
	key, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestFederatedAssertions(t *testing.T) {
	t.Parallel()
	certPEM, bundle := newAppCertificate(t)
	seed := DefaultSeed()
	seed.Apps[0].Certificate = string(certPEM) // a certificate beside the federated credential
	tn, err := Start(context.Background(), seed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()

	issuerKey := federatedKey(t)
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := pem.Decode(bundle[len(certPEM):])
	k, err := x509.ParsePKCS8PrivateKey(pb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	certKey := k.(*rsa.PrivateKey)
	certDER, _ := pem.Decode(certPEM)
	sum := sha256.Sum256(certDER.Bytes)
	tokenURL := tn.AuthorityHost() + tn.TenantID() + "/oauth2/v2.0/token"

	now := time.Now()
	federated := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": federatedIssuer, "sub": federatedSubject, "aud": []string{"api://AzureADTokenExchange"},
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "kubernetes.io": map[string]any{"namespace": "revoke"}}
		if change != nil {
			change(c)
		}
		return c
	}
	certificate := jwt.MapClaims{"iss": revokeClientID, "sub": revokeClientID, "aud": tokenURL, "jti": "1",
		"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		tok := jwt.NewWithClaims(method, claims)
		if method == jwt.SigningMethodPS256 {
			tok.Header["x5t#S256"] = base64.StdEncoding.EncodeToString(sum[:])
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	fix := " Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
	tests := []struct {
		name      string
		client    string
		assertion string
		status    int
		desc      string // the AADSTS message, before " Trace ID"
	}{
		{"the issuer's token", revokeClientID, sign(jwt.SigningMethodES256, issuerKey, federated(nil)), 200, ""},
		{"the app's own certificate, on the same app", revokeClientID, sign(jwt.SigningMethodPS256, certKey, certificate), 200, ""},
		{"a wrong subject", revokeClientID, sign(jwt.SigningMethodES256, issuerKey, federated(func(c jwt.MapClaims) { c["sub"] = "system:serviceaccount:default:default" })), 401,
			"AADSTS700213: No matching federated identity record found for presented assertion subject 'system:serviceaccount:default:default'." + fix},
		{"a subject in other case", revokeClientID, sign(jwt.SigningMethodES256, issuerKey, federated(func(c jwt.MapClaims) { c["sub"] = strings.ToUpper(federatedSubject) })), 401,
			"AADSTS700213: No matching federated identity record found for presented assertion subject 'SYSTEM:SERVICEACCOUNT:REVOKE:REVOKE'." + fix},
		{"an unknown issuer", revokeClientID, sign(jwt.SigningMethodES256, issuerKey, federated(func(c jwt.MapClaims) { c["iss"] = "https://token.actions.githubusercontent.com" })), 401,
			"AADSTS700211: No matching federated identity record found for presented assertion issuer 'https://token.actions.githubusercontent.com'." + fix},
		{"a wrong audience", revokeClientID, sign(jwt.SigningMethodES256, issuerKey, federated(func(c jwt.MapClaims) { c["aud"] = "api://somewhere-else" })), 401,
			"AADSTS700212: No matching federated identity record found for presented assertion audience 'api://somewhere-else'." + fix},
		{"an expired token", revokeClientID, sign(jwt.SigningMethodES256, issuerKey, federated(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })), 401,
			"AADSTS700024: Client assertion is not within its valid time range."},
		{"a token not valid yet", revokeClientID, sign(jwt.SigningMethodES256, issuerKey, federated(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })), 401,
			"AADSTS700024: Client assertion is not within its valid time range."},
		{"a token without exp", revokeClientID, sign(jwt.SigningMethodES256, issuerKey, federated(func(c jwt.MapClaims) { delete(c, "exp") })), 401,
			"AADSTS50027: JWT token is invalid or malformed: it has no exp claim."},
		{"another key", revokeClientID, sign(jwt.SigningMethodES256, otherKey, federated(nil)), 401,
			"AADSTS50013: Assertion failed signature validation. [Reason - No key of issuer '" + federatedIssuer + "' verifies the signature.]"},
		{"an unsigned token", revokeClientID, sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, federated(nil)), 401,
			"AADSTS50013: Assertion failed signature validation. [Reason - No key of issuer '" + federatedIssuer + "' verifies the signature.]"},
		{"the issuer's key on a certificate assertion", revokeClientID, sign(jwt.SigningMethodES256, issuerKey, certificate), 401,
			"AADSTS700027: Client assertion failed signature validation."},
		{"the issuer's token for an app without federated credentials", readonlyClientID, sign(jwt.SigningMethodES256, issuerKey, federated(nil)), 401,
			"AADSTS700027: Client assertion failed signature validation. The application has no certificate credentials."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {tc.client}, "scope": {"https://graph.microsoft.com/.default"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {tc.assertion}}
			status, oauth, desc := postToken(t, tn, form)
			if tc.status == 200 {
				if status != 200 {
					t.Fatalf("got %d %s %s", status, oauth, desc)
				}
				claims := jwt.MapClaims{}
				if _, _, err := jwt.NewParser().ParseUnverified(desc, claims); err != nil || claims["appid"] != tc.client || claims["app_displayname"] != "revoke" {
					t.Errorf("token claims %v, %v", claims, err)
				}
				return
			}
			if status != tc.status || oauth != "invalid_client" || !strings.HasPrefix(desc, tc.desc+" Trace ID: ") {
				t.Errorf("got %d %s\n%q\nwant %d invalid_client\n%q", status, oauth, desc, tc.status, tc.desc)
			}
		})
	}
}

// pemOf encodes a key as PEM of the given type.
func pemOf(t *testing.T, typ string, der []byte, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestParseIssuerKeys(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	ecPKIX, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	ecPub := pemOf(t, "PUBLIC KEY", ecPKIX, err)
	rsaPKIX, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	rsaPub := pemOf(t, "PUBLIC KEY", rsaPKIX, err)
	edPKIX, err := x509.MarshalPKIXPublicKey(edPub)
	edPEM := pemOf(t, "PUBLIC KEY", edPKIX, err)
	ecSEC1, err := x509.MarshalECPrivateKey(ec)
	ecPriv := pemOf(t, "EC PRIVATE KEY", ecSEC1, err)
	rsaPKCS1 := pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), nil)
	certPEM, _ := newAppCertificate(t)
	tests := []struct {
		name, pem string
		want      []crypto.PublicKey
		err       string
	}{
		{"an EC public key", ecPub, []crypto.PublicKey{&ec.PublicKey}, ""},
		{"an RSA public key and an EC private key", rsaPub + ecPriv, []crypto.PublicKey{&rsaKey.PublicKey, &ec.PublicKey}, ""},
		{"an RSA private key", rsaPKCS1, []crypto.PublicKey{&rsaKey.PublicKey}, ""},
		{"a certificate", string(certPEM), nil, ""},
		{"an Ed25519 key", edPEM, nil, "PUBLIC KEY: a ed25519.PublicKey cannot verify RS256 or ES256 tokens (want RSA or ECDSA)"},
		{"no PEM", "hello", nil, "no PEM public key, certificate or private key"},
		{"another block", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", nil, `PEM block "CERTIFICATE REQUEST" is not a public key, certificate or private key`},
		{"a broken key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", nil, "PUBLIC KEY: asn1: structure error: tags don't match (16 vs {class:0 tag:0 length:0 isCompound:false}) {optional:false explicit:false application:false private:false defaultValue:<nil> tag:<nil> stringType:0 timeType:0 set:false omitEmpty:false} publicKeyInfo @2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseIssuerKeys([]byte(tc.pem))
			switch {
			case tc.err != "":
				if err == nil || err.Error() != tc.err {
					t.Errorf("err %v, want %s", err, tc.err)
				}
			case err != nil:
				t.Errorf("err %v", err)
			case tc.want == nil:
				if len(got) != 1 {
					t.Errorf("keys %v", got)
				}
			case !reflect.DeepEqual(got, tc.want):
				t.Errorf("keys %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseSeedIdentityErrors(t *testing.T) {
	key := DefaultSeed().Apps[0].FederatedCredentials[0].IssuerKey
	indented := "          " + strings.ReplaceAll(strings.TrimSuffix(key, "\n"), "\n", "\n          ") + "\n"
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{
			name: "a federated credential is enough for an app",
			yaml: `tenant: {id: t1}
apps:
  - client_id: c1
    federated_credentials:
      - name: gh
        issuer: https://token.actions.githubusercontent.com
        subject: repo:contoso/revoke:environment:prod
        issuer_key: |
` + indented,
		},
		{
			name: "federated credentials",
			yaml: `tenant: {id: t1}
apps:
  - client_id: c1
    federated_credentials:
      - {colour: blue}
      - name: a
        issuer: http://oidc.test/
        subject: s
        audiences: [api://AzureADTokenExchange, api://other]
        issuer_key: not a key
      - name: a
        issuer: https://oidc.test/
        subject: s
        audiences: []
        issuer_key: |
` + indented + `      - name: b
        issuer: https://oidc.test/
        subject: s
        issuer_key: |
` + indented,
			want: []string{
				`s.yaml:5:10: unknown key "colour" in federated credential`,
				`s.yaml:5:9: name is required`,
				`s.yaml:5:9: issuer is required`,
				`s.yaml:5:9: subject is required`,
				`s.yaml:5:9: issuer_key is required`,
				`s.yaml:7:17: issuer must be an https URL, got "http://oidc.test/"`,
				`s.yaml:9:20: audiences must hold exactly one audience (Entra allows one), got 2`,
				`s.yaml:10:21: issuer_key: no PEM public key, certificate or private key`,
				`s.yaml:14:20: audiences must hold exactly one audience (Entra allows one), got 0`,
				`s.yaml:11:9: federated credential "a" given twice`,
				`s.yaml:21:9: federated credential "b": "a" already has one for issuer "https://oidc.test/" and subject "s"`,
			},
		},
		{
			name: "managed identities",
			yaml: `tenant: {id: t1}
apps:
  - {client_id: c1, secret: s}
managed_identities:
  - {client_id: m1, type: system_assigned, directory_roles: [Supreme Leader]}
  - {client_id: M2, type: system_assigned}
  - {client_id: c1, type: user_assigned}
  - {client_id: m1, type: user_assigned, permissions: [User.Read.All]}
  - {type: robot, name: x}
  - {client_id: m3, colour: blue}
`,
			want: []string{
				`s.yaml:5:62: unknown directory role "Supreme Leader" (known: Authentication Administrator, Cloud Device Administrator, Exchange Administrator, Global Administrator, Global Reader, Helpdesk Administrator, Intune Administrator, Privileged Authentication Administrator, Privileged Role Administrator, Security Administrator, User Administrator)`,
				`s.yaml:9:12: type must be system_assigned or user_assigned, got "robot"`,
				`s.yaml:9:5: client_id is required`,
				`s.yaml:10:21: unknown key "colour" in managed identity`,
				`s.yaml:10:5: type is required`,
				`s.yaml:6:5: managed identity "m2": only one identity can be system_assigned (the resource revoke runs on has one)`,
				`s.yaml:7:5: managed identity "c1": client_id is already an app's or another identity's`,
				`s.yaml:8:5: managed identity "m1": client_id is already an app's or another identity's`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSeed("s.yaml", []byte(tc.yaml))
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				d := s.NewDirectory(testNow)
				if fc := d.Apps["c1"].FederatedCredentials; len(fc) != 1 || len(fc[0].Keys) != 1 || fc[0].Audiences[0] != "api://AzureADTokenExchange" {
					t.Errorf("federated credentials %+v", fc)
				}
				return
			}
			se, ok := err.(*SeedError)
			if !ok {
				t.Fatalf("err = %v, want *SeedError", err)
			}
			if strings.Join(se.Problems, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(se.Problems, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
