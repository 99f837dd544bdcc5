package sandbox

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// The seed's revoke serve API and its callers (default_seed.yaml).
const (
	apiClientID      = "77777777-7777-7777-7777-777777777777"
	apiURI           = "api://revoke-api"
	playbookClientID = "88888888-8888-8888-8888-888888888801"
	playbookSecret   = "sandbox-only-secret-playbook-3Hv7"
	approverClientID = "88888888-8888-8888-8888-888888888802"
	approverSecret   = "sandbox-only-secret-approver-8Tn2"
	leadClientID     = "88888888-8888-8888-8888-888888888803"
	leadSecret       = "sandbox-only-secret-lead-5Wq9"
	helpdeskClientID = "88888888-8888-8888-8888-888888888804"
	helpdeskSecret   = "sandbox-only-secret-helpdesk-6Jc4"
)

// apiToken gets a token for scope with the client-credentials form.
func apiToken(t testing.TB, tn *Tenant, clientID, secret, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {scope}}
	resp, err := httpClient(tn).PostForm(tn.AuthorityHost()+tn.TenantID()+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token for %s: status %d %s, %v", scope, resp.StatusCode, body.Error, err)
	}
	return body.AccessToken
}

// verifier is go-oidc's verifier for revoke-api's tokens, built from the
// tenant's OpenID configuration and JWKS as a relying party does.
func verifier(t *testing.T, tn *Tenant) *oidc.IDTokenVerifier {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), httpClient(tn))
	p, err := oidc.NewProvider(ctx, tn.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return p.Verifier(&oidc.Config{ClientID: apiClientID})
}

// TestAPITokensVerifyWithGoOIDC gets a token for revoke-api for each
// seeded caller, by the API's identifier URI and by its client id, and
// checks it with go-oidc against the tenant's discovery document and
// keys: v2.0 claims, aud the API's client id, roles the caller's.
func TestAPITokensVerifyWithGoOIDC(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	v := verifier(t, tn)
	tests := []struct {
		name, client, secret, scope string
		roles                       []string
	}{
		{"a playbook that may run", playbookClientID, playbookSecret, apiURI + "/.default", []string{"Revoke.Run"}},
		{"an approver", approverClientID, approverSecret, apiURI + "/.default", []string{"Revoke.Approve"}},
		{"a lead with both roles", leadClientID, leadSecret, apiClientID + "/.default", []string{"Revoke.Run", "Revoke.Approve"}},
		{"a tool with neither", helpdeskClientID, helpdeskSecret, apiURI + "/.default", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := apiToken(t, tn, tc.client, tc.secret, tc.scope)
			tok, err := v.Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			var c struct {
				Aud    string   `json:"aud"`
				Azp    string   `json:"azp"`
				Azpacr string   `json:"azpacr"`
				Tid    string   `json:"tid"`
				Oid    string   `json:"oid"`
				Sub    string   `json:"sub"`
				Ver    string   `json:"ver"`
				Idtyp  string   `json:"idtyp"`
				Roles  []string `json:"roles"`
				AppID  *string  `json:"appid"`
				Iat    int64    `json:"iat"`
				Nbf    int64    `json:"nbf"`
				Exp    int64    `json:"exp"`
			}
			if err := tok.Claims(&c); err != nil {
				t.Fatal(err)
			}
			oid := stableID("servicePrincipal", tc.client)
			if tok.Issuer != tn.Issuer() || c.Aud != apiClientID || c.Azp != tc.client || c.Azpacr != "1" || c.Tid != tn.TenantID() ||
				c.Oid != oid || c.Sub != oid || c.Ver != "2.0" || c.Idtyp != "app" || c.AppID != nil {
				t.Errorf("claims %+v, iss %s", c, tok.Issuer)
			}
			if !slices.Equal(c.Roles, tc.roles) {
				t.Errorf("roles %v, want %v", c.Roles, tc.roles)
			}
			if c.Nbf != c.Iat || c.Exp-c.Iat != int64(tokenLifetime.Seconds()) {
				t.Errorf("iat %d nbf %d exp %d", c.Iat, c.Nbf, c.Exp)
			}
		})
	}
	// Graph's tokens are still v1.0 ones for Graph, which revoke-api's
	// verifier refuses (another issuer).
	graph := token(t, tn, revokeClientID, revokeSecret)
	if _, err := v.Verify(context.Background(), graph); err == nil || !strings.Contains(err.Error(), "issued by a different provider") {
		t.Errorf("a Graph token for revoke-api: %v", err)
	}
}

