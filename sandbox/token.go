//lint:file-ignore ST1005 the 401 messages are Graph's own wording, capitals and full stops included

package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// graphResource is the audience of every token the tenant issues, as
// Entra gives a token for https://graph.microsoft.com/.default.
const graphResource = "https://graph.microsoft.com"

// graphAppID is Microsoft Graph's well-known application id, which Entra
// also accepts as the resource of a scope.
const graphAppID = "00000003-0000-0000-c000-000000000000"

// tokenLifetime is how long an access token is valid, as Entra's default.
const tokenLifetime = time.Hour

// tokenIssuer signs access tokens with an RSA key made at Start (a new one
// at each rotation: oidc.go) and checks the ones Graph requests carry.
type tokenIssuer struct {
	tenantID string
	now      func() time.Time
	// identityHeader is the managed identity endpoint's secret, App
	// Service's IDENTITY_HEADER (see identity.go).
	identityHeader string

	mu sync.Mutex
	// keys are the signing keys the JWKS lists, oldest first: the last
	// signs, the one before it (after a rotation) still verifies.
	keys  []signingKey
	cache map[string]*accessClaims // validated tokens, so a hot path skips RSA
}

// signingKey is an RSA key and its key id (kid), as Entra's JWKS lists them.
type signingKey struct {
	key *rsa.PrivateKey
	kid string
}

// newSigningKey makes a 2048-bit RSA key whose kid is derived from its
// public key, so that a kid names one key only.
func newSigningKey() (signingKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return signingKey{}, fmt.Errorf("generate token signing key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return signingKey{}, fmt.Errorf("marshal token signing key: %w", err)
	}
	sum := sha256.Sum256(der)
	return signingKey{key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:12])}, nil
}

// accessClaims are the claims of an app-only access token, as Entra v1
// tokens for Graph carry them.
type accessClaims struct {
	jwt.RegisteredClaims
	AppID    string   `json:"appid"`
	AppName  string   `json:"app_displayname,omitempty"`
	TenantID string   `json:"tid"`
	Roles    []string `json:"roles,omitempty"`
	IDType   string   `json:"idtyp,omitempty"`
	OID      string   `json:"oid,omitempty"`
	Ver      string   `json:"ver,omitempty"`
}

func (c *accessClaims) hasAny(perms []string) bool {
	for _, r := range c.Roles {
		for _, p := range perms {
			if r == p {
				return true
			}
		}
	}
	return false
}

func newTokenIssuer(tenantID string, now func() time.Time) (*tokenIssuer, error) {
	k, err := newSigningKey()
	if err != nil {
		return nil, err
	}
	return &tokenIssuer{
		keys: []signingKey{k}, tenantID: tenantID, now: now,
		identityHeader: rand.Text(), cache: map[string]*accessClaims{},
	}, nil
}

// signer is the key new tokens are signed with.
func (t *tokenIssuer) signer() signingKey {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.keys[len(t.keys)-1]
}

// verifier is the public key a token's kid names, nil for a kid the JWKS
// does not list (an unknown or retired key).
func (t *tokenIssuer) verifier(tok *jwt.Token) (any, error) {
	kid, _ := tok.Header["kid"].(string)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range t.keys {
		if k.kid == kid {
			return &k.key.PublicKey, nil
		}
	}
	return nil, errors.New("no signing key with this kid")
}

// sign signs claims with the current key, its kid in the header.
func (t *tokenIssuer) sign(claims jwt.MapClaims) (string, error) {
	k := t.signer()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.key)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return s, nil
}

func (t *tokenIssuer) issuer() string { return "https://sts.windows.net/" + t.tenantID + "/" }

// issue signs an access token for app with its granted permissions as roles.
func (t *tokenIssuer) issue(app *App) (string, error) { return t.issueAt(app, t.now()) }

// issueAt is issue with the token's issue time given, for answers that
// state its expiry themselves.
func (t *tokenIssuer) issueAt(app *App, now time.Time) (string, error) {
	claims := jwt.MapClaims{
		"aud":             graphResource,
		"iss":             t.issuer(),
		"iat":             now.Unix(),
		"nbf":             now.Unix(),
		"exp":             now.Add(tokenLifetime).Unix(),
		"appid":           app.ClientID,
		"app_displayname": app.Name,
		"idtyp":           "app",
		"oid":             stableID("servicePrincipal", app.ClientID),
		"sub":             stableID("servicePrincipal", app.ClientID),
		"tid":             t.tenantID,
		"ver":             "1.0",
		"uti":             rand.Text(),
	}
	if len(app.Permissions) > 0 {
		claims["roles"] = append([]string(nil), app.Permissions...)
	}
	if wids := roleTemplateIDs(app.DirectoryRoles); len(wids) > 0 {
		claims["wids"] = wids // the service principal's directory roles, as Entra's tokens carry them
	}
	return t.sign(claims)
}

