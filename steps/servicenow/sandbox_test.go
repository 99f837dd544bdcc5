package servicenow

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
)

// The seeded instance's credentials (sandbox/default_seed.yaml).
const (
	sbUser         = "svc-revoke"
	sbPassword     = "Sandbox-ServiceNow-1!"
	sbReadonly     = "svc-readonly"
	sbReadonlyPass = "Sandbox-ServiceNow-2!"
	sbClientID     = "6f1e2d3c4b5a69788796a5b4c3d2e1f0"
	sbClientSecret = "Sandbox-ServiceNow-OAuth-1!"
	runID          = "01JD3Q4Z8X6V2N0K5T7W9YB1CM"
)

func startSandbox(t *testing.T) (*sandbox.Tenant, string) {
	t.Helper()
	tn, err := sandbox.Start(context.Background(), sandbox.DefaultSeed(), sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, tn.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return tn, ca
}

// openConn opens the backend as the engine would, from a section and
// the secrets its references name.
func openConn(t *testing.T, section steps.Values, secrets map[string]string) *Conn {
	t.Helper()
	full := steps.Values{fieldTable: "incident", fieldTimeout: 10 * time.Second, fieldInsecureSkipVerify: false}
	for k, v := range section {
		full[k] = v
	}
	if problems := validate(full); len(problems) > 0 {
		t.Fatalf("validate: %q", problems)
	}
	c, err := open(context.Background(), &steps.Env{Name: "test", Kind: "hybrid", Section: full,
		Secret: func(name string) (string, error) {
			if v, ok := secrets[name]; ok {
				return v, nil
			}
			return "", steps.Errorf(steps.Invalid, "no %s", name)
		},
		Path: func(p string) string { return p },
	})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*Conn)
}

func basicSection(tn *sandbox.Tenant, ca string) steps.Values {
	return steps.Values{fieldInstanceURL: tn.ServiceNowURL(), fieldCredential: credBasic, fieldUsername: sbUser,
		fieldPassword + "_env": "SNOW_PASSWORD", fieldCAFile: ca, fieldAssignmentGroup: "Service Desk",
		fieldManualApps: []string{"Contoso Expenses (legacy)", "Fabrikam Timesheets"}}
}

// leaver is the seeded leaver as the entra backend publishes her.
func leaver(apps ...any) *steps.Subject {
	facts := map[string]any{steps.FactDisplayName: "Miriam Graham", "userPrincipalName": "miriam@contoso.test"}
	if apps != nil {
		facts[steps.FactAppAssignments] = apps
	}
	return &steps.Subject{Ref: "miriam@contoso.test", Facts: map[string]map[string]any{"entra": facts},
		Identities: map[string]steps.Identity{"entra": {IDs: map[string]string{steps.IDUPN: "miriam@contoso.test"}}}}
}

func ticketCall(c *Conn, subject *steps.Subject, with steps.Values) *steps.Call {
	if with == nil {
		with = steps.Values{}
	}
	return &steps.Call{StepID: "ticket", Subject: subject, With: with, Conn: c, RunID: runID,
		RequestedBy: "hr-oncall", Ticket: "HR-1234", Reason: "leaver"}
}

