package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

func TestAssessTheOutcomeTable(t *testing.T) {
	contain := &steps.Spec{Name: "x.disable", Containment: true}
	cleanup := &steps.Spec{Name: "x.notify"}
	cloud := &steps.Spec{Name: "cloud.disable", Containment: true}
	step := func(id string, spec *steps.Spec, run bool, reason string) *PlannedStep {
		return &PlannedStep{Def: &StepDef{ID: id, Uses: spec.Name, Spec: spec}, Run: run, Reason: reason}
	}
	tests := []struct {
		name      string
		steps     []*PlannedStep
		results   []StepResult
		gaps      []string
		deny      []string
		cancelled bool
		// synced: the subject's cloud record is mastered in backend x,
		// which found them.
		synced    bool
		want      Outcome
		contained bool
		missing   []string
		exit      int
	}{
		{name: "every step done is contained",
			steps:   []*PlannedStep{step("d", contain, true, ""), step("n", cleanup, true, "")},
			results: []StepResult{{ID: "d", Status: StatusSucceeded}, {ID: "n", Status: StatusSatisfied}},
			want:    OutcomeContained, contained: true, exit: 0},
		{name: "a failed clean-up step leaves the run contained",
			steps:   []*PlannedStep{step("d", contain, true, ""), step("n", cleanup, true, "")},
			results: []StepResult{{ID: "d", Status: StatusSucceeded}, {ID: "n", Status: StatusFailed, Error: "429"}},
			want:    OutcomeContainedCleanupFailed, contained: true, exit: 4},
		{name: "a failed containment step is not contained",
			steps:   []*PlannedStep{step("d", contain, true, ""), step("n", cleanup, true, "")},
			results: []StepResult{{ID: "d", Status: StatusFailed, Error: "403 Forbidden"}, {ID: "n", Status: StatusSucceeded}},
			want:    OutcomeNotContained, missing: []string{"step d (x.disable) failed: 403 Forbidden"}, exit: 1},
		{name: "a blocked containment step is not contained",
			steps:   []*PlannedStep{step("d", contain, true, ""), step("e", contain, true, "")},
			results: []StepResult{{ID: "d", Status: StatusFailed, Error: "boom"}, {ID: "e", Status: StatusBlocked, BlockedBy: "d"}},
			want:    OutcomeNotContained, missing: []string{"step d (x.disable) failed: boom", "step e (x.disable) was blocked by d"}, exit: 1},
		{name: "policies that skip every containment step contain nothing",
			steps:   []*PlannedStep{step("d", contain, false, "legal hold"), step("n", cleanup, true, "")},
			results: []StepResult{{ID: "d", Status: StatusSkipped}, {ID: "n", Status: StatusSucceeded}},
			want:    OutcomeNotContained, missing: []string{"the policies skipped every containment step: d (legal hold)"}, exit: 1},
		{name: "one skipped containment step among others is fine",
			steps:   []*PlannedStep{step("d", contain, false, "not in AD"), step("e", contain, true, "")},
			results: []StepResult{{ID: "d", Status: StatusSkipped}, {ID: "e", Status: StatusSucceeded}},
			want:    OutcomeContained, contained: true, exit: 0},
		{name: "a gap is never contained",
			steps:   []*PlannedStep{step("e", contain, true, "")},
			results: []StepResult{{ID: "e", Status: StatusSucceeded}},
			gaps:    []string{"synced from ad, which has no such account"},
			want:    OutcomeNotContained, missing: []string{"synced from ad, which has no such account"}, exit: 1},
		{name: "a synced record whose master's containment was skipped is not contained",
			steps:   []*PlannedStep{step("d", contain, false, "team rule"), step("c", cloud, true, "")},
			results: []StepResult{{ID: "d", Status: StatusSkipped}, {ID: "c", Status: StatusSucceeded}},
			synced:  true,
			want:    OutcomeNotContained, missing: []string{"the cloud account of x is synced from x, and no x containment step completed (d skipped: team rule): the next directory sync undoes the cloud block"}, exit: 1},
		{name: "a synced record whose master's containment ran is contained",
			steps:   []*PlannedStep{step("d", contain, true, ""), step("c", cloud, true, "")},
			results: []StepResult{{ID: "d", Status: StatusSatisfied}, {ID: "c", Status: StatusSucceeded}},
			synced:  true,
			want:    OutcomeContained, contained: true, exit: 0},
		{name: "an unchecked clean-up step claims nothing and fails nothing",
			steps:   []*PlannedStep{step("d", contain, true, ""), step("n", cleanup, true, "")},
			results: []StepResult{{ID: "d", Status: StatusSucceeded}, {ID: "n", Status: StatusUnchecked}},
			want:    OutcomeContained, contained: true, exit: 0},
		{name: "an unchecked containment step did not contain",
			steps:   []*PlannedStep{step("d", contain, true, "")},
			results: []StepResult{{ID: "d", Status: StatusUnchecked, Change: steps.Change{Summary: "no mailbox"}}},
			want:    OutcomeNotContained, missing: []string{"step d (x.disable) could not check: no mailbox"}, exit: 1},
		{name: "a cancelled run says what it reached",
			steps:     []*PlannedStep{step("d", contain, true, ""), step("e", contain, true, "")},
			results:   []StepResult{{ID: "d", Status: StatusSucceeded}, {ID: "e", Status: StatusInterrupted}},
			cancelled: true,
			want:      OutcomeCancelled, missing: []string{"step e (x.disable) was interrupted"}, exit: 1},
		{name: "a runbook without containment steps succeeds or fails",
			steps:   []*PlannedStep{step("n", cleanup, true, "")},
			results: []StepResult{{ID: "n", Status: StatusSucceeded}},
			want:    OutcomeSucceeded, exit: 0},
		{name: "a failed step in a runbook without containment fails",
			steps:   []*PlannedStep{step("n", cleanup, true, "")},
			results: []StepResult{{ID: "n", Status: StatusFailed}},
			want:    OutcomeFailed, exit: 1},
		{name: "a denied run",
			steps: []*PlannedStep{step("d", contain, true, "")},
			deny:  []string{"protected"},
			want:  OutcomeDenied, missing: []string{"the run was denied: nothing ran"}, exit: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := &Plan{Steps: tt.steps, Deny: tt.deny, Subject: &steps.Subject{Ref: "x", Gaps: tt.gaps}}
			if tt.synced {
				plan.Subject.Facts = map[string]map[string]any{"x": {}, "cloud": {}}
				plan.Subject.Identities = map[string]steps.Identity{"cloud": {MasteredIn: "x"}}
			}
			a := Assess(plan, tt.results, tt.cancelled)
			if a.Outcome != tt.want || a.Contained != tt.contained || !slices.Equal(a.Missing, tt.missing) {
				t.Errorf("Assess = %s contained=%v missing=%q\nwant %s contained=%v missing=%q", a.Outcome, a.Contained, a.Missing, tt.want, tt.contained, tt.missing)
			}
			if got := a.Outcome.ExitCode(); got != tt.exit {
				t.Errorf("exit code %d, want %d", got, tt.exit)
			}
		})
	}
}

