package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// bulkLog records the order of Apply calls across subjects.
type bulkLog struct {
	mu    sync.Mutex
	calls []string
	// throttle429 makes the first Apply of throttled answer 429 with a
	// Retry-After of this long.
	throttleOnce sync.Once
	throttled    string
	retryAfter   time.Duration
	at           map[string]time.Time
}

func (l *bulkLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
	if l.at == nil {
		l.at = map[string]time.Time{}
	}
	l.at[s] = time.Now()
}

type bulkFake struct {
	log  *bulkLog
	kind string
}

func (f bulkFake) Check(context.Context, *steps.Call) (steps.Change, error) {
	return steps.Change{}, nil
}
func (f bulkFake) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	if f.kind == f.log.throttled {
		var err error
		f.log.throttleOnce.Do(func() {
			err = steps.RetryableAfter(errors.New("429 too many requests"), f.log.retryAfter)
		})
		if err != nil {
			return steps.Change{}, err
		}
	}
	f.log.add(f.kind + " " + call.Subject.Ref)
	return steps.Change{Summary: "done"}, nil
}

// bulkPlan is a plan of two steps for ref: a containment step and a
// clean-up step that does not need it.
func bulkPlan(log *bulkLog, ref string) *Plan {
	contain := &steps.Spec{Name: "demo.disable", Containment: true, New: func() steps.Step { return bulkFake{log: log, kind: "disable"} }}
	cleanup := &steps.Spec{Name: "demo.cleanup", New: func() steps.Step { return bulkFake{log: log, kind: "cleanup"} }}
	d := &StepDef{ID: "disable", Uses: contain.Name, Spec: contain}
	c := &StepDef{ID: "cleanup", Uses: cleanup.Name, Spec: cleanup}
	return &Plan{Runbook: &Runbook{Name: "demo", Steps: []*StepDef{c, d}}, Subject: &steps.Subject{Ref: ref},
		Steps: []*PlannedStep{{Def: c, Run: true, Wave: 1}, {Def: d, Run: true, Wave: 1}}}
}

func runBulk(t *testing.T, log *bulkLog, n int, cfg BulkConfig) (*BulkScheduler, []*Result) {
	t.Helper()
	s := NewBulkScheduler(cfg)
	subs := make([]*BulkSubject, n)
	for i := range subs {
		subs[i] = s.Add()
	}
	results := make([]*Result, n)
	var wg sync.WaitGroup
	for i, b := range subs {
		if err := b.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer b.Done()
			plan := bulkPlan(log, fmt.Sprintf("user%02d", i))
			x := &Executor{Conns: map[string]steps.Conn{"demo": &fakeConn{}}, MaxParallel: 3, BeforeStep: b.BeforeStep, OnEvent: b.Observe(nil), BulkID: "b"}
			res, err := x.Run(context.Background(), b.Plan(plan, nil))
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		}()
	}
	wg.Wait()
	return s, results
}

// Every subject's containment step ends before any subject's clean-up
// step starts, with a window far smaller than the bulk.
func TestBulkContainsEverySubjectBeforeAnyCleanUp(t *testing.T) {
	log := &bulkLog{}
	_, results := runBulk(t, log, 12, BulkConfig{Window: 3, DefaultConcurrency: 2})
	for i, r := range results {
		if r.Outcome != OutcomeContained {
			t.Errorf("subject %d: outcome %s", i, r.Outcome)
		}
	}
	if len(log.calls) != 24 {
		t.Fatalf("%d calls, want 24: %v", len(log.calls), log.calls)
	}
	firstCleanup := slices.IndexFunc(log.calls, func(c string) bool { return c[:7] == "cleanup" })
	if firstCleanup != 12 {
		t.Errorf("the first clean-up call is call %d, want 12 (after every disable): %v", firstCleanup, log.calls)
	}
}