func TestOpenTicketAgainstSandbox(t *testing.T) {
	tn, ca := startSandbox(t)
	ctx := context.Background()
	c := openConn(t, basicSection(tn, ca), map[string]string{fieldPassword: sbPassword})
	call := ticketCall(c, leaver("Salesforce", map[string]any{"displayName": "Contoso Expenses (legacy)"}), nil)
	step := ticketStep{}

	ch, err := step.Check(ctx, call)
	if err != nil || ch.Satisfied || ch.Summary != "would open a ticket for 1 app: Contoso Expenses (legacy)" {
		t.Fatalf("Check = %+v, %v", ch, err)
	}
	ch, err = step.Apply(ctx, call)
	if err != nil || ch.Summary != "opened INC0010001 for 1 app: Contoso Expenses (legacy)" || ch.Details["number"] != "INC0010001" {
		t.Fatalf("Apply = %+v, %v", ch, err)
	}
	recs := tn.ServiceNowRecords("incident")
	if len(recs) != 1 {
		t.Fatalf("%d tickets, want 1", len(recs))
	}
	r := recs[0]
	if ch.Details["sys_id"] != r["sys_id"] || r["correlation_id"] != "revoke:"+runID+":ticket" || r["correlation_display"] != "revoke" ||
		r["short_description"] != "Deprovision Miriam Graham (miriam@contoso.test) from 1 app: Contoso Expenses (legacy) by hand" ||
		r["sys_created_by"] != sbUser || r["assignment_group"] == "" {
		t.Errorf("ticket = %v", r)
	}
	wantDesc := "revoke is deprovisioning Miriam Graham (miriam@contoso.test).\n\n" +
		"Remove their access by hand from this app:\n- Contoso Expenses (legacy)\n\n" +
		"Person: Miriam Graham\nUPN: miriam@contoso.test\nReference: miriam@contoso.test\n" +
		"Requested by: hr-oncall\nRequest ticket: HR-1234\nReason: leaver\n" +
		"revoke run: " + runID + " (step ticket)\n"
	if r["description"] != wantDesc {
		t.Errorf("description:\n%s\nwant:\n%s", r["description"], wantDesc)
	}
	if err := step.Verify(ctx, call); err != nil {
		t.Errorf("Verify: %v", err)
	}

	// Apply twice: the second finds the first's ticket.
	ch, err = step.Apply(ctx, call)
	if err != nil || ch.Summary != "found INC0010001, opened earlier by this run, for 1 app: Contoso Expenses (legacy)" {
		t.Errorf("second Apply = %+v, %v", ch, err)
	}
	// A crash after the POST and before the journal's line: the resumed
	// run knows nothing of the ticket, Checks, and finds it.
	resumed := ticketCall(c, call.Subject, nil)
	resumed.Resumed = true
	ch, err = step.Check(ctx, resumed)
	if err != nil || !ch.Satisfied || ch.Summary != "INC0010001 already opened by this run" || ch.Details["sys_id"] != r["sys_id"] {
		t.Errorf("resumed Check = %+v, %v", ch, err)
	}
	if _, err := step.Apply(ctx, resumed); err != nil {
		t.Errorf("resumed Apply: %v", err)
	}
	if err := step.Verify(ctx, resumed); err != nil {
		t.Errorf("resumed Verify: %v", err)
	}
	if n := len(tn.ServiceNowRecords("incident")); n != 1 {
		t.Errorf("%d tickets after retries and a resume, want 1", n)
	}

	// Another run opens its own.
	other := ticketCall(c, call.Subject, steps.Values{paramApps: []string{"Fabrikam Timesheets", "Contoso Expenses (legacy)"}})
	other.RunID = "01JD3Q4Z8X6V2N0K5T7W9YB1CN"
	if ch, err := step.Apply(ctx, other); err != nil || ch.Summary != "opened INC0010002 for 2 apps: Fabrikam Timesheets, Contoso Expenses (legacy)" {
		t.Errorf("another run's Apply = %+v, %v", ch, err)
	}
}

func TestOpenTicketOAuthAgainstSandbox(t *testing.T) {
	tn, ca := startSandbox(t)
	ctx := context.Background()
	sec := steps.Values{fieldInstanceURL: tn.ServiceNowURL(), fieldCredential: credOAuth, fieldClientID: sbClientID,
		fieldClientSecret + "_file": "secret", fieldCAFile: ca, fieldTable: "sc_task", fieldManualApps: []string{"Contoso Expenses (legacy)"}}
	c := openConn(t, sec, map[string]string{fieldClientSecret: sbClientSecret})
	// Nobody published app assignments: every manual app, and the note.
	call := ticketCall(c, leaver(), nil)
	ch, err := ticketStep{}.Apply(ctx, call)
	if err != nil || ch.Summary != "opened SCTASK0010001 for 1 app: Contoso Expenses (legacy)" {
		t.Fatalf("Apply = %+v, %v", ch, err)
	}
	recs := tn.ServiceNowRecords("sc_task")
	if len(recs) != 1 || !strings.Contains(recs[0]["description"], "\nNote: no backend reported the person's app assignments: every manual app is listed, check each.\n") {
		t.Errorf("sc_task records = %v", recs)
	}
	if err := (ticketStep{}).Verify(ctx, call); err != nil {
		t.Errorf("Verify: %v", err)
	}
	// One token for all of it.
	tokens := 0
	for _, e := range tn.Log().Entries() {
		if e.Path == "/oauth_token.do" {
			tokens++
		}
	}
	if tokens != 1 {
		t.Errorf("%d token requests, want 1", tokens)
	}

	wrong := openConn(t, sec, map[string]string{fieldClientSecret: "wrong"})
	_, err = ticketStep{}.Check(ctx, ticketCall(wrong, leaver(), nil))
	if steps.ClassOf(err) != steps.Forbidden || err.Error() != "servicenow: POST /oauth_token.do: 401 server_error access_denied: the instance refused client_id "+sbClientID+" and its secret" {
		t.Errorf("wrong secret: %v (%v)", err, steps.ClassOf(err))
	}
}

