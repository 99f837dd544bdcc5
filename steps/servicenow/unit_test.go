package servicenow

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// fakeInstance serves handler over TLS and returns a basic-auth Conn
// trusting it, and how many requests it received.
func fakeInstance(t *testing.T, handler http.HandlerFunc) (*Conn, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c := openConn(t, steps.Values{fieldInstanceURL: srv.URL, fieldCredential: credBasic, fieldUsername: "u",
		fieldPassword + "_env": "P", fieldCAFile: ca, fieldManualApps: []string{"Legacy"}}, map[string]string{fieldPassword: "p"})
	return c, &n
}

func TestStatusErrorsAreClassified(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		class      steps.Class
		retryAfter time.Duration
		err        string
	}{
		{"throttled with Retry-After seconds", 429, map[string]string{"Retry-After": "7"},
			`{"error":{"message":"Too many requests","detail":null},"status":"failure"}`, steps.Retryable, 7 * time.Second,
			"servicenow: GET /api/now/table/incident: 429 Too many requests"},
		{"an instance down, no body", 503, nil, "", steps.Retryable, 0,
			"servicenow: GET /api/now/table/incident: 503 Service Unavailable"},
		{"a bad request", 400, nil, `{"error":{"message":"Invalid query","detail":"x"},"status":"failure"}`, steps.Invalid, 0,
			"servicenow: GET /api/now/table/incident: 400 Invalid query (x)"},
		{"free text is one line and bounded", 400, nil, `{"error":{"message":"line1\nline2\u001b[31m` + strings.Repeat("x", 400) + `"}}`, steps.Invalid, 0,
			"servicenow: GET /api/now/table/incident: 400 line1 line2 [31m" + strings.Repeat("x", 300-16) + "…"},
		{"a redirect is not followed", 302, map[string]string{"Location": "https://elsewhere.example/"}, "", steps.Other, 0,
			"servicenow: GET /api/now/table/incident: 302 Found"},
		{"a 200 that is not the Table API", 200, nil, "<html>hibernating</html>", steps.Other, 0,
			"servicenow: GET /api/now/table/incident: 200 without a JSON result (is 127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, n := fakeInstance(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			_, err := ticketStep{}.Check(context.Background(), ticketCall(c, leaver("Legacy"), nil))
			if err == nil || steps.ClassOf(err) != tc.class || steps.RetryAfterOf(err) != tc.retryAfter || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("error = %v (%v, retry after %v)\nwant    %s (%v, %v)", err, steps.ClassOf(err), steps.RetryAfterOf(err), tc.err, tc.class, tc.retryAfter)
			}
			if n.Load() != 1 {
				t.Errorf("%d requests, want 1", n.Load())
			}
		})
	}
}

// TestCheckTrustsNoFilter: an instance that ignores the query (as one
// does for a field it does not know) answers other tickets; revoke does
// not take one of them for its own.
func TestCheckTrustsNoFilter(t *testing.T) {
	c, _ := fakeInstance(t, func(w http.ResponseWriter, r *http.Request) {
		if got := r.URL.Query().Get("sysparm_query"); got != "correlation_id=revoke:"+runID+":ticket" {
			t.Errorf("sysparm_query = %q", got)
		}
		_, _ = w.Write([]byte(`{"result":[{"sys_id":"0123456789abcdef0123456789abcdef","number":"INC0000001","correlation_id":"someone else's"}]}`))
	})
	ch, err := ticketStep{}.Check(context.Background(), ticketCall(c, leaver("Legacy"), nil))
	if err != nil || ch.Satisfied || ch.Summary != "would open a ticket for 1 app: Legacy" {
		t.Errorf("Check = %+v, %v", ch, err)
	}
}

func TestNoAppNoTicket(t *testing.T) {
	c, n := fakeInstance(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("unexpected %s %s", r.Method, r.URL) })
	call := ticketCall(c, leaver("Salesforce"), nil) // assigned, but not a manual app
	for name, f := range map[string]func(context.Context, *steps.Call) (steps.Change, error){"Check": ticketStep{}.Check, "Apply": ticketStep{}.Apply} {
		ch, err := f(context.Background(), call)
		if err != nil || !ch.Satisfied || ch.Summary != "no app needs a person" {
			t.Errorf("%s = %+v, %v", name, ch, err)
		}
	}
	if err := (ticketStep{}).Verify(context.Background(), call); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if n.Load() != 0 {
		t.Errorf("%d requests, want none", n.Load())
	}
}

