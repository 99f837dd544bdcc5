package sandbox

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestTokenEndpointErrors asserts the OAuth error and AADSTS code Entra
// gives for each way a client-credentials request can be wrong.
func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {revokeClientID}, "client_secret": {revokeSecret}, "scope": {"https://graph.microsoft.com/.default"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vals := range good {
			f[key] = vals
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	tests := []struct {
		name   string
		tenant string
		form   url.Values
		status int
		oauth  string
		aadsts float64
	}{
		{"wrong secret", "", with("client_secret", "nope"), 401, "invalid_client", 7000215},
		{"no credential", "", with("client_secret", ""), 401, "invalid_client", 7000216},
		{"unknown app", "", with("client_id", "99999999-9999-9999-9999-999999999999"), 400, "unauthorized_client", 700016},
		{"scope without /.default", "", with("scope", "https://graph.microsoft.com/User.Read.All"), 400, "invalid_scope", 1002012},
		{"other resource", "", with("scope", "https://management.azure.com/.default"), 400, "invalid_scope", 1002012},
		{"password grant", "", with("grant_type", "password"), 400, "unsupported_grant_type", 70003},
		{"unknown tenant", "00000000-0000-0000-0000-000000000000", good, 400, "invalid_tenant", 90002},
		{"assertion for an app without certificates", "", func() url.Values {
			f := with("client_secret", "")
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			f.Set("client_assertion", "a.b.c")
			return f
		}(), 401, "invalid_client", 700027},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tenant := tc.tenant
			if tenant == "" {
				tenant = tn.TenantID()
			}
			resp, err := httpClient(tn).PostForm(tn.AuthorityHost()+tenant+"/oauth2/v2.0/token", tc.form)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			codes, _ := body["error_codes"].([]any)
			if resp.StatusCode != tc.status || body["error"] != tc.oauth || len(codes) != 1 || codes[0] != tc.aadsts {
				t.Errorf("got %d %v %v, want %d %s %v", resp.StatusCode, body["error"], body["error_codes"], tc.status, tc.oauth, tc.aadsts)
			}
			if d, _ := body["error_description"].(string); !strings.HasPrefix(d, "AADSTS") {
				t.Errorf("error_description = %q", d)
			}
		})
	}
}

// TestAccessTokenClaims checks the token is shaped as Entra's app-only
// Graph tokens are, and that Graph refuses an expired one.
func TestAccessTokenClaims(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	raw := token(t, tn, readonlyClientID, readonlySecret)
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err != nil {
		t.Fatal(err)
	}
	roles, _ := claims["roles"].([]any)
	exp, _ := claims.GetExpirationTime()
	if claims["aud"] != "https://graph.microsoft.com" || claims["tid"] != tn.TenantID() || claims["appid"] != readonlyClientID ||
		len(roles) != 1 || roles[0] != "User.Read.All" || exp == nil || time.Until(exp.Time) < 59*time.Minute {
		t.Errorf("claims = %v", claims)
	}

	// An expired token signed with the tenant's key gets Graph's 401.
	issuer := tn.graph.tokens
	old := issuer.now
	issuer.now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	expired, err := issuer.issue(tn.Directory().Apps[readonlyClientID])
	issuer.now = old
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := do(t, tn, expired, "GET", "/users/"+adeleID, "")
	if status != 401 || errCode(body) != "InvalidAuthenticationToken" || errMessage(body) != "Lifetime validation failed, the token is expired." {
		t.Errorf("expired token: %d %v", status, body)
	}
	// A token for another audience is refused too.
	other, err := tn.SignToken(map[string]any{"aud": "https://management.azure.com", "tid": tn.TenantID(), "appid": revokeClientID, "exp": time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body := do(t, tn, other, "GET", "/users/"+adeleID, ""); status != 401 || errMessage(body) != "Access token validation failure. Invalid audience." {
		t.Errorf("wrong audience: %d %v", status, body)
	}
}
