package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// DefaultMaxParallel is how many steps run at once when Executor.MaxParallel
// is not set.
const DefaultMaxParallel = 8

// Executor runs plans. It knows no backend: steps reach theirs through
// Conns. The zero value runs with the defaults; set Journal for any run
// that changes something real.
type Executor struct {
	// Conns are the open backend connections, by backend name. A step whose
	// backend has none fails without being called.
	Conns map[string]steps.Conn
	// MaxParallel bounds the steps running at once; 0 means
	// DefaultMaxParallel.
	MaxParallel int
	// Journal records the run. Nil runs unjournaled (tests, examples): no
	// record and no resume.
	Journal *Journal
	// Logger receives diagnostics; nil discards them. How runs and steps
	// end (failed, blocked, denied, cancelled included) is logged at Info:
	// the journal and OnEvent report those, and the CLI prints them, so a
	// Warn would say each failure twice on a terminal.
	Logger *slog.Logger
	// OnEvent, when set, sees every event once it is journaled, one at a
	// time, in journal order (a live display). It must not block for long:
	// steps wait for it.
	OnEvent func(Event)
	// Sleep waits between retries; nil waits on a real timer, returning
	// early with ctx's error. Tests record the waits instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now stamps events and results; nil is time.Now. Step timeouts use
	// the real clock regardless.
	Now func() time.Time
	// Rand returns a number in [0, 1) for backoff jitter; it is called
	// from parallel steps, so it must be safe for concurrent use. Nil is
	// math/rand/v2's Float64.
	Rand func() float64
	// BeforeStep, when set, is called before a step is started (before its
	// step_started line): a bulk run holds clean-up steps there until every
	// subject is contained (BulkSubject.BeforeStep), so their timeouts do
	// not run while they wait. An error (ctx's) leaves the step unstarted
	// and the run resumable.
	BeforeStep func(ctx context.Context, ps *PlannedStep) error
	// BulkID, when set, is journaled on run_started (RunRecord.BulkID):
	// the bulk run this run is part of.
	BulkID string
}

// node is a step's state during a run. While a step runs, only its
// goroutine touches res; the coordinator reads it after the goroutine
// hands the node back over a channel.
type node struct {
	ps      *PlannedStep
	res     StepResult
	done    bool
	running bool
	// released is set (by the coordinator) once the step's Apply has
	// succeeded: its dependents may start while it Verifies.
	released bool
	// prior is the journaled history of a step an earlier run started but
	// never ended; nil otherwise.
	prior *StepHistory
}

func (n *node) pending() bool { return !n.done && !n.running && n.res.Status == "" }

// run is one execution of a plan.
type run struct {
	x       *Executor
	plan    *Plan
	journal *Journal
	runID   string
	started time.Time
	nodes   []*node
	byID    map[string]*node
	// applied carries steps whose Apply succeeded, before their Verify.
	applied chan *node
	// order is the order ready steps are started in when slots are scarce
	// (see startOrder); nodes stay in plan order for results.
	order []*node
	// parent is the caller's context; ctx is also cancelled when the
	// journal fails, since no action may outrun its record.
	parent context.Context
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex // serialises emit; guards seq, jerr, abortedBy
	seq       int
	jerr      error
	abortedBy string
}

// Run executes a plan: it journals the run and the plan, then starts each
// step as soon as its needs are met (succeeded, satisfied, skipped by the
// policy, or failed with on_error: continue), up to MaxParallel at once.
// Each step is Checked; unless already satisfied it is Applied, retrying
// errors of class Retryable within its attempts and timeout, then Verified
// when it implements steps.Verifier (a Retryable Verify error is retried
// like Apply's, Verify alone: the change is made, reading it back again is
// enough; any other Verify error fails the step).
//
// A failure blocks the step's dependents (on_error: block), lets them run
// (continue), or stops new starts across the run (abort); other branches
// go on. A denied plan runs nothing. Cancelling ctx cancels the running
// steps, leaves the rest unstarted and the journal resumable.
//
// The error is for what kept the run from being carried out or recorded
// (an invalid plan, a failing journal); failed steps show in the Result.
func (x *Executor) Run(ctx context.Context, plan *Plan) (*Result, error) {
	r, err := x.newRun(ctx, plan, x.Journal, nil)
	if err != nil {
		return nil, err
	}
	defer r.cancel()
	if r.journal != nil {
		r.runID = r.journal.RunID()
	} else {
		r.runID = NewRunID()
	}
	r.started = x.now()
	rec := planRecord(plan)
	rec.BulkID = x.BulkID
	if _, err := r.emit(Event{Time: r.started, Type: EventRunStarted, RunID: r.runID, Run: rec}); err != nil {
		return nil, fmt.Errorf("run %s: %w", r.runID, err)
	}
	if len(plan.Deny) > 0 || len(plan.Warn) > 0 {
		if _, err := r.emit(Event{Type: EventDecision, Deny: plan.Deny, Warn: plan.Warn}); err != nil {
			return nil, fmt.Errorf("run %s: %w", r.runID, err)
		}
	}
	x.logger().Info("run started", "run", r.runID, "runbook", plan.Runbook.Name, "subject", subjectRef(plan))
	return r.execute()
}

