package main

import (
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
)

// entra.remove_app_assignments on the seed's leaver through the engine,
// provision on demand allowed once a second: Dropbox's provisioning and
// then Verify's reads are refused with 429 and Retry-After 1; the engine
// waits that long and retries, every assignment is deleted once (all in
// one $batch), each app is asked after its unassignment, and the run
// succeeds with both
// provisioned apps done with her.
func TestE2ERemoveAppAssignmentsWaitsOutProvisionOnDemandsRate(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	e.tenant.SetProvisionLimit(1, time.Second)
	dir := writeFiles(t, map[string]string{"apps.yaml": `version: 1
name: apps
steps:
  - id: remove-app-assignments
    uses: entra.remove_app_assignments
`})
	start := time.Now()
	stdout, stderr, code := e.cli(t, "run", "apps", "--runbooks", dir, "--user", "miriam@contoso.test", "--yes")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("the run took %v: it cannot have waited out two refusals of a second each", took)
	}
	const (
		slack    = "/v1.0/servicePrincipals/3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e05/"
		dropbox  = "/v1.0/servicePrincipals/3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e06/"
		assigned = "/v1.0/users/4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e0c/appRoleAssignments/"
	)
	// The writes in order, provisioning named by app.
	var got []string
	for _, en := range e.tenant.Log().Entries() {
		if en.Protocol != "graph" || en.Method == "GET" || !strings.HasPrefix(en.Path, "/v1.0/") {
			continue
		}
		what := en.Method + " " + en.Path
		switch {
		case strings.HasPrefix(en.Path, slack):
			what = "provision Slack"
		case strings.HasPrefix(en.Path, dropbox):
			what = "provision Dropbox"
		case strings.HasPrefix(en.Path, assigned):
			what = "unassign"
		}
		got = append(got, what+" "+map[int]string{200: "200", 204: "204", 429: "429"}[en.Status])
	}
	want := []string{
		"unassign 204", "unassign 204", "unassign 204", "POST /v1.0/$batch 200", // her three assignments in one $batch
		"provision Slack 200", "provision Dropbox 429", // Slack asked, Dropbox's provisioning refused
		"provision Dropbox 200",                        // the retried Apply deletes nothing twice
		"provision Slack 429",                          // Verify refused at once
		"provision Slack 200", "provision Dropbox 429", // Slack read, Dropbox refused
		"provision Dropbox 200", // the retried Verify does not ask Slack again
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("writes:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	log := e.journal(t, e.onlyRun(t))
	var waits []string
	for _, ev := range stepEvents(log, engine.EventStepAttempt, "remove-app-assignments") {
		waits = append(waits, ev.Phase+" "+time.Duration(ev.RetryWait).String())
	}
	if strings.Join(waits, ", ") != "apply 1s, verify 1s, verify 1s" {
		t.Errorf("retries journaled: %v", waits)
	}
	if got := finished(log); got != engine.OutcomeSucceeded {
		t.Errorf("outcome %q", got)
	}
	for _, a := range e.tenant.Directory().State().Apps {
		for _, acct := range a.Accounts {
			if acct.UserID == "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e0c" && acct.Active {
				t.Errorf("%s still holds an active account for her", a.DisplayName)
			}
		}
	}
}