// errTokenExpired and friends become Graph's 401 messages, word for word
// (capitals and full stops included: clients match on them).
var (
	errTokenEmpty    = errors.New("Access token is empty.")
	errTokenExpired  = errors.New("Lifetime validation failed, the token is expired.")
	errTokenAudience = errors.New("Access token validation failure. Invalid audience.")
	errTokenInvalid  = errors.New("Access token validation failure.")
)

// validate checks a bearer token: our signature, audience Graph, our
// tenant, not expired. Valid tokens are cached until they expire.
func (t *tokenIssuer) validate(raw string) (*accessClaims, error) {
	if raw == "" {
		return nil, errTokenEmpty
	}
	now := t.now()
	t.mu.Lock()
	c, ok := t.cache[raw]
	t.mu.Unlock()
	if ok {
		if c.ExpiresAt != nil && !now.Before(c.ExpiresAt.Time) {
			return nil, errTokenExpired
		}
		return c, nil
	}
	c = &accessClaims{}
	_, err := jwt.ParseWithClaims(raw, c, t.verifier,
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(t.now), jwt.WithExpirationRequired(),
		jwt.WithLeeway(0))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, errTokenExpired
	case err != nil:
		return nil, errTokenInvalid
	}
	aud, _ := c.GetAudience()
	if !contains(aud, graphResource) && !contains(aud, graphAppID) {
		return nil, errTokenAudience
	}
	if c.TenantID != t.tenantID {
		return nil, errTokenInvalid
	}
	t.mu.Lock()
	if len(t.cache) > 10000 {
		clear(t.cache) // bounded: tests mint few tokens, a fuzzer many
	}
	t.cache[raw] = c
	t.mu.Unlock()
	return c, nil
}

// oauthServer serves the Entra endpoints MSAL (and so azidentity) calls for
// the client-credentials flow: tenant discovery, instance discovery, the
// token endpoint and the signing keys; and App Service's managed identity
// endpoint (identity.go).
type oauthServer struct {
	dir    *Directory
	tokens *tokenIssuer
	now    func() time.Time
}

// tenantMatches reports whether a path's tenant segment names this tenant
// (its id or one of its domains; MSAL lower-cases the authority).
func (o *oauthServer) tenantMatches(seg string) bool {
	if strings.EqualFold(seg, o.dir.TenantID) {
		return true
	}
	for _, d := range o.dir.Domains {
		if strings.EqualFold(seg, d) {
			return true
		}
	}
	return false
}

// serve answers an OAuth request; handled is false for paths it does not own.
func (o *oauthServer) serve(w http.ResponseWriter, r *http.Request, segs []string) (client string, handled bool) {
	host := "https://" + r.Host
	switch {
	case len(segs) == 3 && strings.EqualFold(segs[0], "common") && segs[1] == "discovery" && segs[2] == "instance":
		tenant := o.dir.TenantID
		if ae, err := url.Parse(r.URL.Query().Get("authorization_endpoint")); err == nil {
			if p := strings.Split(strings.Trim(ae.Path, "/"), "/"); len(p) > 0 && p[0] != "" {
				tenant = p[0]
			}
		}
		writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{
			"tenant_discovery_endpoint": host + "/" + tenant + "/v2.0/.well-known/openid-configuration",
			"api-version":               "1.1",
			"metadata": []map[string]any{{
				"preferred_network": r.Host, "preferred_cache": r.Host, "aliases": []string{r.Host},
			}},
		})
		return "", true
	case len(segs) == 4 && segs[1] == "v2.0" && segs[2] == ".well-known" && segs[3] == "openid-configuration":
		if !o.tenantMatches(segs[0]) {
			o.oauthError(w, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", segs[0]))
			return "", true
		}
		base := host + "/" + o.dir.TenantID
		writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"jwks_uri":                              base + "/discovery/v2.0/keys",
			"response_modes_supported":              []string{"query", "fragment", "form_post"},
			"subject_types_supported":               []string{"pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
			"issuer":                                base + "/v2.0",
			"request_uri_parameter_supported":       false,
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
			"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
			"tenant_region_scope":                   "EU",
			"cloud_instance_name":                   "microsoftonline.com",
		})
		return "", true
	case len(segs) == 4 && segs[1] == "discovery" && segs[2] == "v2.0" && segs[3] == "keys":
		writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{"keys": o.tokens.jwks()})
		return "", true
	case len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token":
		return o.token(w, r, segs[0]), true
	case "/"+strings.Join(segs, "/") == identityPath:
		return o.identity(w, r), true
	}
	return "", false
}