// newRun checks the plan and seeds each step's state, from the journaled
// histories when resuming.
func (x *Executor) newRun(ctx context.Context, plan *Plan, j *Journal, state *ResumeState) (*run, error) {
	if plan == nil || plan.Runbook == nil {
		return nil, errors.New("execute: no plan")
	}
	r := &run{x: x, plan: plan, journal: j, parent: ctx, byID: map[string]*node{}}
	for i, ps := range plan.Steps {
		if ps == nil || ps.Def == nil {
			return nil, fmt.Errorf("plan: step %d has no definition", i+1)
		}
		id := ps.Def.ID
		if r.byID[id] != nil {
			return nil, fmt.Errorf("plan: step %s appears twice", id)
		}
		n := &node{ps: ps, res: StepResult{ID: id, Uses: ps.Def.Uses, Reason: ps.Reason}}
		r.nodes = append(r.nodes, n)
		r.byID[id] = n
		var h *StepHistory
		if state != nil {
			h = state.Steps[id]
		}
		switch {
		case !ps.Run:
			n.done, n.res.Status = true, StatusSkipped
		case h != nil && h.Status.Ended():
			n.done = true
			n.res.Status, n.res.Started, n.res.Ended = h.Status, h.Started, h.Ended
			n.res.Change = steps.Change{Satisfied: h.Status == StatusSatisfied || h.Status == StatusUnchecked,
				Unchecked: h.Status == StatusUnchecked, Summary: h.Summary, Details: h.Details}
			n.res.Error, n.res.Class, n.res.Permission, n.res.BlockedBy = h.Error, h.Class, h.Permission, h.BlockedBy
			if h.Error != "" {
				n.res.Err = errors.New(h.Error)
			}
			if h.Status == StatusFailed && ps.Def.OnError == Abort {
				r.abortedBy = id
			}
		case ps.Def.Spec == nil:
			return nil, fmt.Errorf("plan: step %s uses %s, which has no spec", id, ps.Def.Uses)
		case h != nil && h.Status == StatusInterrupted:
			n.prior = h
		}
	}
	for _, n := range r.nodes {
		for _, need := range n.ps.Def.Needs {
			if r.byID[need] == nil {
				return nil, fmt.Errorf("plan: step %s needs %s, which the plan does not have", n.ps.Def.ID, need)
			}
		}
	}
	r.order = startOrder(r.nodes, r.byID)
	r.ctx, r.cancel = context.WithCancel(ctx)
	return r, nil
}

// execute schedules the steps. The coordinator alone starts steps and
// settles blocked ones; finished steps come back over a channel. No wave
// barrier: a step starts the moment its last need ends.
func (r *run) execute() (*Result, error) {
	if r.plan.Denied() {
		return r.finishDenied()
	}
	limit := r.x.MaxParallel
	if limit <= 0 {
		limit = DefaultMaxParallel
	}
	finished := make(chan *node)
	// Buffered for every step, so a step never waits on the coordinator.
	r.applied = make(chan *node, len(r.nodes))
	running := 0
	for {
		if r.mayStart() {
			r.settle()
			for _, n := range r.order {
				if running >= limit || !r.mayStart() {
					break
				}
				if n.pending() && r.ready(n) {
					n.running = true
					running++
					go func() {
						r.runStep(n)
						finished <- n
					}()
				}
			}
		}
		if running == 0 {
			break
		}
		select {
		case n := <-finished:
			running--
			n.running = false
			n.done = n.res.Status.Ended()
		case n := <-r.applied:
			n.released = true
		}
	}
	return r.finish()
}