// A throttled answer pauses its step kind for every subject: no other
// subject's disable is applied until the Retry-After has passed, and the
// throttled call is made again by the scheduler (no failed attempt).
func TestBulkThrottlePausesTheStepKindForEverySubject(t *testing.T) {
	log := &bulkLog{throttled: "disable", retryAfter: 300 * time.Millisecond}
	start := time.Now()
	s, results := runBulk(t, log, 6, BulkConfig{Window: 6, DefaultConcurrency: 1})
	for i, r := range results {
		if r.Outcome != OutcomeContained {
			t.Errorf("subject %d: outcome %s", i, r.Outcome)
		}
		for _, st := range r.Steps {
			if st.Attempts != 1 {
				t.Errorf("subject %d step %s: %d Apply attempts journaled, want 1", i, st.ID, st.Attempts)
			}
		}
	}
	if got := s.Throttled(); got != 1 {
		t.Errorf("throttled %d, want 1", got)
	}
	for _, c := range log.calls {
		if c[:7] == "disable" && log.at[c].Sub(start) < 300*time.Millisecond {
			t.Errorf("%s applied %s after the start, inside the pause", c, log.at[c].Sub(start))
		}
	}
}

// The pause is reported while it lasts, with the answer's message.
func TestBulkWaitsReportThePause(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewBulkScheduler(BulkConfig{Now: func() time.Time { return now }})
	s.throttle("entra", "entra.disable_user", nil, steps.RetryableAfter(errors.New("entra: disable: 429 Too Many Requests"), 2*time.Second), 2*time.Second)
	want := []BulkWait{{Scope: "entra.disable_user", Until: now.Add(2 * time.Second), Reason: "entra: disable: 429 Too Many Requests"}}
	if got := s.Waits(); !slices.Equal(got, want) {
		t.Errorf("waits %+v, want %+v", got, want)
	}
	if until, _ := s.pausedUntil("entra", "entra.revoke_sessions"); !until.IsZero() {
		t.Errorf("another step kind is paused until %s", until)
	}
	now = now.Add(2 * time.Second)
	if got := s.Waits(); len(got) != 0 {
		t.Errorf("waits after the pause: %+v", got)
	}
}

// A step kind whose calls hang (a limiter inside the backend) holds at
// most half of its backend's slots: the other kind's calls still run.
func TestBulkOneStepKindHoldsHalfTheBackend(t *testing.T) {
	s := NewBulkScheduler(BulkConfig{DefaultConcurrency: 4})
	b := s.Add()
	release := make(chan struct{})
	var started sync.WaitGroup
	slow := &bulkStep{b: b, backend: "demo", spec: "demo.slow"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var held int
	var mu sync.Mutex
	for range 4 {
		started.Add(1)
		go func() {
			defer started.Done()
			slow.do(ctx, nil, func(context.Context, *slotHold) (steps.Change, error) {
				mu.Lock()
				held++
				mu.Unlock()
				<-release
				return steps.Change{}, nil
			})
		}()
	}
	inFlight := func() int {
		mu.Lock()
		defer mu.Unlock()
		return held
	}
	// Wait for two slow calls in flight (the machine may be slow to start
	// them), then give the others time to get in, which they must not.
	for deadline := time.Now().Add(5 * time.Second); inFlight() < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	fast := &bulkStep{b: b, backend: "demo", spec: "demo.fast"}
	fctx, fcancel := context.WithTimeout(context.Background(), time.Second)
	defer fcancel()
	if _, err := fast.do(fctx, nil, func(context.Context, *slotHold) (steps.Change, error) { return steps.Change{}, nil }); err != nil {
		t.Errorf("the other kind's call: %v", err)
	}
	if n := inFlight(); n != 2 {
		t.Errorf("%d slow calls in flight, want 2 (half of 4)", n)
	}
	close(release)
	started.Wait()
}

// A declared budget is a token bucket: its burst goes at once, then each
// request waits a refill interval more than the one before; a throttled
// answer empties it as of the pause's end, so the calls waiting on the
// pause leave one interval apart from then, not all at once.
func TestBulkBudgetTakeAndThrottle(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewBulkScheduler(BulkConfig{Now: func() time.Time { return now }})
	budget := &steps.Budget{Scope: "writes", Requests: 3, Per: 3 * time.Second} // 1 a second
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second}
	for i, w := range want {
		if got, _ := s.take("demo", budget); got != w {
			t.Errorf("take %d: wait %s, want %s", i, got, w)
		}
	}
	// Another spec naming the same scope shares the bucket.
	if got, _ := s.take("demo", &steps.Budget{Scope: "writes", Requests: 3, Per: 3 * time.Second}); got != 3*time.Second {
		t.Errorf("the shared budget's next wait is %s, want 3s", got)
	}
	if got, _ := s.take("other", budget); got != 0 {
		t.Errorf("another backend's budget of the same scope waits %s, want 0", got)
	}
	now = now.Add(10 * time.Second) // refilled to its burst, no more
	s.throttle("demo", "demo.disable", budget, steps.RetryableAfter(errors.New("429"), 2*time.Second), 2*time.Second)
	for i, w := range []time.Duration{3 * time.Second, 4 * time.Second, 5 * time.Second} {
		if got, _ := s.take("demo", budget); got != w {
			t.Errorf("take %d after the 429: wait %s, want %s", i, got, w)
		}
	}
	if got, _ := s.take("demo", nil); got != 0 {
		t.Errorf("a call with no budget waits %s", got)
	}
}

