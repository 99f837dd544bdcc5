package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestCurlFlow does what scripts/sandbox-curl.sh does with curl: POST the
// token endpoint with a client-credentials form, then PATCH a user with the
// bearer token. Equivalent curl:
//
//	curl --cacert ca.pem -d grant_type=client_credentials -d client_id=$ID \
//	  -d client_secret=$SECRET -d scope=https://graph.microsoft.com/.default \
//	  https://127.0.0.1:PORT/$TENANT/oauth2/v2.0/token
//	curl --cacert ca.pem -X PATCH -H "Authorization: Bearer $TOKEN" \
//	  -H 'Content-Type: application/json' -d '{"accountEnabled":false}' \
//	  https://127.0.0.1:PORT/v1.0/users/adele@contoso.test
func TestCurlFlow(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	c := httpClient(tn)

	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {revokeClientID},
		"client_secret": {revokeSecret},
		"scope":         {"https://graph.microsoft.com/.default"},
	}
	resp, err := c.Post(tn.AuthorityHost()+tn.TenantID()+"/oauth2/v2.0/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || tok.TokenType != "Bearer" || tok.ExpiresIn != 3599 || tok.AccessToken == "" {
		t.Fatalf("token: %d %+v", resp.StatusCode, tok)
	}

	req, _ := http.NewRequest(http.MethodPatch, tn.GraphURL()+"/users/adele@contoso.test", strings.NewReader(`{"accountEnabled":false}`))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("PATCH: %d %s", resp.StatusCode, b)
	}
	if resp.Header.Get("request-id") == "" || resp.Header.Get("client-request-id") == "" {
		t.Errorf("PATCH: missing request-id headers: %v", resp.Header)
	}
	if u := userState(t, tn, "adele@contoso.test"); u.Entra.AccountEnabled {
		t.Errorf("adele still enabled after PATCH")
	}
	var last Entry
	for _, e := range tn.Log().Entries() {
		if e.Method == http.MethodPatch {
			last = e
		}
	}
	if last.Client != revokeClientID || last.Path != "/v1.0/users/adele@contoso.test" || last.Status != 204 || last.Detail != "accountEnabled=false" {
		t.Errorf("log entry = %+v", last)
	}
}