// startOrder ranks the steps for the moments when more are ready than
// --max-parallel allows: first those on the way to containment (a
// Containment step, or one a Containment step depends on, directly or not),
// then the longest chain of dependents first, then plan order. A
// rate-limited side step such as entra.confirm_compromised then waits
// behind the disables instead of holding the only slot; with enough slots
// the order changes nothing.
func startOrder(nodes []*node, byID map[string]*node) []*node {
	dependents := map[*node][]*node{}
	for _, n := range nodes {
		for _, need := range n.ps.Def.Needs {
			dependents[byID[need]] = append(dependents[byID[need]], n)
		}
	}
	type rank struct {
		containment bool
		height      int
	}
	ranks := map[*node]*rank{}
	var rankOf func(n *node) *rank
	rankOf = func(n *node) *rank {
		if r, ok := ranks[n]; ok {
			return r
		}
		r := &rank{containment: n.ps.Def.Spec != nil && n.ps.Def.Spec.Containment, height: 1}
		ranks[n] = r // the decoder refused cycles; this only stops a bad plan recursing
		for _, d := range dependents[n] {
			dr := rankOf(d)
			r.containment = r.containment || dr.containment
			r.height = max(r.height, dr.height+1)
		}
		return r
	}
	order := slices.Clone(nodes)
	slices.SortStableFunc(order, func(a, b *node) int {
		ra, rb := rankOf(a), rankOf(b)
		switch {
		case ra.containment != rb.containment:
			if ra.containment {
				return -1
			}
			return 1
		case ra.height != rb.height:
			return rb.height - ra.height
		}
		return 0
	})
	return order
}

// mayStart reports whether new steps may start: not cancelled, the journal
// working, not aborted.
func (r *run) mayStart() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ctx.Err() == nil && r.abortedBy == ""
}

// met reports whether a finished step lets its dependents start.
func met(n *node) bool {
	switch n.res.Status {
	case StatusSucceeded, StatusSatisfied, StatusUnchecked, StatusSkipped:
		return true
	case StatusFailed:
		return n.ps.Def.OnError == Continue
	}
	return false
}

// ready reports whether every need of n has ended and lets it start, or
// has applied its change and is reading it back.
func (r *run) ready(n *node) bool {
	for _, need := range n.ps.Def.Needs {
		dep := r.byID[need]
		if dep.released && !dep.done {
			continue // applied, verifying
		}
		if !dep.done || !met(dep) {
			return false
		}
	}
	return true
}

// settle blocks every pending step with a need that ended without letting
// it start, then their dependents in turn, journaling each.
func (r *run) settle() {
	for changed := true; changed; {
		changed = false
		for _, n := range r.nodes {
			if !n.pending() {
				continue
			}
			for _, need := range n.ps.Def.Needs {
				dep := r.byID[need]
				if !dep.done || met(dep) {
					continue
				}
				r.block(n, need, fmt.Sprintf("not started: need %s %s", need, dep.res.Status))
				changed = true
				break
			}
		}
	}
}

// block ends a step that never started.
func (r *run) block(n *node, by, why string) {
	n.done = true
	n.res.Status, n.res.BlockedBy, n.res.Ended = StatusBlocked, by, r.x.now()
	n.res.Err, n.res.Error = errors.New(why), why
	r.emit(Event{Time: n.res.Ended, Type: EventStepBlocked, Step: n.ps.Def.ID, BlockedBy: by, Error: why})
	r.x.logger().Info("step blocked", "run", r.runID, "step", n.ps.Def.ID, "need", by)
}

