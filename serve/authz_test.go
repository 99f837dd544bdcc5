package serve

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/steps"
)

func compileAuthz(t *testing.T, extra ...engine.PolicySource) *PolicyAuthorizer {
	t.Helper()
	p, lints := engine.CompilePolicies(append(engine.BuiltinPolicies(), extra...))
	if len(lints) > 0 {
		t.Fatalf("compile: %v", lints)
	}
	a, err := NewPolicyAuthorizer(context.Background(), p, engine.EnvironmentFacts{Name: "contoso", Protected: []string{"breakglass@contoso.test"}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var (
	runner   = &Caller{ID: "88888888-8888-8888-8888-888888888801", Name: "sentinel-playbook", App: true, Roles: []string{"Revoke.Run"}, Tenant: "t"}
	approver = &Caller{ID: "88888888-8888-8888-8888-888888888802", Name: "soc-approver", App: true, Roles: []string{"Revoke.Approve"}, Tenant: "t"}
	noRoles  = &Caller{ID: "88888888-8888-8888-8888-888888888804", Name: "helpdesk-tool", App: true, Tenant: "t"}
	adele    = &steps.Subject{Ref: "adele@contoso.test", Facts: map[string]map[string]any{"entra": {"userPrincipalName": "adele@contoso.test", "userType": "Member"}}}
	admin    = &steps.Subject{Ref: "diego@contoso.test", Facts: map[string]map[string]any{"entra": {"userPrincipalName": "diego@contoso.test"}},
		Identities: map[string]steps.Identity{"entra": {Privileged: []string{"entra: holds the directory role Global Administrator"}}}}
	breakglass = &steps.Subject{Ref: "breakglass@contoso.test", Facts: map[string]map[string]any{"entra": {"userPrincipalName": "breakglass@contoso.test"}}}
	guest      = &steps.Subject{Ref: "guest@fabrikam.test", Facts: map[string]map[string]any{"entra": {"userPrincipalName": "guest@fabrikam.test", "userType": "Guest"}}}
)

// TestPolicyAuthorizer evaluates the default authorization policy, and a
// team's additions to it, through the Authorizer the service calls.
func TestPolicyAuthorizer(t *testing.T) {
	def := compileAuthz(t)
	custom := compileAuthz(t, engine.PolicySource{File: "policies/team_authz.rego", Data: []byte(`package revoke.authz

deny contains "guests are contained by the guests runbook only" if {
	input.action == "run"
	input.subject.entra.userType == "Guest"
	input.request.runbook != "guests"
}

approval contains "a termination waits for HR's approver" if {
	input.action == "run"
	input.request.runbook == "termination"
}
`)})
	req := &RunRequest{Runbook: "compromised-account", User: "adele@contoso.test", Reason: "incident 42"}
	tests := []struct {
		name    string
		a       *PolicyAuthorizer
		caller  *Caller
		action  string
		req     *RunRequest
		subject *steps.Subject
		allowed bool
		waits   bool
		reasons []string
	}{
		{"a caller with Revoke.Run runs", def, runner, ActionRun, req, adele, true, false, []string{}},
		{"a caller without it is refused", def, approver, ActionRun, req, adele, false, false,
			[]string{"run needs the app role Revoke.Run, which caller 88888888-8888-8888-8888-888888888802 does not have"}},
		{"a caller with no role at all is refused", def, noRoles, ActionRun, req, adele, false, false,
			[]string{"run needs the app role Revoke.Run, which caller 88888888-8888-8888-8888-888888888804 does not have"}},
		{"an approver approves", def, approver, ActionApprove, req, adele, true, false, []string{}},
		{"a runner does not approve", def, runner, ActionApprove, req, adele, false, false,
			[]string{"approve needs the app role Revoke.Approve, which caller 88888888-8888-8888-8888-888888888801 does not have"}},
		{"a privileged subject waits for approval", def, runner, ActionRun, req, admin, true, true,
			[]string{"the subject is protected (entra: holds the directory role Global Administrator): a second person with Revoke.Approve must approve"}},
		{"a subject the environment protects waits for approval", def, runner, ActionRun, req, breakglass, true, true,
			[]string{"the subject is protected (environment contoso lists breakglass@contoso.test as protected): a second person with Revoke.Approve must approve"}},
		{"a refused caller does not make a protected subject wait", def, noRoles, ActionRun, req, admin, false, false,
			[]string{"run needs the app role Revoke.Run, which caller 88888888-8888-8888-8888-888888888804 does not have"}},
		{"reading the list of runs takes either role", def, approver, ActionRead, nil, nil, true, false, []string{}},
		{"reading takes a role", def, noRoles, ActionRead, nil, nil, false, false,
			[]string{"read needs one of the app roles Revoke.Approve, Revoke.Run, which caller 88888888-8888-8888-8888-888888888804 does not have"}},
		{"a team's deny rule refuses with its reason", custom, runner, ActionRun, req, guest, false, false,
			[]string{"guests are contained by the guests runbook only"}},
		{"a team's approval rule holds a termination", custom, runner, ActionRun, &RunRequest{Runbook: "termination", User: "adele@contoso.test", Reason: "leaver"}, adele, true, true,
			[]string{"a termination waits for HR's approver"}},
		{"a team's rules leave the rest alone", custom, runner, ActionRun, req, adele, true, false, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			allowed, waits, reasons, err := tc.a.Authorize(context.Background(), tc.caller, tc.action, tc.req, tc.subject)
			if err != nil {
				t.Fatal(err)
			}
			if allowed != tc.allowed || waits != tc.waits || !reflect.DeepEqual(reasons, tc.reasons) {
				t.Errorf("got %v %v %q\nwant %v %v %q", allowed, waits, reasons, tc.allowed, tc.waits, tc.reasons)
			}
		})
	}
}

// TestPolicyAuthorizerInput: the input has the documented shape, a
// request's JSON and the subject's facts as decisions see them.
func TestPolicyAuthorizerInput(t *testing.T) {
	in, err := AuthzInput(runner, ActionRun, &RunRequest{Runbook: "compromised-account", User: "adele@contoso.test", Reason: "r", Ticket: "INC1"}, adele, []string{"why"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"action":  "run",
		"caller":  map[string]any{"id": runner.ID, "name": "sentinel-playbook", "app": true, "roles": []any{"Revoke.Run"}, "tenant": "t"},
		"request": map[string]any{"runbook": "compromised-account", "user": "adele@contoso.test", "reason": "r", "ticket": "INC1"},
		"subject": map[string]any{"ref": "adele@contoso.test", "protected": []any{"why"}, "gaps": []any{},
			"entra": map[string]any{"userPrincipalName": "adele@contoso.test", "userType": "Member"}},
	}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("input\n%v\nwant\n%v", in, want)
	}
}

// TestPolicyAuthorizerErrors: without the authorization policy nothing is
// allowed, and an authorization rule cannot reach for a builtin revoke
// leaves out (the clock here), as no revoke policy can.
func TestPolicyAuthorizerErrors(t *testing.T) {
	var others []engine.PolicySource
	for _, s := range engine.BuiltinPolicies() {
		if !strings.Contains(s.File, "authz") {
			others = append(others, s)
		}
	}
	p, lints := engine.CompilePolicies(others)
	if len(lints) > 0 {
		t.Fatal(lints)
	}
	a, err := NewPolicyAuthorizer(context.Background(), p, engine.EnvironmentFacts{})
	if err != nil {
		t.Fatal(err)
	}
	allowed, _, _, err := a.Authorize(context.Background(), runner, ActionRun, nil, adele)
	if allowed || err == nil || err.Error() != "authorization: data.revoke.authz.decision is undefined (the policies leave out policies/authz.rego)" {
		t.Errorf("without authz.rego: %v %v", allowed, err)
	}
	_, lints = engine.CompilePolicies(append(engine.BuiltinPolicies(), engine.PolicySource{File: "clock.rego", Data: []byte(`package revoke.authz

deny contains "after hours" if time.now_ns() > 0
`)}))
	if len(lints) != 1 || !strings.Contains(lints[0].Message, "time.now_ns is not available to revoke policies") {
		t.Errorf("a clock in an authz rule: %v", lints)
	}
}

// TestPolicyAuthorizerCannotBeOverruled: a team's module that sets allow
// itself does not let a caller through: where it disagrees with the
// defaults the evaluation is a conflict, an error, and nothing runs.
func TestPolicyAuthorizerCannotBeOverruled(t *testing.T) {
	a := compileAuthz(t, engine.PolicySource{File: "policies/open.rego", Data: []byte("package revoke.authz\n\nallow := true\n")})
	allowed, _, _, err := a.Authorize(context.Background(), noRoles, ActionRun, &RunRequest{Runbook: "compromised", User: "adele@contoso.test"}, adele)
	if allowed || err == nil || !strings.Contains(err.Error(), "eval_conflict_error") {
		t.Errorf("allowed %v, %v", allowed, err)
	}
	if allowed, _, _, err := a.Authorize(context.Background(), runner, ActionRun, &RunRequest{Runbook: "compromised", User: "adele@contoso.test"}, adele); !allowed || err != nil {
		t.Errorf("where it agrees: %v, %v", allowed, err)
	}
}
