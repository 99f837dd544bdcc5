package sandbox

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGraphErrors asserts exact statuses, codes and messages of the
// answers clients classify errors by.
func TestGraphErrors(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	rw := token(t, tn, revokeClientID, revokeSecret)
	ro := token(t, tn, readonlyClientID, readonlySecret)
	tests := []struct {
		name, tok, method, path, body string
		status                        int
		code, message                 string
	}{
		{"no token", "", "GET", "/users/" + adeleID, "", 401, "InvalidAuthenticationToken", "Access token is empty."},
		{"garbage token", "abc.def.ghi", "GET", "/users/" + adeleID, "", 401, "InvalidAuthenticationToken", "Access token validation failure."},
		{"read-only app cannot revoke", ro, "POST", "/users/" + adeleID + "/revokeSignInSessions", "", 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."},
		{"read-only app cannot list devices", ro, "GET", "/users/" + adeleID + "/registeredDevices", "", 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."},
		{"unknown user", rw, "GET", "/users/ghost@contoso.test", "", 404, "Request_ResourceNotFound", "Resource 'ghost@contoso.test' does not exist or one of its queried reference-property objects are not present."},
		{"unknown top segment", rw, "GET", "/frobnicate", "", 400, "BadRequest", "Resource not found for the segment 'frobnicate'."},
		{"unknown user segment", rw, "GET", "/users/" + adeleID + "/frobnicate", "", 400, "BadRequest", "Resource not found for the segment 'frobnicate'."},
		{"wrong method", rw, "PUT", "/users/" + adeleID, `{}`, 405, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri."},
		{"bad JSON", rw, "PATCH", "/users/" + adeleID, `{"accountEnabled":`, 400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."},
		{"wrong type", rw, "PATCH", "/users/" + adeleID, `{"accountEnabled":"no"}`, 400, "Request_BadRequest", "Invalid value specified for property 'accountEnabled' of resource 'User'."},
		{"unknown property", rw, "PATCH", "/users/" + adeleID, `{"shoeSize":44}`, 400, "Request_BadRequest", "Property 'shoeSize' does not exist as a declared property or extension property."},
		{"synced password reset", rw, "PATCH", "/users/" + adeleID, `{"passwordProfile":{"password":"Xy7!kdl20-aZ93&qq"}}`, 400, "Request_BadRequest", onPremMastered},
		{"weak password", rw, "PATCH", "/users/" + diegoID, `{"passwordProfile":{"password":"short"}}`, 400, "Request_BadRequest", "The specified password does not comply with password complexity requirements. Please provide a different password."},
		{"unknown $select property", rw, "GET", "/users/" + adeleID + "?$select=id,shoeSize", "", 400, "BadRequest", "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'."},
		{"unsupported filter property", rw, "GET", "/users?$filter=jobTitle%20eq%20'x'", "", 400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property 'jobTitle' of resource 'User'."},
		{"member DELETE without $ref is refused", rw, "DELETE", "/groups/2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d01/members/" + adeleID, "", 400, "Request_BadRequest",
			"revoke sandbox: DELETE /groups/{id}/members/{id} without /$ref deletes the directory object itself in Microsoft Graph; remove a member with DELETE /groups/{id}/members/{id}/$ref."},
		{"not a member", rw, "DELETE", "/groups/2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d01/members/" + breakglassID + "/$ref", "", 404, "Request_ResourceNotFound", "One or more removed object references do not exist for the following modified properties: 'members'."},
		{"unknown device", rw, "PATCH", "/devices/nope", `{"accountEnabled":false}`, 404, "Request_ResourceNotFound", "Resource 'nope' does not exist or one of its queried reference-property objects are not present."},
		{"remove a license the user lacks", rw, "POST", "/users/" + diegoID + "/assignLicense", `{"addLicenses":[],"removeLicenses":["b05e124f-c7cc-45a0-a6aa-8cf78c946968"]}`, 400, "Request_BadRequest", "User does not have a corresponding license: 'b05e124f-c7cc-45a0-a6aa-8cf78c946968'."},
		{"password method cannot be deleted", rw, "DELETE", "/users/" + adeleID + "/authentication/passwordMethods/28c10230-6103-485e-b985-444c60001490", "", 405, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri."},
		{"/me is delegated only", rw, "GET", "/me", "", 400, "BadRequest", "/me request is only valid with delegated authentication flow."},
	}
	dateRE := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := do(t, tn, tc.tok, tc.method, tc.path, tc.body)
			if status != tc.status || errCode(body) != tc.code || errMessage(body) != tc.message {
				t.Fatalf("got %d %s %q, want %d %s %q", status, errCode(body), errMessage(body), tc.status, tc.code, tc.message)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			inner := body["error"].(map[string]any)["innerError"].(map[string]any)
			if !dateRE.MatchString(inner["date"].(string)) || inner["request-id"] != hdr.Get("request-id") || inner["client-request-id"] != hdr.Get("client-request-id") {
				t.Errorf("innerError = %v, headers %v", inner, hdr)
			}
		})
	}
}

func TestGraphSelectAndLookups(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	tests := []struct {
		name, path string
		want       map[string]any // properties and their values
		absent     []string
	}{
		{"default properties", "/users/" + adeleID, map[string]any{"id": adeleID, "displayName": "Adele Vance", "userPrincipalName": "adele@contoso.test",
			"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity"}, []string{"accountEnabled", "onPremisesSyncEnabled"}},
		{"selected properties only", "/users/adele@contoso.test?$select=id,accountEnabled,onPremisesSyncEnabled", map[string]any{"id": adeleID, "accountEnabled": true, "onPremisesSyncEnabled": true,
			"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,accountEnabled,onPremisesSyncEnabled)/$entity"}, []string{"displayName"}},
		{"cloud-only user has null onPremisesSyncEnabled", "/users/diego@contoso.test?$select=onPremisesSyncEnabled", map[string]any{"onPremisesSyncEnabled": nil}, nil},
		{"apostrophe UPN, escaped", "/users/o%27brien@contoso.test?$select=id", map[string]any{"id": "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e04"}, nil},
		{"apostrophe UPN, raw", "/users/o'brien@contoso.test?$select=id", map[string]any{"id": "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e04"}, nil},
		{"UPN is case-insensitive", "/users/ADELE@Contoso.Test?$select=id", map[string]any{"id": adeleID}, nil},
		{"$select is case-insensitive", "/users/" + adeleID + "?$select=ACCOUNTENABLED", map[string]any{"accountEnabled": true}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := do(t, tn, tok, "GET", tc.path, "")
			if status != 200 {
				t.Fatalf("status %d: %v", status, body)
			}
			for k, v := range tc.want {
				if got, ok := body[k]; !ok || got != v {
					t.Errorf("%s = %v (present %t), want %v", k, got, ok, v)
				}
			}
			for _, k := range tc.absent {
				if _, ok := body[k]; ok {
					t.Errorf("%s present without $select", k)
				}
			}
		})
	}

	filters := []struct{ filter, wantID string }{
		{"userPrincipalName eq 'o''brien@contoso.test'", "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e04"},
		{"userPrincipalName eq 'nobody@contoso.test'", ""},
		// The on-premises properties are advanced queries: graph_query_test.go.
	}
	for _, f := range filters {
		status, _, body := do(t, tn, tok, "GET", "/users?$filter="+strings.ReplaceAll(f.filter, " ", "%20")+"&$select=id", "")
		vals, _ := body["value"].([]any)
		got := ""
		if len(vals) == 1 {
			got = vals[0].(map[string]any)["id"].(string)
		}
		if status != 200 || got != f.wantID || len(vals) > 1 {
			t.Errorf("%s: %d %v, want %q", f.filter, status, body, f.wantID)
		}
	}
}

// TestGzipBody sends a compressed PATCH, as the SDK's compression handler does.
func TestGzipBody(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(`{"accountEnabled":false}`))
	zw.Close()
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
	}{
		{"gzip body", buf.Bytes(), 204},
		{"corrupt gzip", []byte("not gzip"), 400},
	} {
		req, _ := http.NewRequest("PATCH", tn.GraphURL()+"/users/"+alexID, bytes.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip")
		resp, err := httpClient(tn).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}
	if userState(t, tn, alexID).Entra.AccountEnabled {
		t.Error("alex still enabled after gzip PATCH")
	}
}

func TestRevokeSessionsBody(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	before := time.Now().UTC().Truncate(time.Second)
	status, _, body := do(t, tn, tok, "POST", "/users/"+adeleID+"/revokeSignInSessions", "")
	if status != 200 || body["value"] != true || body["@odata.context"] != "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean" {
		t.Fatalf("%d %v", status, body)
	}
	_, _, u := do(t, tn, tok, "GET", "/users/"+adeleID+"?$select=signInSessionsValidFromDateTime", "")
	ts, err := time.Parse(time.RFC3339, u["signInSessionsValidFromDateTime"].(string))
	if err != nil || ts.Before(before) {
		t.Errorf("signInSessionsValidFromDateTime = %v (%v), want ≥ %v", u["signInSessionsValidFromDateTime"], err, before)
	}
}

// TestConfirmCompromisedRate: Identity Protection allows one request a
// second per tenant, reads included, and answers 429 without Retry-After
// past that.
func TestConfirmCompromisedRate(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	body := `{"userIds":["` + diegoID + `"]}`
	if status, _, b := do(t, tn, tok, "POST", "/identityProtection/riskyUsers/confirmCompromised", body); status != 204 {
		t.Fatalf("first: %d %v", status, b)
	}
	status, hdr, b := do(t, tn, tok, "POST", "/identityProtection/riskyUsers/confirmCompromised", body)
	if status != 429 || errCode(b) != "TooManyRequests" || hdr.Get("Retry-After") != "" {
		t.Fatalf("second: %d %v Retry-After %q", status, b, hdr.Get("Retry-After"))
	}
	time.Sleep(1100 * time.Millisecond)
	if status, _, b := do(t, tn, tok, "POST", "/identityProtection/riskyUsers/confirmCompromised", body); status != 204 {
		t.Fatalf("after a second: %d %v", status, b)
	}
	// A read counts too: it waits its turn as a confirmation does.
	if status, hdr, b := do(t, tn, tok, "GET", "/identityProtection/riskyUsers/"+diegoID, ""); status != 429 || hdr.Get("Retry-After") != "" {
		t.Errorf("a read within the second: %d %v Retry-After %q", status, b, hdr.Get("Retry-After"))
	}
	time.Sleep(1100 * time.Millisecond)
	if status, _, b := do(t, tn, tok, "GET", "/identityProtection/riskyUsers/"+adeleID, ""); status != 404 {
		t.Errorf("never-risky user: %d %v", status, b)
	}
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{Throttle: &ThrottleConfig{RU: 3, Per: 30 * time.Second}})
	tok := token(t, tn, revokeClientID, revokeSecret)
	other := token(t, tn, readonlyClientID, readonlySecret)
	// A list costs 2 RU, a single GET 1: 2 + 1 uses the budget up.
	if s, h, _ := do(t, tn, tok, "GET", "/users", ""); s != 200 || h.Get("x-ms-resource-unit") != "2" {
		t.Fatalf("list: %d RU %q", s, h.Get("x-ms-resource-unit"))
	}
	if s, h, _ := do(t, tn, tok, "GET", "/users/"+adeleID, ""); s != 200 || h.Get("x-ms-throttle-limit-percentage") != "1.00" {
		t.Fatalf("get: %d %q", s, h.Get("x-ms-throttle-limit-percentage"))
	}
	s, h, b := do(t, tn, tok, "GET", "/users/"+adeleID, "")
	if s != 429 || errCode(b) != "TooManyRequests" || errMessage(b) != "Please retry again later." || h.Get("Retry-After") != "10" {
		t.Fatalf("third: %d %v Retry-After %q", s, b, h.Get("Retry-After"))
	}
	// Buckets are per app.
	if s, _, _ := do(t, tn, other, "GET", "/users/"+adeleID, ""); s != 200 {
		t.Errorf("other app: %d", s)
	}
	tn.SetThrottle(nil)
	if s, _, _ := do(t, tn, tok, "GET", "/users/"+adeleID, ""); s != 200 {
		t.Errorf("throttle off: %d", s)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	path := "/users/" + adeleID
	tests := []struct {
		name  string
		rule  FaultRule
		want  []int // statuses of consecutive GETs; 0 = connection dropped
		retry string
	}{
		{"nth", FaultRule{Path: "/v1.0/users/", Nth: 2, Status: 503}, []int{200, 503, 200}, ""},
		{"every", FaultRule{Path: "/v1.0/users/", Every: 2, Status: 429, RetryAfter: 3 * time.Second}, []int{200, 429, 200, 429}, "3"},
		{"glob and method", FaultRule{Path: "/v1.0/users/*", Method: "GET"}, []int{503, 503}, ""},
		{"other method does not match", FaultRule{Path: "/v1.0/users/", Method: "PATCH"}, []int{200}, ""},
		{"reset drops the connection", FaultRule{Path: "/v1.0/", Nth: 1, Reset: true}, []int{0, 200}, ""},
	}
	for _, tc := range tests {
		if err := tn.SetFaults(tc.rule); err != nil {
			t.Fatal(err)
		}
		for i, want := range tc.want {
			req, _ := http.NewRequest("GET", tn.GraphURL()+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := httpClient(tn).Do(req)
			got := 0
			if err == nil {
				got = resp.StatusCode
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if got == 429 && resp.Header.Get("Retry-After") != tc.retry {
					t.Errorf("%s: Retry-After %q, want %q", tc.name, resp.Header.Get("Retry-After"), tc.retry)
				}
			}
			if got != want {
				t.Errorf("%s: request %d: status %d (%v), want %d", tc.name, i+1, got, err, want)
			}
		}
	}
	if err := tn.SetFaults(FaultRule{Path: "[", Status: 503}); err == nil {
		t.Error("bad glob accepted")
	}
	if err := tn.SetFaults(FaultRule{Path: "/", Status: 200}); err == nil || err.Error() != `fault "/": status must be an HTTP error status (4xx or 5xx), got 200` {
		t.Errorf("status 200: %v", err)
	}
}

// TestSyncRevertsCloudDisable: a cloud block on a synced user is undone by
// the next sync unless AD is disabled too.
func TestSyncRevertsCloudDisable(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	if s, _, b := do(t, tn, tok, "PATCH", "/users/"+adeleID, `{"accountEnabled":false}`); s != 204 {
		t.Fatalf("PATCH: %d %v", s, b)
	}
	tn.Sync()
	if !userState(t, tn, adeleID).Entra.AccountEnabled {
		t.Fatal("sync did not revert the cloud-only block")
	}
	// Disable on-premises and set a new password, as the AD steps do.
	d := tn.Directory()
	d.Lock()
	u := d.UserByRef(adeleID)
	u.AD.UserAccountControl |= 0x2
	pwdSet := u.AD.PwdLastSet.Add(time.Minute)
	u.AD.PwdLastSet = pwdSet
	sessions := u.SignInSessionsValidFrom
	d.Unlock()

	resp, err := httpClient(tn).Post(tn.AuthorityHost()+"_sandbox/sync", "", nil)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("POST /_sandbox/sync: %v %v", resp, err)
	}
	resp.Body.Close()
	e := userState(t, tn, adeleID).Entra
	if e.AccountEnabled || e.LastSyncedPasswordAt == nil || !e.LastSyncedPasswordAt.Equal(pwdSet) || !e.SignInSessionsValidFromDateTime.Equal(sessions) {
		t.Errorf("after sync: %+v", e)
	}
	// Cloud-only users are not touched.
	d.Lock()
	d.UserByRef(diegoID).AccountEnabled = false
	d.Unlock()
	tn.Sync()
	if userState(t, tn, diegoID).Entra.AccountEnabled {
		t.Error("sync re-enabled a cloud-only user")
	}
}

func TestPeriodicSync(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{SyncEvery: 20 * time.Millisecond})
	d := tn.Directory()
	d.Lock()
	d.UserByRef(adeleID).AccountEnabled = false
	d.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for !userState(t, tn, adeleID).Entra.AccountEnabled {
		if time.Now().After(deadline) {
			t.Fatal("periodic sync never ran")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSandboxEndpoints(t *testing.T) {
	t.Parallel()
	sink := &lockedBuffer{}
	tn := startTenant(t, Options{LogWriter: sink})
	tok := token(t, tn, revokeClientID, revokeSecret)
	do(t, tn, tok, "PATCH", "/users/"+diegoID, `{"passwordProfile":{"password":"Xy7!kdl20-aZ93&qq"}}`)
	c := httpClient(tn)
	get := func(path string) (int, []byte) {
		resp, err := c.Get(tn.AuthorityHost() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	status, b := get("_sandbox/state?user=adele")
	var u UserState
	if err := json.Unmarshal(b, &u); err != nil || status != 200 || u.Entra.ID != adeleID || u.AD.SAMAccountName != "adele" || len(u.AD.MemberOf) != 2 {
		t.Errorf("state?user=adele: %d %s", status, b)
	}
	status, b = get("_sandbox/state")
	var st State
	if err := json.Unmarshal(b, &st); err != nil || status != 200 || len(st.Users) != 13 {
		t.Errorf("state: %d %d users", status, len(st.Users))
	}
	for _, secret := range []string{"Sandbox-Only", "Xy7!kdl20", revokeSecret} {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("state leaks %q", secret)
		}
	}
	status, b = get("_sandbox/log")
	var entries []Entry
	if err := json.Unmarshal(b, &entries); err != nil || status != 200 || len(entries) != 2 {
		t.Errorf("log: %d %s", status, b)
	}
	if entries[1].Method != "PATCH" || entries[1].Status != 204 || entries[1].Detail != "passwordProfile" || entries[1].Client != revokeClientID {
		t.Errorf("PATCH entry = %+v", entries[1])
	}
	lines := strings.Split(strings.TrimSpace(sink.String()), "\n")
	if len(lines) != 2 || strings.Contains(sink.String(), "Xy7!kdl20") || strings.Contains(sink.String(), revokeSecret) {
		t.Errorf("log sink: %q", sink.String())
	}
	if status, _ := get("_sandbox/nope"); status != 404 {
		t.Errorf("unknown sandbox endpoint: %d", status)
	}
}

// lockedBuffer is a concurrency-safe io.Writer for the log sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestCloseIsIdempotent(t *testing.T) {
	tn, err := Start(context.Background(), DefaultSeed(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tn.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := httpClient(tn).Get(tn.GraphURL() + "/users"); err == nil {
		t.Error("graph still serving after Close")
	}
}

// TestAppRolesGateWrites: some writes need a directory role on the app's
// service principal on top of the permission, as in Entra.
func TestAppRolesGateWrites(t *testing.T) {
	t.Parallel()
	seed := DefaultSeed()
	seed.Apps[0].DirectoryRoles = nil
	tn, err := Start(context.Background(), seed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	tok := token(t, tn, revokeClientID, revokeSecret)
	for _, tc := range []struct{ name, method, path, body string }{
		{"device accountEnabled needs Cloud Device Administrator", "PATCH", "/devices/0d1e2f30-4a5b-4c6d-8e7f-9a0b1c2d3e01", `{"accountEnabled":false}`},
		{"password reset needs User Administrator", "PATCH", "/users/" + diegoID, `{"passwordProfile":{"password":"Xy7!kdl20-aZ93&qq"}}`},
		{"revoking a Global Administrator's sessions needs a privileged role", "POST", "/users/" + breakglassID + "/revokeSignInSessions", ""},
	} {
		if status, _, body := do(t, tn, tok, tc.method, tc.path, tc.body); status != 403 || errCode(body) != "Authorization_RequestDenied" {
			t.Errorf("%s: %d %v", tc.name, status, body)
		}
	}
	// accountEnabled on a non-privileged user needs only the permission.
	if status, _, body := do(t, tn, tok, "PATCH", "/users/"+diegoID, `{"accountEnabled":false}`); status != 204 {
		t.Errorf("disable: %d %v", status, body)
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{Latency: 60 * time.Millisecond})
	tok := token(t, tn, revokeClientID, revokeSecret)
	start := time.Now()
	do(t, tn, tok, "GET", "/users/"+adeleID, "")
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("request took %v, want at least the 60ms latency", d)
	}
	if d := tn.Directory().Delay(); d != 60*time.Millisecond {
		t.Errorf("Delay() = %v for the LDAP face", d)
	}
}

// A role held by a role-assignable group is its members' through
// transitiveMemberOf, not memberOf; role assignments name the group as the
// principal; and the sandbox's state shows the effective roles.
func TestGroupHeldRoles(t *testing.T) {
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	names := func(body map[string]any) []string {
		var out []string
		vals, _ := body["value"].([]any)
		for _, v := range vals {
			m, _ := v.(map[string]any)
			out = append(out, fmt.Sprint(m["displayName"]))
		}
		return out
	}
	tests := []struct {
		path string
		want []string
	}{
		{"/users/" + nestorID + "/memberOf/microsoft.graph.directoryRole", nil},
		{"/users/nestor@contoso.test/transitiveMemberOf/microsoft.graph.directoryRole", []string{"Helpdesk Administrator"}},
		{"/users/" + nestorID + "/memberOf", []string{"Helpdesk Operators"}},
		{"/users/" + nestorID + "/transitiveMemberOf", []string{"Helpdesk Operators", "Helpdesk Administrator"}},
		// A direct role and one through a group are listed once each.
		{"/users/" + breakglassID + "/transitiveMemberOf/microsoft.graph.directoryRole", []string{"Global Administrator"}},
	}
	for _, tc := range tests {
		status, _, body := do(t, tn, tok, "GET", tc.path, "")
		if got := names(body); status != 200 || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %d %v, want %v", tc.path, status, got, tc.want)
		}
	}
	status, _, body := do(t, tn, tok, "GET", "/roleManagement/directory/roleAssignments?$filter=principalId%20eq%20'"+helpdeskGroupID+"'", "")
	vals, _ := body["value"].([]any)
	if status != 200 || len(vals) != 1 || vals[0].(map[string]any)["roleDefinitionId"] != roleTemplateID("Helpdesk Administrator") {
		t.Errorf("group's role assignments: %d %v", status, body)
	}
	tn.Directory().Lock()
	privileged := tn.Directory().privileged(tn.Directory().UserByRef(nestorID))
	tn.Directory().Unlock()
	if !privileged {
		t.Error("a group-held admin role does not make its member privileged")
	}
}

// pimSeed has a user eligible for a role (not holding it) and one holding
// a role directly; unlicensed is the same tenant without Entra ID P2.
const pimSeed = `tenant: {id: 0f0e0d0c-0b0a-4908-8706-050403020100}
apps:
  - {name: revoke, client_id: 11111111-1111-1111-1111-111111111111, secret: s3cret-for-tests-only,
     permissions: [User.Read.All, RoleManagement.Read.Directory]}
  - {name: reader, client_id: 22222222-2222-2222-2222-222222222222, secret: s3cret-for-tests-only, permissions: [User.Read.All]}
users:
  - {id: 00000000-0000-4000-8000-000000000001, userPrincipalName: eli@pim.test}
  - {id: 00000000-0000-4000-8000-000000000002, userPrincipalName: ada@pim.test}
role_assignments:
  - {user: ada@pim.test, roles: [User Administrator]}
role_eligibilities:
  - {user: eli@pim.test, roles: [Global Administrator, Exchange Administrator]}
`

func TestRoleEligibilities(t *testing.T) {
	for _, licensed := range []bool{true, false} {
		yaml := pimSeed
		if !licensed {
			yaml = strings.Replace(yaml, "tenant: {", "tenant: {entra_id_p2: false, ", 1)
		}
		seed, err := ParseSeed("pim.yaml", []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		tn, err := Start(context.Background(), seed, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer tn.Close()
		tok := token(t, tn, revokeClientID, "s3cret-for-tests-only")
		const path = "/roleManagement/directory/roleEligibilityScheduleInstances?$filter=principalId%20eq%20'00000000-0000-4000-8000-000000000001'&$expand=roleDefinition"
		status, _, body := do(t, tn, tok, "GET", path, "")
		if !licensed {
			if status != 400 || errCode(body) != "AadPremiumLicenseRequired" ||
				errMessage(body) != "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license." {
				t.Errorf("unlicensed: %d %v", status, body)
			}
			continue
		}
		vals, _ := body["value"].([]any)
		var names []string
		for _, v := range vals {
			def, _ := v.(map[string]any)["roleDefinition"].(map[string]any)
			names = append(names, fmt.Sprint(def["displayName"]))
		}
		if status != 200 || !slices.Equal(names, []string{"Global Administrator", "Exchange Administrator"}) {
			t.Errorf("eli's eligibilities: %d %v", status, body)
		}
		// An eligibility is not a role held.
		status, _, body = do(t, tn, tok, "GET", "/users/eli@pim.test/transitiveMemberOf/microsoft.graph.directoryRole", "")
		if vals, _ := body["value"].([]any); status != 200 || len(vals) != 0 {
			t.Errorf("eli holds roles: %d %v", status, body)
		}
		status, _, body = do(t, tn, tok, "GET", strings.Replace(path, "0001", "0002", 1), "")
		if vals, _ := body["value"].([]any); status != 200 || len(vals) != 0 {
			t.Errorf("ada's eligibilities: %d %v", status, body)
		}
		reader := token(t, tn, readonlyClientID, "s3cret-for-tests-only")
		if status, _, body := do(t, tn, reader, "GET", path, ""); status != 403 || errCode(body) != "Authorization_RequestDenied" {
			t.Errorf("without a role-management permission: %d %v", status, body)
		}
	}
}
