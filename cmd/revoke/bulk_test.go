package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/engine"
)

// The live display's text: contained, the other columns once they have a
// subject, and what remains.
func TestBulkProgressStatus(t *testing.T) {
	var out bytes.Buffer
	bp := newBulkProgress(context.Background(), &out, 5, engine.NewBulkScheduler(engine.BulkConfig{}))
	defer bp.stop()
	now := time.Now()
	for _, tc := range []struct {
		ended, want string
	}{
		{"", "contained 0 · remaining 5"},
		{bulkContained, "contained 1 · remaining 4"},
		{bulkDenied, "contained 1 · denied 1 · remaining 3"},
		{bulkFailed, "contained 1 · failed 1 · denied 1 · remaining 2"},
		{bulkSkipped, "contained 1 · failed 1 · denied 1 · skipped 1 · remaining 1"},
	} {
		if tc.ended != "" {
			bp.ended(tc.ended)
		}
		if got := bp.status(now); got != tc.want {
			t.Errorf("after %q: %q, want %q", tc.ended, got, tc.want)
		}
	}
}

// The exit code is the worst subject's: failed (or interrupted) over
// denied over contained with its clean-up failed over contained.
func TestBulkExitCode(t *testing.T) {
	contained := &bulkResult{Status: bulkContained, Outcome: engine.OutcomeContained}
	cleanup := &bulkResult{Status: bulkContained, Outcome: engine.OutcomeContainedCleanupFailed}
	denied := &bulkResult{Status: bulkDenied, Outcome: engine.OutcomeDenied}
	failed := &bulkResult{Status: bulkFailed}
	samePerson := &bulkResult{Status: bulkSkipped, Error: "the same person as line 2: one run per person"}
	notStarted := &bulkResult{Status: bulkSkipped, Error: "not started: the bulk was interrupted"}
	for _, tc := range []struct {
		name    string
		results []*bulkResult
		want    int
	}{
		{"all contained", []*bulkResult{contained, contained}, 0},
		{"the same person skipped", []*bulkResult{contained, samePerson}, 0},
		{"a clean-up failed", []*bulkResult{contained, cleanup}, 4},
		{"a denial over a clean-up failed", []*bulkResult{cleanup, denied, contained}, exitDenied},
		{"a failure over a denial", []*bulkResult{denied, failed, cleanup}, exitFailure},
		{"a subject never started", []*bulkResult{contained, notStarted}, exitFailure},
	} {
		if got := bulkExitCode(tc.results); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.want)
		}
	}
}
