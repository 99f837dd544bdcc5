package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// loopingPolicy never ends on its own: 10^10 iterations.
const loopingPolicy = `package revoke

warn contains "big" if {
	count([1 | some i in numbers.range(1, 100000); some j in numbers.range(1, 100000)]) > 0
}
`

// boundCase is one decision of TestEvaluationBounds and what it must give.
type boundCase struct {
	name string
	// slow decides with loopingPolicy, else with the built-in policies.
	slow    bool
	timeout time.Duration
	// cancelAfter cancels the caller's context that long into the
	// decision; zero leaves it alone.
	cancelAfter time.Duration
	// want is the error's text, or its start when it ends in "…"; empty
	// wants the built-in decision.
	want string
}

// TestEvaluationBounds: a decision is stopped at its policy's time limit
// or when its caller gives up, whichever comes first, and not before;
// the bounds are pooled, so the cases run in one goroutine, in an order
// that hands each a bound the one before used: a bound re-armed with
// another limit must still fire at it, and one that fired (or whose
// caller cancelled) must never stop a later decision.
func TestEvaluationBounds(t *testing.T) {
	rb := policyTestRunbook(t)
	fast := mustPolicy(t, BuiltinPolicies())
	slow := mustPolicy(t, regoSources("loop.rego", loopingPolicy))
	input := PolicyInput(rb, contosoFacts, syncedSubject(), Request{})
	const timedOut = "eval_cancel_error: policy evaluation took longer than "
	cases := []boundCase{
		{name: "a decision within a minute's limit is made", timeout: time.Minute},
		{name: "a looping policy is stopped at 50ms, on a bound last armed for a minute",
			slow: true, timeout: 50 * time.Millisecond, want: timedOut + "50ms: a rule iterates over too much"},
		{name: "a decision after a bound fired is not cancelled", timeout: time.Minute},
		{name: "a decision after a bound fired is not cancelled, twice", timeout: time.Minute},
		{name: "a looping policy is stopped at 200ms", slow: true, timeout: 200 * time.Millisecond,
			want: timedOut + "200ms: a rule iterates over too much"},
		{name: "a looping policy is stopped when its caller cancels, long before its limit",
			slow: true, timeout: time.Minute, cancelAfter: 100 * time.Millisecond,
			want: "policy evaluation cancelled: context canceled"},
		{name: "a decision after a caller cancelled is not cancelled", timeout: time.Minute},
		{name: "a looping policy is stopped at 50ms after a cancelled one",
			slow: true, timeout: 50 * time.Millisecond, want: timedOut + "50ms: a rule iterates over too much"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			p := fast
			if tt.slow {
				p = slow
			}
			p.Timeout = tt.timeout
			// Should the bound not work, the test fails rather than
			// running for 10^10 iterations.
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			if tt.cancelAfter > 0 {
				stop := time.AfterFunc(tt.cancelAfter, cancel)
				defer stop.Stop()
			}
			start := time.Now()
			d, err := p.Decide(ctx, input)
			took := time.Since(start)
			if tt.want == "" {
				if err != nil || len(d.Skip) != 1 || d.Skip["reset-entra-password"] == "" || d.Denied() {
					t.Fatalf("decision %+v, %v: want reset-entra-password skipped and nothing denied", d, err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			stoppedAt := tt.timeout
			if tt.cancelAfter > 0 {
				stoppedAt = tt.cancelAfter
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error %v does not wrap context.Canceled", err)
				}
			}
			// Not before; and soon after (the evaluator polls the flag at
			// every step; the slack is for a loaded machine and -race).
			if took < stoppedAt || took > stoppedAt+3*time.Second {
				t.Errorf("stopped after %s, want %s (up to 3s later)", took, stoppedAt)
			}
		})
	}
}

// TestEvaluationBoundsConcurrently: decisions that time out and decisions
// that do not, at once from several goroutines (run with -race), each get
// their own outcome: a bound is never shared by two evaluations.
func TestEvaluationBoundsConcurrently(t *testing.T) {
	rb := policyTestRunbook(t)
	fast := mustPolicy(t, BuiltinPolicies())
	fast.Timeout = time.Minute
	slow := mustPolicy(t, regoSources("loop.rego", loopingPolicy))
	slow.Timeout = 20 * time.Millisecond
	input := PolicyInput(rb, contosoFacts, syncedSubject(), Request{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 6 {
		wg.Go(func() {
			for range 4 {
				if d, err := fast.Decide(t.Context(), input); err != nil || d.Skip["reset-entra-password"] == "" {
					errs <- errors.New("fast decision: " + outcome(err))
				}
				if _, err := slow.Decide(t.Context(), input); err == nil ||
					!strings.HasPrefix(err.Error(), "eval_cancel_error: policy evaluation took longer than 20ms") {
					errs <- errors.New("slow decision: " + outcome(err))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// outcome is an error's text, or "no error".
func outcome(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// TestEvaluationBoundAllocatesNothing: bounding an evaluation by the
// policy's time limit costs no allocation beyond OPA's own evaluation
// handed a ready-made Cancel (and, in both, the input's option). A
// context.WithTimeout per evaluation cost eight: its timer and context,
// and the Cancel, channel and goroutine OPA makes to watch a context.
// The caller's context here never ends; one that can costs a
// context.AfterFunc registration more.
func TestEvaluationBoundAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop bounds on purpose")
	}
	p, rb, subject, req := decisionBench(t)
	input, err := inputValue(mustRunbookValue(t, rb), contosoFacts, subject, req, Protection(contosoFacts, subject))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cancel := topdown.NewCancel()
	opts := []rego.EvalOption{rego.EvalExternalCancel(cancel), rego.EvalMetrics(metrics.NoOp()), nil}
	bare := testing.AllocsPerRun(200, func() {
		opts[2] = rego.EvalParsedInput(input)
		if _, err := p.decision.Eval(ctx, opts...); err != nil {
			t.Fatal(err)
		}
	})
	bounded := testing.AllocsPerRun(200, func() {
		if _, err := p.eval(ctx, p.decision, input); err != nil {
			t.Fatal(err)
		}
	})
	if bounded != bare {
		t.Errorf("a bounded evaluation allocates %.0f times, OPA's own with a ready Cancel %.0f: want the same", bounded, bare)
	}
}
