package sandbox

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Managed identity kinds, the values of a seed identity's type and of
// App.ManagedIdentity.
const (
	// ManagedSystemAssigned is the identity of the compute resource itself
	// (a VM, an App Service): the endpoint's answer when no identity is named.
	ManagedSystemAssigned = "system_assigned"
	// ManagedUserAssigned is a standalone identity the resource was given,
	// chosen by client_id (or object_id) on the request.
	ManagedUserAssigned = "user_assigned"
)

// federatedAudience is the audience Entra recommends, and the Kubernetes
// webhook and GitHub use, for tokens exchanged through workload identity
// federation.
const federatedAudience = "api://AzureADTokenExchange"

// identityAPIVersion is the App Service managed identity protocol version
// azidentity (MSAL) speaks.
const identityAPIVersion = "2019-08-01"

// identityPath is where the tenant serves App Service's managed identity
// endpoint, the path App Service itself uses (http://127.0.0.1:PORT/msi/token).
// It sits beside the OAuth endpoints rather than under /_sandbox because it
// is an emulated Azure endpoint: its requests are logged, delayed and
// subject to injected faults like the token endpoint's.
const identityPath = "/msi/token"

// FederatedCredential is a federated identity credential of an app
// registration: a token from Issuer about Subject, for one of Audiences,
// buys the app's token.
//
// Entra fetches the issuer's signing keys from its OpenID discovery
// document (issuer + /.well-known/openid-configuration → jwks_uri). The
// sandbox makes no outbound calls, so the seed gives the keys instead
// (issuer_key) and assertions are verified against those.
type FederatedCredential struct {
	Name      string
	Issuer    string
	Subject   string
	Audiences []string
	// Keys are the issuer's public keys (*rsa.PublicKey, *ecdsa.PublicKey).
	Keys []crypto.PublicKey
}

// IdentityEndpoint is the App Service managed identity endpoint, the value
// of IDENTITY_ENDPOINT for azidentity's ManagedIdentityCredential:
// https://127.0.0.1:PORT/msi/token.
func (t *Tenant) IdentityEndpoint() string { return "https://" + t.ln.Addr().String() + identityPath }

// IdentityHeader is the secret the identity endpoint wants in the
// X-IDENTITY-HEADER header, the value of IDENTITY_HEADER. Like App
// Service's, it is random, made when the tenant starts.
func (t *Tenant) IdentityHeader() string { return t.graph.tokens.identityHeader }

// parseIssuerKeys reads the public keys of the PEM blocks in p: PUBLIC KEY,
// CERTIFICATE, or a private key (PRIVATE KEY, EC PRIVATE KEY, RSA PRIVATE
// KEY) whose public half is taken. Only RSA and ECDSA keys sign JWTs
// Entra accepts from an issuer.
func parseIssuerKeys(p []byte) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for {
		var b *pem.Block
		b, p = pem.Decode(p)
		if b == nil {
			break
		}
		var key any
		var err error
		switch b.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(b.Bytes); err == nil {
				key = c.PublicKey
			}
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		default:
			return nil, fmt.Errorf("PEM block %q is not a public key, certificate or private key", b.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Type, err)
		}
		if s, ok := key.(crypto.Signer); ok {
			key = s.Public()
		}
		switch key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
			keys = append(keys, key)
		default:
			return nil, fmt.Errorf("%s: a %T cannot verify RS256 or ES256 tokens (want RSA or ECDSA)", b.Type, key)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key, certificate or private key")
	}
	return keys, nil
}

// federatedFix ends Entra's federated credential mismatch messages.
const federatedFix = " Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"

// checkFederated verifies a client assertion against the app's federated
// identity credentials as Entra does: a credential for the assertion's
// issuer, a signature by one of that issuer's keys, within its lifetime,
// then a credential matching its subject exactly, then its audience. It
// returns an AADSTS code and message, or 0.
func (o *oauthServer) checkFederated(app *App, assertion, issuer string) (int, string) {
	var forIssuer []FederatedCredential
	for _, fc := range app.FederatedCredentials {
		if fc.Issuer == issuer { // Entra compares issuers exactly
			forIssuer = append(forIssuer, fc)
		}
	}
	if len(forIssuer) == 0 {
		return 700211, fmt.Sprintf("No matching federated identity record found for presented assertion issuer '%s'.%s", issuer, federatedFix)
	}
	var keys []crypto.PublicKey
	for _, fc := range forIssuer {
		keys = append(keys, fc.Keys...)
	}
	claims := jwt.MapClaims{}
	err := errors.New("the issuer has no keys")
	for _, key := range keys {
		claims = jwt.MapClaims{}
		_, err = jwt.ParseWithClaims(assertion, claims, func(*jwt.Token) (any, error) { return key, nil },
			jwt.WithValidMethods([]string{"RS256", "PS256", "ES256", "ES384"}), jwt.WithTimeFunc(o.now),
			jwt.WithExpirationRequired())
		// jwt checks the claims only once a key verified the signature: a
		// claims error is this key's verdict, the others' is moot.
		if err == nil || !errors.Is(err, jwt.ErrTokenSignatureInvalid) && !errors.Is(err, jwt.ErrTokenUnverifiable) {
			break
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired) || errors.Is(err, jwt.ErrTokenNotValidYet):
		return 700024, "Client assertion is not within its valid time range."
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return 50027, "JWT token is invalid or malformed: it has no exp claim."
	default:
		return 50013, "Assertion failed signature validation. [Reason - No key of issuer '" + issuer + "' verifies the signature.]"
	}
	sub, _ := claims.GetSubject()
	var forSubject []FederatedCredential
	for _, fc := range forIssuer {
		if fc.Subject == sub { // and subjects exactly, case included
			forSubject = append(forSubject, fc)
		}
	}
	if len(forSubject) == 0 {
		return 700213, fmt.Sprintf("No matching federated identity record found for presented assertion subject '%s'.%s", sub, federatedFix)
	}
	aud, _ := claims.GetAudience()
	for _, fc := range forSubject {
		for _, a := range aud {
			if contains(fc.Audiences, a) {
				return 0, ""
			}
		}
	}
	return 700212, fmt.Sprintf("No matching federated identity record found for presented assertion audience '%s'.%s", strings.Join(aud, ","), federatedFix)
}

