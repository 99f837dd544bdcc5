package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// fakeSecret is handed to the fakes (the connection's password, a subject
// fact) and must never reach a journal.
const fakeSecret = "s3cr3t-Hunter2-never-journal-me"

// world is the fake backend's state. Effects are idempotent (applied) and
// counted (applies), so crash tests can tell a repeated Apply from a
// resumed one.
type world struct {
	mu         sync.Mutex
	applied    map[string]bool // the wanted state reached, by step id
	half       map[string]bool // a two-phase change's first half done
	applies    map[string]int  // Apply calls that made the change
	applyCalls map[string]int  // every Apply call
	checks     map[string]int
	verifies   map[string]int
	firstHalf  map[string]int // two-phase first halves made
	resumed    map[string]bool
	prior      map[string][]steps.Progress
	inFlight   int
	maxFlight  int
	script     map[string]*script
}

// script says how the fake step with an id behaves.
type script struct {
	checkErrs, applyErrs, verifyErrs []error // returned by successive calls, then nil
	latency                          time.Duration
	wait                             <-chan struct{} // Apply waits for it (or its context)
	hang                             bool            // Apply blocks until its context ends
	twoPhase                         bool            // Apply: first half, Progress, second half
	hangAfterHalf                    bool            // a first (unresumed) two-phase Apply blocks after Progress
	onApply                          func()
	panics                           bool
}

func newWorld() *world {
	return &world{applied: map[string]bool{}, half: map[string]bool{}, applies: map[string]int{},
		applyCalls: map[string]int{}, checks: map[string]int{}, verifies: map[string]int{},
		firstHalf: map[string]int{}, resumed: map[string]bool{}, prior: map[string][]steps.Progress{},
		script: map[string]*script{}}
}

func (w *world) sc(id string) *script {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.script[id] == nil {
		w.script[id] = &script{}
	}
	return w.script[id]
}

func pop(errs *[]error) error {
	if len(*errs) == 0 {
		return nil
	}
	err := (*errs)[0]
	*errs = (*errs)[1:]
	return err
}

type fakeConn struct {
	w        *world
	password string // a secret the connection holds, as a bind password
}

func (c *fakeConn) Resolve(context.Context, string) (map[string]any, error) {
	return map[string]any{"id": "42"}, nil
}
func (c *fakeConn) Close() error { return nil }

type fakeStep struct{}

func (fakeStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	w := call.Conn.(*fakeConn).w
	sc := w.sc(call.StepID)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.checks[call.StepID]++
	w.resumed[call.StepID] = call.Resumed
	w.prior[call.StepID] = call.Prior
	if err := pop(&sc.checkErrs); err != nil {
		return steps.Change{}, err
	}
	if w.applied[call.StepID] {
		return steps.Change{Satisfied: true, Summary: "already done"}, nil
	}
	return steps.Change{Summary: "would act"}, nil
}