// TestAPITokenScopes: the token endpoint refuses what Entra refuses for
// an API scope: no /.default, an unknown API, two resources at once.
func TestAPITokenScopes(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	for _, scope := range []string{
		apiURI + "/Revoke.Run",
		"api://nobody/.default",
		apiURI + "/.default https://graph.microsoft.com/.default",
	} {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {playbookClientID}, "client_secret": {playbookSecret}, "scope": {scope}}
		resp, err := httpClient(tn).PostForm(tn.AuthorityHost()+tn.TenantID()+"/oauth2/v2.0/token", form)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 400 || body["error"] != "invalid_scope" {
			t.Errorf("scope %q: %d %v", scope, resp.StatusCode, body["error"])
		}
	}
}

// TestSigningKeyRotation rolls the authority's key twice: after the first
// roll the JWKS lists both keys, a token signed before still verifies and
// one signed after (a new kid) verifies too, go-oidc fetching the keys
// again; after the second roll the first key is retired and its tokens
// fail, with Graph as with a verifier that reads the keys afresh.
func TestSigningKeyRotation(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	v := verifier(t, tn)
	ctx := context.Background()
	before := apiToken(t, tn, playbookClientID, playbookSecret, apiURI+"/.default")
	graphBefore := token(t, tn, readonlyClientID, readonlySecret)
	if _, err := v.Verify(ctx, before); err != nil {
		t.Fatalf("before rotation: %v", err)
	}
	if err := tn.RotateSigningKey(); err != nil {
		t.Fatal(err)
	}
	if n := len(tn.graph.tokens.jwks()); n != 2 {
		t.Fatalf("JWKS after one rotation: %d keys, want 2", n)
	}
	after := apiToken(t, tn, playbookClientID, playbookSecret, apiURI+"/.default")
	if kid(t, after) == kid(t, before) {
		t.Fatal("the rotated key has the old kid")
	}
	for name, raw := range map[string]string{"before": before, "after": after} {
		if _, err := v.Verify(ctx, raw); err != nil {
			t.Errorf("token signed %s the first rotation: %v", name, err)
		}
	}
	if status, _, body := do(t, tn, graphBefore, "GET", "/users/"+adeleID, ""); status != 200 {
		t.Errorf("Graph with a token of the previous key: %d %v", status, body)
	}
	if err := tn.RotateSigningKey(); err != nil {
		t.Fatal(err)
	}
	// go-oidc keeps the keys it fetched until a token names a kid it has
	// not seen; a relying party that fetches the keys now refuses the
	// retired key's tokens.
	if _, err := verifier(t, tn).Verify(ctx, before); err == nil || !strings.Contains(err.Error(), "failed to verify signature") {
		t.Errorf("a token of the retired key: %v", err)
	}
	if _, err := v.Verify(ctx, after); err != nil {
		t.Errorf("a token of the previous key: %v", err)
	}
	if status, _, body := do(t, tn, graphBefore, "GET", "/users/"+adeleID, ""); status != 401 || errMessage(body) != "Access token validation failure." {
		t.Errorf("Graph with a token of the retired key: %d %v", status, body)
	}
}