// Through the calls themselves: with a declared budget of 2 requests per
// 200 ms, six Applies start two at once, then one every 100 ms, and none
// is throttled; after a 429 with a 200 ms
// Retry-After, the waiting calls leave 100 ms apart from the pause's end.
func TestBulkBudgetPacesCalls(t *testing.T) {
	for _, tc := range []struct {
		name     string
		budget   steps.Budget
		pause    time.Duration
		earliest []time.Duration // each call's earliest start, sorted
	}{
		{"before any 429", steps.Budget{Scope: "w", Requests: 2, Per: 200 * time.Millisecond}, 0,
			[]time.Duration{0, 0, 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 400 * time.Millisecond}},
		{"after a 429", steps.Budget{Scope: "w", Requests: 1000, Per: 100 * time.Second}, 200 * time.Millisecond,
			[]time.Duration{300 * time.Millisecond, 400 * time.Millisecond, 500 * time.Millisecond, 600 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewBulkScheduler(BulkConfig{DefaultConcurrency: 16})
			b := s.Add()
			w := &bulkStep{b: b, backend: "demo", spec: "demo.disable", budget: &tc.budget}
			start := time.Now()
			if tc.pause > 0 {
				s.throttle("demo", "demo.disable", w.budget, steps.RetryableAfter(errors.New("429"), tc.pause), tc.pause)
			}
			var mu sync.Mutex
			var at []time.Duration
			var wg sync.WaitGroup
			for range tc.earliest {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := w.do(context.Background(), w.budget, func(context.Context, *slotHold) (steps.Change, error) {
						mu.Lock()
						at = append(at, time.Since(start))
						mu.Unlock()
						return steps.Change{}, nil
					})
					if err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			slices.Sort(at)
			for i, e := range tc.earliest {
				if at[i] < e-5*time.Millisecond {
					t.Errorf("call %d started at %s, before %s: %v", i, at[i], e, at)
				}
			}
			if got, want := s.Throttled(), min(1, int(tc.pause)); got != want {
				t.Errorf("throttled %d, want %d", got, want)
			}
		})
	}
}

// Calls that reserved their request before a 429 reserve again after it:
// with a budget of one request per 200 ms, four calls reserve 0, 200, 400
// and 600 ms; a 429 at about 20 ms with a 200 ms Retry-After makes the
// three still waiting leave 200 ms apart from the pause's end, not
// together when it ends.
func TestBulkBudgetReservedBeforeA429Wait(t *testing.T) {
	s := NewBulkScheduler(BulkConfig{DefaultConcurrency: 16})
	b := s.Add()
	budget := &steps.Budget{Scope: "w", Requests: 1, Per: 200 * time.Millisecond}
	w := &bulkStep{b: b, backend: "demo", spec: "demo.disable", budget: budget}
	start := time.Now()
	var mu sync.Mutex
	var at []time.Duration
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.do(context.Background(), budget, func(context.Context, *slotHold) (steps.Change, error) {
				mu.Lock()
				at = append(at, time.Since(start))
				mu.Unlock()
				return steps.Change{}, nil
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	const pause = 200 * time.Millisecond
	throttledAt := time.Since(start)
	s.throttle("demo", "demo.disable", budget, steps.RetryableAfter(errors.New("429"), pause), pause)
	wg.Wait()
	if throttledAt >= 150*time.Millisecond {
		t.Skipf("the 429 came %s after the start: the machine is too loaded for this timing", throttledAt)
	}
	slices.Sort(at)
	for i := 1; i < 4; i++ {
		if e := throttledAt + pause + time.Duration(i)*200*time.Millisecond; at[i] < e {
			t.Errorf("call %d started at %s, before %s: %v", i, at[i], e, at)
		}
	}
}

// spendStep is a step whose Apply sends n requests beyond the one it is
// charged, spending them first, and records when they were spent.
type spendStep struct {
	n     int
	start time.Time
	at    *time.Duration
}

func (spendStep) Check(context.Context, *steps.Call) (steps.Change, error) {
	return steps.Change{}, nil
}
func (s spendStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	if err := call.Charge(ctx, s.n); err != nil {
		return steps.Change{}, err
	}
	*s.at = time.Since(s.start)
	return steps.Change{}, nil
}

// A step that sends several writes draws them all from its budget: with 2
// requests per 200 ms (one every 100 ms), an Apply charged its one that
// spends 3 more has overdrawn the bucket by 2 and waits 200 ms for them,
// and the next reservation waits behind that. Without a declared budget
// nothing is spent and nothing waits.
func TestBulkSpendPacesAStepsOtherRequests(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := NewBulkScheduler(BulkConfig{Now: func() time.Time { return now }})
	budget := &steps.Budget{Scope: "w", Requests: 2, Per: 200 * time.Millisecond}
	for i, tc := range []struct {
		n    int
		want time.Duration
	}{{1, 0}, {3, 200 * time.Millisecond}, {1, 300 * time.Millisecond}} {
		if got, _ := clock.takeN("demo", budget, tc.n); got != tc.want {
			t.Errorf("take %d of %d: wait %s, want %s", i, tc.n, got, tc.want)
		}
	}

	s := NewBulkScheduler(BulkConfig{DefaultConcurrency: 16})
	b := s.Add()
	var spentAt time.Duration
	start := time.Now()
	w := &bulkStep{inner: spendStep{n: 3, start: start, at: &spentAt}, b: b, backend: "demo", spec: "demo.cleanup", budget: budget}
	if _, err := w.Apply(context.Background(), &steps.Call{}); err != nil {
		t.Fatal(err)
	}
	if spentAt < 195*time.Millisecond {
		t.Errorf("the 3 further requests were spent after %s, want the 200 ms the budget needs to refill 2", spentAt)
	}
	if wait, _ := s.take("demo", budget); wait < 50*time.Millisecond {
		t.Errorf("the next request waits %s: the Apply's 4 requests were not all counted", wait)
	}

	call := &steps.Call{}
	free := &bulkStep{inner: spendStep{n: 3, start: time.Now(), at: &spentAt}, b: b, backend: "demo", spec: "demo.read"}
	if _, err := free.Apply(context.Background(), call); err != nil || call.Spend != nil || spentAt > 50*time.Millisecond {
		t.Errorf("without a budget: %v, Spend set %v, spent after %s", err, call.Spend != nil, spentAt)
	}
}

// A step waiting to spend its further requests lets go of its slots: with
// one slot for the backend, another step kind's Check runs during the
// wait, not after it.
func TestBulkSpendWaitsOutsideTheSlots(t *testing.T) {
	s := NewBulkScheduler(BulkConfig{DefaultConcurrency: 1})
	b := s.Add()
	budget := &steps.Budget{Scope: "w", Requests: 1, Per: 300 * time.Millisecond}
	var spentAt time.Duration
	start := time.Now()
	slow := &bulkStep{inner: spendStep{n: 1, start: start, at: &spentAt}, b: b, backend: "demo", spec: "demo.cleanup", budget: budget}
	done := make(chan error, 1)
	go func() {
		_, err := slow.Apply(context.Background(), &steps.Call{})
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // the Apply is waiting for its second request
	other := &bulkStep{inner: bulkFake{log: &bulkLog{}, kind: "read"}, b: b, backend: "demo", spec: "demo.read"}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := other.Check(ctx, &steps.Call{}); err != nil {
		t.Errorf("another kind's Check during the wait: %v", err)
	}
	if err := <-done; err != nil || spentAt < 290*time.Millisecond {
		t.Errorf("Apply: %v, spent after %s, want after the budget's 300 ms", err, spentAt)
	}
}

// A wait for the budget given up gives its requests back: they were never
// sent, and the next caller does not wait for them.
func TestBulkSpendGivenUpIsRefunded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewBulkScheduler(BulkConfig{Now: func() time.Time { return now }})
	budget := &steps.Budget{Scope: "w", Requests: 1, Per: time.Second}
	s.take("demo", budget) // the bucket is empty now
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.await(ctx, "demo", budget, 5); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("await: %v", err)
	}
	if wait, _ := s.take("demo", budget); wait != time.Second {
		t.Errorf("the next request waits %s, want 1s: the 5 given up were not refunded", wait)
	}
}

// budgetScoped is a throttled error that names the budget it met.
type budgetScoped struct{ scope string }

func (e budgetScoped) Error() string       { return "429 " + e.scope }
func (e budgetScoped) BudgetScope() string { return e.scope }

// A throttled answer empties a declared budget only when it met that
// budget or does not say; a read's never does.
func TestBulkThrottleEmptiesOnlyTheBudgetItMet(t *testing.T) {
	budget := &steps.Budget{Scope: "w", Requests: 10, Per: time.Second}
	for _, tc := range []struct {
		name    string
		err     error
		emptied bool
	}{
		{"a 429 that does not say", errors.New("429"), true},
		{"a 429 of the budget", budgetScoped{"w"}, true},
		{"a 429 of a limit of its own", budgetScoped{"provisioning"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			s := NewBulkScheduler(BulkConfig{Now: func() time.Time { return now }})
			s.throttle("demo", "demo.cleanup", budget, steps.RetryableAfter(tc.err, time.Second), time.Second)
			wait, _ := s.take("demo", budget)
			if emptied := wait > 0; emptied != tc.emptied {
				t.Errorf("next request waits %s; emptied %v, want %v", wait, emptied, tc.emptied)
			}
		})
	}
	// Through a step: its Verify's 429 pauses it but leaves its Apply's
	// budget as it was.
	s := NewBulkScheduler(BulkConfig{DefaultConcurrency: 4})
	w := &bulkStep{b: s.Add(), backend: "demo", spec: "demo.cleanup", budget: budget}
	calls := 0
	if _, err := w.do(context.Background(), nil, func(context.Context, *slotHold) (steps.Change, error) {
		if calls++; calls == 1 {
			return steps.Change{}, steps.RetryableAfter(errors.New("429 on a read"), 10*time.Millisecond)
		}
		return steps.Change{}, nil
	}); err != nil || calls != 2 {
		t.Fatalf("read: %v after %d calls", err, calls)
	}
	if wait, _ := s.take("demo", budget); wait > 0 {
		t.Errorf("a read's 429 emptied the write budget: the next write waits %s", wait)
	}
}
