package engine

// The bulk scheduler: one scheduler for the runs of many subjects at once
// (`revoke run --users FILE`). Each subject keeps its own plan, journal and
// Executor; the scheduler is what they share:
//
//   - containment first: no subject's clean-up step starts while any
//     subject still has a containment step (or a step one depends on) to
//     end, or has not been planned yet;
//   - a window: at most Window subjects are being contained at once, so a
//     step's timeout measures its own wait for the backends' budget, not
//     a thousand subjects' queue;
//   - per-backend concurrency: at most Concurrency[backend] calls (Check,
//     Apply or Verify) at once to one backend, across all subjects, and
//     at most half of them (rounded up) of one step kind;
//   - throttling: a throttled answer (Retryable with a Retry-After) pauses
//     its scope (below) for every subject until the server's wait has
//     passed, and the throttled call is made again then, within its
//     step's timeout.
//
// It knows no backend. A throttled answer's scope is the step kind that met
// it (entra.disable_user), for every subject: one budget of a backend (an
// API limited to a call a second) then does not stall the backend's other
// calls, and a budget the backend's calls share costs at most one
// throttled answer per step kind per pause. An error that implements
// ThrottleScoper names its budget instead (BACKEND:NAME), and every step
// kind that met that budget waits for it.
//
// Budgets: a step spec may declare the budget its Apply calls draw on
// (steps.Spec.Budget: Requests per Per, a token bucket shared by the specs
// of the same backend and Scope). Each Apply then takes a request of it
// before the call, so a bulk is paced to the budget before any throttled
// answer; and a throttled answer of such a step empties the budget as of
// the pause's end, so the calls waiting on the pause are released at the
// rate the budget refills, one interval apart, not all at once. A step
// without a declared budget is only paused, as above.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// DefaultBackendConcurrency is how many calls run at once to one backend
// in a bulk run when BulkConfig.Concurrency does not name it.
const DefaultBackendConcurrency = 8

// DefaultBulkWindow is how many subjects a bulk run contains at once when
// BulkConfig.Window is not set.
const DefaultBulkWindow = 32

// ThrottleScoper is implemented by a throttled error that names the budget
// it met (a write quota every step of the backend shares): a bulk run then
// pauses every step kind that met that budget until its wait is over.
type ThrottleScoper interface {
	ThrottleScope() string
}

// BudgetScoper is implemented by a throttled error that says which budget
// it met: a declared one's Scope (steps.Budget.Scope), or the name of a
// limit of its own that no declared budget models (entra's
// "provisioning_on_demand"). A throttled answer empties the step's
// declared budget only when it names that budget or does not say.
type BudgetScoper interface {
	BudgetScope() string
}

// BulkConfig tunes a BulkScheduler; the zero value takes the defaults.
type BulkConfig struct {
	// Concurrency bounds the calls in flight per backend name; a backend
	// not named gets DefaultConcurrency.
	Concurrency map[string]int
	// DefaultConcurrency is 0 for DefaultBackendConcurrency.
	DefaultConcurrency int
	// Window bounds the subjects being contained at once; 0 for
	// DefaultBulkWindow.
	Window int
	// Now is the clock of pauses; nil is time.Now.
	Now func() time.Time
}

