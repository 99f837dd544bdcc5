package main

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
)

// Identity Protection refusing every request (its rate limit, spent by a
// process that does not share revoke's gate) fails confirm-compromised, an
// on_error: continue step outside containment, and nothing else: every
// containment step succeeded, so the run is contained with its clean-up
// failed (exit 4), not failed.
func TestIdentityProtection429sLeaveTheRunContained(t *testing.T) {
	const (
		confirm = "/v1.0/identityProtection/riskyUsers/confirmCompromised"
		read    = "/v1.0/identityProtection/riskyUsers/" + adeleID
	)
	tests := []struct {
		name    string
		fault   sandbox.FaultRule
		method  string
		path    string
		wantErr string
		// wantAttempt is the Apply calls step_failed counts: none when
		// the Check never got through.
		wantAttempt int
	}{
		{"every confirmation refused", sandbox.FaultRule{Path: confirm, Status: 429}, "POST", confirm,
			"apply: gave up after 3 attempts: entra: confirm " + adeleID + " compromised: Graph 429 TooManyRequests: Please retry again later.", 3},
		{"every riskState read refused", sandbox.FaultRule{Path: read, Method: "GET", Status: 429}, "GET", read,
			"check: gave up after 3 attempts: entra: read riskState of " + adeleID + ": Graph 429 TooManyRequests: Please retry again later.", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newE2E(t, nil, sandbox.Options{Faults: []sandbox.FaultRule{tt.fault}})
			stdout, stderr, code := e.cli(t, "run", "compromised", "--user", "adele@contoso.test", "--yes")
			if code != 4 {
				t.Fatalf("exit %d, want 4\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			log := e.journal(t, e.onlyRun(t))
			if got := finished(log); got != engine.OutcomeContainedCleanupFailed {
				t.Errorf("outcome %q, want %q", got, engine.OutcomeContainedCleanupFailed)
			}
			want := map[string]engine.EventType{
				"disable-ad-account":  engine.EventStepSucceeded,
				"disable-entra-user":  engine.EventStepSucceeded,
				"disable-devices":     engine.EventStepSucceeded,
				"revoke-sessions":     engine.EventStepSucceeded,
				"reset-ad-password":   engine.EventStepSucceeded,
				"confirm-compromised": engine.EventStepFailed,
				"remove-auth-methods": engine.EventStepSucceeded,
				"remove-inbox-rules":  engine.EventStepSatisfied,
				"revoke-consents":     engine.EventStepSatisfied,
			}
			got := stepStatuses(log)
			delete(got, "reset-entra-password") // skipped for a synced user
			if !maps.Equal(got, want) {
				t.Errorf("steps ended %v, want %v", got, want)
			}
			failed := stepEvents(log, engine.EventStepFailed, "confirm-compromised")
			if len(failed) != 1 || failed[0].Class != "retryable" || failed[0].Attempt != tt.wantAttempt || failed[0].Error != tt.wantErr {
				t.Errorf("confirm-compromised failed %+v, want retryable, attempt %d: %s", failed, tt.wantAttempt, tt.wantErr)
			}
			// The runbook's three attempts, each refused; none sent closer
			// than a second to the Identity Protection request before it.
			var ip []sandbox.Entry
			for _, en := range e.tenant.Log().Entries() {
				if strings.HasPrefix(en.Path, "/v1.0/identityProtection/") {
					ip = append(ip, en)
				}
			}
			if got := statuses(requests(ip, tt.method, tt.path)); !slices.Equal(got, []int{429, 429, 429}) {
				t.Errorf("%s %s statuses %v, want three 429s", tt.method, tt.path, got)
			}
			for i := 1; i < len(ip); i++ {
				if gap := ip[i].Time.Sub(ip[i-1].Time); gap.Seconds() < 0.95 {
					t.Errorf("Identity Protection requests %d and %d %v apart:\n%s", i-1, i, gap, fmtEntries(ip))
				}
			}
			if !strings.Contains(stdout, "\nContained. Time to containment: ") ||
				!strings.Contains(stdout, "\nClean-up incomplete: confirm-compromised did not complete; containment does not depend on it.\n") {
				t.Errorf("stdout does not say the subject is contained, its clean-up incomplete:\n%s", stdout)
			}
		})
	}
}
