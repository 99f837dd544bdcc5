package serve

import (
	"cmp"
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// DefaultAuthority is Entra ID's authority host in the global cloud.
const DefaultAuthority = "https://login.microsoftonline.com/"

// DefaultTokenSkew is how far a token's exp and nbf may be off the
// service's clock: small, so that an expired token is refused soon after,
// and enough for two clocks kept by NTP.
const DefaultTokenSkew = time.Minute

// EntraConfig says which Entra ID access tokens revoke serve accepts:
// v2.0 tokens (the API's app registration sets accessTokenAcceptedVersion
// to 2) that the tenant's authority signed for the API.
type EntraConfig struct {
	// TenantID is the tenant's id (a GUID): the issuer's path and the
	// tid every token must carry.
	TenantID string
	// Audiences are the API's identifiers a token's aud may name: the
	// API app's client id (what v2.0 tokens carry), and its app id URI
	// when clients are known to send v1.0-style audiences.
	Audiences []string
	// Authority is the authority host (DefaultAuthority when empty; the
	// sandbox's AuthorityHost in tests). The issuer is
	// Authority + TenantID + "/v2.0", and its OpenID configuration names
	// the keys.
	Authority string
	// Skew is the clock skew allowed on exp and nbf (DefaultTokenSkew
	// when zero).
	Skew time.Duration
	// HTTPClient fetches the OpenID configuration and the keys
	// (http.DefaultClient when nil; TLS is verified either way).
	HTTPClient *http.Client
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// EntraAuthenticator accepts requests bearing an Entra ID access token for
// the API: signed by one of the tenant's keys (named by the issuer's
// OpenID configuration, held by kid and fetched again, at most every
// refetchEvery, when a token names a kid not held, so key rotation needs
// nothing), from the configured issuer and tenant, for one of the API's
// audiences, within its lifetime. The caller is the client app (azp, or
// appid) for an app-only token, the user's oid otherwise; its roles are
// the token's roles claim.
type EntraAuthenticator struct {
	cfg      EntraConfig
	issuer   string
	verifier *oidc.IDTokenVerifier
}

var _ Authenticator = (*EntraAuthenticator)(nil)

// NewEntraAuthenticator reads the issuer's OpenID configuration (once:
// revoke serve does not start when the authority cannot be reached or
// names another issuer) and returns the authenticator.
func NewEntraAuthenticator(ctx context.Context, cfg EntraConfig) (*EntraAuthenticator, error) {
	if cfg.TenantID == "" {
		return nil, errors.New("entra authentication: no tenant id")
	}
	if len(cfg.Audiences) == 0 {
		return nil, errors.New("entra authentication: no audience (the API app's client id)")
	}
	if cfg.Authority == "" {
		cfg.Authority = DefaultAuthority
	}
	if !strings.HasSuffix(cfg.Authority, "/") {
		cfg.Authority += "/"
	}
	if cfg.Skew == 0 {
		cfg.Skew = DefaultTokenSkew
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	issuer := cfg.Authority + cfg.TenantID + "/v2.0"
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), issuer)
	if err != nil {
		return nil, fmt.Errorf("entra authentication: read %s/.well-known/openid-configuration: %w", issuer, err)
	}
	var meta struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKS == "" {
		return nil, fmt.Errorf("entra authentication: %s's OpenID configuration names no jwks_uri", issuer)
	}
	keys := &jwksCache{client: client, uri: meta.JWKS, now: cfg.Now}
	if err := keys.refresh(ctx); err != nil {
		return nil, fmt.Errorf("entra authentication: %w", err)
	}
	keys.fetched = cfg.Now()
	v := oidc.NewVerifier(issuer, keys, &oidc.Config{
		// Audience, exp and nbf are checked below, against several
		// audiences and with the configured skew (go-oidc knows one
		// audience and allows no skew on exp).
		SkipClientIDCheck: true,
		SkipExpiryCheck:   true,
		// Entra signs with RS256 only; no other algorithm is accepted,
		// "none" least of all.
		SupportedSigningAlgs: []string{oidc.RS256},
	})
	return &EntraAuthenticator{cfg: cfg, issuer: issuer, verifier: v}, nil
}

// refetchEvery is how often a token naming a key id the service does not
// hold may make it fetch the issuer's keys again.
const refetchEvery = 5 * time.Second

// maxJWKS bounds the key set document and the keys kept from it.
const (
	maxJWKSBytes = 1 << 20
	maxJWKSKeys  = 100
)

// jwksCache holds the issuer's signing keys by kid, fetched at start and
// again when a token names a kid it does not hold, at most once every
// refetchEvery: anyone can send a token with a made-up kid, and each
// must not make the service call the authority. After a real rotation
// the first token signed with the new key (or anyone's made-up kid)
// fetches the keys, and every later token finds it. Verification itself
// is go-oidc's, with the one key the kid names.
type jwksCache struct {
	client *http.Client
	uri    string
	now    func() time.Time

	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	fetched time.Time
}

var _ oidc.KeySet = (*jwksCache)(nil)

// VerifySignature implements oidc.KeySet.
func (c *jwksCache) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	kid := headerKid(jwt)
	c.mu.Lock()
	key := c.keys[kid]
	now := c.now()
	fetch := key == nil && now.Sub(c.fetched) >= refetchEvery
	if fetch {
		c.fetched = now // before fetching: concurrent unknown kids wait their turn
	}
	c.mu.Unlock()
	if fetch {
		if err := c.refresh(ctx); err != nil {
			return nil, err
		}
		c.mu.Lock()
		key = c.keys[kid]
		c.mu.Unlock()
	}
	if key == nil {
		return nil, errors.New("no signing key with the token's kid")
	}
	return (&oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{key}}).VerifySignature(ctx, jwt)
}

