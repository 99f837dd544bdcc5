package main

import (
	"testing"
	"time"

	"github.com/revoke-dev/revoke/engine"
)

// The summary's first line never gives the run's length as the time to
// containment: a run contained in 20ms whose clean-up took two seconds
// once read "contained in 2.01s".
func TestRunHeadline(t *testing.T) {
	start := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	end := start.Add(2010 * time.Millisecond)
	tests := []struct {
		name string
		res  engine.Result
		want string
	}{
		{"contained", engine.Result{RunID: "R", Outcome: engine.OutcomeContained, Contained: true, Containment: 20 * time.Millisecond, Started: start, Ended: end},
			"R contained in 20ms; the run took 2.01s"},
		{"contained, clean-up failed", engine.Result{RunID: "R", Outcome: engine.OutcomeContainedCleanupFailed, Contained: true, Containment: 88 * time.Millisecond, Started: start, Ended: end},
			"R contained in 88ms, a clean-up step failed; the run took 2.01s"},
		{"not contained", engine.Result{RunID: "R", Outcome: engine.OutcomeNotContained, Started: start, Ended: end},
			"R not contained in the 2.01s the run took"},
		{"cancelled after containment", engine.Result{RunID: "R", Outcome: engine.OutcomeCancelled, Contained: true, Containment: 14 * time.Millisecond, Started: start, Ended: end},
			"R cancelled after 2.01s, before every step ended; contained in 14ms"},
		{"cancelled before containment", engine.Result{RunID: "R", Outcome: engine.OutcomeCancelled, Started: start, Ended: end},
			"R cancelled after 2.01s, before every step ended; not contained"},
		{"a runbook without containment", engine.Result{RunID: "R", Outcome: engine.OutcomeSucceeded, Started: start, Ended: end},
			"R succeeded in 2.01s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := runHeadline(&tc.res); got != tc.want {
				t.Errorf("%q, want %q", got, tc.want)
			}
		})
	}
}