// runStep runs one step: journal the start, Check, Apply, Verify.
func (r *run) runStep(n *node) {
	def := n.ps.Def
	res := &n.res
	if r.x.BeforeStep != nil {
		if err := r.x.BeforeStep(r.ctx, n.ps); err != nil {
			res.Status, res.Err, res.Error = StatusCancelled, err, "not started: "+err.Error()
			return
		}
	}
	res.Started = r.x.now()
	res.Resumed = n.prior != nil
	if _, err := r.emit(Event{Time: res.Started, Type: EventStepStarted, Step: def.ID, Resumed: res.Resumed}); err != nil {
		// Not journaled, so not started: the run stops on the journal error.
		res.Status, res.Err, res.Error = StatusCancelled, err, "not started: "+err.Error()
		return
	}
	r.x.logger().Info("step started", "run", r.runID, "step", def.ID, "uses", def.Uses, "resumed", res.Resumed)
	defer func() {
		// A plugin's bug fails its step, not the run: other branches go on
		// and the journal says what happened.
		if p := recover(); p != nil {
			r.fail(n, steps.Errorf(steps.Other, "step %s panicked: %v", def.ID, p))
		}
	}()
	impl, conn, err := r.implementation(def)
	if err != nil {
		r.fail(n, err)
		return
	}
	_, _, timeout := limits(def)
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	call := &steps.Call{
		StepID:      def.ID,
		Subject:     r.plan.Subject,
		With:        n.ps.With,
		Conn:        conn,
		RunStarted:  r.started,
		RunID:       r.runID,
		RequestedBy: r.plan.Request.RequestedBy,
		Ticket:      r.plan.Request.Ticket,
		Reason:      r.plan.Request.Reason,
	}
	if n.prior != nil {
		call.Resumed = true
		call.Prior = slices.Clone(n.prior.Progress)
	}
	call.Progress = func(message string, details map[string]any) {
		safe := safeDetails(details)
		// A step cannot act on a journal failure; emit cancels the run's
		// context on one, which the step's next call sees.
		r.emit(Event{Type: EventStepProgress, Step: def.ID, Message: message, Details: safe})
		// A retried Apply must see what the failed attempt already did,
		// exactly as a resumed one sees the journal: progress is Prior as
		// soon as it is recorded. Steps call Progress from Apply's own
		// goroutine, so no lock is needed.
		call.Prior = append(call.Prior, steps.Progress{Message: message, Details: safe})
	}
	check, err := r.call(ctx, n, phaseCheck, func(ctx context.Context) (steps.Change, error) { return impl.Check(ctx, call) })
	if err != nil {
		r.end(n, err)
		return
	}
	if check.Satisfied {
		res.Status, res.Change, res.Ended = StatusSatisfied, check, r.x.now()
		if check.Unchecked {
			res.Status = StatusUnchecked
		}
		r.emit(Event{Time: res.Ended, Type: EventStepSatisfied, Step: def.ID, Summary: check.Summary, Details: safeDetails(check.Details), Unchecked: check.Unchecked})
		r.x.logger().Info("step satisfied", "run", r.runID, "step", def.ID, "summary", check.Summary)
		return
	}
	change, err := r.call(ctx, n, phaseApply, func(ctx context.Context) (steps.Change, error) { return impl.Apply(ctx, call) })
	if err != nil {
		r.end(n, err)
		return
	}
	res.Change = change
	if v, ok := impl.(steps.Verifier); ok {
		// The change is made: dependents need not wait for it to be read
		// back, a round trip or two on the containment path. A Verify
		// that then fails fails this step; what already started goes on,
		// as a failure elsewhere lets other branches go on.
		r.emit(Event{Type: EventStepApplied, Step: def.ID, Summary: change.Summary})
		r.applied <- n
		_, err := r.call(ctx, n, phaseVerify, func(ctx context.Context) (steps.Change, error) { return steps.Change{}, v.Verify(ctx, call) })
		if err != nil {
			r.end(n, err)
			return
		}
	}
	res.Status, res.Ended = StatusSucceeded, r.x.now()
	r.emit(Event{Time: res.Ended, Type: EventStepSucceeded, Step: def.ID, Attempt: res.Attempts,
		Summary: change.Summary, Details: safeDetails(change.Details)})
	r.x.logger().Info("step succeeded", "run", r.runID, "step", def.ID, "summary", change.Summary)
}

// implementation returns the step's implementation and its backend's
// connection, or why it cannot be called.
func (r *run) implementation(def *StepDef) (steps.Step, steps.Conn, error) {
	spec := def.Spec
	var impl steps.Step
	if spec.New != nil {
		impl = spec.New()
	}
	if impl == nil {
		return nil, nil, steps.Errorf(steps.Invalid, "step %s has no implementation (%s exists only as a spec)", def.ID, spec.Name)
	}
	conn := r.x.Conns[spec.Backend()]
	if conn == nil {
		return nil, nil, steps.Errorf(steps.Invalid, "step %s: backend %s is not connected", def.ID, spec.Backend())
	}
	return impl, conn, nil
}

