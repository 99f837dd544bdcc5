package sandbox

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	revokeClientID   = "11111111-1111-1111-1111-111111111111"
	revokeSecret     = "sandbox-only-secret-revoke-7Qm2"
	readonlyClientID = "22222222-2222-2222-2222-222222222222"
	readonlySecret   = "sandbox-only-secret-readonly-4Kx8"
	adeleID          = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e01"
	alexID           = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e02"
	breakglassID     = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e09"
	diegoID          = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e07"
	nestorID         = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e0a" // a role through a group only
	helpdeskGroupID  = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d04"
	miriamID         = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e0c" // the leaver
)

// startTenant starts the default tenant for one test.
func startTenant(t testing.TB, opts Options) *Tenant {
	t.Helper()
	tn, err := Start(context.Background(), DefaultSeed(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { tn.Close() })
	return tn
}

// httpClient is a plain client trusting the tenant's CA, as curl --cacert.
func httpClient(tn *Tenant) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tn.ClientTLS(), ForceAttemptHTTP2: false, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
}

// token gets an access token with the client-credentials form, as curl would.
func token(t testing.TB, tn *Tenant, clientID, secret string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {"https://graph.microsoft.com/.default"}}
	resp, err := httpClient(tn).PostForm(tn.AuthorityHost()+tn.TenantID()+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: status %d, %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

// do sends one Graph request with a bearer token and returns status,
// headers and the decoded body (nil when empty).
func do(t testing.TB, tn *Tenant, tok, method, path, body string) (int, http.Header, map[string]any) {
	t.Helper()
	status, h, b := doRaw(t, tn, tok, method, path, body)
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal([]byte(b), &m); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, path, b, err)
		}
	}
	return status, h, m
}

// doRaw is do with the body as sent.
func doRaw(t testing.TB, tn *Tenant, tok, method, path, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, tn.GraphURL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient(tn).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// errCode is error.code of a Graph error body.
func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func errMessage(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// user reads one user's state by reference under the lock.
func userState(t testing.TB, tn *Tenant, ref string) UserState {
	t.Helper()
	for _, u := range tn.Directory().State().Users {
		if u.matches(ref) {
			return u
		}
	}
	t.Fatalf("no user %q", ref)
	return UserState{}
}