// A journaled unchecked step reads back as unchecked, ended: a resume does
// not run it again, and nothing reports it already done.
func TestJournalReadsAnUncheckedStep(t *testing.T) {
	log := &JournalLog{Events: []Event{
		{Type: EventStepStarted, Step: "rules"},
		{Type: EventStepSatisfied, Step: "rules", Summary: "no mailbox", Unchecked: true},
		{Type: EventStepStarted, Step: "methods"},
		{Type: EventStepSatisfied, Step: "methods", Summary: "no method"},
	}}
	h := log.StepHistories()
	if h["rules"].Status != StatusUnchecked || !h["rules"].Status.Ended() || h["methods"].Status != StatusSatisfied {
		t.Errorf("rules %s, methods %s", h["rules"].Status, h["methods"].Status)
	}
}

// An interrupted clean-up step has not ended: no time to clean-up is
// reported for a run it was part of.
func TestNoTimeToCleanUpWhileAStepIsInterrupted(t *testing.T) {
	contain := &steps.Spec{Name: "x.disable", Containment: true}
	cleanup := &steps.Spec{Name: "x.notify"}
	plan := &Plan{Steps: []*PlannedStep{
		{Def: &StepDef{ID: "d", Uses: contain.Name, Spec: contain}, Run: true},
		{Def: &StepDef{ID: "n", Uses: cleanup.Name, Spec: cleanup}, Run: true},
		{Def: &StepDef{ID: "m", Uses: cleanup.Name, Spec: cleanup}, Run: true},
	}}
	for _, tt := range []struct {
		status Status
		want   time.Duration
	}{{StatusInterrupted, 0}, {StatusCancelled, 0}, {StatusSucceeded, 5 * time.Second}} {
		res := &Result{Cleanup: 5 * time.Second, Containment: time.Second, Steps: []StepResult{
			{ID: "d", Status: StatusSucceeded}, {ID: "n", Status: StatusSucceeded}, {ID: "m", Status: tt.status}}}
		res.assess(plan, tt.status != StatusSucceeded)
		if res.Cleanup != tt.want || !res.Contained || res.Containment != time.Second {
			t.Errorf("%s: cleanup %s contained %v containment %s; want cleanup %s, contained", tt.status, res.Cleanup, res.Contained, res.Containment, tt.want)
		}
	}
}