// identity serves App Service's managed identity protocol:
//
//	GET /msi/token?api-version=2019-08-01&resource=RESOURCE[&client_id=ID|&object_id=ID]
//	X-IDENTITY-HEADER: IDENTITY_HEADER
//
// answering {"access_token","expires_on","resource","token_type","client_id"}
// with a Graph token for the system-assigned identity, or the user-assigned
// one the request names, whose roles are the identity's permissions. It
// returns the identity's client id for the request log.
func (o *oauthServer) identity(w http.ResponseWriter, r *http.Request) string {
	if r.Method != http.MethodGet {
		o.identityError(w, http.StatusMethodNotAllowed, "The managed identity endpoint only accepts GET requests.")
		return ""
	}
	// App Service checks the header first: it is what keeps a server-side
	// request forgery from minting tokens.
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-IDENTITY-HEADER")), []byte(o.tokens.identityHeader)) != 1 {
		o.identityError(w, http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.")
		return ""
	}
	q := r.URL.Query()
	if v := q.Get("api-version"); v != identityAPIVersion {
		o.identityError(w, http.StatusBadRequest, fmt.Sprintf("api-version '%s' is not supported; use %s.", v, identityAPIVersion))
		return ""
	}
	resource := q.Get("resource")
	if resource == "" {
		o.identityError(w, http.StatusBadRequest, "The resource parameter is required.")
		return ""
	}
	// Graph, or an API of the tenant (oidc.go): a Logic App's identity
	// calling revoke serve.
	var api *App
	if !isGraphResource(resource) {
		if api = o.apiApp(resource); api == nil {
			o.identityError(w, http.StatusBadRequest, fmt.Sprintf("AADSTS500011: The resource principal named %s was not found in the tenant named %s.", resource, o.dir.TenantID))
			return ""
		}
	}
	clientID, objectID := strings.ToLower(q.Get("client_id")), strings.ToLower(q.Get("object_id"))
	if objectID == "" {
		objectID = strings.ToLower(q.Get("principal_id"))
	}
	resID := q.Get("mi_res_id")
	named := 0
	for _, v := range []string{clientID, objectID, resID} {
		if v != "" {
			named++
		}
	}
	if named > 1 {
		o.identityError(w, http.StatusBadRequest, "Only one of client_id, object_id (principal_id) and mi_res_id may be given.")
		return ""
	}

	o.dir.Lock()
	var found *App
	for _, a := range o.dir.Apps {
		switch {
		case a.ManagedIdentity == "":
		case named == 0 && a.ManagedIdentity == ManagedSystemAssigned,
			clientID != "" && a.ManagedIdentity == ManagedUserAssigned && a.ClientID == clientID,
			objectID != "" && a.ManagedIdentity == ManagedUserAssigned && stableID("servicePrincipal", a.ClientID) == objectID:
			found = a
		}
	}
	var id App
	if found != nil {
		id = *found
		id.Permissions = append([]string(nil), found.Permissions...)
		id.APIRoles = maps.Clone(found.APIRoles)
	}
	o.dir.Unlock()
	switch {
	case found == nil && named == 0:
		o.identityError(w, http.StatusBadRequest, "No system-assigned managed identity is enabled on this resource.")
		return ""
	case found == nil:
		// resource ids (mi_res_id) are not modelled: no identity has one.
		o.identityError(w, http.StatusBadRequest, "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.")
		return clientID
	}
	now := o.tokens.now()
	var tok string
	var err error
	if api != nil {
		// A managed identity authenticates with a certificate Azure holds.
		tok, err = o.tokens.issueAPIAt(&id, api, o.issuerAt(r.Host), "2", now)
	} else {
		tok, err = o.tokens.issueAt(&id, now)
	}
	if err != nil {
		o.identityError(w, http.StatusInternalServerError, "There was an error issuing a token.")
		return id.ClientID
	}
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{
		"access_token": tok,
		// App Service gives expires_on as a string of Unix seconds.
		"expires_on": strconv.FormatInt(now.Add(tokenLifetime).Unix(), 10),
		"resource":   resource,
		"token_type": "Bearer",
		"client_id":  id.ClientID,
	})
	return id.ClientID
}

// identityError writes App Service's managed identity error body.
func (o *oauthServer) identityError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, "application/json; charset=utf-8", map[string]any{
		"statusCode": status, "message": msg, "correlationId": newRequestID(),
	})
}
