package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/engine"
)

func displayPlan() *engine.Plan {
	return &engine.Plan{Steps: []*engine.PlannedStep{
		{Def: &engine.StepDef{ID: "disable-ad-account"}, Run: true},
		{Def: &engine.StepDef{ID: "reset-entra-password"}, Run: false},
		{Def: &engine.StepDef{ID: "revoke-sessions"}, Run: true},
	}}
}

func TestDisplayOnATerminalRedrawsInPlace(t *testing.T) {
	var out bytes.Buffer
	d := newDisplay(&out, displayPlan(), true)
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d.event(engine.Event{Type: engine.EventRunStarted, Time: t0})
	d.event(engine.Event{Type: engine.EventStepStarted, Time: t0, Step: "disable-ad-account"})
	d.event(engine.Event{Type: engine.EventStepSucceeded, Time: t0, Step: "disable-ad-account", Summary: "userAccountControl: 512 → 514 (disabled)"})
	frames := strings.Split(out.String(), "\x1b[2A")
	if len(frames) != 2 {
		t.Fatalf("want 2 frames, the second drawn over the first two lines; got %q", out.String())
	}
	want := "\x1b[2K  disable-ad-account       succeeded: userAccountControl: 512 → 514 (disabled)\n" +
		"\x1b[2K  revoke-sessions          waiting\n"
	if frames[1] != want {
		t.Errorf("last frame\n got %q\nwant %q", frames[1], want)
	}
}

func TestDisplayElsewherePrintsPlainLines(t *testing.T) {
	var out bytes.Buffer
	d := newDisplay(&out, displayPlan(), false)
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d.event(engine.Event{Type: engine.EventRunStarted, Time: t0})
	d.event(engine.Event{Type: engine.EventStepAttempt, Time: t0.Add(5 * time.Millisecond), Step: "revoke-sessions",
		Phase: "apply", Attempt: 1, Error: "503 service unavailable", RetryWait: engine.JournalDuration(2 * time.Second)})
	d.event(engine.Event{Type: engine.EventStepBlocked, Time: t0.Add(time.Second), Step: "revoke-sessions", BlockedBy: "disable-entra-user"})
	want := "    +5ms  revoke-sessions          apply attempt 1 failed: 503 service unavailable; retrying in 2s\n" +
		"     +1s  revoke-sessions          blocked: disable-entra-user failed\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}
