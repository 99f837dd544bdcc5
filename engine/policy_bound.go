package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// evalBound stops one evaluation at the policy's time limit, or when the
// caller's context ends, through OPA's own cancellation flag (rego's
// EvalExternalCancel), which the evaluator polls at every step.
//
// It replaces a context.WithTimeout per evaluation: OPA starts a goroutine
// for every evaluation it is not handed a Cancel for, to wait on the
// context's Done channel, so each decision paid for a timer context, a
// channel, that goroutine and its wake-up on the other core. A bound is
// instead a runtime timer (time.AfterFunc: the Go runtime's one timer heap
// is the watchdog, and nothing runs unless the limit is reached) and, only
// when the caller's context can end at all, a context.AfterFunc, which
// registers a callback rather than starting a goroutine. Bounds are pooled
// and their timer re-armed, so a decision allocates nothing for its
// bound; a bound whose callback ran, or may be running, is never reused.
type evalBound struct {
	// cancelled is what OPA polls (Cancelled); timedOut tells the time
	// limit from the caller's context, and is set before cancelled so
	// that an evaluation stopped by the timer always sees it.
	cancelled, timedOut atomic.Bool
	timer               *time.Timer
	// opts are the options of every evaluation under this bound, the
	// last one the input, set per evaluation and cleared after it, so a
	// pooled bound does not keep an input alive.
	opts [3]rego.EvalOption
}

// Cancel stops the evaluation (topdown.Cancel).
func (b *evalBound) Cancel() { b.cancelled.Store(true) }

// Cancelled reports whether the evaluation must stop (topdown.Cancel).
func (b *evalBound) Cancelled() bool { return b.cancelled.Load() }

// expire is the timer's callback: the time limit was reached.
func (b *evalBound) expire() {
	b.timedOut.Store(true)
	b.cancelled.Store(true)
}

var _ topdown.Cancel = (*evalBound)(nil)

var evalBounds = sync.Pool{New: func() any {
	b := &evalBound{}
	// No metrics: nothing reads them, and OPA would otherwise make a
	// fresh set and time the evaluation on every call.
	b.opts[0], b.opts[1] = rego.EvalExternalCancel(b), rego.EvalMetrics(metrics.NoOp())
	return b
}}

// evalBounded evaluates q on input, stopped after limit or when ctx ends.
// timedOut reports that the limit stopped it.
func evalBounded(ctx context.Context, q rego.PreparedEvalQuery, input rego.EvalOption, limit time.Duration) (rs rego.ResultSet, timedOut bool, err error) {
	b := evalBounds.Get().(*evalBound)
	if b.timer == nil {
		b.timer = time.AfterFunc(limit, b.expire)
	} else {
		b.timer.Reset(limit)
	}
	// context.Background and the like never end: nothing to watch.
	stopWatching := func() bool { return true }
	if ctx.Done() != nil {
		stopWatching = context.AfterFunc(ctx, b.Cancel)
	}
	b.opts[2] = input
	rs, err = q.Eval(ctx, b.opts[:]...)
	b.opts[2] = nil
	// Both stopped before their callbacks ran: the flags were never set
	// and nothing will touch the bound again, so it can be reused.
	timerStopped := b.timer.Stop()
	watchStopped := stopWatching()
	timedOut = b.timedOut.Load()
	if timerStopped && watchStopped {
		evalBounds.Put(b)
	}
	return rs, timedOut, err
}