// end finishes a step whose call failed: interrupted by the run's
// cancellation (no end event: a resume Checks it again), or failed.
func (r *run) end(n *node, err error) {
	if errors.Is(err, errInterrupted) {
		n.res.Status, n.res.Err, n.res.Error = StatusInterrupted, err, err.Error()
		r.x.logger().Info("step interrupted", "run", r.runID, "step", n.ps.Def.ID)
		return
	}
	r.fail(n, err)
}

// fail ends a step as failed. With on_error: abort the run stops starting
// steps before the failure is journaled, so no step starts after it.
func (r *run) fail(n *node, err error) {
	def := n.ps.Def
	err = withPermission(err)
	res := &n.res
	res.Status, res.Err, res.Error = StatusFailed, err, err.Error()
	res.Class, res.Permission = steps.ClassOf(err).String(), steps.PermissionOf(err)
	res.Ended = r.x.now()
	if def.OnError == Abort {
		r.mu.Lock()
		if r.abortedBy == "" {
			r.abortedBy = def.ID
		}
		r.mu.Unlock()
	}
	r.emit(Event{Time: res.Ended, Type: EventStepFailed, Step: def.ID, Attempt: res.Attempts,
		Error: res.Error, Class: res.Class, Permission: res.Permission})
	r.x.logger().Info("step failed", "run", r.runID, "step", def.ID, "error", res.Error)
}

// finish ends the steps that never started and journals the outcome.
func (r *run) finish() (*Result, error) {
	r.mu.Lock()
	abortedBy, jerr := r.abortedBy, r.jerr
	r.mu.Unlock()
	cancelled := false
	for _, n := range r.nodes {
		switch {
		case n.done:
		case n.res.Status == StatusInterrupted || n.res.Status == StatusCancelled:
			cancelled = true
		case jerr != nil || r.parent.Err() != nil:
			n.res.Status = StatusCancelled
			n.res.Error = "not started: the run was cancelled"
			cancelled = true
		case abortedBy != "":
			n.done = true
			why := fmt.Sprintf("not started: the run was aborted after step %s failed", abortedBy)
			n.res.Status, n.res.BlockedBy, n.res.Ended = StatusAborted, abortedBy, r.x.now()
			n.res.Err, n.res.Error = errors.New(why), why
			r.emit(Event{Time: n.res.Ended, Type: EventStepBlocked, Step: n.ps.Def.ID, BlockedBy: abortedBy, Aborted: true, Error: why})
		default:
			// Only a needs cycle leaves a step waiting with nothing running;
			// the runbook decoder refuses those, so this is a bug's safety net.
			r.block(n, "", "not started: its needs never ended (a cycle?)")
		}
	}
	res := r.result()
	res.assess(r.plan, jerr != nil || cancelled)
	if jerr != nil {
		return res, fmt.Errorf("run %s stopped: %w; the journal is intact up to the failure: fix it, then resume the run", r.runID, jerr)
	}
	if cancelled {
		r.x.logger().Info("run cancelled", "run", r.runID)
		if _, err := r.emit(Event{Time: res.Ended, Type: EventRunInterrupted, RunID: r.runID}); err != nil {
			return res, fmt.Errorf("run %s: %w", r.runID, err)
		}
		return res, nil
	}
	// What remains, read after every step ended: cleanup's work is done,
	// containment's time is already counted.
	ictx, cancel := context.WithTimeout(r.parent, inventoryTimeout)
	residual, took := Conns(r.x.Conns).Inventory(ictx, r.plan.Subject)
	cancel()
	if took {
		res.Residual = residual
		if _, err := r.emit(Event{Type: EventResidual, Residual: residual}); err != nil {
			return res, fmt.Errorf("run %s: %w", r.runID, err)
		}
	}
	r.x.logger().Info("run finished", "run", r.runID, "outcome", res.Outcome)
	if _, err := r.emit(Event{Time: res.Ended, Type: EventRunFinished, Outcome: res.Outcome,
		Containment: JournalDuration(res.Containment)}); err != nil {
		return res, fmt.Errorf("run %s: %w", r.runID, err)
	}
	return res, nil
}

