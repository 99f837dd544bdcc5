package engine

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/revoke-dev/revoke/steps"
)

// reportingConn answers the preflight from tables: what it lacks per step
// name, and the subject and steps it was asked about.
type reportingConn struct {
	perms, roles map[string][]string
	err          error
	asked        []string
	subjects     []*steps.Subject
}

func (c *reportingConn) Resolve(context.Context, string) (map[string]any, error) { return nil, nil }
func (c *reportingConn) Close() error                                            { return nil }

func (c *reportingConn) MissingGrants(_ context.Context, spec *steps.Spec, subject *steps.Subject) ([]string, []string, error) {
	c.asked = append(c.asked, spec.Name)
	c.subjects = append(c.subjects, subject)
	if c.err != nil {
		return nil, nil, c.err
	}
	return c.perms[spec.Name], c.roles[spec.Name], nil
}

// preflightPlan has two entra steps that run, one that is skipped, and an
// ad step whose connection cannot tell its grants.
func preflightPlan(subject *steps.Subject) *Plan {
	spec := func(name string) *steps.Spec { return &steps.Spec{Name: name, Summary: "x"} }
	return &Plan{Subject: subject, Steps: []*PlannedStep{
		{Def: &StepDef{ID: "disable", Spec: spec("entra.disable_user")}, Run: true},
		{Def: &StepDef{ID: "revoke", Spec: spec("entra.revoke_sessions")}, Run: true},
		{Def: &StepDef{ID: "skipped", Spec: spec("entra.revoke_sessions")}, Run: false},
		{Def: &StepDef{ID: "ad", Spec: spec("ad.disable_account")}, Run: true},
	}}
}

func TestPreflightShowsWhatTheBackendSaysIsMissing(t *testing.T) {
	subject := &steps.Subject{Ref: "breakglass@contoso.test"}
	entra := &reportingConn{
		perms: map[string][]string{"entra.revoke_sessions": {"User.RevokeSessions.All"}},
		roles: map[string][]string{"entra.disable_user": {"Privileged Authentication Administrator (the target holds Global Administrator)"}},
	}
	got := PreflightPlan(t.Context(), preflightPlan(subject), Conns{"entra": entra, "ad": &reportingConn{err: errors.New("unused")}})
	want := map[string]*Preview{
		"disable": {MissingRoles: []string{"Privileged Authentication Administrator (the target holds Global Administrator)"}},
		"revoke":  {Missing: []string{"User.RevokeSessions.All"}},
		"ad":      {Missing: []string{"could not read the token's permissions: unused"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("preflight:\n%#v\nwant\n%#v", got, want)
	}
	// The skipped step is not asked about; the subject is the plan's.
	if !reflect.DeepEqual(entra.asked, []string{"entra.disable_user", "entra.revoke_sessions"}) ||
		entra.subjects[0] != subject || entra.subjects[1] != subject {
		t.Errorf("asked about %v for %v", entra.asked, entra.subjects)
	}
}

// A backend whose grants cannot be read is asked once, not once a step:
// its token request may have taken the whole timeout.
func TestPreflightAsksAFailingBackendOnce(t *testing.T) {
	entra := &reportingConn{err: errors.New("entra: fetch a token: authority unreachable")}
	got := PreflightPlan(t.Context(), preflightPlan(nil), Conns{"entra": entra})
	const want = "could not read the token's permissions: entra: fetch a token: authority unreachable"
	for _, id := range []string{"disable", "revoke"} {
		if p := got[id]; p == nil || !reflect.DeepEqual(p.Missing, []string{want}) || p.MissingRoles != nil {
			t.Errorf("%s: %+v", id, p)
		}
	}
	if len(entra.asked) != 1 {
		t.Errorf("asked %d times: %v", len(entra.asked), entra.asked)
	}
}

// The live plan shows the same answers beside each step's Check.
func TestPreviewShowsMissingRoles(t *testing.T) {
	entra := &reportingConn{roles: map[string][]string{"entra.disable_user": {"Privileged Authentication Administrator (the target holds Global Administrator)"}}}
	got := PreviewPlan(t.Context(), preflightPlan(nil), Conns{"entra": entra}, 2)
	if p := got["disable"]; p == nil || !reflect.DeepEqual(p.MissingRoles, entra.roles["entra.disable_user"]) || p.Missing != nil {
		t.Errorf("disable: %+v", p)
	}
	if p := got["revoke"]; p == nil || p.MissingRoles != nil || p.Missing != nil {
		t.Errorf("revoke: %+v", p)
	}
}