// token is the client-credentials grant: a client secret, a client
// assertion signed with the app's certificate, or a token from an issuer
// one of the app's federated credentials trusts (workload identity) buys a
// Graph token whose roles are the app's granted permissions.
func (o *oauthServer) token(w http.ResponseWriter, r *http.Request, tenant string) string {
	if r.Method != http.MethodPost {
		o.oauthError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
		return ""
	}
	if !o.tenantMatches(tenant) {
		o.oauthError(w, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return ""
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		o.oauthError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return ""
	}
	f := r.PostForm
	clientID := strings.ToLower(f.Get("client_id"))
	secret := f.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok && clientID == "" {
		// client_secret_basic
		clientID, secret = strings.ToLower(u), p
	}
	if gt := f.Get("grant_type"); gt != "client_credentials" {
		if gt == "" {
			o.oauthError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		} else {
			o.oauthError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+gt+"'.")
		}
		return clientID
	}
	if clientID == "" {
		o.oauthError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return ""
	}
	o.dir.Lock()
	app := o.dir.Apps[clientID]
	var appCopy App
	if app != nil {
		appCopy = *app
		appCopy.Permissions = append([]string(nil), app.Permissions...)
	}
	o.dir.Unlock()
	// A managed identity's service principal has no application object to
	// present credentials for: Entra does not find it.
	if app == nil || app.ManagedIdentity != "" {
		o.oauthError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, o.dir.TenantID))
		return clientID
	}
	api, ok := o.scopeAPI(f.Get("scope"))
	if !ok {
		o.oauthError(w, http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", f.Get("scope")))
		return clientID
	}
	assertion := f.Get("client_assertion")
	azpacr := "1" // how the client authenticated: 1 a secret, 2 a certificate or federated token
	switch {
	case assertion != "":
		if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			o.oauthError(w, http.StatusBadRequest, "invalid_request", 700026, "Client assertion type is not supported; use urn:ietf:params:oauth:client-assertion-type:jwt-bearer.")
			return clientID
		}
		check := func() (int, string) { return o.checkAssertion(&appCopy, assertion, tenant, r.Host) }
		// Entra tells a federated token from a certificate-signed assertion
		// by the app's credentials: an assertion the app did not issue
		// itself (iss is not its client id) is matched against its
		// federated credentials, when it has any.
		if iss := unverifiedIssuer(assertion); len(appCopy.FederatedCredentials) > 0 && iss != "" && !strings.EqualFold(iss, appCopy.ClientID) {
			check = func() (int, string) { return o.checkFederated(&appCopy, assertion, iss) }
		}
		if code, msg := check(); code != 0 {
			o.oauthError(w, http.StatusUnauthorized, "invalid_client", code, msg)
			return clientID
		}
		azpacr = "2"
	case secret != "":
		if appCopy.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(appCopy.Secret)) != 1 {
			o.oauthError(w, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
			return clientID
		}
	default:
		o.oauthError(w, http.StatusUnauthorized, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
		return clientID
	}
	var tok string
	var err error
	if api != nil {
		tok, err = o.tokens.issueAPI(&appCopy, api, o.issuerAt(r.Host), azpacr)
	} else {
		tok, err = o.tokens.issue(&appCopy)
	}
	if err != nil {
		o.oauthError(w, http.StatusInternalServerError, "server_error", 50000, "There was an error issuing a token.")
		return clientID
	}
	secs := int(tokenLifetime.Seconds()) - 1
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, http.StatusOK, "application/json; charset=utf-8", map[string]any{
		"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok,
	})
	return clientID
}