// BulkWait is a pause in force: the scope waits until Until because of
// Reason (the throttled answer's message).
type BulkWait struct {
	Scope  string    `json:"scope"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
}

// BulkScheduler is shared by the runs of one bulk; safe for concurrent use.
type BulkScheduler struct {
	cfg    BulkConfig
	window chan struct{}
	mu     sync.Mutex
	// changed is closed and replaced whenever open containment work ends
	// or a pause is set, to wake waiters.
	changed chan struct{}
	// open counts what stands between clean-up and its start: every
	// subject added and not yet planned counts one, every planned
	// containment-path step not yet ended one.
	open      int
	sems      map[string]chan struct{}
	kindSems  map[string]chan struct{}
	pauses    map[string]*pause
	buckets   map[string]*bucket
	throttled int
}

// bucket is a declared budget's token bucket. tokens may go below zero:
// each call reserves its request and waits until the bucket has refilled
// it, so waiters leave one refill interval apart. last is when tokens was
// counted; it is in the future while a pause lasts.
type bucket struct {
	tokens float64
	burst  float64
	rate   float64 // requests a second
	last   time.Time
	// drains counts the throttled answers that emptied the bucket: a call
	// that reserved its request before one takes another, so the calls
	// reserved before a 429 do not all leave together when its pause ends.
	drains int
}

// bucketKey is a declared budget's key: its backend and scope.
func bucketKey(backend string, b *steps.Budget) string { return backend + ":" + b.Scope }

// take reserves one request of backend's budget b and returns how long to
// wait for it (0 when none is declared or the bucket has one now) and the
// bucket's drains then (for drainedSince).
func (s *BulkScheduler) take(backend string, b *steps.Budget) (time.Duration, int) {
	return s.takeN(backend, b, 1)
}

// takeN is take for n requests at once; a negative n gives requests back.
func (s *BulkScheduler) takeN(backend string, b *steps.Budget, n int) (time.Duration, int) {
	if b == nil || b.Requests <= 0 || b.Per <= 0 {
		return 0, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	k := s.bucketOf(backend, b, now)
	if now.After(k.last) {
		k.tokens = min(k.burst, k.tokens+now.Sub(k.last).Seconds()*k.rate)
		k.last = now
	}
	k.tokens = min(k.burst, k.tokens-float64(n)) // n < 0 gives requests back
	ready := k.last
	if k.tokens < 0 {
		ready = ready.Add(time.Duration(-k.tokens / k.rate * float64(time.Second)))
	}
	return max(0, ready.Sub(now)), k.drains
}

// drainedSince reports whether a throttled answer emptied backend's budget
// b after a take that saw drains.
func (s *BulkScheduler) drainedSince(backend string, b *steps.Budget, drains int) bool {
	if b == nil || b.Requests <= 0 || b.Per <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buckets[bucketKey(backend, b)].drains != drains
}

// bucketOf returns (creating full) the bucket of backend's budget b; s.mu
// is held.
func (s *BulkScheduler) bucketOf(backend string, b *steps.Budget, now time.Time) *bucket {
	key := bucketKey(backend, b)
	k := s.buckets[key]
	if k == nil {
		k = &bucket{tokens: float64(b.Requests), burst: float64(b.Requests), rate: float64(b.Requests) / b.Per.Seconds(), last: now}
		s.buckets[key] = k
	}
	return k
}

// pause is one scope's wait; specs are the steps that met it, for a scope
// narrower than its backend.
type pause struct {
	BulkWait
	backend string
	specs   map[string]bool
}

// NewBulkScheduler returns a scheduler with cfg's limits.
func NewBulkScheduler(cfg BulkConfig) *BulkScheduler {
	if cfg.Window <= 0 {
		cfg.Window = DefaultBulkWindow
	}
	if cfg.DefaultConcurrency <= 0 {
		cfg.DefaultConcurrency = DefaultBackendConcurrency
	}
	return &BulkScheduler{cfg: cfg, window: make(chan struct{}, cfg.Window), changed: make(chan struct{}),
		sems: map[string]chan struct{}{}, kindSems: map[string]chan struct{}{}, pauses: map[string]*pause{}, buckets: map[string]*bucket{}}
}

// Add registers a subject. Add every subject before starting any: until a
// subject is planned (or Done), no clean-up step of any subject starts.
func (s *BulkScheduler) Add() *BulkSubject {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open++
	return &BulkSubject{s: s, unplanned: true}
}

// Waits returns the pauses in force now, soonest end first.
func (s *BulkScheduler) Waits() []BulkWait {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []BulkWait
	for _, p := range s.pauses {
		if p.Until.After(now) {
			out = append(out, p.BulkWait)
		}
	}
	sortWaits(out)
	return out
}

// Throttled counts the throttled answers the bulk's steps met.
func (s *BulkScheduler) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

func sortWaits(w []BulkWait) {
	for i := 1; i < len(w); i++ {
		for j := i; j > 0 && (w[j].Until.Before(w[j-1].Until) || w[j].Until.Equal(w[j-1].Until) && w[j].Scope < w[j-1].Scope); j-- {
			w[j], w[j-1] = w[j-1], w[j]
		}
	}
}

func (s *BulkScheduler) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

// wake tells every waiter to look again; s.mu is held.
func (s *BulkScheduler) wake() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// release ends n units of open containment work.
func (s *BulkScheduler) release(n int) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.open -= n
	s.wake()
}

// waitContained waits until no subject has containment work open.
func (s *BulkScheduler) waitContained(ctx context.Context) error {
	for {
		s.mu.Lock()
		open, changed := s.open, s.changed
		s.mu.Unlock()
		if open <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// sem returns a backend's call semaphore.
func (s *BulkScheduler) sem(backend string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.sems[backend]
	if c == nil {
		n := s.cfg.Concurrency[backend]
		if n <= 0 {
			n = s.cfg.DefaultConcurrency
		}
		c = make(chan struct{}, n)
		s.sems[backend] = c
	}
	return c
}

// kindSem returns a step kind's semaphore: half its backend's slots,
// rounded up. A kind whose calls wait inside the backend (a limiter that
// spaces an API's calls a second apart) then never holds every slot of
// its backend while the other kinds' calls, containment's among them,
// time out waiting for one.
func (s *BulkScheduler) kindSem(backend, spec string) chan struct{} {
	backendSem := s.sem(backend)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.kindSems[spec]
	if c == nil {
		c = make(chan struct{}, (cap(backendSem)+1)/2)
		s.kindSems[spec] = c
	}
	return c
}

// pausedUntil is when the pauses that apply to a call of spec on backend
// end (zero when none is in force).
func (s *BulkScheduler) pausedUntil(backend, spec string) (time.Time, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var until time.Time
	for _, p := range s.pauses {
		if p.backend != backend || !p.Until.After(now) {
			continue
		}
		if p.specs[spec] {
			until = maxTime(until, p.Until)
		}
	}
	return until, s.changed
}

// waitPause waits out the pauses that apply to a call of spec on backend.
func (s *BulkScheduler) waitPause(ctx context.Context, backend, spec string) error {
	for {
		until, changed := s.pausedUntil(backend, spec)
		if until.IsZero() {
			return nil
		}
		t := time.NewTimer(until.Sub(s.now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-changed: // a longer pause may have been set
		case <-t.C:
		}
		t.Stop()
	}
}

// throttle records a throttled answer: its scope pauses until after, and
// the budget the step declared (nil for none) is empty as of then, so the
// calls waiting on it leave at its refill rate.
func (s *BulkScheduler) throttle(backend, spec string, budget *steps.Budget, err error, after time.Duration) {
	scope := spec
	var ts ThrottleScoper
	if errors.As(err, &ts) && ts.ThrottleScope() != "" {
		scope = backend + ":" + ts.ThrottleScope()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttled++
	until := s.now().Add(after)
	p := s.pauses[scope]
	if p == nil {
		p = &pause{BulkWait: BulkWait{Scope: scope}, backend: backend, specs: map[string]bool{}}
		s.pauses[scope] = p
	}
	p.specs[spec] = true
	if until.After(p.Until) {
		p.Until, p.Reason = until, errText(err)
	}
	var bs BudgetScoper
	if budget != nil && errors.As(err, &bs) && bs.BudgetScope() != budget.Scope {
		budget = nil // another limit than the budget's: it stays as it is
	}
	if budget != nil && budget.Requests > 0 && budget.Per > 0 {
		if k := s.bucketOf(backend, budget, s.now()); until.After(k.last) {
			k.tokens, k.last = 0, until
			k.drains++
		}
	}
	s.wake()
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// BulkSubject is one subject's part in a bulk: Start it, Plan its plan,
// run that plan with BeforeStep and Observe on its Executor, then Done.
type BulkSubject struct {
	s  *BulkScheduler
	mu sync.Mutex
	// unplanned: Plan has not been called (the subject counts one open
	// unit); open: its containment-path steps not yet ended.
	unplanned bool
	open      map[string]bool
	inWindow  bool
	done      bool
	throttled int
}

// Start waits for a place in the window of subjects being contained.
func (b *BulkSubject) Start(ctx context.Context) error {
	select {
	case b.s.window <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	b.inWindow = true
	b.mu.Unlock()
	return nil
}

// Plan returns a copy of plan whose steps' calls go through the scheduler,
// and registers the subject's containment work: every step to run that is
// a containment step or one a containment step needs, directly or not,
// and that state (a resume's; nil for a new run) does not show ended.
func (b *BulkSubject) Plan(plan *Plan, state *ResumeState) *Plan {
	open := map[string]bool{}
	if !plan.Denied() {
		for id := range containmentPath(plan) {
			if h := stateOf(state, id); h == nil || !h.Status.Ended() {
				open[id] = true
			}
		}
	}
	cp := *plan
	cp.Steps = make([]*PlannedStep, len(plan.Steps))
	for i, ps := range plan.Steps {
		c := *ps
		if ps.Def != nil && ps.Def.Spec != nil && ps.Def.Spec.New != nil {
			def, spec := *ps.Def, *ps.Def.Spec
			inner, backend, name, budget := ps.Def.Spec.New, spec.Backend(), spec.Name, spec.Budget
			spec.New = func() steps.Step { return b.wrap(inner(), backend, name, budget) }
			def.Spec = &spec
			c.Def = &def
		}
		cp.Steps[i] = &c
	}
	b.mu.Lock()
	wasUnplanned := b.unplanned
	b.unplanned, b.open = false, open
	b.mu.Unlock()
	// The subject's one "unplanned" unit becomes its open steps.
	delta := len(open)
	if wasUnplanned {
		delta--
	}
	b.s.mu.Lock()
	b.s.open += delta
	b.s.wake()
	b.s.mu.Unlock()
	b.leaveWindowIfContained()
	return &cp
}

func stateOf(state *ResumeState, id string) *StepHistory {
	if state == nil {
		return nil
	}
	return state.Steps[id]
}

// containmentPath returns the ids of the steps to run that are
// containment steps or needed by one, directly or not.
func containmentPath(plan *Plan) map[string]bool {
	byID := map[string]*PlannedStep{}
	for _, ps := range plan.Steps {
		if ps != nil && ps.Def != nil {
			byID[ps.Def.ID] = ps
		}
	}
	path := map[string]bool{}
	var mark func(ps *PlannedStep)
	mark = func(ps *PlannedStep) {
		if ps == nil || path[ps.Def.ID] {
			return
		}
		path[ps.Def.ID] = true
		for _, need := range ps.Def.Needs {
			mark(byID[need])
		}
	}
	for _, ps := range byID {
		if ps.Def.Spec != nil && ps.Def.Spec.Containment {
			mark(ps)
		}
	}
	for id := range path {
		if !byID[id].Run {
			delete(path, id)
		}
	}
	return path
}

// BeforeStep is the subject's Executor.BeforeStep: a step off the
// containment path waits until every subject of the bulk is contained
// (or has ended trying).
func (b *BulkSubject) BeforeStep(ctx context.Context, ps *PlannedStep) error {
	b.mu.Lock()
	onPath := b.open[ps.Def.ID]
	b.mu.Unlock()
	if onPath || ps.Def.Spec != nil && ps.Def.Spec.Containment {
		return nil
	}
	return b.s.waitContained(ctx)
}

// Observe wraps the subject's Executor.OnEvent: it sees each step end and
// closes the subject's containment work as it does.
func (b *BulkSubject) Observe(next func(Event)) func(Event) {
	return func(ev Event) {
		switch ev.Type {
		case EventStepSatisfied, EventStepSucceeded, EventStepFailed, EventStepBlocked:
			b.mu.Lock()
			ended := b.open[ev.Step]
			delete(b.open, ev.Step)
			b.mu.Unlock()
			if ended {
				b.s.release(1)
				b.leaveWindowIfContained()
			}
		}
		if next != nil {
			next(ev)
		}
	}
}

// leaveWindowIfContained gives the subject's window place to the next
// subject once its containment work is over.
func (b *BulkSubject) leaveWindowIfContained() {
	b.mu.Lock()
	leave := b.inWindow && !b.unplanned && len(b.open) == 0
	if leave {
		b.inWindow = false
	}
	b.mu.Unlock()
	if leave {
		<-b.s.window
	}
}

// Done ends the subject's part: whatever containment work it left open
// (a run that stopped, a subject never planned) no longer holds back the
// others. Call it once the subject's run returned or was given up.
func (b *BulkSubject) Done() {
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return
	}
	b.done = true
	n := len(b.open)
	if b.unplanned {
		n++
	}
	b.unplanned, b.open = false, nil
	leave := b.inWindow
	b.inWindow = false
	b.mu.Unlock()
	b.s.release(n)
	if leave {
		<-b.s.window
	}
}

// Throttled counts the throttled answers this subject's steps met.
func (b *BulkSubject) Throttled() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.throttled
}

// wrap puts a step's calls under the scheduler.
func (b *BulkSubject) wrap(inner steps.Step, backend, spec string, budget *steps.Budget) steps.Step {
	if inner == nil {
		return nil // the executor refuses a step without an implementation
	}
	ws := &bulkStep{inner: inner, b: b, backend: backend, spec: spec, budget: budget}
	if v, ok := inner.(steps.Verifier); ok {
		return &bulkVerifier{bulkStep: ws, v: v}
	}
	return ws
}

// bulkStep is a step whose calls wait for their backend's pause and a
// slot of its concurrency.
type bulkStep struct {
	inner   steps.Step
	b       *BulkSubject
	backend string
	spec    string
	// budget is the spec's declared budget, drawn on by Apply; nil for none.
	budget *steps.Budget
}

func (w *bulkStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	return w.do(ctx, nil, func(ctx context.Context, _ *slotHold) (steps.Change, error) { return w.inner.Check(ctx, call) })
}

func (w *bulkStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	var held *slotHold // the slots of the attempt under way
	if w.budget != nil && call != nil {
		// The step's requests beyond the one Apply is charged draw on the
		// same budget, waited for as Apply's own is: outside the
		// backend's slots, which others use meanwhile.
		call.Spend = func(ctx context.Context, n int) error {
			held.release()
			err := w.b.s.await(ctx, w.backend, w.budget, n)
			if err == nil {
				err = held.acquire(ctx)
			}
			if err != nil {
				return steps.Errorf(steps.Retryable, "waiting for %s's budget: %w", w.spec, err)
			}
			return nil
		}
	}
	return w.do(ctx, w.budget, func(ctx context.Context, h *slotHold) (steps.Change, error) {
		held = h
		return w.inner.Apply(ctx, call)
	})
}

// await waits until backend's budget b has n requests for the caller; a
// throttled answer that empties the budget during the wait makes it
// reserve again, behind the pause. A wait given up (ctx ended) gives its
// requests back: they were not sent.
func (s *BulkScheduler) await(ctx context.Context, backend string, b *steps.Budget, n int) error {
	for {
		wait, drains := s.takeN(backend, b, n)
		if wait <= 0 {
			return nil
		}
		if err := sleepContext(ctx, wait); err != nil {
			s.takeN(backend, b, -n)
			return err
		}
		if !s.drainedSince(backend, b, drains) {
			return nil
		}
	}
}

// slotHold is a call's hold on its backend's slot and its step kind's.
type slotHold struct {
	sem, kind chan struct{}
	held      bool
}

// acquire takes both slots, the step kind's first.
func (h *slotHold) acquire(ctx context.Context) error {
	select {
	case h.kind <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for a slot of its step kind: %w", ctx.Err())
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		<-h.kind
		return fmt.Errorf("waiting for a slot of its backend: %w", ctx.Err())
	}
	h.held = true
	return nil
}

// release gives both slots back if they are held.
func (h *slotHold) release() {
	if h != nil && h.held {
		<-h.sem
		<-h.kind
		h.held = false
	}
}

// bulkVerifier is a bulkStep whose step reads its change back.
type bulkVerifier struct {
	*bulkStep
	v steps.Verifier
}

func (w *bulkVerifier) Verify(ctx context.Context, call *steps.Call) error {
	_, err := w.do(ctx, nil, func(ctx context.Context, _ *slotHold) (steps.Change, error) {
		return steps.Change{}, w.v.Verify(ctx, call)
	})
	return err
}

// do makes one call: after the pauses that apply to it, in a slot of its
// backend's concurrency. A throttled answer pauses its scope for everyone
// and the call is made again once the pause is over, as long as the pause
// ends before the step's deadline; otherwise the error goes to the
// executor, which journals it and retries or fails the step as it would
// alone. Throttled answers the scheduler absorbed are counted
// (Throttled), not journaled: they are the bulk's pacing, not the step's
// failures. budget is the declared budget the call draws on (Apply's;
// nil for reads): the call waits for a request of it first, and only its
// throttled answers empty it. fn is given the call's hold on its slots,
// which it may let go of while it waits (Call.Spend).
func (w *bulkStep) do(ctx context.Context, budget *steps.Budget, fn func(context.Context, *slotHold) (steps.Change, error)) (steps.Change, error) {
	s := w.b.s
	for {
		if err := s.await(ctx, w.backend, budget, 1); err != nil {
			return steps.Change{}, steps.Errorf(steps.Retryable, "waiting for %s's budget: %w", w.spec, err)
		}
		h := &slotHold{sem: s.sem(w.backend), kind: s.kindSem(w.backend, w.spec)}
		for {
			if err := s.waitPause(ctx, w.backend, w.spec); err != nil {
				return steps.Change{}, steps.Errorf(steps.Retryable, "waiting for %s's throttling to end: %w", w.spec, err)
			}
			if err := h.acquire(ctx); err != nil {
				return steps.Change{}, steps.Errorf(steps.Retryable, "%s: %w", w.spec, err)
			}
			// A throttled answer may have paused this kind while the
			// call waited for its slot: it waits again.
			if until, _ := s.pausedUntil(w.backend, w.spec); until.IsZero() {
				break
			}
			h.release()
		}
		ch, err := fn(ctx, h)
		after := steps.RetryAfterOf(err)
		if err == nil || steps.ClassOf(err) != steps.Retryable || after <= 0 {
			h.release()
			return ch, err
		}
		// The pause is in force before the slot is let go, so the call
		// next in line for it waits.
		s.throttle(w.backend, w.spec, budget, err, after)
		h.release()
		w.b.mu.Lock()
		w.b.throttled++
		w.b.mu.Unlock()
		if dl, ok := ctx.Deadline(); ok && !time.Now().Add(after).Before(dl) {
			return ch, err
		}
	}
}

// Retry calls fn, the subject's resolution or any other call outside its
// steps, again after each throttled answer (Retryable with a Retry-After),
// waiting the server's wait, for at most DefaultTimeout in all: a bulk
// saturates the backends' budgets on purpose, so a subject must not fail
// for meeting them. Any other error is returned at once.
func (b *BulkSubject) Retry(ctx context.Context, fn func(context.Context) error) error {
	deadline := time.Now().Add(DefaultTimeout)
	for {
		err := fn(ctx)
		after := steps.RetryAfterOf(err)
		if err == nil || steps.ClassOf(err) != steps.Retryable || after <= 0 || !time.Now().Add(after).Before(deadline) {
			return err
		}
		b.mu.Lock()
		b.throttled++
		b.mu.Unlock()
		b.s.mu.Lock()
		b.s.throttled++
		b.s.mu.Unlock()
		if err := sleepContext(ctx, after); err != nil {
			return err
		}
	}
}
