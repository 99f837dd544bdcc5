package serve

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/sandbox"
)

// The sandbox seed's revoke serve API and its callers
// (sandbox/default_seed.yaml).
const (
	apiClientID      = "77777777-7777-7777-7777-777777777777"
	apiScope         = "api://revoke-api/.default"
	playbookClientID = "88888888-8888-8888-8888-888888888801"
	playbookSecret   = "sandbox-only-secret-playbook-3Hv7"
	helpdeskClientID = "88888888-8888-8888-8888-888888888804"
	helpdeskSecret   = "sandbox-only-secret-helpdesk-6Jc4"
	graphClientID    = "11111111-1111-1111-1111-111111111111"
	graphSecret      = "sandbox-only-secret-revoke-7Qm2"
)

// startAuthority starts a sandbox tenant, whose authority issues the
// tokens under test.
func startAuthority(t *testing.T) *sandbox.Tenant {
	t.Helper()
	tn, err := sandbox.Start(context.Background(), sandbox.DefaultSeed(), sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	return tn
}

func tenantClient(tn *sandbox.Tenant) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tn.ClientTLS(), TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
}

// clientToken gets a token for scope with the client-credentials grant,
// as a playbook's HTTP action does.
func clientToken(t *testing.T, tn *sandbox.Tenant, clientID, secret, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {scope}}
	resp, err := tenantClient(tn).PostForm(tn.AuthorityHost()+tn.TenantID()+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

func newEntra(t *testing.T, tn *sandbox.Tenant) *EntraAuthenticator {
	t.Helper()
	a, err := NewEntraAuthenticator(context.Background(), EntraConfig{
		TenantID: tn.TenantID(), Audiences: []string{apiClientID}, Authority: tn.AuthorityHost(), HTTPClient: tenantClient(tn),
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// signed is a token the tenant's key signs with the claims of a good one
// for the API, changed by edit.
func signed(t *testing.T, tn *sandbox.Tenant, edit func(map[string]any)) string {
	t.Helper()
	now := time.Now()
	c := map[string]any{
		"aud": apiClientID, "iss": tn.Issuer(), "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"azp": playbookClientID, "oid": "0d6c4f1e-0000-4000-8000-000000000001", "sub": "0d6c4f1e-0000-4000-8000-000000000001",
		"tid": tn.TenantID(), "roles": []string{"Revoke.Run"}, "ver": "2.0",
	}
	if edit != nil {
		edit(c)
	}
	tok, err := tn.SignToken(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// TestEntraAuthenticator checks tokens against the sandbox's authority
// with real discovery, keys and signatures: a good token names the
// caller and its roles, and every kind of bad token is refused with a
// 401 text that says which check failed and does not repeat the token.
func TestEntraAuthenticator(t *testing.T) {
	tn := startAuthority(t)
	other := startAuthority(t) // another authority, with keys of its own
	a := newEntra(t, tn)
	good := clientToken(t, tn, playbookClientID, playbookSecret, apiScope)
	// The good token with its payload changed: roles it was not granted.
	parts := strings.Split(good, ".")
	var claims map[string]any
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	json.Unmarshal(b, &claims)
	claims["roles"] = []string{"Revoke.Run", "Revoke.Approve"}
	b, _ = json.Marshal(claims)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	forged, err := other.SignToken(map[string]any{"aud": apiClientID, "iss": tn.Issuer(), "tid": tn.TenantID(),
		"oid": "x", "azp": playbookClientID, "exp": time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	expiredAt := time.Now().Add(-2 * time.Minute).Unix()
	notBefore := time.Now().Add(3 * time.Minute).Unix()
	tests := []struct {
		name   string
		header http.Header
		want   *Caller
		err    string
	}{
		{name: "a playbook's token names the app and its role", header: bearer(good),
			want: &Caller{ID: playbookClientID, Name: playbookClientID, App: true, Roles: []string{"Revoke.Run"}, Tenant: tn.TenantID()}},
		{name: "a token without roles authenticates; authorization refuses it later", header: bearer(clientToken(t, tn, helpdeskClientID, helpdeskSecret, apiScope)),
			want: &Caller{ID: helpdeskClientID, Name: helpdeskClientID, App: true, Tenant: tn.TenantID()}},
		{name: "a token expired within the skew is accepted", header: bearer(signed(t, tn, func(c map[string]any) { c["exp"] = time.Now().Add(-30 * time.Second).Unix() })),
			want: &Caller{ID: playbookClientID, Name: playbookClientID, App: true, Roles: []string{"Revoke.Run"}, Tenant: tn.TenantID()}},
		{name: "a user's token names the user by oid", header: bearer(signed(t, tn, func(c map[string]any) {
			c["scp"] = "Revoke.Run"
			c["preferred_username"] = "adele@contoso.test"
		})), want: &Caller{ID: "0d6c4f1e-0000-4000-8000-000000000001", Name: "adele@contoso.test", Roles: []string{"Revoke.Run"}, Tenant: tn.TenantID()}},

		{name: "no token", header: http.Header{}, err: "unauthenticated: no bearer token (send Authorization: Bearer with an Entra ID access token for the API)"},
		{name: "basic authentication", header: http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, err: "unauthenticated: the Authorization header is not a bearer token"},
		{name: "not a JWT", header: bearer("opaque-secret-value"), err: "unauthenticated: the bearer token is not a signed JWT"},
		{name: "a token for another audience", header: bearer(signed(t, tn, func(c map[string]any) { c["aud"] = "api://another-api" })),
			err: "unauthenticated: the token is for another audience (accepted: " + apiClientID + ")"},
		{name: "an expired token", header: bearer(signed(t, tn, func(c map[string]any) { c["exp"] = expiredAt })),
			err: "unauthenticated: the token expired at " + time.Unix(expiredAt, 0).UTC().Format(time.RFC3339)},
		{name: "a token not valid yet", header: bearer(signed(t, tn, func(c map[string]any) { c["nbf"] = notBefore })),
			err: "unauthenticated: the token is not valid before " + time.Unix(notBefore, 0).UTC().Format(time.RFC3339)},
		{name: "a token without expiry", header: bearer(signed(t, tn, func(c map[string]any) { delete(c, "exp") })),
			err: "unauthenticated: the token has no expiry (exp)"},
		{name: "a token from another issuer", header: bearer(clientToken(t, other, playbookClientID, playbookSecret, apiScope)),
			err: "unauthenticated: the token was issued by another authority (tokens from " + tn.Issuer() + " are accepted)"},
		{name: "a Graph token from the same tenant (v1.0 issuer)", header: bearer(clientToken(t, tn, graphClientID, graphSecret, "https://graph.microsoft.com/.default")),
			err: "unauthenticated: the token was issued by another authority (tokens from " + tn.Issuer() + " are accepted)"},
		{name: "a token for another tenant", header: bearer(signed(t, tn, func(c map[string]any) { c["tid"] = "00000000-0000-0000-0000-000000000bad" })),
			err: "unauthenticated: the token is for another tenant (accepted: " + tn.TenantID() + ")"},
		{name: "a token whose claims were changed", header: bearer(tampered),
			err: "unauthenticated: the token's signature does not verify with the issuer's keys"},
		{name: "a token signed by another key", header: bearer(forged),
			err: "unauthenticated: the token's signature does not verify with the issuer's keys"},
		{name: "an app token naming no client", header: bearer(signed(t, tn, func(c map[string]any) { delete(c, "azp") })),
			err: "unauthenticated: the app-only token names no client (azp or appid)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/runs", nil)
			r.Header = tc.header
			got, err := a.Authenticate(r)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err || got != nil {
					t.Fatalf("got %+v, %v\nwant error %s", got, err, tc.err)
				}
				if tok := strings.TrimPrefix(tc.header.Get("Authorization"), "Bearer "); tok != "" && strings.Contains(err.Error(), tok) {
					t.Errorf("the error repeats the token")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("caller %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestEntraAuthenticatorKeyRotation: after the authority rolls its key,
// a running authenticator fetches the keys again for the new kid (at most
// once every refetchEvery) and accepts tokens of the new key and of the
// previous one; tokens with made-up kids do not make it call the
// authority more often than that.
func TestEntraAuthenticatorKeyRotation(t *testing.T) {
	tn := startAuthority(t)
	var mu sync.Mutex
	offset := time.Duration(0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	advance := func(d time.Duration) { mu.Lock(); offset += d; mu.Unlock() }
	a, err := NewEntraAuthenticator(context.Background(), EntraConfig{
		TenantID: tn.TenantID(), Audiences: []string{apiClientID}, Authority: tn.AuthorityHost(), HTTPClient: tenantClient(tn), Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	fetches := func() int {
		n := 0
		for _, e := range tn.Log().Entries() {
			if strings.HasSuffix(e.Path, "/discovery/v2.0/keys") {
				n++
			}
		}
		return n
	}
	auth := func(tok string) error {
		r := httptest.NewRequest("GET", "/v1/runs", nil)
		r.Header = bearer(tok)
		_, err := a.Authenticate(r)
		return err
	}
	before := clientToken(t, tn, playbookClientID, playbookSecret, apiScope)
	if err := auth(before); err != nil {
		t.Fatal(err)
	}
	if err := tn.RotateSigningKey(); err != nil {
		t.Fatal(err)
	}
	after := clientToken(t, tn, playbookClientID, playbookSecret, apiScope)
	// The keys were fetched at start, moments ago: not again yet.
	if err := auth(after); err == nil || err.Error() != "unauthenticated: the token's signature does not verify with the issuer's keys" {
		t.Errorf("the new key's token right after start: %v", err)
	}
	advance(refetchEvery)
	for name, tok := range map[string]string{"before": before, "after": after} {
		if err := auth(tok); err != nil {
			t.Errorf("token signed %s the rotation: %v", name, err)
		}
	}
	if n := fetches(); n != 2 {
		t.Errorf("keys fetched %d times, want 2 (at start, for the new kid)", n)
	}
	// Made-up kids: refused, and the keys fetched at most once per
	// refetchEvery whatever their number.
	forge := func(kid string) string {
		parts := strings.Split(signed(t, tn, nil), ".")
		h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
		return base64.RawURLEncoding.EncodeToString(h) + "." + parts[1] + "." + parts[2]
	}
	for i := range 20 {
		if err := auth(forge("made-up-" + strconv.Itoa(i))); err == nil {
			t.Fatal("a made-up kid was accepted")
		}
	}
	advance(refetchEvery)
	for i := range 20 {
		if err := auth(forge("later-" + strconv.Itoa(i))); err == nil {
			t.Fatal("a made-up kid was accepted")
		}
	}
	if n := fetches(); n != 3 {
		t.Errorf("keys fetched %d times in all, want 3", n)
	}
	// After a second roll the first key is gone from the issuer's keys,
	// and once they are fetched again its tokens are refused.
	if err := tn.RotateSigningKey(); err != nil {
		t.Fatal(err)
	}
	advance(refetchEvery)
	if err := auth(clientToken(t, tn, playbookClientID, playbookSecret, apiScope)); err != nil {
		t.Errorf("the newest key's token: %v", err)
	}
	if err := auth(before); err == nil {
		t.Error("the retired key's token was accepted")
	}
}

// TestNewEntraAuthenticatorErrors: a configuration that cannot work stops
// the service at start.
func TestNewEntraAuthenticatorErrors(t *testing.T) {
	tn := startAuthority(t)
	tests := []struct {
		name string
		cfg  EntraConfig
		want string
	}{
		{"no tenant", EntraConfig{Audiences: []string{apiClientID}}, "entra authentication: no tenant id"},
		{"no audience", EntraConfig{TenantID: tn.TenantID()}, "entra authentication: no audience (the API app's client id)"},
		{"an unknown tenant", EntraConfig{TenantID: "00000000-0000-0000-0000-000000000bad", Audiences: []string{apiClientID}, Authority: tn.AuthorityHost(), HTTPClient: tenantClient(tn)},
			"entra authentication: read " + tn.AuthorityHost() + "00000000-0000-0000-0000-000000000bad/v2.0/.well-known/openid-configuration: 400 Bad Request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewEntraAuthenticator(context.Background(), tc.cfg)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
		})
	}
}