func TestApps(t *testing.T) {
	c := &Conn{manualApps: []string{"Contoso Expenses (legacy)", "Fabrikam Timesheets"}}
	tests := []struct {
		name    string
		subject *steps.Subject
		with    steps.Values
		want    []string
		note    bool
	}{
		{"assigned manual apps, matched without case", leaver("contoso expenses (LEGACY)", "Salesforce"), nil, []string{"Contoso Expenses (legacy)"}, false},
		{"published but none manual", leaver("Salesforce"), nil, nil, false},
		{"published empty", leaver([]any{}...), nil, nil, false},
		{"nobody published: all, with a note", leaver(), nil, []string{"Contoso Expenses (legacy)", "Fabrikam Timesheets"}, true},
		{"the parameter wins", leaver("Salesforce"), steps.Values{paramApps: []string{"Zendesk"}}, []string{"Zendesk"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			with := tc.with
			if with == nil {
				with = steps.Values{}
			}
			got, note := apps(&steps.Call{Subject: tc.subject, With: with}, c)
			if !reflect.DeepEqual(got, tc.want) || (note != "") != tc.note {
				t.Errorf("apps = %q, %q; want %q, note %t", got, note, tc.want, tc.note)
			}
		})
	}
}

func TestCorrelationID(t *testing.T) {
	tests := []struct{ run, step, want, err string }{
		{runID, "ticket", "revoke:" + runID + ":ticket", ""},
		{"", "ticket", "", `servicenow: correlation id "revoke::ticket" is empty, longer than 100 characters or holds ^, = or a line break`},
		{runID, strings.Repeat("s", 67), "", "longer than 100"},
		{runID, "a^b", "", "holds ^"},
	}
	for _, tc := range tests {
		got, err := correlationID(&steps.Call{RunID: tc.run, StepID: tc.step})
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && (!strings.Contains(err.Error(), tc.err) || steps.ClassOf(err) != steps.Invalid) {
			t.Errorf("correlationID(%q, %q) = %q, %v", tc.run, tc.step, got, err)
		}
	}
	if got, _ := correlationID(&steps.Call{RunID: runID, StepID: strings.Repeat("s", 66)}); len(got) != 100 {
		t.Errorf("a 100-character id was refused")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		section steps.Values
		want    []string
	}{
		{"basic, complete", steps.Values{fieldInstanceURL: "https://x.service-now.com", fieldCredential: credBasic, fieldUsername: "u", fieldPassword + "_file": "p"}, nil},
		{"basic without user or password", steps.Values{fieldInstanceURL: "https://x.service-now.com", fieldCredential: credBasic},
			[]string{"credential basic needs username", "credential basic needs password_env or password_file"}},
		{"oauth without client", steps.Values{fieldInstanceURL: "https://x.service-now.com", fieldCredential: credOAuth},
			[]string{"credential oauth_client_credentials needs client_id", "credential oauth_client_credentials needs client_secret_env or client_secret_file"}},
		{"http and a table that is a path", steps.Values{fieldInstanceURL: "http://x.service-now.com", fieldTable: "incident/../x", fieldCredential: credOAuth, fieldClientID: "c", fieldClientSecret + "_env": "S"},
			[]string{"instance_url http://x.service-now.com is not https: the credential would cross the network in clear", "table incident/../x is not a table name (lower case letters, digits and _)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := validate(tc.section); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("validate = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestResolveKnowsNobody(t *testing.T) {
	c, n := fakeInstance(t, func(http.ResponseWriter, *http.Request) {})
	if _, err := c.Resolve(context.Background(), "miriam@contoso.test"); steps.ClassOf(err) != steps.NotFound {
		t.Errorf("Resolve: %v", err)
	}
	if n.Load() != 0 {
		t.Errorf("Resolve sent %d requests", n.Load())
	}
}

func TestRetryAfter(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 0, "3": 3 * time.Second, "x": 0, "-1": 0,
		time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat): 0} {
		if got := retryAfter(v); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
	if got := retryAfter(time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)); got < 80*time.Second || got > 91*time.Second {
		t.Errorf("retryAfter(date in 90s) = %v", got)
	}
}

// The ticket's description lists the apps under a heading that agrees
// with their number (it read "this apps" for two).
func TestTicketHeadingAgreesWithItsApps(t *testing.T) {
	tests := []struct {
		apps []string
		want string
	}{
		{[]string{"Legacy"}, "Remove their access by hand from this app:\n- Legacy\n"},
		{[]string{"Legacy", "Timesheets"}, "Remove their access by hand from these apps:\n- Legacy\n- Timesheets\n"},
	}
	for _, tc := range tests {
		call := ticketCall(&Conn{}, leaver(), nil)
		desc := ticket(call, &Conn{}, "revoke:"+runID+":ticket", tc.apps, "")["description"]
		if !strings.Contains(desc, "\n\n"+tc.want+"\n") {
			t.Errorf("%d apps: description\n%s\nwants\n%s", len(tc.apps), desc, tc.want)
		}
	}
}
