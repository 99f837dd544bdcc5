package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// The phases of a step, as journaled on step_attempt.
const (
	phaseCheck  = "check"
	phaseApply  = "apply"
	phaseVerify = "verify"
)

// BaseBackoff is the ceiling of the first retry's wait. It doubles with
// every failed attempt up to the step's Retry.MaxWait.
const BaseBackoff = time.Second

// errInterrupted marks a call cut short because the run was cancelled: the
// step did not end, and a resume Checks it again.
var errInterrupted = errors.New("interrupted")

// limits returns a step's retry bounds and timeout, defaults filled for
// the zero values a hand-built StepDef may carry.
func limits(def *StepDef) (attempts int, maxWait, timeout time.Duration) {
	attempts, maxWait, timeout = def.Retry.Attempts, def.Retry.MaxWait, def.Timeout
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return attempts, maxWait, timeout
}

// backoff returns the wait after the n-th failed attempt: "full jitter",
// uniformly random below min(maxWait, BaseBackoff·2^(n-1)). Parallel steps
// throttled by the same server at once then spread their retries instead
// of returning together. rnd returns a number in [0, 1).
func backoff(n int, maxWait time.Duration, rnd func() float64) time.Duration {
	ceil := maxWait
	// Beyond 2^31 s the shift would overflow; every sane MaxWait is far lower.
	if n >= 1 && n <= 32 {
		if c := BaseBackoff << (n - 1); c < maxWait {
			ceil = c
		}
	}
	return time.Duration(rnd() * float64(ceil))
}

// call runs one phase of a step, retrying errors of class Retryable: after
// a backoff, or after the server's Retry-After, which is honoured even
// beyond MaxWait because calling back sooner only earns another refusal.
// It gives up when the attempts run out or the next wait would pass the
// step's deadline (ctx's), failing at once rather than sleeping into a
// timeout. Any other class fails at once. Every failed call is journaled
// as a step_attempt, with the wait when it is retried.
//
// The returned error names the phase and keeps the step's error in its
// chain, so its class and permission survive. A run cancellation yields an
// error wrapping errInterrupted.
func (r *run) call(ctx context.Context, n *node, phase string, fn func(context.Context) (steps.Change, error)) (steps.Change, error) {
	def := n.ps.Def
	attempts, maxWait, timeout := limits(def)
	for i := 1; ; i++ {
		if phase == phaseApply {
			n.res.Attempts++
		}
		ch, err := fn(ctx)
		if err == nil {
			return ch, nil
		}
		ev := Event{Type: EventStepAttempt, Step: def.ID, Phase: phase, Attempt: i,
			Error: errText(err), Class: steps.ClassOf(err).String(), Permission: steps.PermissionOf(err)}
		switch {
		case r.ctx.Err() != nil:
			ev.Interrupted = true
			r.emit(ev)
			return ch, fmt.Errorf("%s: %w: %w", phase, errInterrupted, err)
		case ctx.Err() != nil:
			r.emit(ev)
			return ch, fmt.Errorf("%s: timed out after %s: %w", phase, fmtDuration(timeout), err)
		case steps.ClassOf(err) != steps.Retryable:
			r.emit(ev)
			return ch, fmt.Errorf("%s: %w", phase, err)
		case i >= attempts:
			r.emit(ev)
			return ch, fmt.Errorf("%s: gave up after %d attempts: %w", phase, i, err)
		}
		wait := backoff(i, maxWait, r.x.rand())
		retryAfter := steps.RetryAfterOf(err)
		if retryAfter > 0 {
			wait = retryAfter
		}
		// Deadlines are the real clock's (context.WithTimeout), whatever
		// Executor.Now says.
		if dl, ok := ctx.Deadline(); ok && !time.Now().Add(wait).Before(dl) {
			r.emit(ev)
			if retryAfter > 0 {
				return ch, fmt.Errorf("%s: %w: retry-after %s exceeds the step timeout of %s",
					phase, err, fmtDuration(retryAfter), fmtDuration(timeout))
			}
			return ch, fmt.Errorf("%s: %w: no time left to retry within the step timeout of %s",
				phase, err, fmtDuration(timeout))
		}
		ev.RetryWait = JournalDuration(wait)
		r.emit(ev)
		if serr := r.x.sleep()(ctx, wait); serr != nil || ctx.Err() != nil {
			if r.ctx.Err() != nil {
				r.emit(Event{Type: EventStepAttempt, Step: def.ID, Phase: phase, Attempt: i, Interrupted: true,
					Error: "interrupted while waiting to retry"})
				return ch, fmt.Errorf("%s: %w while waiting to retry: %w", phase, errInterrupted, err)
			}
			return ch, fmt.Errorf("%s: timed out after %s: %w", phase, fmtDuration(timeout), err)
		}
	}
}

// permissionError makes sure a Forbidden error's message names the missing
// permission, even when a wrapper's message dropped it.
type permissionError struct {
	err        error
	permission string
}

func (e *permissionError) Error() string { return fmt.Sprintf("%v (needs %s)", e.err, e.permission) }
func (e *permissionError) Unwrap() error { return e.err }

// withPermission returns err, wrapped so that its message names the
// permission steps.PermissionOf finds in it when the message does not.
func withPermission(err error) error {
	p := steps.PermissionOf(err)
	if p == "" || strings.Contains(err.Error(), p) {
		return err
	}
	return &permissionError{err: err, permission: p}
}

// errText is an error's message as journaled and shown.
func errText(err error) string { return withPermission(err).Error() }

// fmtDuration renders a duration without trailing zero units: 10m, 1h,
// 1m30s, 50ms.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