// refresh fetches the key set and replaces the keys held: a key the
// issuer no longer lists is retired here too.
func (c *jwksCache) refresh(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.uri, nil)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch the issuer's keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch the issuer's keys: %s", resp.Status)
	}
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Use string `json:"use"`
			Kid string `json:"kid"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBytes)).Decode(&set); err != nil {
		return fmt.Errorf("read the issuer's keys: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") || k.Kid == "" || len(keys) >= maxJWKSKeys {
			continue
		}
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if errN != nil || errE != nil || len(n) < 256 || len(e) == 0 || len(e) > 4 {
			continue // not a 2048-bit (or larger) RSA key: not Entra's
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	if len(keys) == 0 {
		return errors.New("the issuer's key set holds no RSA signing key")
	}
	c.mu.Lock()
	c.keys = keys
	c.mu.Unlock()
	return nil
}

// headerKid is a JWT's kid header, "" when it has none or is no JWT.
func headerKid(raw string) string {
	head, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if json.Unmarshal(b, &h) != nil {
		return ""
	}
	return h.Kid
}

// Issuer is the issuer tokens must come from.
func (a *EntraAuthenticator) Issuer() string { return a.issuer }

// entraClaims are the claims of an Entra access token revoke reads.
type entraClaims struct {
	Iss               string   `json:"iss"`
	Aud               audience `json:"aud"`
	Exp               *float64 `json:"exp"`
	Nbf               *float64 `json:"nbf"`
	Tid               string   `json:"tid"`
	Oid               string   `json:"oid"`
	Azp               string   `json:"azp"`
	AppID             string   `json:"appid"`
	AppDisplayName    string   `json:"app_displayname"`
	Scp               string   `json:"scp"`
	Roles             []string `json:"roles"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
}

// audience is aud, a string or a list of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor a list of strings")
	}
	*a = many
	return nil
}

// errUnauthenticated words every refusal: the text goes in the 401, so it
// says what is wrong and never repeats the token or a value an attacker
// chose.
func errUnauthenticated(format string, args ...any) error {
	return fmt.Errorf("unauthenticated: "+format, args...)
}

