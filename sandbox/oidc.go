package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// This file makes the tenant's authority serve tokens for an API other
// than Graph, as Entra does for an app registration that exposes app roles
// (revoke serve's "revoke-api"): a client-credentials request whose scope
// is the API's identifier URI or client id with /.default buys a v2.0
// access token whose aud is the API's client id and whose roles are the
// app roles the client holds on it. The API is taken to set
// accessTokenAcceptedVersion 2 in its manifest, so its tokens are v2.0:
// iss {authority}/{tenant}/v2.0, the issuer of the tenant's OpenID
// configuration, and the client is named by azp (v2.0 tokens carry no
// appid). Graph's own tokens stay v1.0, as Entra issues them.

// issuerAt is the v2.0 issuer of the tenant served at host: what its
// OpenID configuration says and what API tokens carry.
func (o *oauthServer) issuerAt(host string) string {
	return "https://" + host + "/" + o.dir.TenantID + "/v2.0"
}

// scopeAPI reads a client-credentials scope: ok is false when Entra would
// refuse it (no /.default, a resource that is neither Graph nor an API of
// the tenant, two resources); api is the API the token is for, nil for
// Graph.
func (o *oauthServer) scopeAPI(scope string) (api *App, ok bool) {
	found := false
	for _, s := range strings.Fields(scope) {
		switch s {
		case "openid", "offline_access", "profile", "email":
			continue
		}
		res, hasDefault := strings.CutSuffix(s, "/.default")
		if !hasDefault {
			return nil, false
		}
		var this *App
		if !isGraphResource(res) {
			if this = o.apiApp(res); this == nil {
				return nil, false
			}
		}
		if found && this != api {
			return nil, false // one resource per token, as Entra's AADSTS28000
		}
		api, found = this, true
	}
	return api, found
}

// apiApp finds the app registration that exposes an API under res (its
// client id or one of its identifier URIs), as a copy; nil when none does.
func (o *oauthServer) apiApp(res string) *App {
	res = strings.TrimSuffix(res, "/")
	o.dir.Lock()
	defer o.dir.Unlock()
	for _, a := range o.dir.Apps {
		if len(a.AppRoles) == 0 {
			continue
		}
		if strings.EqualFold(a.ClientID, res) || slices.ContainsFunc(a.IdentifierURIs, func(u string) bool {
			return strings.EqualFold(strings.TrimSuffix(u, "/"), res)
		}) {
			c := *a
			c.AppRoles = slices.Clone(a.AppRoles)
			return &c
		}
	}
	return nil
}

// issueAPI signs a v2.0 access token for client to call api, with the
// claims Entra puts in an app-only token: roles are the client's app
// roles on api (absent when it has none: Entra still issues the token,
// and the API decides). azpacr says how the client authenticated.
func (t *tokenIssuer) issueAPI(client, api *App, issuer, azpacr string) (string, error) {
	return t.issueAPIAt(client, api, issuer, azpacr, t.now())
}

// issueAPIAt is issueAPI with the issue time given, for answers that state
// its expiry themselves (the managed identity endpoint's expires_on).
func (t *tokenIssuer) issueAPIAt(client, api *App, issuer, azpacr string, now time.Time) (string, error) {
	sp := stableID("servicePrincipal", client.ClientID)
	claims := jwt.MapClaims{
		"aud":    api.ClientID,
		"iss":    issuer,
		"iat":    now.Unix(),
		"nbf":    now.Unix(),
		"exp":    now.Add(tokenLifetime).Unix(),
		"azp":    client.ClientID,
		"azpacr": azpacr,
		"idtyp":  "app",
		"oid":    sp,
		"sub":    sp,
		"tid":    t.tenantID,
		"uti":    rand.Text(),
		"ver":    "2.0",
	}
	if roles := client.APIRoles[api.ClientID]; len(roles) > 0 {
		claims["roles"] = slices.Clone(roles)
	}
	return t.sign(claims)
}

// rotate makes a new signing key, which signs from now on; the previous
// one stays in the JWKS so that tokens it signed verify until they
// expire, and the one before it is retired, as Entra rolls its keys.
func (t *tokenIssuer) rotate() error {
	k, err := newSigningKey()
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.keys = append(t.keys, k)
	if len(t.keys) > 2 {
		t.keys = slices.Clone(t.keys[len(t.keys)-2:])
	}
	// A cached token may be signed by the retired key.
	clear(t.cache)
	return nil
}

// jwks lists the public signing keys as the tenant's JWKS document does.
func (t *tokenIssuer) jwks() []map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]map[string]any, 0, len(t.keys))
	for _, k := range t.keys {
		pub := &k.key.PublicKey
		out = append(out, map[string]any{
			"kty": "RSA", "use": "sig", "kid": k.kid, "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString([]byte{1, 0, 1}),
		})
	}
	return out
}

// Issuer is the tenant's v2.0 issuer, https://HOST/TENANT/v2.0: the
// issuer of its OpenID configuration (Issuer() +
// "/.well-known/openid-configuration") and of the tokens it issues for an
// API such as revoke-api.
func (t *Tenant) Issuer() string { return t.AuthorityHost() + t.dir.TenantID + "/v2.0" }

// RotateSigningKey rolls the authority's signing key, as Entra does every
// few weeks: tokens are signed with a new key (a new kid in the JWKS), the
// previous key still verifies what it signed, and the one before it is
// retired.
func (t *Tenant) RotateSigningKey() error { return t.graph.tokens.rotate() }

// SignToken signs claims with the authority's current key (kid in the
// header), for tests of token validation that need a token Entra would
// not issue: an expired one, one for another tenant or audience.
func (t *Tenant) SignToken(claims map[string]any) (string, error) {
	if claims == nil {
		return "", errors.New("sandbox: sign token: no claims")
	}
	return t.graph.tokens.sign(jwt.MapClaims(claims))
}
