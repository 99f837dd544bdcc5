package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
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

// Directory data cannot write to the terminal: a device named with an
// escape sequence (clear the screen, retitle the window, ring the bell),
// an AD group whose name holds a right-to-left override, and request
// fields carrying the same reach every text output escaped — the plan's
// live Check, the run's display and summary, runs, show, an error — while
// JSON output stays valid and gives back the raw values.
func TestDirectoryDataCannotWriteToTheTerminal(t *testing.T) {
	const device = "\x1b[2J\x1b]0;pwned\a"
	const group = "CN=Sales\u202eSELAS,OU=Groups,DC=contoso,DC=test"
	seed := sandbox.DefaultSeed()
	for i := range seed.Devices {
		if seed.Devices[i].DisplayName == "ADELE-DESKTOP" {
			seed.Devices[i].DisplayName = device
		}
	}
	for i := range seed.ADGroups {
		if seed.ADGroups[i].DN == "CN=Sales,OU=Groups,DC=contoso,DC=test" {
			seed.ADGroups[i].DN = group
		}
	}
	e := newE2E(t, seed, sandbox.Options{})
	const (
		safeDevice = `\x1b[2J\x1b]0;pwned\x07`
		safeGroup  = `CN=Sales\u202eSELAS,OU=Groups,DC=contoso,DC=test`
	)
	text := func(t *testing.T, wantCode int, want []string, args ...string) {
		t.Helper()
		stdout, stderr, code := e.cli(t, args...)
		if code != wantCode {
			t.Fatalf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, stdout, stderr)
		}
		both := stdout + stderr
		for _, raw := range []string{"\x1b", "\a", "\u202e"} {
			if strings.Contains(both, raw) {
				t.Errorf("%v printed a raw %q:\n%q", args, raw, both)
			}
		}
		for _, w := range want {
			if !strings.Contains(both, w) {
				t.Errorf("%v: output lacks %q:\n%s", args, w, both)
			}
		}
	}
	t.Run("plan", func(t *testing.T) {
		text(t, 0, []string{
			"\n        1 device: " + safeDevice + "\n",
			"\n        2 groups: " + safeGroup + "; CN=VPN Users,OU=Groups,DC=contoso,DC=test\n",
		}, "plan", "termination", "--user", "adele@contoso.test")
	})
	t.Run("run: display and summary", func(t *testing.T) {
		text(t, 0, []string{
			"  disable-devices          disabled device " + safeDevice + "\n",
			"  remove-ad-groups         removed from " + safeGroup + "\n",
			"  disable-devices          succeeded: disabled 1 device: " + safeDevice + "\n",
			"  disabled 1 device: " + safeDevice + "\n", // the summary's line ends with the detail
		}, "run", "termination", "--user", "adele@contoso.test", "--yes", "--requested-by", "eve\x1b[31m", "--reason", "left\u202e")
	})
	id := e.onlyRun(t)
	t.Run("runs", func(t *testing.T) {
		text(t, 0, []string{"  termination  adele@contoso.test  eve\\x1b[31m   "}, "runs")
	})
	t.Run("show", func(t *testing.T) {
		text(t, 0, []string{
			"\nRequested by eve\\x1b[31m at ",
			", reason: left\\u202e\n",
			"  disable-devices          succeeded: disabled 1 device: " + safeDevice + "\n",
		}, "show", id)
	})
	t.Run("an error", func(t *testing.T) {
		// A path is as foreign as a directory's answer: the error quotes it.
		text(t, 2, []string{"revoke: facts: ", "/\\x1b[2Jfacts\\u202elmay.yaml: "},
			"plan", "termination", "--user", "adele@contoso.test", "--facts", filepath.Join(t.TempDir(), "\x1b[2Jfacts\u202elmay.yaml"))
	})
	t.Run("JSON keeps the raw values", func(t *testing.T) {
		stdout, _, code := e.cli(t, "show", id, "--output", "json")
		var events []engine.Event
		if err := json.Unmarshal([]byte(stdout), &events); code != 0 || err != nil {
			t.Fatalf("show --output json: exit %d, %v\n%s", code, err, stdout)
		}
		var summaries []string
		for _, ev := range events {
			if ev.Type == engine.EventStepSucceeded && (ev.Step == "disable-devices" || ev.Step == "remove-ad-groups") {
				summaries = append(summaries, ev.Summary)
			}
		}
		want := []string{"disabled 1 device: " + device, "removed from 2 groups: " + group + "; CN=VPN Users,OU=Groups,DC=contoso,DC=test"}
		slices.Sort(summaries)
		if !slices.Equal(summaries, want) {
			t.Errorf("summaries %q, want %q", summaries, want)
		}
		stdout, _, code = e.cli(t, "runs", "--output", "json")
		var runs []engine.RunSummary
		if err := json.Unmarshal([]byte(stdout), &runs); code != 0 || err != nil || len(runs) != 1 {
			t.Fatalf("runs --output json: exit %d, %v\n%s", code, err, stdout)
		}
		if runs[0].RequestedBy != "eve\x1b[31m" {
			t.Errorf("requested_by %q", runs[0].RequestedBy)
		}
	})
}