// Authenticate checks the request's bearer token; see EntraAuthenticator.
func (a *EntraAuthenticator) Authenticate(r *http.Request) (*Caller, error) {
	raw, err := bearerToken(r)
	if err != nil {
		return nil, err
	}
	// The issuer is read before the signature is checked, so that a token
	// from another authority is named as such and does not send the
	// service to fetch keys for a kid it will never find.
	pre, err := unverifiedClaims(raw)
	if err != nil {
		return nil, err
	}
	if pre.Iss != a.issuer {
		return nil, errUnauthenticated("the token was issued by another authority (tokens from %s are accepted)", a.issuer)
	}
	tok, err := a.verifier.Verify(r.Context(), raw)
	if err != nil {
		if ctxErr := r.Context().Err(); ctxErr != nil {
			return nil, errUnauthenticated("the request ended before its token was checked")
		}
		return nil, errUnauthenticated("the token's signature does not verify with the issuer's keys")
	}
	var c entraClaims
	if err := tok.Claims(&c); err != nil {
		return nil, errUnauthenticated("the token's claims do not read: %v", err)
	}
	if err := a.check(&c); err != nil {
		return nil, err
	}
	return callerOf(&c), nil
}

// check verifies the claims go-oidc leaves to revoke: audience, lifetime
// with the configured skew, tenant, and a caller to name.
func (a *EntraAuthenticator) check(c *entraClaims) error {
	if !slices.ContainsFunc(c.Aud, func(aud string) bool { return slices.Contains(a.cfg.Audiences, aud) }) {
		return errUnauthenticated("the token is for another audience (accepted: %s)", strings.Join(a.cfg.Audiences, ", "))
	}
	now := a.cfg.Now()
	if c.Exp == nil {
		return errUnauthenticated("the token has no expiry (exp)")
	}
	if exp := time.Unix(int64(*c.Exp), 0); !now.Before(exp.Add(a.cfg.Skew)) {
		return errUnauthenticated("the token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if c.Nbf != nil {
		if nbf := time.Unix(int64(*c.Nbf), 0); now.Add(a.cfg.Skew).Before(nbf) {
			return errUnauthenticated("the token is not valid before %s", nbf.UTC().Format(time.RFC3339))
		}
	}
	if c.Tid != a.cfg.TenantID {
		return errUnauthenticated("the token is for another tenant (accepted: %s)", a.cfg.TenantID)
	}
	if c.Oid == "" {
		return errUnauthenticated("the token names no caller (oid)")
	}
	if c.Scp == "" && c.Azp == "" && c.AppID == "" {
		return errUnauthenticated("the app-only token names no client (azp or appid)")
	}
	return nil
}

// callerOf names the caller: an app-only token (one without scp, which
// every delegated token has) is the client app, known by its client id;
// a user's token is the user, known by their object id.
func callerOf(c *entraClaims) *Caller {
	caller := &Caller{Tenant: c.Tid, Roles: slices.Clone(c.Roles)}
	if c.Scp == "" {
		caller.App = true
		caller.ID = cmp.Or(c.Azp, c.AppID)
		caller.Name = cmp.Or(c.AppDisplayName, caller.ID)
		return caller
	}
	caller.ID = c.Oid
	caller.Name = cmp.Or(c.PreferredUsername, c.Name, c.Oid)
	return caller
}

// bearerToken is the token of an Authorization: Bearer header.
func bearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", errUnauthenticated("no bearer token (send Authorization: Bearer with an Entra ID access token for the API)")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errUnauthenticated("the Authorization header is not a bearer token")
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", errUnauthenticated("the bearer token is empty")
	}
	return tok, nil
}

// unverifiedClaims reads a JWT's claims without checking its signature,
// only to word a refusal; nothing is granted on them.
func unverifiedClaims(raw string) (*entraClaims, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errUnauthenticated("the bearer token is not a signed JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c entraClaims
	if err != nil || json.Unmarshal(b, &c) != nil {
		return nil, errUnauthenticated("the bearer token is not a signed JWT")
	}
	return &c, nil
}
