package main

import (
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
)

// changes are the writes the tenant accepted, one string each, sorted. An
// AD disable is one conditional modify on a fresh start and a read and
// replace after a resume: both count as the same change.
func changes(entries []sandbox.Entry) []string {
	var out []string
	for _, w := range applied(entries) {
		line := w.Protocol + " " + w.Method + " " + w.Path + " " + w.Detail
		if w.Protocol == "ldap" && (w.Detail == "replace userAccountControl" || w.Detail == "delete userAccountControl, add userAccountControl") {
			line = w.Protocol + " " + w.Method + " " + w.Path + " disable"
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return out
}

// TestCrashDuringCleanUpThenResume kills `revoke run compromised` on Lidia
// right after each journal line but the last, in a fresh tenant each time,
// and resumes it: every object the clean-up steps delete (sign-in methods,
// inbox rules, the consent) is deleted exactly once across both processes
// — a resume finds the ones already gone instead of failing on them — and
// the run ends contained.
func TestCrashDuringCleanUpThenResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CLI some 30 times as a child process")
	}
	runArgs := []string{"run", "compromised", "--user", "lidia@contoso.test", "--yes"}
	clean := newE2E(t, nil, sandbox.Options{})
	if stdout, stderr, code := clean.cli(t, runArgs...); code != 0 {
		t.Fatalf("clean run: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := changes(clean.tenant.Log().Entries())
	var deletes int
	for _, w := range want {
		if strings.Contains(w, "graph DELETE ") {
			deletes++
		}
	}
	// Two methods (the Authenticator, then the phone that is the default),
	// two rules and one consent.
	if deletes != 5 {
		t.Fatalf("the clean run deleted %d objects, want 5:\n%s", deletes, strings.Join(want, "\n"))
	}
	crashEveryLineThenResume(t, clean, runArgs, changes, nil)
}

// crashEveryLineThenResume kills the run runArgs starts right after each
// journal line of clean's run but the last, in a fresh tenant each time,
// and resumes it: the run must end contained, with changesOf the tenant's
// log equal to the clean run's (each change made exactly once across both
// processes); check, when set, looks at each resumed tenant too.
func crashEveryLineThenResume(t *testing.T, clean *e2eEnv, runArgs []string, changesOf func([]sandbox.Entry) []string, check func(t *testing.T, e *e2eEnv, id string)) {
	t.Helper()
	want := changesOf(clean.tenant.Log().Entries())
	lines := len(clean.journal(t, clean.onlyRun(t)).Events)
	eachCrashPoint(t, lines, func(t *testing.T, k int) {
		e := newE2E(t, nil, sandbox.Options{})
		res := runChild(t, []string{crashAfterEnv + "=" + strconv.Itoa(k)}, append(runArgs, "--env", e.file)...)
		if res.signal != syscall.SIGKILL {
			t.Fatalf("the run was not killed (exit %d)\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
		}
		id := e.onlyRun(t)
		stdout, stderr, code := e.cli(t, "resume", id)
		if code != 0 {
			t.Fatalf("resume: exit %d\nstdout:\n%s\nstderr:\n%s\njournal:\n%s", code, stdout, stderr, e.journalBytes(t, id))
		}
		if got := finished(e.journal(t, id)); got != engine.OutcomeContained {
			t.Errorf("outcome %q", got)
		}
		if got := changesOf(e.tenant.Log().Entries()); !slices.Equal(got, want) {
			t.Errorf("changes:\n%s\nwant each exactly once, as a clean run makes them:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if check != nil {
			check(t, e, id)
		}
	})
}
