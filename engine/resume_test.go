package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// resumeRun reads a journal as `revoke resume` does, rebuilds its plan and
// resumes it with a fresh executor on the same world.
func resumeRun(t *testing.T, state, runID string, reg *steps.Registry, w *world, crashAfter int) (*Result, error) {
	t.Helper()
	j, log, err := OpenJournal(state, runID, false)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rb := &Runbook{Name: "test", Digest: log.Record().Digest}
	plan, st, err := ResumePlan(log, reg, rb, log.Record().PolicyDigest, false)
	if err != nil {
		t.Fatal(err)
	}
	if crashAfter > 0 {
		j.f = &crashFile{journalFile: j.f, left: crashAfter}
	}
	x, _ := testExecutor(w, j)
	return x.Resume(t.Context(), plan, st, j)
}

func TestResumeAfterCancelChecksTheInterruptedStepFirst(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	state := t.TempDir()
	path := cancelledRun(t, state, w, reg)
	if w.firstHalf["a"] != 1 || w.applied["a"] || w.checks["b"] != 0 {
		t.Fatalf("before resume: first half %d, applied %v, b checked %d", w.firstHalf["a"], w.applied["a"], w.checks["b"])
	}
	before := len(lines(t, path))
	log, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := log.Events[len(log.Events)-1].Type; got != EventRunInterrupted || log.Outcome() != OutcomeInterrupted {
		t.Errorf("last event %s, outcome %s", got, log.Outcome())
	}
	hist := log.StepHistories()
	if hist["a"].Status != StatusInterrupted || hist["b"] != nil {
		t.Errorf("histories: a %+v, b %+v", hist["a"], hist["b"])
	}

	res, err := resumeRun(t, state, log.RunID, reg, w, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeContained || res.RunID != log.RunID || !res.Started.Equal(log.Events[0].Time) {
		t.Errorf("outcome %s, run %s started %s", res.Outcome, res.RunID, res.Started)
	}
	a := res.Step("a")
	if !a.Resumed || a.Status != StatusSucceeded || a.Attempts != 1 {
		t.Errorf("a: resumed %v, %s after %d attempts", a.Resumed, a.Status, a.Attempts)
	}
	// Check saw the resumed call first; Apply used the journaled progress
	// and did not redo the first half.
	wantPrior := []steps.Progress{{Message: "first half done", Details: map[string]any{"half": float64(1), "of": float64(2), "user": "adele@contoso.com"}}}
	if !w.resumed["a"] || len(w.prior["a"]) != 1 || w.prior["a"][0].Message != wantPrior[0].Message ||
		!maps.Equal(w.prior["a"][0].Details, wantPrior[0].Details) {
		t.Errorf("Check saw resumed %v, prior %+v; want %+v", w.resumed["a"], w.prior["a"], wantPrior)
	}
	if w.firstHalf["a"] != 1 || w.applies["a"] != 1 || w.checks["a"] != 2 || w.applies["b"] != 1 {
		t.Errorf("first halves %d, a applied %d, a checked %d, b applied %d", w.firstHalf["a"], w.applies["a"], w.checks["a"], w.applies["b"])
	}
	log, err = ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := log.VerifyChain(); err != nil {
		t.Errorf("chain after resume: %v", err)
	}
	// b starts once a has applied; a's verify and b run side by side, so
	// only each step's own order and that one edge are fixed.
	tail := eventTypes(t, path)[before:]
	if !slices.Equal(eventsOf(tail, "a"), []string{"step_started:a", "step_progress:a", "step_applied:a", "step_succeeded:a"}) ||
		!slices.Equal(eventsOf(tail, "b"), []string{"step_started:b", "step_applied:b", "step_succeeded:b"}) ||
		tail[0] != "run_resumed" || tail[len(tail)-1] != "run_finished" || len(tail) != 9 ||
		slices.Index(tail, "step_applied:a") > slices.Index(tail, "step_started:b") {
		t.Errorf("resumed events %v", tail)
	}
	startB := before + slices.Index(tail, "step_started:b")
	if !log.Events[before+1].Resumed || log.Events[startB].Resumed {
		t.Errorf("step_started resumed flags: a %v, b %v", log.Events[before+1].Resumed, log.Events[startB].Resumed)
	}
	if _, _, err := ResumePlan(log, reg, &Runbook{Digest: log.Record().Digest}, log.Record().PolicyDigest, true); err == nil ||
		err.Error() != fmt.Sprintf("run %s already finished (contained): there is nothing to resume", log.RunID) {
		t.Errorf("resuming a finished run: %v", err)
	}
}

// crashPlan exercises what a resume must get right: progress, a step
// satisfied from the start, a skipped need, joins.
func crashPlan(t *testing.T, reg *steps.Registry) *Plan {
	return testPlan(t, reg,
		ts{id: "a"},
		ts{id: "b", needs: []string{"a"}},
		ts{id: "c"},
		ts{id: "d", needs: []string{"b", "c"}},
		ts{id: "e", skip: "not here"},
		ts{id: "f", needs: []string{"e"}, uses: "fake.other"},
		ts{id: "g", needs: []string{"d", "f"}})
}

func crashWorld() *world {
	w := newWorld()
	w.applied["c"] = true // satisfied from the start
	w.sc("a").twoPhase = true
	w.sc("d").twoPhase = true
	return w
}

// TestResumeAfterACrashAtEveryLine kills the journal after each line k of
// a complete run (every later write fails, as in a process that died),
// sometimes leaves a torn line behind, sometimes crashes the resume too,
// and resumes until done: every step's change is made exactly once across
// all runs, and no step was called before its start was journaled.
func TestResumeAfterACrashAtEveryLine(t *testing.T) {
	reg := fakeRegistry()
	full, _ := runJournaled(t, t.TempDir(), crashWorld(), crashPlan(t, reg))
	total := len(lines(t, full))
	wantApplies := map[string]int{"a": 1, "b": 1, "d": 1, "f": 1, "g": 1}
	for k := 1; k < total; k++ {
		t.Run(fmt.Sprintf("crash after line %d", k), func(t *testing.T) {
			state := t.TempDir()
			w := crashWorld()
			j := newJournal(t, state)
			j.f = &crashFile{journalFile: j.f, left: k}
			x, _ := testExecutor(w, j)
			if _, err := x.Run(t.Context(), crashPlan(t, reg)); !errors.Is(err, errCrash) {
				t.Fatalf("crashed run: %v, want the simulated crash", err)
			}
			j.Close()
			log, err := ReadJournal(j.Path())
			if err != nil {
				t.Fatal(err)
			}
			hist := log.StepHistories()
			w.mu.Lock()
			for id, n := range w.checks {
				if n > 0 && hist[id] == nil {
					t.Errorf("step %s was called, but its start was never journaled", id)
				}
			}
			w.mu.Unlock()
			if k%2 == 0 {
				f, _ := os.OpenFile(j.Path(), os.O_WRONLY|os.O_APPEND, 0)
				f.WriteString(`{"seq":99,"time":"2025-`)
				f.Close()
			}
			crashResume := 0
			if k%3 == 0 {
				crashResume = 2 // run_resumed and one more line
			}
			res, err := resumeRun(t, state, j.RunID(), reg, w, crashResume)
			if errors.Is(err, errCrash) {
				res, err = resumeRun(t, state, j.RunID(), reg, w, 0)
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != OutcomeContained {
				t.Errorf("outcome %s: %+v", res.Outcome, res.Steps)
			}
			w.mu.Lock()
			applies := maps.Clone(w.applies)
			halves := maps.Clone(w.firstHalf)
			w.mu.Unlock()
			if !maps.Equal(applies, wantApplies) {
				t.Errorf("changes made %v, want %v", applies, wantApplies)
			}
			if want := map[string]int{"a": 1, "d": 1}; !maps.Equal(halves, want) {
				t.Errorf("first halves %v, want %v", halves, want)
			}
			log, err = ReadJournal(j.Path())
			if err != nil {
				t.Fatal(err)
			}
			if err := log.VerifyChain(); err != nil {
				t.Errorf("chain: %v", err)
			}
			if log.Torn != 0 || log.Outcome() != OutcomeContained {
				t.Errorf("torn %d, outcome %s", log.Torn, log.Outcome())
			}
			wantStatus := map[string]Status{"a": StatusSucceeded, "b": StatusSucceeded, "c": StatusSatisfied,
				"d": StatusSucceeded, "e": StatusSkipped, "f": StatusSucceeded, "g": StatusSucceeded}
			got := statuses(res)
			// A change the crashed run made but never journaled is found
			// satisfied on resume.
			for id, s := range got {
				if s == StatusSatisfied && wantStatus[id] == StatusSucceeded {
					got[id] = StatusSucceeded
				}
			}
			if !maps.Equal(got, wantStatus) {
				t.Errorf("statuses %v, want %v", got, wantStatus)
			}
		})
	}
}

func TestResumeKeepsAnAbortFromBeforeTheCrash(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	w.sc("a").applyErrs = []error{errors.New("boom")}
	state := t.TempDir()
	j := newJournal(t, state)
	// run_started, step_started:a, step_attempt:a, step_failed:a; the
	// aborted steps' lines are lost.
	j.f = &crashFile{journalFile: j.f, left: 4}
	x, _ := testExecutor(w, j)
	x.MaxParallel = 1
	if _, err := x.Run(t.Context(), testPlan(t, reg, ts{id: "a", onError: Abort}, ts{id: "b"}, ts{id: "c", needs: []string{"a"}})); !errors.Is(err, errCrash) {
		t.Fatalf("crashed run: %v", err)
	}
	j.Close()
	res, err := resumeRun(t, state, j.RunID(), reg, w, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Status{"a": StatusFailed, "b": StatusAborted, "c": StatusAborted}
	if got := statuses(res); !maps.Equal(got, want) || res.Outcome != OutcomeNotContained {
		t.Errorf("statuses %v outcome %s, want %v not_contained", got, res.Outcome, want)
	}
	if w.checks["b"] != 0 || w.applyCalls["a"] != 1 {
		t.Errorf("b checked %d times, a applied %d times", w.checks["b"], w.applyCalls["a"])
	}
	if a := res.Step("a"); a.Error != "apply: boom" || a.Err == nil {
		t.Errorf("a's journaled error %q", a.Error)
	}
}

func TestResumePlanRebuildsTheJournaledPlan(t *testing.T) {
	reg := fakeRegistry()
	state := t.TempDir()
	orig := testPlan(t, reg,
		ts{id: "a", onError: Continue, attempts: 3, maxWait: 2 * time.Minute, timeout: time.Minute},
		ts{id: "skipped", skip: "cloud-only"},
		ts{id: "b", needs: []string{"a", "skipped"}, uses: "fake.other"})
	orig.Steps[0].With["times"], orig.Steps[0].With["grace"] = 2, 90*time.Second
	orig.Warn = []string{"careful"}
	w := newWorld()
	j := newJournal(t, state)
	// run_started, decision, step_started:a: a crash before a's end is
	// journaled.
	j.f = &crashFile{journalFile: j.f, left: 3}
	x, _ := testExecutor(w, j)
	x.Run(t.Context(), orig)
	j.Close()
	log, err := ReadJournal(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	plan, st, err := ResumePlan(log, reg, &Runbook{Digest: orig.Runbook.Digest}, orig.PolicyDigest, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ps := range plan.Steps {
		d := ps.Def
		got = append(got, fmt.Sprintf("%s uses=%s spec=%v run=%v reason=%q with=%v needs=%v on_error=%s retry=%d/%s timeout=%s wave=%d",
			d.ID, d.Uses, d.Spec != nil, ps.Run, ps.Reason, ps.With, d.Needs, d.OnError, d.Retry.Attempts, d.Retry.MaxWait, d.Timeout, ps.Wave))
	}
	want := []string{
		`a uses=fake.act spec=true run=true reason="" with=map[grace:1m30s times:2] needs=[] on_error=continue retry=3/2m0s timeout=1m0s wave=1`,
		`skipped uses=fake.act spec=true run=false reason="cloud-only" with=map[grace:5s times:1] needs=[] on_error=block retry=5/30s timeout=2m0s wave=0`,
		`b uses=fake.other spec=true run=true reason="" with=map[] needs=[a skipped] on_error=block retry=5/30s timeout=2m0s wave=2`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("plan\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, ok := plan.Steps[0].With["grace"].(time.Duration); !ok {
		t.Errorf("grace is %T, want a time.Duration", plan.Steps[0].With["grace"])
	}
	if plan.Runbook.Name != "test" || plan.Runbook.Digest != orig.Runbook.Digest || plan.PolicyDigest != orig.PolicyDigest ||
		plan.Request != orig.Request || plan.Environment.Name != "test-env" || plan.Subject.Ref != "adele@contoso.com" ||
		!slices.Equal(plan.Warn, orig.Warn) || plan.Deny != nil {
		t.Errorf("plan header %+v %+v %+v %+v", plan.Runbook, plan.Request, plan.Environment, plan.Subject)
	}
	if st.RunID != j.RunID() || !st.Started.Equal(log.Events[0].Time) || st.Steps["a"].Status != StatusInterrupted || len(st.Notes) != 0 {
		t.Errorf("state %+v", st)
	}
}

func TestResumePlanRefusesChangesUnlessForced(t *testing.T) {
	reg := fakeRegistry()
	path := cancelledRun(t, t.TempDir(), newWorld(), reg)
	log, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	id := log.RunID
	onlyOther := steps.NewRegistry()
	onlyOther.RegisterBackend(steps.BackendSpec{Name: "fake", Summary: "s", Kinds: []string{"hybrid"},
		Open: func(context.Context, *steps.Env) (steps.Conn, error) { return nil, nil }})
	onlyOther.Register(steps.Spec{Name: "fake.other", Summary: "s"})
	same := &Runbook{Digest: "rb-digest-1"}
	for _, tc := range []struct {
		name      string
		reg       *steps.Registry
		rb        *Runbook
		policy    string
		force     bool
		want      string
		wantNotes []string
	}{
		{name: "nothing changed", reg: reg, rb: same, policy: "policy-digest-1"},
		{name: "a changed runbook", reg: reg, rb: &Runbook{Digest: "abcdef0123456789"}, policy: "policy-digest-1",
			want: "run " + id + ": runbook test changed since the run started (digest rb-digest-1, now abcdef012345); resume with force to run the journaled plan anyway"},
		{name: "changed policies", reg: reg, rb: same, policy: "other",
			want: "run " + id + ": the policies changed since the run started (digest policy-diges, now other); resume with force to run the journaled plan anyway"},
		{name: "a runbook no longer loaded", reg: reg, policy: "policy-digest-1",
			want: "run " + id + ": runbook test is no longer loaded; resume with force to run the journaled plan anyway"},
		{name: "both changed, forced", reg: reg, rb: &Runbook{Digest: "x"}, policy: "", force: true,
			wantNotes: []string{"forced: runbook test changed since the run started (digest rb-digest-1, now x); the journaled plan runs",
				"forced: the policies changed since the run started (digest policy-diges, now none); the journaled plan runs"}},
		{name: "a step still to run that is no longer registered", reg: onlyOther, rb: same, policy: "policy-digest-1", force: true,
			want: "run " + id + " cannot be resumed: step a uses fake.act, which is not registered\nstep b uses fake.act, which is not registered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, st, err := ResumePlan(log, tc.reg, tc.rb, tc.policy, tc.force)
			if tc.want != "" {
				if err == nil || err.Error() != tc.want {
					t.Errorf("err %v\nwant %s", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if plan == nil || !slices.Equal(st.Notes, tc.wantNotes) {
				t.Errorf("notes %q, want %q", st.Notes, tc.wantNotes)
			}
		})
	}
}

func TestResumeJournalsForcedNotesAndTornLines(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	state := t.TempDir()
	path := cancelledRun(t, state, w, reg)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"seq":`)
	f.Close()
	j, log, err := OpenJournal(state, strings.TrimSuffix(filepath.Base(path), ".jsonl"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	plan, st, err := ResumePlan(log, reg, &Runbook{Digest: "new"}, "policy-digest-1", true)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := testExecutor(w, j)
	if _, err := x.Resume(t.Context(), plan, st, j); err != nil {
		t.Fatal(err)
	}
	after, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	var resumed *Event
	for i := range after.Events {
		if after.Events[i].Type == EventRunResumed {
			resumed = &after.Events[i]
		}
	}
	n := len(log.Events) + 1
	want := []string{fmt.Sprintf("line %d: ignored a torn last line (7 bytes): the run stopped mid-write", n),
		"forced: runbook test changed since the run started (digest rb-digest-1, now new); the journaled plan runs"}
	if resumed == nil || !slices.Equal(resumed.Notes, want) || resumed.RunID != log.RunID {
		t.Errorf("run_resumed %+v, want notes %q", resumed, want)
	}
}

func TestResumeFromTheGoldenJournal(t *testing.T) {
	state := t.TempDir()
	os.MkdirAll(runsDir(state), 0o700)
	for _, ext := range []string{".jsonl", ".seal"} {
		data, err := os.ReadFile(filepath.Join("testdata", "journal", "interrupted"+ext))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(runsDir(state), goldenRunID+ext), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reg, w := fakeRegistry(), newWorld()
	// The world as the golden run left it: disable done, revoke already so,
	// reset's first half done.
	w.applied["disable"], w.applied["revoke"], w.half["reset"] = true, true, true
	w.sc("reset").twoPhase = true
	res, err := resumeRun(t, state, goldenRunID, reg, w, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Status{"disable": StatusSucceeded, "revoke": StatusSatisfied, "ad": StatusSkipped,
		"notify": StatusFailed, "reset": StatusSucceeded, "confirm": StatusSucceeded}
	if got := statuses(res); !maps.Equal(got, want) || res.Outcome != OutcomeContainedCleanupFailed {
		t.Errorf("statuses %v outcome %s, want %v contained_cleanup_failed", got, res.Outcome, want)
	}
	if w.applyCalls["disable"] != 0 || w.applyCalls["notify"] != 0 || w.firstHalf["reset"] != 0 || w.applies["reset"] != 1 {
		t.Errorf("apply calls %v, first halves %v", w.applyCalls, w.firstHalf)
	}
	if n := res.Step("notify"); n.Permission != "Mail.Send" || n.Error != "apply: insufficient privileges (needs Mail.Send)" {
		t.Errorf("notify from the journal: %+v", n)
	}
}

// eventsOf keeps the "type:step" entries of one step, in order.
func eventsOf(events []string, step string) []string {
	var out []string
	for _, e := range events {
		if strings.HasSuffix(e, ":"+step) {
			out = append(out, e)
		}
	}
	return out
}
