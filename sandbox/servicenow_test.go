package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	snowUser         = "svc-revoke"
	snowPassword     = "Sandbox-ServiceNow-1!"
	snowReadonly     = "svc-readonly"
	snowReadonlyPass = "Sandbox-ServiceNow-2!"
	snowClientID     = "6f1e2d3c4b5a69788796a5b4c3d2e1f0"
	snowClientSecret = "Sandbox-ServiceNow-OAuth-1!"
)

// snowDo sends one Table API request; auth is "basic USER PASS", "bearer
// TOKEN" or "". It returns status, headers and the raw body.
func snowDo(t *testing.T, tn *Tenant, auth, method, path, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, tn.ServiceNowURL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	switch f := strings.Fields(auth); {
	case len(f) == 3 && f[0] == "basic":
		req.SetBasicAuth(f[1], f[2])
	case len(f) == 2 && f[0] == "bearer":
		req.Header.Set("Authorization", "Bearer "+f[1])
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := httpClient(tn).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func getSnowToken(t *testing.T, tn *Tenant, id, secret string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	resp, err := httpClient(tn).Post(tn.ServiceNowURL()+"/oauth_token.do", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, m
}

var basicAuth = "basic " + snowUser + " " + snowPassword

func TestServiceNowInsertAndRead(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	status, h, body := snowDo(t, tn, basicAuth, http.MethodPost, "/api/now/table/incident",
		`{"short_description":"Deprovision Miriam Graham","correlation_id":"revoke:r1:ticket","assignment_group":"Service Desk","urgency":2,"unknown_field":"x"}`)
	if status != http.StatusCreated {
		t.Fatalf("POST: %d %s", status, body)
	}
	var created struct{ Result map[string]any }
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	r := created.Result
	sysID, _ := r["sys_id"].(string)
	group := snowDerivedID("sys_user_group", "Service Desk")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(sysID) || r["number"] != "INC0010001" ||
		r["correlation_id"] != "revoke:r1:ticket" || r["urgency"] != "2" || r["state"] != "1" || r["sys_created_by"] != snowUser {
		t.Errorf("result = %v", r)
	}
	if _, ok := r["unknown_field"]; ok {
		t.Errorf("a field the table does not have was kept: %v", r)
	}
	if ref, _ := r["assignment_group"].(map[string]any); ref["value"] != group ||
		ref["link"] != tn.ServiceNowURL()+"/api/now/table/sys_user_group/"+group {
		t.Errorf("assignment_group = %v", r["assignment_group"])
	}
	if loc := h.Get("Location"); loc != tn.ServiceNowURL()+"/api/now/table/incident/"+sysID {
		t.Errorf("Location = %q", loc)
	}

	// The next number follows; another table counts on its own.
	_, _, body = snowDo(t, tn, basicAuth, http.MethodPost, "/api/now/table/incident", `{"short_description":"second"}`)
	if !strings.Contains(body, `"number":"INC0010002"`) {
		t.Errorf("second incident: %s", body)
	}
	_, _, body = snowDo(t, tn, basicAuth, http.MethodPost, "/api/now/table/sc_task", `{"short_description":"task"}`)
	if !strings.Contains(body, `"number":"SCTASK0010001"`) {
		t.Errorf("first task: %s", body)
	}

	tests := []struct {
		name, path, want string
	}{
		{"the run's ticket by correlation id, chosen fields",
			"/api/now/table/incident?sysparm_query=correlation_id%3Drevoke%3Ar1%3Aticket&sysparm_fields=sys_id,number,correlation_id&sysparm_limit=2",
			`{"result":[{"correlation_id":"revoke:r1:ticket","number":"INC0010001","sys_id":"` + sysID + `"}]}`},
		{"no match is an empty list",
			"/api/now/table/incident?sysparm_query=correlation_id%3Drevoke%3Ar2%3Aticket&sysparm_fields=number",
			`{"result":[]}`},
		{"a condition on an unknown field is ignored, as ServiceNow does",
			"/api/now/table/incident?sysparm_query=no_such_field%3Dx&sysparm_fields=number",
			`{"result":[{"number":"INC0010001"},{"number":"INC0010002"}]}`},
		{"!= and ORDERBY",
			"/api/now/table/incident?sysparm_query=number!%3DINC0010001%5EORDERBYnumber&sysparm_fields=number",
			`{"result":[{"number":"INC0010002"}]}`},
		{"limit", "/api/now/table/incident?sysparm_fields=number&sysparm_limit=1", `{"result":[{"number":"INC0010001"}]}`},
		{"one record by sys_id, references without links",
			"/api/now/table/incident/" + sysID + "?sysparm_fields=number,assignment_group&sysparm_exclude_reference_link=true",
			`{"result":{"assignment_group":"` + group + `","number":"INC0010001"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := snowDo(t, tn, basicAuth, http.MethodGet, tc.path, "")
			if status != http.StatusOK || body != tc.want {
				t.Errorf("GET %s = %d %s\nwant 200 %s", tc.path, status, body, tc.want)
			}
		})
	}

	recs := tn.ServiceNowRecords("incident")
	if len(recs) != 2 || recs[0]["number"] != "INC0010001" || recs[0]["assignment_group"] != group {
		t.Errorf("ServiceNowRecords = %v", recs)
	}
}

func TestServiceNowErrors(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	const (
		unauthenticated = `{"error":{"detail":"Required to provide Auth information","message":"User Not Authenticated"},"status":"failure"}`
		notFound        = `{"error":{"detail":"Record doesn't exist or ACL restricts the record retrieval","message":"No Record found"},"status":"failure"}`
		badJSON         = `{"error":{"detail":"The payload is not valid JSON.","message":"Exception while reading request"},"status":"failure"}`
	)
	tests := []struct {
		name, auth, method, path, body string
		status                         int
		want                           string
	}{
		{"no credentials", "", http.MethodGet, "/api/now/table/incident", "", 401, unauthenticated},
		{"a wrong password", "basic " + snowUser + " wrong", http.MethodPost, "/api/now/table/incident", `{}`, 401, unauthenticated},
		{"an unknown user", "basic nobody " + snowPassword, http.MethodGet, "/api/now/table/incident", "", 401, unauthenticated},
		{"an unknown token", "bearer nope", http.MethodGet, "/api/now/table/incident", "", 401, unauthenticated},
		{"a user without the table's role may not insert", "basic " + snowReadonly + " " + snowReadonlyPass, http.MethodPost, "/api/now/table/incident", `{}`, 403,
			`{"error":{"detail":"ACL Exception Insert Failed due to security constraints","message":"Operation Failed"},"status":"failure"}`},
		{"nor read", "basic " + snowReadonly + " " + snowReadonlyPass, http.MethodGet, "/api/now/table/incident", "", 403,
			`{"error":{"detail":null,"message":"Insufficient rights to query records"},"status":"failure"}`},
		{"an unknown table", basicAuth, http.MethodGet, "/api/now/table/no_table", "", 400,
			`{"error":{"detail":"Table no_table does not exist","message":"Invalid table no_table"},"status":"failure"}`},
		{"an unknown record", basicAuth, http.MethodGet, "/api/now/table/incident/0123456789abcdef0123456789abcdef", "", 404, notFound},
		{"a body that is not JSON", basicAuth, http.MethodPost, "/api/now/table/incident", `{"short_description":`, 400, badJSON},
		{"a body that is not an object", basicAuth, http.MethodPost, "/api/now/table/incident", `["x"]`, 400, badJSON},
		{"a null body", basicAuth, http.MethodPost, "/api/now/table/incident", `null`, 400, badJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := snowDo(t, tn, tc.auth, tc.method, tc.path, tc.body)
			if status != tc.status || body != tc.want {
				t.Errorf("%s %s = %d %s\nwant %d %s", tc.method, tc.path, status, body, tc.status, tc.want)
			}
			if status == 401 && h.Get("WWW-Authenticate") != `BASIC realm="Service-now"` {
				t.Errorf("WWW-Authenticate = %q", h.Get("WWW-Authenticate"))
			}
		})
	}
	if n := len(tn.ServiceNowRecords("incident")); n != 0 {
		t.Errorf("%d incidents after refused requests, want 0", n)
	}
}

func TestServiceNowOAuth(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	status, m := getSnowToken(t, tn, snowClientID, "wrong")
	if status != http.StatusUnauthorized || m["error"] != "server_error" || m["error_description"] != "access_denied" || m["access_token"] != nil {
		t.Errorf("wrong secret: %d %v", status, m)
	}
	status, m = getSnowToken(t, tn, snowClientID, snowClientSecret)
	tok, _ := m["access_token"].(string)
	if status != http.StatusOK || tok == "" || m["token_type"] != "Bearer" || m["expires_in"] != float64(1799) {
		t.Fatalf("token: %d %v", status, m)
	}
	status, _, body := snowDo(t, tn, "bearer "+tok, http.MethodPost, "/api/now/table/incident", `{"short_description":"by oauth"}`)
	if status != http.StatusCreated || !strings.Contains(body, `"sys_created_by":"svc-revoke"`) {
		t.Errorf("POST with a bearer token: %d %s", status, body)
	}
	// The log names the user, never a secret.
	for _, e := range tn.Log().Entries() {
		if e.Protocol != "servicenow" {
			continue
		}
		if b, _ := json.Marshal(e); strings.Contains(string(b), snowClientSecret) || strings.Contains(string(b), tok) {
			t.Errorf("log entry holds a secret: %s", b)
		}
	}
}

// TestServiceNowTokenExpires: a token is refused once its lifetime ends.
func TestServiceNowTokenExpires(t *testing.T) {
	t.Parallel()
	tn := startTenant(t, Options{})
	_, m := getSnowToken(t, tn, snowClientID, snowClientSecret)
	tok, _ := m["access_token"].(string)
	tn.snow.mu.Lock()
	tn.snow.tokens[tok] = snowToken{user: snowUser, expires: time.Now().Add(-time.Second)}
	tn.snow.mu.Unlock()
	if status, _, body := snowDo(t, tn, "bearer "+tok, http.MethodGet, "/api/now/table/incident", ""); status != 401 {
		t.Errorf("expired token: %d %s", status, body)
	}
}

// TestServiceNowCurl opens and reads a ticket with curl, as a person
// following docs/sandbox.md would:
//
//	curl --cacert ca.pem -u svc-revoke:PASSWORD -H 'Content-Type: application/json' \
//	  -d '{"short_description":"…","correlation_id":"…"}' https://127.0.0.1:PORT/api/now/table/incident
//	curl --cacert ca.pem -u svc-revoke:PASSWORD -G \
//	  --data-urlencode 'sysparm_query=correlation_id=…' https://127.0.0.1:PORT/api/now/table/incident
//	curl --cacert ca.pem https://127.0.0.1:PORT/_sandbox/servicenow
func TestServiceNowCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not on PATH")
	}
	t.Parallel()
	tn := startTenant(t, Options{})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, tn.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	curl := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "curl", append([]string{"-sS", "--cacert", caFile, "-w", " %{http_code}"}, args...)...)
		cmd.Env = append(os.Environ(), "CURL_HOME=/nonexistent")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := curl("-u", snowUser+":"+snowPassword, "-H", "Content-Type: application/json",
		"-d", `{"short_description":"Deprovision by hand","correlation_id":"revoke:curl:ticket"}`, tn.ServiceNowURL()+"/api/now/table/incident")
	if !strings.HasSuffix(out, " 201") || !strings.Contains(out, `"number":"INC0010001"`) {
		t.Errorf("POST: %s", out)
	}
	out = curl("-u", snowUser+":"+snowPassword, "-G", "--data-urlencode", "sysparm_query=correlation_id=revoke:curl:ticket",
		"--data-urlencode", "sysparm_fields=number", tn.ServiceNowURL()+"/api/now/table/incident")
	if out != `{"result":[{"number":"INC0010001"}]} 200` {
		t.Errorf("GET: %s", out)
	}
	out = curl(tn.ServiceNowURL() + "/api/now/table/incident")
	if !strings.HasSuffix(out, " 401") {
		t.Errorf("GET without credentials: %s", out)
	}
	out = curl(tn.ServiceNowURL() + "/_sandbox/servicenow")
	var st ServiceNowState
	if err := json.Unmarshal([]byte(strings.TrimSuffix(out, " 200")), &st); err != nil {
		t.Fatalf("_sandbox/servicenow: %v: %s", err, out)
	}
	if st.Instance != "contoso-sandbox" || len(st.Tables["incident"]) != 1 || st.Tables["incident"][0]["correlation_id"] != "revoke:curl:ticket" || st.Tables["sc_task"] == nil {
		t.Errorf("_sandbox/servicenow = %+v", st)
	}
}