// isGraphResource reports whether res names Microsoft Graph: its URI or
// its app id, with or without a trailing slash.
func isGraphResource(res string) bool {
	res = strings.TrimSuffix(res, "/")
	return strings.EqualFold(res, graphResource) || strings.EqualFold(res, graphAppID)
}

// unverifiedIssuer is a JWT's iss claim, read without checking anything;
// "" when it is not a JWT.
func unverifiedIssuer(raw string) string {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err != nil {
		return ""
	}
	iss, _ := claims.GetIssuer()
	return iss
}

// checkAssertion verifies a client assertion as Entra does: signed (PS256
// or RS256) by a certificate registered on the app, iss and sub the client
// id, aud this tenant's token endpoint, within its lifetime. It returns an
// AADSTS code and message, or 0.
func (o *oauthServer) checkAssertion(app *App, assertion, tenant, host string) (int, string) {
	certs := parseCerts(app.Certificate)
	if len(certs) == 0 {
		return 700027, "Client assertion failed signature validation. The application has no certificate credentials."
	}
	claims := jwt.MapClaims{}
	var lastErr error
	for _, cert := range certs {
		claims = jwt.MapClaims{}
		tok, err := jwt.ParseWithClaims(assertion, claims, func(t *jwt.Token) (any, error) {
			if x5t, ok := t.Header["x5t#S256"].(string); ok && x5t != thumbprint(cert, sha256.New) {
				return nil, errors.New("x5t#S256 does not match")
			}
			if x5t, ok := t.Header["x5t"].(string); ok && x5t != thumbprint(cert, sha1.New) {
				return nil, errors.New("x5t does not match")
			}
			return cert.PublicKey, nil
		}, jwt.WithValidMethods([]string{"PS256", "RS256"}), jwt.WithTimeFunc(o.now), jwt.WithExpirationRequired())
		if err == nil && tok.Valid {
			lastErr = nil
			break
		}
		lastErr = err
	}
	switch {
	case errors.Is(lastErr, jwt.ErrTokenExpired) || errors.Is(lastErr, jwt.ErrTokenNotValidYet):
		return 700024, "Client assertion is not within its valid time range."
	case lastErr != nil:
		return 700027, "Client assertion failed signature validation."
	}
	iss, _ := claims.GetIssuer()
	sub, _ := claims.GetSubject()
	if !strings.EqualFold(iss, app.ClientID) || !strings.EqualFold(sub, app.ClientID) {
		return 700023, "Client assertion audience claim does not match Realm issuer; iss and sub must be the client id."
	}
	aud, _ := claims.GetAudience()
	ok := false
	for _, a := range aud {
		for _, t := range append([]string{tenant, o.dir.TenantID}, o.dir.Domains...) {
			if strings.EqualFold(a, "https://"+host+"/"+t+"/oauth2/v2.0/token") {
				ok = true
			}
		}
	}
	if !ok {
		return 700021, fmt.Sprintf("Client assertion audience claim does not match Realm issuer. Review the documentation at https://aka.ms/certCreds. Audience: %s.", strings.Join(aud, ","))
	}
	return 0, ""
}

func parseCerts(p []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, p = pem.Decode(p)
		if b == nil {
			return out
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			out = append(out, c)
		}
	}
}

// thumbprint is the base64 (standard, padded) hash of a certificate's DER,
// as MSAL puts in x5t and x5t#S256.
func thumbprint(c *x509.Certificate, h func() hash.Hash) string {
	d := h()
	_, _ = d.Write(c.Raw)
	return base64.StdEncoding.EncodeToString(d.Sum(nil))
}

// oauthError writes an Entra token endpoint error body.
func (o *oauthServer) oauthError(w http.ResponseWriter, status int, code string, aadsts int, msg string) {
	now := o.now().UTC()
	trace := newRequestID()
	corr := newRequestID()
	writeJSON(w, status, "application/json; charset=utf-8", map[string]any{
		"error": code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
			aadsts, msg, trace, corr, now.Format("2006-01-02 15:04:05Z")),
		"error_codes":    []int{aadsts},
		"timestamp":      now.Format("2006-01-02 15:04:05Z"),
		"trace_id":       trace,
		"correlation_id": corr,
		"error_uri":      "https://login.microsoftonline.com/error?code=" + fmt.Sprint(aadsts),
	})
}

// writeJSON writes v as the whole response body.
func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
