package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

func TestRetryBackoffDoublesUpToMaxWait(t *testing.T) {
	half := func() float64 { return 0.5 }
	for _, tc := range []struct {
		n       int
		maxWait time.Duration
		rnd     func() float64
		want    time.Duration
	}{
		{1, 30 * time.Second, half, 500 * time.Millisecond},
		{2, 30 * time.Second, half, time.Second},
		{5, 30 * time.Second, half, 8 * time.Second},
		{6, 30 * time.Second, half, 15 * time.Second},  // 32s capped to 30s
		{40, 30 * time.Second, half, 15 * time.Second}, // no shift overflow
		{3, time.Second, half, 500 * time.Millisecond},
		{3, 30 * time.Second, func() float64 { return 0 }, 0},
	} {
		if got := backoff(tc.n, tc.maxWait, tc.rnd); got != tc.want {
			t.Errorf("backoff(%d, %s) = %s, want %s", tc.n, tc.maxWait, got, tc.want)
		}
	}
}

func TestRetryBackoffJitterStaysBelowTheCeiling(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 200 {
		d := backoff(3, 30*time.Second, rand.Float64)
		if d < 0 || d >= 4*time.Second {
			t.Fatalf("backoff(3) = %s, want in [0, 4s)", d)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Errorf("%d distinct waits in 200 draws: no jitter?", len(seen))
	}
}

func TestRetryLimitsFillDefaults(t *testing.T) {
	for _, tc := range []struct {
		def              StepDef
		attempts         int
		maxWait, timeout time.Duration
	}{
		{StepDef{}, DefaultAttempts, DefaultMaxWait, DefaultTimeout},
		{StepDef{Retry: Retry{Attempts: 1, MaxWait: time.Second}, Timeout: time.Minute}, 1, time.Second, time.Minute},
	} {
		a, w, to := limits(&tc.def)
		if a != tc.attempts || w != tc.maxWait || to != tc.timeout {
			t.Errorf("limits(%+v) = %d, %s, %s", tc.def, a, w, to)
		}
	}
}

func TestRetryDurationsReadWell(t *testing.T) {
	for d, want := range map[time.Duration]string{
		10 * time.Minute: "10m", time.Hour: "1h", 90 * time.Minute: "1h30m", 90 * time.Second: "1m30s",
		50 * time.Millisecond: "50ms", 2 * time.Second: "2s", 0: "0s",
	} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestRetryWithPermissionNamesItOnce(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{steps.ForbiddenNeeding(errors.New("denied"), "Mail.Send"), "denied (needs Mail.Send)"},
		{opaque{steps.ForbiddenNeeding(errors.New("denied"), "Mail.Send")}, "access denied (needs Mail.Send)"},
		{steps.Classify(steps.Forbidden, errors.New("denied")), "denied"},
		{errors.New("plain"), "plain"},
	} {
		if got := errText(tc.err); got != tc.want {
			t.Errorf("errText(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// A cancellation during a retry wait interrupts the step: no end event, so
// a resume Checks it again.
func TestRetryInterruptedWhileWaiting(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	w.sc("s").applyErrs = []error{steps.Classify(steps.Retryable, errors.New("throttled"))}
	j := newJournal(t, t.TempDir())
	x, _ := testExecutor(w, j)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	x.Sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	res, err := x.Run(ctx, testPlan(t, reg, ts{id: "s"}))
	if err != nil {
		t.Fatal(err)
	}
	s := res.Step("s")
	if res.Outcome != OutcomeCancelled || s.Status != StatusInterrupted || !errors.Is(s.Err, errInterrupted) {
		t.Errorf("outcome %s, s %s %v", res.Outcome, s.Status, s.Err)
	}
	want := []string{"run_started", "step_started:s", "step_attempt:s", "step_attempt:s", "run_interrupted"}
	if got := eventTypes(t, j.Path()); !slices.Equal(got, want) {
		t.Errorf("journal %v, want %v", got, want)
	}
	log, _ := ReadJournal(j.Path())
	if last := log.Events[3]; !last.Interrupted || last.Error != "interrupted while waiting to retry" || last.Phase != "apply" {
		t.Errorf("interrupted attempt %+v", last)
	}
	if log.Events[2].RetryWait != JournalDuration(500*time.Millisecond) {
		t.Errorf("journaled wait %s", time.Duration(log.Events[2].RetryWait))
	}
}