func (fakeStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	conn := call.Conn.(*fakeConn)
	w := conn.w
	id := call.StepID
	sc := w.sc(id)
	w.mu.Lock()
	w.applyCalls[id]++
	w.inFlight++
	w.maxFlight = max(w.maxFlight, w.inFlight)
	err := pop(&sc.applyErrs)
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.inFlight--
		w.mu.Unlock()
	}()
	if sc.panics {
		panic("fake bug")
	}
	if sc.onApply != nil {
		sc.onApply()
	}
	if sc.latency > 0 {
		if err := sleepContext(ctx, sc.latency); err != nil {
			return steps.Change{}, err
		}
	}
	if sc.wait != nil {
		select {
		case <-sc.wait:
		case <-ctx.Done():
			return steps.Change{}, ctx.Err()
		}
	}
	if sc.hang {
		<-ctx.Done()
		return steps.Change{}, ctx.Err()
	}
	if err != nil {
		return steps.Change{}, err
	}
	if sc.twoPhase {
		done := slices.ContainsFunc(call.Prior, func(p steps.Progress) bool { return p.Message == "first half done" })
		w.mu.Lock()
		if !done && !w.half[id] {
			w.half[id] = true
			w.firstHalf[id]++
		}
		w.mu.Unlock()
		// Safe data only; the connection's password stays out of it.
		call.Report("first half done", map[string]any{"half": 1, "of": 2, "user": call.Subject.Ref})
		if sc.hangAfterHalf && !call.Resumed {
			<-ctx.Done()
			return steps.Change{}, ctx.Err()
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.applied[id] {
		w.applied[id] = true
		w.applies[id]++
	}
	_ = conn.password
	return steps.Change{Summary: "acted", Details: map[string]any{"id": id}}, nil
}

func (fakeStep) Verify(ctx context.Context, call *steps.Call) error {
	w := call.Conn.(*fakeConn).w
	sc := w.sc(call.StepID)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.verifies[call.StepID]++
	if err := pop(&sc.verifyErrs); err != nil {
		return err
	}
	if !w.applied[call.StepID] {
		return errors.New("the change did not hold")
	}
	return nil
}

var _ steps.Verifier = fakeStep{}

// fakeRegistry registers the fake backend and its steps: fake.act (a
// containment step), fake.other (not one) and fake.spec_only (no
// implementation).
func fakeRegistry() *steps.Registry {
	reg := steps.NewRegistry()
	reg.RegisterBackend(steps.BackendSpec{Name: "fake", Summary: "A fake backend", Kinds: []string{"hybrid", "cloud"},
		Open: func(context.Context, *steps.Env) (steps.Conn, error) { return nil, errors.New("not opened in tests") }})
	newFake := func() steps.Step { return fakeStep{} }
	reg.Register(steps.Spec{Name: "fake.act", Summary: "Act on the subject", Containment: true, Idempotent: true, New: newFake,
		Params: []steps.Param{
			{Name: "times", Type: steps.Int, Description: "How often", Default: 1},
			{Name: "grace", Type: steps.Duration, Description: "A duration", Default: 5 * time.Second},
		}})
	reg.Register(steps.Spec{Name: "fake.other", Summary: "Act, not containing", New: newFake})
	reg.Register(steps.Spec{Name: "fake.spec_only", Summary: "Exists only as a spec"})
	return reg
}

// ts describes a test step.
type ts struct {
	id       string
	uses     string // default fake.act
	needs    []string
	onError  OnError
	skip     string // a policy skip reason
	attempts int
	maxWait  time.Duration
	timeout  time.Duration
}

// testPlan builds a plan as the decoder and policy would.
func testPlan(t testing.TB, reg *steps.Registry, list ...ts) *Plan {
	t.Helper()
	rb := &Runbook{Version: 1, Name: "test", Scenario: "test", File: "test.yaml", Digest: "rb-digest-1"}
	plan := &Plan{
		Runbook: rb,
		Subject: &steps.Subject{Ref: "adele@contoso.com",
			Facts: map[string]map[string]any{"fake": {"id": "42", "password": fakeSecret, "enabled": true}}},
		Environment:  EnvironmentFacts{Name: "test-env", Kind: "hybrid", Protected: []string{"breakglass@contoso.com"}},
		Request:      Request{RequestedBy: "soc-oncall", Reason: "INC-4711", Ticket: "T-1"},
		PolicyDigest: "policy-digest-1",
	}
	for _, s := range list {
		uses := cmpOr(s.uses, "fake.act")
		spec, ok := reg.Step(uses)
		if !ok {
			t.Fatalf("no spec %s", uses)
		}
		def := &StepDef{ID: s.id, Uses: uses, Spec: spec, Needs: s.needs, OnError: cmpOr(s.onError, Block),
			Retry:   Retry{Attempts: cmpOr(s.attempts, DefaultAttempts), MaxWait: cmpOr(s.maxWait, DefaultMaxWait)},
			Timeout: cmpOr(s.timeout, DefaultTimeout), With: steps.Values{}}
		if problems := FillDefaults(spec, def.With); len(problems) > 0 {
			t.Fatal(problems)
		}
		rb.Steps = append(rb.Steps, def)
		plan.Steps = append(plan.Steps, &PlannedStep{Def: def, Run: s.skip == "", Reason: s.skip, With: maps.Clone(def.With)})
	}
	assignWaves(plan.Steps)
	return plan
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// sleeper records the executor's retry waits instead of sleeping.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}

func testExecutor(w *world, j *Journal) (*Executor, *sleeper) {
	sl := &sleeper{}
	return &Executor{
		Conns:   map[string]steps.Conn{"fake": &fakeConn{w: w, password: fakeSecret}},
		Journal: j,
		Sleep:   sl.Sleep,
		Rand:    func() float64 { return 0.5 },
	}, sl
}

func statuses(res *Result) map[string]Status {
	out := map[string]Status{}
	for _, s := range res.Steps {
		out[s.ID] = s.Status
	}
	return out
}

func newJournal(t testing.TB, dir string) *Journal {
	t.Helper()
	j, err := CreateJournal(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// eventTypes lists a journal's event types, "type:step" for step events.
func eventTypes(t testing.TB, path string) []string {
	t.Helper()
	log, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range log.Events {
		s := string(ev.Type)
		if ev.Step != "" {
			s += ":" + ev.Step
		}
		out = append(out, s)
	}
	return out
}

func TestExecMaxParallelBoundsStepsInFlight(t *testing.T) {
	for _, tc := range []struct {
		maxParallel, want int
	}{{1, 1}, {3, 3}, {0, DefaultMaxParallel}} {
		t.Run(fmt.Sprintf("max %d", tc.maxParallel), func(t *testing.T) {
			reg, w := fakeRegistry(), newWorld()
			var list []ts
			for i := range 12 {
				id := fmt.Sprintf("s%02d", i)
				list = append(list, ts{id: id})
				w.sc(id).latency = 20 * time.Millisecond
			}
			x, _ := testExecutor(w, nil)
			x.MaxParallel = tc.maxParallel
			res, err := x.Run(t.Context(), testPlan(t, reg, list...))
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != OutcomeContained {
				t.Fatalf("outcome %s", res.Outcome)
			}
			if w.maxFlight != tc.want {
				t.Errorf("at most %d steps in flight, want %d", w.maxFlight, tc.want)
			}
		})
	}
}

// c needs b only; a, in the same wave as b, waits until c has applied. An
// executor with wave barriers would keep c waiting for a, and a would time
// out.
func TestExecStartsStepAsSoonAsItsNeedsEnd(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	cApplied := make(chan struct{})
	w.sc("a").wait = cApplied
	w.sc("c").onApply = func() { close(cApplied) }
	x, _ := testExecutor(w, nil)
	res, err := x.Run(t.Context(), testPlan(t, reg,
		ts{id: "a", timeout: 5 * time.Second}, ts{id: "b"}, ts{id: "c", needs: []string{"b"}}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Status{"a": StatusSucceeded, "b": StatusSucceeded, "c": StatusSucceeded}
	if got := statuses(res); !maps.Equal(got, want) {
		t.Errorf("statuses %v, want %v (a: %s)", got, want, res.Step("a").Error)
	}
}

func TestExecSkippedNeedCountsAsMet(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	x, _ := testExecutor(w, nil)
	res, err := x.Run(t.Context(), testPlan(t, reg,
		ts{id: "a", skip: "cloud-only environment"}, ts{id: "b", needs: []string{"a"}}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeContained {
		t.Errorf("outcome %s, want succeeded", res.Outcome)
	}
	a, b := res.Step("a"), res.Step("b")
	if a.Status != StatusSkipped || a.Reason != "cloud-only environment" || w.applyCalls["a"] != 0 {
		t.Errorf("a: %s %q, %d applies", a.Status, a.Reason, w.applyCalls["a"])
	}
	if b.Status != StatusSucceeded || w.applies["b"] != 1 {
		t.Errorf("b: %s, %d applies", b.Status, w.applies["b"])
	}
}

func TestExecCheckSatisfiedSkipsApply(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	w.applied["a"] = true
	j := newJournal(t, t.TempDir())
	x, _ := testExecutor(w, j)
	res, err := x.Run(t.Context(), testPlan(t, reg, ts{id: "a"}))
	if err != nil {
		t.Fatal(err)
	}
	a := res.Step("a")
	if a.Status != StatusSatisfied || a.Change.Summary != "already done" || a.Attempts != 0 {
		t.Errorf("a: %s %q after %d attempts", a.Status, a.Change.Summary, a.Attempts)
	}
	if w.applyCalls["a"] != 0 || w.verifies["a"] != 0 {
		t.Errorf("%d applies, %d verifies, want none", w.applyCalls["a"], w.verifies["a"])
	}
	want := []string{"run_started", "step_started:a", "step_satisfied:a", "run_finished"}
	if got := eventTypes(t, j.Path()); !slices.Equal(got, want) {
		t.Errorf("journal %v, want %v", got, want)
	}
}

// opaque wraps an error with a message of its own, dropping the wrapped
// one's: the executor must still name the missing permission.
type opaque struct{ err error }

func (o opaque) Error() string { return "access denied" }
func (o opaque) Unwrap() error { return o.err }

func TestExecRetry(t *testing.T) {
	throttled := steps.Classify(steps.Retryable, errors.New("throttled"))
	for _, tc := range []struct {
		name                           string
		step                           ts
		checkErrs, applyErrs, verErrs  []error
		wantStatus                     Status
		wantError, wantClass, wantPerm string
		wantChecks, wantApplies        int
		wantVerifies                   int
		wantWaits                      []time.Duration
	}{
		{name: "a retryable error is retried with growing jittered backoff",
			step:      ts{id: "s", attempts: 5},
			applyErrs: []error{throttled, throttled},
			// Rand 0.5: half of 1s, then half of 2s.
			wantStatus: StatusSucceeded, wantChecks: 1, wantApplies: 3, wantVerifies: 1,
			wantWaits: []time.Duration{500 * time.Millisecond, time.Second}},
		{name: "backoff is capped by max_wait",
			step:       ts{id: "s", attempts: 4, maxWait: time.Second},
			applyErrs:  []error{throttled, throttled, throttled},
			wantStatus: StatusSucceeded, wantChecks: 1, wantApplies: 4, wantVerifies: 1,
			wantWaits: []time.Duration{500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond}},
		{name: "retries stop after the attempts",
			step:       ts{id: "s", attempts: 3},
			applyErrs:  []error{throttled, throttled, throttled, throttled},
			wantStatus: StatusFailed, wantError: "apply: gave up after 3 attempts: throttled", wantClass: "retryable",
			wantChecks: 1, wantApplies: 3,
			wantWaits: []time.Duration{500 * time.Millisecond, time.Second}},
		{name: "an invalid error is not retried",
			step:       ts{id: "s"},
			applyErrs:  []error{steps.Errorf(steps.Invalid, "bad user")},
			wantStatus: StatusFailed, wantError: "apply: bad user", wantClass: "invalid",
			wantChecks: 1, wantApplies: 1},
		{name: "an unclassified error is not retried",
			step:       ts{id: "s"},
			applyErrs:  []error{errors.New("boom")},
			wantStatus: StatusFailed, wantError: "apply: boom", wantClass: "error",
			wantChecks: 1, wantApplies: 1},
		{name: "a forbidden error names the missing permission",
			step:       ts{id: "s"},
			applyErrs:  []error{steps.ForbiddenNeeding(errors.New("insufficient privileges"), "User.EnableDisableAccount.All")},
			wantStatus: StatusFailed, wantError: "apply: insufficient privileges (needs User.EnableDisableAccount.All)",
			wantClass: "forbidden", wantPerm: "User.EnableDisableAccount.All", wantChecks: 1, wantApplies: 1},
		{name: "a forbidden error names the permission a wrapper dropped",
			step:       ts{id: "s"},
			applyErrs:  []error{opaque{steps.ForbiddenNeeding(errors.New("403"), "Directory.AccessAsUser.All")}},
			wantStatus: StatusFailed, wantError: "apply: access denied (needs Directory.AccessAsUser.All)",
			wantClass: "forbidden", wantPerm: "Directory.AccessAsUser.All", wantChecks: 1, wantApplies: 1},
		{name: "retry-after is honoured beyond max_wait",
			step:       ts{id: "s", maxWait: time.Second},
			applyErrs:  []error{steps.RetryableAfter(errors.New("429 too many requests"), 5*time.Second)},
			wantStatus: StatusSucceeded, wantChecks: 1, wantApplies: 2, wantVerifies: 1,
			wantWaits: []time.Duration{5 * time.Second}},
		{name: "a retry-after past the step timeout fails at once",
			step:       ts{id: "s", timeout: time.Minute},
			applyErrs:  []error{steps.RetryableAfter(errors.New("429 too many requests"), 10*time.Minute)},
			wantStatus: StatusFailed, wantClass: "retryable", wantChecks: 1, wantApplies: 1,
			wantError: "apply: 429 too many requests: retry-after 10m exceeds the step timeout of 1m"},
		{name: "a backoff past the step timeout fails at once",
			step:       ts{id: "s", timeout: 400 * time.Millisecond},
			applyErrs:  []error{throttled},
			wantStatus: StatusFailed, wantClass: "retryable", wantChecks: 1, wantApplies: 1,
			wantError: "apply: throttled: no time left to retry within the step timeout of 400ms"},
		{name: "a retryable check error is retried",
			step:       ts{id: "s"},
			checkErrs:  []error{throttled},
			wantStatus: StatusSucceeded, wantChecks: 2, wantApplies: 1, wantVerifies: 1,
			wantWaits: []time.Duration{500 * time.Millisecond}},
		{name: "a failed check fails the step without apply",
			step:       ts{id: "s"},
			checkErrs:  []error{steps.Errorf(steps.NotFound, "no such user")},
			wantStatus: StatusFailed, wantError: "check: no such user", wantClass: "not found", wantChecks: 1},
		{name: "a retryable verify error retries verify alone",
			step:       ts{id: "s"},
			verErrs:    []error{steps.Classify(steps.Retryable, errors.New("replica lags"))},
			wantStatus: StatusSucceeded, wantChecks: 1, wantApplies: 1, wantVerifies: 2,
			wantWaits: []time.Duration{500 * time.Millisecond}},
		{name: "a failed verify fails the step",
			step:       ts{id: "s"},
			verErrs:    []error{errors.New("the change did not hold")},
			wantStatus: StatusFailed, wantError: "verify: the change did not hold", wantClass: "error",
			wantChecks: 1, wantApplies: 1, wantVerifies: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, w := fakeRegistry(), newWorld()
			sc := w.sc("s")
			sc.checkErrs, sc.applyErrs, sc.verifyErrs = tc.checkErrs, tc.applyErrs, tc.verErrs
			x, sl := testExecutor(w, nil)
			res, err := x.Run(t.Context(), testPlan(t, reg, tc.step))
			if err != nil {
				t.Fatal(err)
			}
			s := res.Step("s")
			if s.Status != tc.wantStatus || s.Error != tc.wantError || s.Class != tc.wantClass || s.Permission != tc.wantPerm {
				t.Errorf("got %s %q class %q permission %q,\nwant %s %q class %q permission %q",
					s.Status, s.Error, s.Class, s.Permission, tc.wantStatus, tc.wantError, tc.wantClass, tc.wantPerm)
			}
			if tc.wantStatus == StatusFailed && (s.Err == nil || s.Err.Error() != tc.wantError) {
				t.Errorf("Err %v, want %q", s.Err, tc.wantError)
			}
			if w.checks["s"] != tc.wantChecks || w.applyCalls["s"] != tc.wantApplies || w.verifies["s"] != tc.wantVerifies {
				t.Errorf("%d checks, %d applies, %d verifies; want %d, %d, %d", w.checks["s"], w.applyCalls["s"],
					w.verifies["s"], tc.wantChecks, tc.wantApplies, tc.wantVerifies)
			}
			if s.Attempts != tc.wantApplies {
				t.Errorf("Attempts %d, want %d", s.Attempts, tc.wantApplies)
			}
			if got := sl.recorded(); !slices.Equal(got, tc.wantWaits) {
				t.Errorf("waits %v, want %v", got, tc.wantWaits)
			}
		})
	}
}

func TestExecRetryClassKeptInErr(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	w.sc("s").applyErrs = []error{steps.ForbiddenNeeding(errors.New("no"), "User.ReadWrite.All")}
	x, _ := testExecutor(w, nil)
	res, err := x.Run(t.Context(), testPlan(t, reg, ts{id: "s"}))
	if err != nil {
		t.Fatal(err)
	}
	s := res.Step("s")
	if steps.ClassOf(s.Err) != steps.Forbidden || steps.PermissionOf(s.Err) != "User.ReadWrite.All" {
		t.Errorf("Err class %v permission %q", steps.ClassOf(s.Err), steps.PermissionOf(s.Err))
	}
}

func TestExecTimeoutEndsAHangingStep(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	w.sc("s").hang = true
	j := newJournal(t, t.TempDir())
	x, _ := testExecutor(w, j)
	res, err := x.Run(t.Context(), testPlan(t, reg, ts{id: "s", timeout: 50 * time.Millisecond}, ts{id: "t", needs: []string{"s"}}))
	if err != nil {
		t.Fatal(err)
	}
	s := res.Step("s")
	if want := "apply: timed out after 50ms: context deadline exceeded"; s.Status != StatusFailed || s.Error != want {
		t.Errorf("s: %s %q, want failed %q", s.Status, s.Error, want)
	}
	if res.Outcome != OutcomeNotContained || res.Step("t").Status != StatusBlocked {
		t.Errorf("outcome %s, t %s", res.Outcome, res.Step("t").Status)
	}
	want := []string{"run_started", "step_started:s", "step_attempt:s", "step_failed:s", "step_blocked:t", "run_finished"}
	if got := eventTypes(t, j.Path()); !slices.Equal(got, want) {
		t.Errorf("journal %v, want %v", got, want)
	}
}

func TestExecOnError(t *testing.T) {
	fail := errors.New("boom")
	for _, tc := range []struct {
		onError OnError
		want    map[string]Status
		blocked map[string]string // BlockedBy
		errors  map[string]string
	}{
		{onError: Block,
			want: map[string]Status{"d": StatusSucceeded, "a": StatusFailed, "b": StatusBlocked,
				"c": StatusBlocked, "e": StatusSucceeded},
			blocked: map[string]string{"b": "a", "c": "b"},
			errors: map[string]string{"a": "apply: boom", "b": "not started: need a failed",
				"c": "not started: need b blocked"}},
		{onError: Continue,
			want: map[string]Status{"d": StatusSucceeded, "a": StatusFailed, "b": StatusSucceeded,
				"c": StatusSucceeded, "e": StatusSucceeded},
			blocked: map[string]string{},
			errors:  map[string]string{"a": "apply: boom"}},
		{onError: Abort,
			// d was running when a failed: it finishes. Nothing starts after.
			want: map[string]Status{"d": StatusSucceeded, "a": StatusFailed, "b": StatusAborted,
				"c": StatusAborted, "e": StatusAborted},
			blocked: map[string]string{"b": "a", "c": "a", "e": "a"},
			errors: map[string]string{"a": "apply: boom",
				"b": "not started: the run was aborted after step a failed",
				"c": "not started: the run was aborted after step a failed",
				"e": "not started: the run was aborted after step a failed"}},
	} {
		t.Run(string(tc.onError), func(t *testing.T) {
			reg, w := fakeRegistry(), newWorld()
			w.sc("a").applyErrs = []error{fail}
			// d is running when a fails, whichever of the two starts first.
			aFailed, dStarted := make(chan struct{}), make(chan struct{})
			w.sc("d").wait = aFailed
			w.sc("a").wait = dStarted
			j := newJournal(t, t.TempDir())
			x, _ := testExecutor(w, j)
			x.MaxParallel = 2
			x.OnEvent = func(ev Event) {
				switch {
				case ev.Type == EventStepFailed && ev.Step == "a":
					close(aFailed)
				case ev.Type == EventStepStarted && ev.Step == "d":
					close(dStarted)
				}
			}
			res, err := x.Run(t.Context(), testPlan(t, reg,
				ts{id: "d", timeout: 5 * time.Second},
				ts{id: "a", onError: tc.onError},
				ts{id: "b", needs: []string{"a"}},
				ts{id: "c", needs: []string{"b"}},
				ts{id: "e"}))
			if err != nil {
				t.Fatal(err)
			}
			if got := statuses(res); !maps.Equal(got, tc.want) {
				t.Errorf("statuses %v, want %v", got, tc.want)
			}
			if res.Outcome != OutcomeNotContained {
				t.Errorf("outcome %s, want failed", res.Outcome)
			}
			for _, s := range res.Steps {
				if s.BlockedBy != tc.blocked[s.ID] || s.Error != tc.errors[s.ID] {
					t.Errorf("%s: blocked by %q, error %q; want %q, %q", s.ID, s.BlockedBy, s.Error, tc.blocked[s.ID], tc.errors[s.ID])
				}
			}
			log, err := ReadJournal(j.Path())
			if err != nil {
				t.Fatal(err)
			}
			hist := log.StepHistories()
			for id, want := range tc.want {
				if hist[id] == nil || hist[id].Status != want {
					t.Errorf("journaled %s: %+v, want %s", id, hist[id], want)
				}
			}
		})
	}
}

func TestExecStepsThatCannotBeCalledFail(t *testing.T) {
	for _, tc := range []struct {
		name      string
		step      ts
		conns     bool
		panics    bool
		wantError string
		wantClass string
	}{
		{name: "a step with no implementation", step: ts{id: "s", uses: "fake.spec_only"}, conns: true,
			wantError: "step s has no implementation (fake.spec_only exists only as a spec)", wantClass: "invalid"},
		{name: "a step whose backend is not connected", step: ts{id: "s"},
			wantError: "step s: backend fake is not connected", wantClass: "invalid"},
		{name: "a step that panics", step: ts{id: "s"}, conns: true, panics: true,
			wantError: "step s panicked: fake bug", wantClass: "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, w := fakeRegistry(), newWorld()
			w.sc("s").panics = tc.panics
			x, _ := testExecutor(w, nil)
			if !tc.conns {
				x.Conns = nil
			}
			res, err := x.Run(t.Context(), testPlan(t, reg, tc.step, ts{id: "other"}))
			if err != nil {
				t.Fatal(err)
			}
			s := res.Step("s")
			if s.Status != StatusFailed || s.Error != tc.wantError || s.Class != tc.wantClass {
				t.Errorf("got %s %q %q, want failed %q %q", s.Status, s.Error, s.Class, tc.wantError, tc.wantClass)
			}
			if want := map[bool]Status{true: StatusSucceeded, false: StatusFailed}[tc.conns]; res.Step("other").Status != want {
				t.Errorf("other: %s, want %s", res.Step("other").Status, want)
			}
		})
	}
}

func TestExecDeniedPlanRunsNothing(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	j := newJournal(t, t.TempDir())
	x, _ := testExecutor(w, j)
	plan := testPlan(t, reg, ts{id: "a"}, ts{id: "b", skip: "not here"})
	plan.Deny = []string{"adele@contoso.com is protected"}
	plan.Warn = []string{"a warning"}
	res, err := x.Run(t.Context(), plan)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeDenied || w.checks["a"] != 0 || w.applyCalls["a"] != 0 {
		t.Errorf("outcome %s, %d checks, %d applies", res.Outcome, w.checks["a"], w.applyCalls["a"])
	}
	if got, want := statuses(res), map[string]Status{"a": StatusDenied, "b": StatusSkipped}; !maps.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	log, err := ReadJournal(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := eventTypes(t, j.Path()), []string{"run_started", "decision", "run_finished"}; !slices.Equal(got, want) {
		t.Errorf("journal %v, want %v", got, want)
	}
	deny, warn := log.Decision()
	if !slices.Equal(deny, plan.Deny) || !slices.Equal(warn, plan.Warn) || log.Outcome() != OutcomeDenied {
		t.Errorf("journaled deny %v warn %v outcome %s", deny, warn, log.Outcome())
	}
}

func TestExecContainmentEndsWithTheLastContainmentStep(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	x, _ := testExecutor(w, nil)
	clock := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	x.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
	x.MaxParallel = 1
	res, err := x.Run(t.Context(), testPlan(t, reg,
		ts{id: "disable"}, ts{id: "notify", uses: "fake.other", needs: []string{"disable"}}))
	if err != nil {
		t.Fatal(err)
	}
	// Clock ticks: run start 1, step start 2, applied 3, step end 4.
	if want := 3 * time.Second; res.Containment != want {
		t.Errorf("containment %s, want %s", res.Containment, want)
	}
	if got := res.Step("notify").Ended.Sub(res.Started); got <= res.Containment {
		t.Errorf("notify ended %s after the start, want after containment", got)
	}
	x2, _ := testExecutor(newWorld(), nil)
	res, err = x2.Run(t.Context(), testPlan(t, reg, ts{id: "notify", uses: "fake.other"}))
	if err != nil || res.Containment != 0 {
		t.Errorf("containment %s (%v) without containment steps, want 0", res.Containment, err)
	}
}

func TestExecEventsReachOnEventInJournalOrder(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	w.sc("a").twoPhase = true
	j := newJournal(t, t.TempDir())
	x, _ := testExecutor(w, j)
	var seen []Event
	x.OnEvent = func(ev Event) { seen = append(seen, ev) } // called one at a time
	_, err := x.Run(t.Context(), testPlan(t, reg, ts{id: "a"}, ts{id: "b"}, ts{id: "c", needs: []string{"a", "b"}}))
	if err != nil {
		t.Fatal(err)
	}
	log, err := ReadJournal(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(log.Events) {
		t.Fatalf("OnEvent saw %d events, the journal holds %d", len(seen), len(log.Events))
	}
	for i, ev := range seen {
		if ev.Seq != i+1 || ev.Type != log.Events[i].Type || ev.Prev != log.Events[i].Prev {
			t.Errorf("event %d: seq %d %s, journal has %d %s", i, ev.Seq, ev.Type, log.Events[i].Seq, log.Events[i].Type)
		}
	}
}

// crashFile fails every write after the first `left`, as a process that
// died there would have stopped writing.
type crashFile struct {
	journalFile
	mu   sync.Mutex
	left int
}

var errCrash = errors.New("simulated crash")

func (c *crashFile) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left <= 0 {
		return 0, errCrash
	}
	c.left--
	return c.journalFile.Write(p)
}

func TestExecJournalFailureStopsTheRun(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	j := newJournal(t, t.TempDir())
	j.f = &crashFile{journalFile: j.f, left: 3} // run_started, step_started:a, step_succeeded:a
	x, _ := testExecutor(w, j)
	x.MaxParallel = 1
	res, err := x.Run(t.Context(), testPlan(t, reg, ts{id: "a"}, ts{id: "b"}, ts{id: "c"}))
	if err == nil || !errors.Is(err, errCrash) {
		t.Fatalf("err %v, want the journal's", err)
	}
	if w.applyCalls["b"] != 0 || w.checks["b"] != 0 || w.checks["c"] != 0 {
		t.Errorf("b or c was called after the journal failed: %v %v", w.checks, w.applyCalls)
	}
	if got, want := statuses(res), map[string]Status{"a": StatusSucceeded, "b": StatusCancelled, "c": StatusCancelled}; !maps.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if _, err := j.Append(Event{Type: EventRunFinished}); !errors.Is(err, errCrash) {
		t.Errorf("append after a failure: %v, want the sticky error", err)
	}
}

func TestExecRefusesABrokenPlan(t *testing.T) {
	reg := fakeRegistry()
	plan := testPlan(t, reg, ts{id: "a", needs: []string{"ghost"}})
	x, _ := testExecutor(newWorld(), nil)
	if _, err := x.Run(t.Context(), plan); err == nil || err.Error() != "plan: step a needs ghost, which the plan does not have" {
		t.Errorf("err %v", err)
	}
	if _, err := x.Run(t.Context(), nil); err == nil || err.Error() != "execute: no plan" {
		t.Errorf("err %v", err)
	}
}

func TestExecWithoutSleepWaitsOnARealTimer(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	if err := sleepContext(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("sleep on a cancelled context: %v after %s", err, time.Since(start))
	}
	if err := sleepContext(t.Context(), time.Millisecond); err != nil {
		t.Errorf("sleep: %v", err)
	}
}

// journalText returns a journal file's bytes as text.
func journalText(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runsDir is where CreateJournal puts journals.
func runsDir(stateDir string) string { return filepath.Join(stateDir, "runs") }

// BenchmarkExecutor runs 20 fake steps shaped as a diamond (one root, 18
// in parallel, one join) with 1 ms of latency each, unjournaled and
// journaled.
func BenchmarkExecutor(b *testing.B) {
	reg := fakeRegistry()
	list := []ts{{id: "root"}}
	var mids []string
	for i := range 18 {
		id := fmt.Sprintf("mid-%02d", i)
		mids = append(mids, id)
		list = append(list, ts{id: id, needs: []string{"root"}})
	}
	list = append(list, ts{id: "join", needs: mids})
	for _, bc := range []struct {
		name        string
		maxParallel int
		journal     bool
	}{{"parallel-8", 8, false}, {"parallel-1", 1, false}, {"parallel-8-journal", 8, true}} {
		b.Run(bc.name, func(b *testing.B) {
			state := b.TempDir()
			for b.Loop() {
				w := newWorld()
				for _, s := range list {
					w.sc(s.id).latency = time.Millisecond
				}
				var j *Journal
				if bc.journal {
					var err error
					if j, err = CreateJournal(state, ""); err != nil {
						b.Fatal(err)
					}
				}
				x, _ := testExecutor(w, j)
				x.MaxParallel = bc.maxParallel
				res, err := x.Run(context.Background(), testPlan(b, reg, list...))
				if err != nil || res.Outcome != OutcomeContained {
					b.Fatalf("%v %v", res, err)
				}
				if j != nil {
					j.Close()
				}
			}
		})
	}
}
