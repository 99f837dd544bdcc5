package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseWriteQuota(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want WriteQuota
		err  string
	}{
		{in: "3000/150s", want: WriteQuota{Writes: 3000, Window: 150 * time.Second}},
		{in: " 600/30s ", want: WriteQuota{Writes: 600, Window: 30 * time.Second}},
		{in: "3000/2m30s", want: WriteQuota{Writes: 3000, Window: 150 * time.Second}},
		{in: "0", want: WriteQuota{}},
		{in: "3000", err: `"3000": want WRITES/WINDOW such as 3000/150s (or 0 for none)`},
		{in: "", err: `"": want WRITES/WINDOW such as 3000/150s (or 0 for none)`},
		{in: "many/150s", err: `"many/150s": the number of writes "many" is not a whole number of at least 1`},
		{in: "0/150s", err: `"0/150s": the number of writes "0" is not a whole number of at least 1`},
		{in: "-5/150s", err: `"-5/150s": the number of writes "-5" is not a whole number of at least 1`},
		{in: "3000/150", err: `"3000/150": the window "150" is not a duration such as 150s or 2m30s`},
		{in: "3000/0s", err: `"3000/0s": the window must be longer than zero`},
		{in: "3000/-1s", err: `"3000/-1s": the window must be longer than zero`},
	}
	for _, tc := range tests {
		got, err := ParseWriteQuota(tc.in)
		if fmt.Sprint(err) != fmt.Sprint(map[bool]any{true: tc.err, false: nil}[tc.err != ""]) || got != tc.want {
			t.Errorf("ParseWriteQuota(%q) = %+v, %v; want %+v, %s", tc.in, got, err, tc.want, tc.err)
		}
	}
	if s := (WriteQuota{Writes: 3000, Window: 150 * time.Second}).String(); s != "3000/2m30s" {
		t.Errorf("String() = %q", s)
	}
}

func TestDirectoryWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, path string
		want         bool
	}{
		{"PATCH", "users/u1", true},
		{"POST", "users/u1/revokeSignInSessions", true},
		{"DELETE", "users/u1/authentication/microsoftAuthenticatorMethods/m1", true},
		{"PATCH", "devices/d1", true},
		{"DELETE", "groups/g1/members/u1/$ref", true},
		{"DELETE", "oauth2PermissionGrants/p1", true},
		{"DELETE", "servicePrincipals/s1/appRoleAssignedTo/a1", true},
		{"PUT", "users/u1/manager/$ref", true},
		{"GET", "users/u1", false},
		{"POST", "identityProtection/riskyUsers/confirmCompromised", false},
		{"POST", "deviceManagement/managedDevices/m1/retire", false},
		{"POST", "servicePrincipals/s1/synchronization/jobs/j1/provisionOnDemand", false},
		{"DELETE", "users/u1/mailFolders/inbox/messageRules/r1", false},
	}
	for _, tc := range tests {
		if got := directoryWrite(tc.method, splitPath(tc.path)); got != tc.want {
			t.Errorf("%s %s: directoryWrite %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
}

// fakeClock is the Graph face's clock in a test: real time at the start,
// moved on only by advance.
type fakeClock struct {
	base time.Time
	off  atomic.Int64
}

func (c *fakeClock) now() time.Time          { return c.base.Add(time.Duration(c.off.Load())) }
func (c *fakeClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// startClockedTenant starts the default tenant whose Graph face reads the
// returned clock, so budgets refill only when the test says.
func startClockedTenant(t *testing.T, opts Options) (*Tenant, *fakeClock) {
	t.Helper()
	tn := startTenant(t, opts)
	clock := &fakeClock{base: time.Now()}
	tn.graph.now = clock.now // before any request: the server reads it after
	return tn, clock
}

// A write quota of 5 per 50 s (one write back every 10 s): five writes
// pass, the fourth and fifth say how full the budget is, the sixth gets
// Graph's 429 with Retry-After and the throttle scope; reads, other apps
// and writes Graph limits elsewhere are not held back; the bucket refills
// with time, one write per tenth of the window, up to the whole budget.
func TestWriteQuota(t *testing.T) {
	t.Parallel()
	tn, clock := startClockedTenant(t, Options{WriteQuota: WriteQuota{Writes: 5, Window: 50 * time.Second}})
	tok := token(t, tn, revokeClientID, revokeSecret)
	revoke := "/users/" + adeleID + "/revokeSignInSessions"
	for i, pct := range []string{"", "", "", "0.80", "1.00"} {
		s, h, _ := do(t, tn, tok, "POST", revoke, "")
		if s != 200 || h.Get("x-ms-resource-unit") != "1" || h.Get("x-ms-throttle-limit-percentage") != pct {
			t.Fatalf("write %d: %d, x-ms-resource-unit %q, x-ms-throttle-limit-percentage %q (want %q)",
				i+1, s, h.Get("x-ms-resource-unit"), h.Get("x-ms-throttle-limit-percentage"), pct)
		}
	}
	s, h, body := doRaw(t, tn, tok, "POST", revoke, "")
	want := fmt.Sprintf(`{"error":{"code":"TooManyRequests","message":"Please retry again later.","innerError":{"date":"%s","request-id":"%s","client-request-id":"%s"}}}`,
		clock.now().UTC().Format("2006-01-02T15:04:05"), h.Get("request-id"), h.Get("client-request-id"))
	if s != 429 || body != want {
		t.Fatalf("sixth write: %d %s\nwant 429 %s", s, body, want)
	}
	for k, v := range map[string]string{
		"Retry-After":                    "10",
		"Content-Type":                   "application/json",
		"x-ms-throttle-scope":            "Tenant_Application/Write/" + revokeClientID + "/" + tn.TenantID(),
		"x-ms-throttle-information":      "WriteLimitExceeded",
		"x-ms-throttle-limit-percentage": "",
		"x-ms-resource-unit":             "",
	} {
		if h.Get(k) != v {
			t.Errorf("429 header %s: %q, want %q", k, h.Get(k), v)
		}
	}
	// Reads are not writes; Identity Protection has its own limit.
	if s, h, _ := do(t, tn, tok, "GET", "/users/"+adeleID, ""); s != 200 || h.Get("x-ms-resource-unit") != "1" {
		t.Errorf("read past the write quota: %d, RU %q", s, h.Get("x-ms-resource-unit"))
	}
	if s, _, b := do(t, tn, tok, "POST", "/identityProtection/riskyUsers/confirmCompromised", `{"userIds":["`+adeleID+`"]}`); s != 204 {
		t.Errorf("confirmCompromised past the write quota: %d %v", s, b)
	}
	// The budget is per app: the read-only app's write is refused for
	// want of permission, not for the other app's writes (and counts as
	// a write: Graph charges a request before it looks at it).
	other := token(t, tn, readonlyClientID, readonlySecret)
	if s, _, b := do(t, tn, other, "POST", revoke, ""); s != 403 {
		t.Errorf("another app's write: %d %v", s, b)
	}

	// Ten seconds give one write back, and the next waits ten more.
	clock.advance(10 * time.Second)
	if s, h, _ := do(t, tn, tok, "POST", revoke, ""); s != 200 || h.Get("x-ms-throttle-limit-percentage") != "1.00" {
		t.Fatalf("after 10 s: %d, %q", s, h.Get("x-ms-throttle-limit-percentage"))
	}
	clock.advance(4 * time.Second)
	if s, h, _ := do(t, tn, tok, "POST", revoke, ""); s != 429 || h.Get("Retry-After") != "6" {
		t.Fatalf("4 s later: %d, Retry-After %q", s, h.Get("Retry-After"))
	}
	// A whole window fills the bucket, and no more than it holds.
	clock.advance(500 * time.Second)
	for i := 1; i <= 6; i++ {
		s, _, _ := do(t, tn, tok, "POST", revoke, "")
		if want := map[bool]int{true: 200, false: 429}[i <= 5]; s != want {
			t.Fatalf("after a long wait, write %d: %d, want %d", i, s, want)
		}
	}

	// What the quota did, for benchmarks: 11 accepted, 3 refused, over
	// the 514 s from the first accepted write to the last, in which the
	// quota could have accepted 5 + 514/10 = 56.4; the other app made one
	// write, a fifth of its budget.
	rep := tn.Quota()
	first := clock.base.UTC()
	last := first.Add(514 * time.Second)
	wantRep := QuotaReport{
		WriteQuota: &QuotaLimit{Budget: 5, Window: "50s", WindowSeconds: 50},
		Apps: []AppQuota{
			{AppID: revokeClientID, WritesAccepted: 11, WritesRefused: 3, FirstWrite: &first, LastWrite: &last, WritesPossible: 56.4, BudgetUsed: 0.195},
			{AppID: readonlyClientID, WritesAccepted: 1, FirstWrite: &first, LastWrite: &first, WritesPossible: 5, BudgetUsed: 0.2},
		},
	}
	if g, w := mustJSON(t, rep), mustJSON(t, wantRep); g != w {
		t.Errorf("report:\n%s\nwant\n%s", g, w)
	}
	// GET /_sandbox/throttle shows the same; DELETE refills and zeroes.
	resp, err := httpClient(tn).Get(tn.AuthorityHost() + "_sandbox/throttle")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if g, w := strings.TrimSpace(string(got)), mustJSON(t, wantRep); resp.StatusCode != 200 || g != w {
		t.Errorf("GET /_sandbox/throttle: %d\n%s\nwant\n%s", resp.StatusCode, g, w)
	}
	req, _ := http.NewRequest("DELETE", tn.AuthorityHost()+"_sandbox/throttle", nil)
	if resp, err := httpClient(tn).Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("DELETE /_sandbox/throttle: %v %v", err, resp)
	}
	if s, _, _ := do(t, tn, tok, "POST", revoke, ""); s != 200 {
		t.Errorf("write after the reset: %d", s)
	}
	if rep := tn.Quota(); len(rep.Apps) != 1 || rep.Apps[0].WritesAccepted != 1 || rep.Apps[0].WritesRefused != 0 || rep.Apps[0].BudgetUsed != 0.2 {
		t.Errorf("after the reset: %s", mustJSON(t, rep))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Inside a $batch each item draws on the write quota on its own: the
// writes beyond it come back 429 inside the 200, with Retry-After and the
// throttle headers, while reads in the same batch are answered.
func TestWriteQuotaInBatch(t *testing.T) {
	t.Parallel()
	tn, _ := startClockedTenant(t, Options{WriteQuota: WriteQuota{Writes: 2, Window: time.Minute}})
	tok := token(t, tn, revokeClientID, revokeSecret)
	body := `{"requests":[
		{"id":"1","method":"POST","url":"/users/` + adeleID + `/revokeSignInSessions"},
		{"id":"2","method":"POST","url":"/users/` + alexID + `/revokeSignInSessions"},
		{"id":"3","method":"POST","url":"/users/` + diegoID + `/revokeSignInSessions"},
		{"id":"4","method":"GET","url":"/users/` + adeleID + `?$select=id"}]}`
	s, _, out := do(t, tn, tok, "POST", "/$batch", body)
	if s != 200 {
		t.Fatalf("batch: %d %v", s, out)
	}
	b, _ := json.Marshal(out["responses"])
	var rs []batchResponse
	if err := json.Unmarshal(b, &rs); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rs {
		got[r.ID] = fmt.Sprintf("%d %s %s %s %s", r.Status, headerValue(r.Headers, "Retry-After"), headerValue(r.Headers, "x-ms-throttle-information"),
			headerValue(r.Headers, "x-ms-throttle-limit-percentage"), headerValue(r.Headers, "x-ms-resource-unit"))
		if r.Status == 429 {
			var e graphError
			if json.Unmarshal(r.Body, &e) != nil || e.Error.Code != "TooManyRequests" || e.Error.Message != "Please retry again later." ||
				headerValue(r.Headers, "x-ms-throttle-scope") != "Tenant_Application/Write/"+revokeClientID+"/"+tn.TenantID() {
				t.Errorf("item %s: %s %v", r.ID, r.Body, r.Headers)
			}
		}
	}
	want := map[string]string{
		"1": "200    1",
		"2": "200   1.00 1",
		"3": "429 30 WriteLimitExceeded  ",
		"4": "200    1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("items %q\nwant  %q", got, want)
	}
	if u := userState(t, tn, diegoID); u.Entra.SignInSessionsValidFromDateTime.After(time.Now().Add(-time.Hour)) {
		t.Errorf("the throttled item revoked diego's sessions")
	}
	if rep := tn.Quota(); rep.Apps[0].WritesAccepted != 2 || rep.Apps[0].WritesRefused != 1 {
		t.Errorf("report: %s", mustJSON(t, rep))
	}
}

// With a resource-unit budget and no write quota, writes draw on Graph's
// own 3,000 per 150 s; a request beyond the resource units is refused with
// the ReadWrite scope and its own reason.
func TestResourceUnitsAndGraphsWriteQuota(t *testing.T) {
	t.Parallel()
	tn, _ := startClockedTenant(t, Options{Throttle: &ThrottleConfig{RU: 2, Per: 20 * time.Second}})
	tok := token(t, tn, revokeClientID, revokeSecret)
	if s, _, _ := do(t, tn, tok, "GET", "/users", ""); s != 200 {
		t.Fatalf("list: %d", s)
	}
	s, h, _ := do(t, tn, tok, "POST", "/users/"+adeleID+"/revokeSignInSessions", "")
	if s != 429 || h.Get("Retry-After") != "10" || h.Get("x-ms-throttle-information") != "ResourceUnitLimitExceeded" ||
		h.Get("x-ms-throttle-scope") != "Tenant_Application/ReadWrite/"+revokeClientID+"/"+tn.TenantID() {
		t.Errorf("write past the RU budget: %d %v", s, h)
	}
	rep := tn.Quota()
	wantRep := QuotaReport{
		WriteQuota:    &QuotaLimit{Budget: 3000, Window: "2m30s", WindowSeconds: 150},
		ResourceUnits: &QuotaLimit{Budget: 2, Window: "20s", WindowSeconds: 20},
		Apps:          []AppQuota{{AppID: revokeClientID, RURefused: 1}},
	}
	if g, w := mustJSON(t, rep), mustJSON(t, wantRep); g != w {
		t.Errorf("report:\n%s\nwant\n%s", g, w)
	}
	// Off, the report says so, and every answer still says its cost.
	tn.SetThrottle(nil)
	if s, h, _ := do(t, tn, tok, "GET", "/users", ""); s != 200 || h.Get("x-ms-resource-unit") != "2" {
		t.Errorf("throttling off: %d RU %q", s, h.Get("x-ms-resource-unit"))
	}
	if g, w := mustJSON(t, tn.Quota()), `{"write_quota":null,"resource_units":null,"apps":[]}`; g != w {
		t.Errorf("report with throttling off: %s", g)
	}
}