// finishDenied ends a denied run: nothing ran.
func (r *run) finishDenied() (*Result, error) {
	for _, n := range r.nodes {
		if n.res.Status == "" {
			n.done = true
			n.res.Status, n.res.Error = StatusDenied, "not run: the policy denied the run"
		}
	}
	res := r.result()
	res.assess(r.plan, false)
	r.x.logger().Info("run denied", "run", r.runID, "reasons", r.plan.Deny)
	if _, err := r.emit(Event{Time: res.Ended, Type: EventRunFinished, Outcome: OutcomeDenied}); err != nil {
		return res, fmt.Errorf("run %s: %w", r.runID, err)
	}
	return res, nil
}

// result assembles the Result from the steps' states.
func (r *run) result() *Result {
	res := &Result{RunID: r.runID, Started: r.started, Ended: r.x.now()}
	for _, n := range r.nodes {
		res.Steps = append(res.Steps, n.res)
		spec := n.ps.Def.Spec
		switch n.res.Status {
		case StatusSucceeded, StatusSatisfied, StatusFailed:
			switch {
			case n.res.Ended.IsZero():
			case spec != nil && spec.Containment:
				res.Containment = max(res.Containment, n.res.Ended.Sub(r.started))
			default:
				res.Cleanup = max(res.Cleanup, n.res.Ended.Sub(r.started))
			}
		}
	}
	return res
}

// emit journals an event and shows it to OnEvent, one event at a time so
// the display sees journal order. A journal failure is sticky and cancels
// the run: no action may start without its record.
func (r *run) emit(ev Event) (Event, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jerr != nil {
		return ev, r.jerr
	}
	if ev.Time.IsZero() {
		ev.Time = r.x.now()
	}
	if r.journal != nil {
		var err error
		if ev, err = r.journal.Append(ev); err != nil {
			r.jerr = err
			r.cancel()
			r.x.logger().Error("journal failed; stopping the run", "run", r.runID, "error", err)
			return ev, err
		}
	} else {
		r.seq++
		ev.Seq = r.seq
		ev.Time = ev.Time.UTC()
	}
	if r.x.OnEvent != nil {
		r.x.OnEvent(ev)
	}
	return ev, nil
}

func (x *Executor) now() time.Time {
	if x.Now != nil {
		return x.Now()
	}
	return time.Now()
}

func (x *Executor) logger() *slog.Logger {
	if x.Logger != nil {
		return x.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (x *Executor) rand() func() float64 {
	if x.Rand != nil {
		return x.Rand
	}
	return rand.Float64
}

func (x *Executor) sleep() func(context.Context, time.Duration) error {
	if x.Sleep != nil {
		return x.Sleep
	}
	return sleepContext
}

// sleepContext waits d on a real timer, or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func subjectRef(p *Plan) string {
	if p.Subject == nil {
		return ""
	}
	return p.Subject.Ref
}

// planRecord is the run_started record of a plan: the full plan with its
// effective limits, so a resume rebuilds it without deciding again.
func planRecord(p *Plan) *RunRecord {
	rb := p.Runbook
	rec := &RunRecord{Runbook: rb.Name, Title: rb.Title, Scenario: rb.Scenario, File: rb.File, Digest: rb.Digest,
		PolicyDigest: p.PolicyDigest, Environment: p.Environment, Request: p.Request}
	if p.Subject != nil {
		// Identities and gaps hold identifiers and reasons, never a
		// secret: a resume checks who it acts on against them, and
		// judges containment by the same gaps.
		rec.Subject.Ref, rec.Subject.Identities, rec.Subject.Gaps = p.Subject.Ref, p.Subject.Identities, p.Subject.Gaps
		if len(p.Subject.Facts) > 0 {
			rec.Subject.Facts = map[string]map[string]any{}
			for b, facts := range p.Subject.Facts {
				rec.Subject.Facts[b] = safeDetails(facts)
			}
		}
	}
	for _, ps := range p.Steps {
		d := ps.Def
		attempts, maxWait, timeout := limits(d)
		onError := d.OnError
		if onError == "" {
			onError = Block
		}
		pr := PlannedRecord{ID: d.ID, Uses: d.Uses, Run: ps.Run, Reason: ps.Reason, Needs: d.Needs,
			OnError: onError, Retry: RetryRecord{Attempts: attempts, MaxWait: JournalDuration(maxWait)},
			Timeout: JournalDuration(timeout), Tags: d.Tags}
		if len(ps.With) > 0 {
			pr.With = ValuesJSON(ps.With)
		}
		rec.Steps = append(rec.Steps, pr)
	}
	return rec
}
