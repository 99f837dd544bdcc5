package entra

// Round trips of entra.revoke_sessions, pinned exactly from the sandbox's
// request log: a step that starts afresh builds Check's summary from the
// resolved facts; a resumed one asks Graph, as it must.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

func TestRevokeSessionsRoundTrips(t *testing.T) {
	post := "POST /v1.0/users/" + adeleID + "/revokeSignInSessions 200"
	get := "GET /v1.0/users/" + adeleID + "?$select=id,signInSessionsValidFromDateTime 200"
	tests := []struct {
		name string
		// before adjusts the call after resolution.
		before    func(t *testing.T, call *steps.Call)
		checkOps  []string
		satisfied bool
		applyOps  []string
		verifyOps []string
	}{
		{name: "fresh: Check asks nothing", checkOps: nil, applyOps: []string{post}, verifyOps: []string{get}},
		{name: "a step never started before a resume (stale facts): still nothing to ask",
			before:   func(t *testing.T, call *steps.Call) { call.RunStarted = call.RunStarted.Add(-time.Hour) },
			checkOps: nil, applyOps: []string{post}, verifyOps: []string{get}},
		{name: "resumed, the revocation not made: Check reads",
			before:   func(t *testing.T, call *steps.Call) { call.Resumed = true },
			checkOps: []string{get}, applyOps: []string{post}, verifyOps: []string{get}},
		{name: "resumed, the revocation made before the crash: satisfied on a read",
			before: func(t *testing.T, call *steps.Call) {
				// An earlier process's value of the step.
				if _, err := revokeSessions.New().Apply(t.Context(), call); err != nil {
					t.Fatal(err)
				}
				call.Resumed = true
			},
			checkOps: []string{get}, satisfied: true},
		{name: "facts without the time: Check reads",
			before: func(t *testing.T, call *steps.Call) {
				delete(call.Subject.Facts["entra"], "signInSessionsValidFromDateTime")
			},
			checkOps: []string{get}, applyOps: []string{post}, verifyOps: []string{get}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := startTenant(t)
			c := openSandbox(t, tn, appID, appSecret)
			facts, err := c.Resolve(context.Background(), adeleID)
			if err != nil {
				t.Fatal(err)
			}
			before := userState(t, tn, adeleID).SignInSessionsValidFrom
			if got := facts["signInSessionsValidFromDateTime"]; got != before.UTC().Format(time.RFC3339) {
				t.Fatalf("resolved signInSessionsValidFromDateTime %v, want %s", got, before.UTC().Format(time.RFC3339))
			}
			call, _ := newCall(c, adeleID, steps.Values{})
			call.Subject.Facts["entra"] = facts
			if tt.before != nil {
				tt.before(t, call)
			}
			step := revokeSessions.New()

			tn.Log().Reset()
			ch, err := step.Check(t.Context(), call)
			wantLog(t, tn, tt.checkOps...)
			if tt.satisfied {
				if err != nil || !ch.Satisfied || !strings.HasPrefix(ch.Summary, "sign-in sessions already revoked at ") {
					t.Fatalf("Check = %+v, %v; want satisfied", ch, err)
				}
				return
			}
			want := "sign-in sessions valid from " + before.UTC().Format(time.RFC3339) + " → now"
			if err != nil || ch.Satisfied || ch.Summary != want {
				t.Fatalf("Check = %+v, %v; want %q", ch, err, want)
			}
			tn.Log().Reset()
			if _, err := step.Apply(t.Context(), call); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			wantLog(t, tn, tt.applyOps...)
			tn.Log().Reset()
			if err := step.(steps.Verifier).Verify(t.Context(), call); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			wantLog(t, tn, tt.verifyOps...)

			// Once applied, the same value's Check asks Graph: its own
			// revocation is there to find.
			tn.Log().Reset()
			ch, err = step.Check(t.Context(), call)
			wantLog(t, tn, get)
			if err != nil || !ch.Satisfied {
				t.Errorf("Check after Apply = %+v, %v; want satisfied", ch, err)
			}
		})
	}
}

func TestRevokeSessionsFreshCheckStillRefusesWithoutASubject(t *testing.T) {
	tn := startTenant(t)
	c := openSandbox(t, tn, appID, appSecret)
	call := &steps.Call{StepID: "revoke", Conn: c, Subject: &steps.Subject{Ref: "nobody@contoso.test",
		Facts: map[string]map[string]any{"entra": {"signInSessionsValidFromDateTime": "2026-01-01T00:00:00Z"}}}}
	tn.Log().Reset()
	_, err := revokeSessions.New().Check(t.Context(), call)
	if want := `entra: subject "nobody@contoso.test" was not found in Entra ID`; err == nil || err.Error() != want ||
		steps.ClassOf(err) != steps.NotFound {
		t.Errorf("Check = %v (%v), want %q (not found)", err, steps.ClassOf(err), want)
	}
	wantLog(t, tn)
	call = &steps.Call{StepID: "revoke", Conn: nil, Subject: call.Subject}
	if _, err := revokeSessions.New().Check(t.Context(), call); err == nil ||
		err.Error() != "entra: step revoke was given a <nil>, not an entra connection" {
		t.Errorf("Check without a connection = %v", err)
	}
}

func TestDisableUserRoundTrips(t *testing.T) {
	get := "GET /v1.0/users/" + adeleID + "?$select=id,accountEnabled 200"
	patch := disableBatch(adeleID)
	tests := []struct {
		name      string
		before    func(call *steps.Call)
		checkOps  []string
		satisfied bool
	}{
		{name: "fresh, resolved enabled: Check asks nothing", checkOps: nil},
		{name: "resumed: Check reads", before: func(call *steps.Call) { call.Resumed = true }, checkOps: []string{get}},
		{name: "resolved disabled: only a fresh read is trusted",
			before:   func(call *steps.Call) { call.Subject.Facts["entra"]["accountEnabled"] = false },
			checkOps: []string{get}},
		{name: "facts without accountEnabled: Check reads",
			before:   func(call *steps.Call) { delete(call.Subject.Facts["entra"], "accountEnabled") },
			checkOps: []string{get}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := startTenant(t)
			c := openSandbox(t, tn, appID, appSecret)
			facts, err := c.Resolve(context.Background(), adeleID)
			if err != nil {
				t.Fatal(err)
			}
			call, _ := newCall(c, adeleID, steps.Values{})
			call.Subject.Facts["entra"] = facts
			if tt.before != nil {
				tt.before(call)
			}
			step := disableUser.New()
			tn.Log().Reset()
			ch, err := step.Check(t.Context(), call)
			wantLog(t, tn, tt.checkOps...)
			if err != nil || ch.Satisfied || ch.Summary != "accountEnabled: true → false" {
				t.Fatalf("Check = %+v, %v", ch, err)
			}
			tn.Log().Reset()
			if _, err := step.Apply(t.Context(), call); err != nil {
				t.Fatal(err)
			}
			wantLog(t, tn, patch...)
			// After Apply a Check must read: the PATCH has landed.
			tn.Log().Reset()
			if ch, err := step.Check(t.Context(), call); err != nil || !ch.Satisfied {
				t.Fatalf("Check after Apply = %+v, %v", ch, err)
			}
			wantLog(t, tn, get)
		})
	}
}