func TestOpenTicketErrorsAgainstSandbox(t *testing.T) {
	tn, ca := startSandbox(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		section steps.Values
		secret  string
		verify  bool // Verify with a journaled sys_id the instance does not have
		class   steps.Class
		err     string
	}{
		{"a wrong password", nil, "wrong", false, steps.Forbidden,
			"servicenow: GET /api/now/table/incident: 401 User Not Authenticated (Required to provide Auth information): check the credential"},
		{"a user without the table's role", steps.Values{fieldUsername: sbReadonly}, sbReadonlyPass, false, steps.Forbidden,
			"servicenow: GET /api/now/table/incident: 403 Insufficient rights to query records (needs a ServiceNow role that may read and create the table's records (itil))"},
		{"a table the instance does not have", steps.Values{fieldTable: "u_tickets"}, sbPassword, false, steps.Invalid,
			"servicenow: GET /api/now/table/u_tickets: 400 Invalid table u_tickets (Table u_tickets does not exist)"},
		{"a ticket that is gone", nil, sbPassword, true, steps.NotFound,
			"servicenow: GET /api/now/table/incident/0123456789abcdef0123456789abcdef: 404 No Record found (Record doesn't exist or ACL restricts the record retrieval)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sec := basicSection(tn, ca)
			for k, v := range tc.section {
				sec[k] = v
			}
			c := openConn(t, sec, map[string]string{fieldPassword: tc.secret})
			call := ticketCall(c, leaver("Contoso Expenses (legacy)"), nil)
			var err error
			if tc.verify {
				call.Prior = []steps.Progress{{Message: "opened INC0010009", Details: map[string]any{"sys_id": "0123456789abcdef0123456789abcdef"}}}
				err = ticketStep{}.Verify(ctx, call)
			} else {
				_, err = ticketStep{}.Check(ctx, call)
			}
			if steps.ClassOf(err) != tc.class || err == nil || err.Error() != tc.err {
				t.Errorf("error = %v (%v)\nwant    %s (%v)", err, steps.ClassOf(err), tc.err, tc.class)
			}
		})
	}
	if n := len(tn.ServiceNowRecords("incident")); n != 0 {
		t.Errorf("%d tickets, want 0", n)
	}
}

// TestOpenTicketRefusesAnUntrustedCertificate: without ca_file the
// sandbox's certificate does not verify, and nothing is sent.
func TestOpenTicketRefusesAnUntrustedCertificate(t *testing.T) {
	tn, ca := startSandbox(t)
	sec := basicSection(tn, ca)
	delete(sec, fieldCAFile)
	c := openConn(t, sec, map[string]string{fieldPassword: sbPassword})
	_, err := ticketStep{}.Check(context.Background(), ticketCall(c, leaver("Contoso Expenses (legacy)"), nil))
	if steps.ClassOf(err) != steps.Invalid || err == nil || !strings.HasPrefix(err.Error(), "servicenow: GET /api/now/table/incident: server certificate not trusted: set ca_file to the CA that signed it (") {
		t.Errorf("error = %v (%v)", err, steps.ClassOf(err))
	}
	for _, e := range tn.Log().Entries() {
		if e.Protocol == "servicenow" {
			t.Errorf("a request reached the instance: %+v", e)
		}
	}
}

// TestOAuthTokenSharedAcrossSteps: steps running at once on one
// connection fetch one token between them (run with -race).
func TestOAuthTokenSharedAcrossSteps(t *testing.T) {
	tn, ca := startSandbox(t)
	sec := steps.Values{fieldInstanceURL: tn.ServiceNowURL(), fieldCredential: credOAuth, fieldClientID: sbClientID,
		fieldClientSecret + "_env": "S", fieldCAFile: ca, fieldManualApps: []string{"Contoso Expenses (legacy)"}}
	c := openConn(t, sec, map[string]string{fieldClientSecret: sbClientSecret})
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			call := ticketCall(c, leaver("Contoso Expenses (legacy)"), nil)
			call.StepID = "ticket" + string(rune('a'+i))
			_, err := ticketStep{}.Check(context.Background(), call)
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	tokens := 0
	for _, e := range tn.Log().Entries() {
		if e.Path == "/oauth_token.do" {
			tokens++
		}
	}
	if tokens != 1 {
		t.Errorf("%d token requests for 8 concurrent steps, want 1", tokens)
	}
}