// kid is a JWT's key id, read without verifying.
func kid(t *testing.T, raw string) string {
	t.Helper()
	head, _, _ := strings.Cut(raw, ".")
	var h struct {
		Kid string `json:"kid"`
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil || json.Unmarshal(b, &h) != nil || h.Kid == "" {
		t.Fatalf("no kid in %q: %v", head, err)
	}
	return h.Kid
}

// TestParseSeedAPIErrors: api_roles must name an API of the seed and
// roles it defines; identifier URIs are one app's each.
func TestParseSeedAPIErrors(t *testing.T) {
	t.Parallel()
	const api = `tenant: {id: t1}
apps:
  - {name: api, client_id: a1, identifier_uris: ["api://x"], app_roles: [R.Run]}
`
	tests := []struct{ name, yaml, want string }{
		{"unknown API", api + "  - {name: c, client_id: c1, secret: s, api_roles: {api://y: [R.Run]}}\n",
			`s.yaml:4:5: app "c1": api_roles names "api://y", which is no app's client id or identifier URI with app_roles`},
		{"unknown role", api + "  - {name: c, client_id: c1, secret: s, api_roles: {a1: [R.Approve]}}\n",
			`s.yaml:4:5: app "c1": api "a1" defines no app role "R.Approve" (it has R.Run)`},
		{"identifier URI twice", api + "  - {name: c, client_id: c1, identifier_uris: [\"API://X\"], app_roles: [Q]}\n",
			`s.yaml:4:5: app "c1": identifier URI "API://X" is already app "a1"'s`},
		{"an identity's unknown role", api + "managed_identities:\n  - {name: m, client_id: m1, type: user_assigned, api_roles: {a1: [R.Approve]}}\n",
			`s.yaml:5:5: managed identity "m1": api "a1" defines no app role "R.Approve" (it has R.Run)`},
		{"a client without a credential", api + "  - {name: c, client_id: c1, api_roles: {a1: [R.Run]}}\n",
			`s.yaml:4:5: app "c1" needs a secret or a certificate`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSeed("s.yaml", []byte(tc.yaml))
			se, ok := err.(*SeedError)
			if !ok {
				t.Fatalf("err = %v, want *SeedError", err)
			}
			if got := strings.Join(se.Problems, "\n"); got != tc.want {
				t.Errorf("problems:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
	// An API app needs no credential, and a client's roles are keyed by
	// the API's client id whichever way the seed names it.
	s, err := ParseSeed("s.yaml", []byte(api+"  - {name: c, client_id: c1, secret: s, api_roles: {API://X: [R.Run]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := s.NewDirectory(time.Now()); !slices.Equal(d.Apps["c1"].APIRoles["a1"], []string{"R.Run"}) {
		t.Errorf("api roles: %v", d.Apps["c1"].APIRoles)
	}
}

// TestManagedIdentityTokenForAPI: a Logic App's managed identity gets a
// token for revoke-api from the identity endpoint, as an HTTP action with
// "Managed identity" and audience api://revoke-api does: v2.0, its roles
// on the API, verified by go-oidc.
func TestManagedIdentityTokenForAPI(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	const logicApp = "99999999-9999-9999-9999-999999999901"
	req, err := http.NewRequest("GET", tn.IdentityEndpoint()+"?api-version=2019-08-01&resource="+url.QueryEscape(apiURI)+"&client_id="+logicApp, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-IDENTITY-HEADER", tn.IdentityHeader())
	resp, err := httpClient(tn).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v %v", resp.StatusCode, body, err)
	}
	raw, _ := body["access_token"].(string)
	tok, err := verifier(t, tn).Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Azp    string   `json:"azp"`
		Azpacr string   `json:"azpacr"`
		Roles  []string `json:"roles"`
		Exp    int64    `json:"exp"`
	}
	if err := tok.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if c.Azp != logicApp || c.Azpacr != "2" || !slices.Equal(c.Roles, []string{"Revoke.Run"}) || body["expires_on"] != strconv.FormatInt(c.Exp, 10) || body["resource"] != apiURI {
		t.Errorf("claims %+v, answer %v", c, body)
	}
}
