package engine

import (
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// Outcome is how a run ended.
type Outcome string

// Run outcomes: the table in docs/execution.md. Assess decides which.
const (
	// OutcomeContained: every containment step that was to run succeeded
	// or was satisfied, and so did every other step.
	OutcomeContained Outcome = "contained"
	// OutcomeContainedCleanupFailed: contained, but a step outside
	// containment (a password reset, Identity Protection) failed.
	OutcomeContainedCleanupFailed Outcome = "contained_cleanup_failed"
	// OutcomeNotContained: a containment step did not complete, the
	// policies skipped them all, or the subject has a gap.
	OutcomeNotContained Outcome = "not_contained"
	// OutcomeSucceeded: a runbook without containment steps whose steps
	// all succeeded or were satisfied (and what journals written before
	// the containment outcomes say).
	OutcomeSucceeded Outcome = "succeeded"
	// OutcomeFailed: a runbook without containment steps in which a step
	// failed, was blocked or was aborted.
	OutcomeFailed Outcome = "failed"
	// OutcomeDenied: the policy refused the run; nothing ran.
	OutcomeDenied Outcome = "denied"
	// OutcomeCancelled: the run's context was cancelled; it can be resumed.
	OutcomeCancelled Outcome = "cancelled"
	// OutcomeInterrupted is what a journal without run_finished reports
	// (cancelled, or the process died): the run can be resumed.
	OutcomeInterrupted Outcome = "interrupted"
)

// Status is where a step ended up in a run.
type Status string

// Step statuses.
const (
	StatusSucceeded Status = "succeeded"
	// StatusSatisfied: Check found nothing to do.
	StatusSatisfied Status = "satisfied"
	// StatusUnchecked: Check could not read the state (steps.Change
	// Unchecked); nothing was done. Not "already done": the report says
	// what could not be checked.
	StatusUnchecked Status = "unchecked"
	StatusFailed    Status = "failed"
	// StatusBlocked: not started because a need failed (on_error: block).
	StatusBlocked Status = "blocked"
	// StatusSkipped: the policy skipped the step.
	StatusSkipped Status = "skipped"
	// StatusAborted: not started because a failed step aborted the run.
	StatusAborted Status = "aborted"
	// StatusCancelled: not started because the run was cancelled.
	StatusCancelled Status = "cancelled"
	// StatusInterrupted: running when the run was cancelled; a resume
	// Checks it again.
	StatusInterrupted Status = "interrupted"
	// StatusDenied: not run because the policy denied the run.
	StatusDenied Status = "denied"
)

// Ended reports whether a step with this status is done for good: a
// resume does not run it again.
func (s Status) Ended() bool {
	switch s {
	case StatusSucceeded, StatusSatisfied, StatusUnchecked, StatusFailed, StatusBlocked, StatusSkipped, StatusAborted, StatusDenied:
		return true
	}
	return false
}

// StepResult is what happened to one step.
type StepResult struct {
	ID     string `json:"id"`
	Uses   string `json:"uses"`
	Status Status `json:"status"`
	// Reason is why a skipped step was skipped.
	Reason string `json:"reason,omitempty"`
	// Attempts counts the Apply calls this run made.
	Attempts int `json:"attempts,omitempty"`
	// Resumed is set when an earlier run left the step unended.
	Resumed bool `json:"resumed,omitempty"`
	// Change is what Check found (satisfied) or Apply changed.
	Change steps.Change `json:"change,omitzero"`
	// Err is why the step failed, blocked, or was interrupted; its chain
	// keeps the steps error class. Error, Class and Permission render it.
	Err        error  `json:"-"`
	Error      string `json:"error,omitempty"`
	Class      string `json:"class,omitempty"`
	Permission string `json:"permission,omitempty"`
	// BlockedBy names the need that blocked the step, or the step whose
	// failure aborted the run.
	BlockedBy string    `json:"blocked_by,omitempty"`
	Started   time.Time `json:"started,omitzero"`
	Ended     time.Time `json:"ended,omitzero"`
}

// Result is what a run did.
type Result struct {
	RunID   string  `json:"run_id"`
	Outcome Outcome `json:"outcome"`
	// Steps are in plan order, skipped ones included.
	Steps []StepResult `json:"steps"`
	// Started is when the run first started (for a resumed run, the
	// original start); Ended when this execution ended.
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	// Contained says whether containment was reached (Assessment).
	Contained bool `json:"contained"`
	// NotContained says what keeps the subject from being contained, when
	// the runbook has containment steps and it is not.
	NotContained []string `json:"not_contained,omitempty"`
	// CleanupFailed lists the steps outside containment that did not
	// complete.
	CleanupFailed []string `json:"cleanup_failed,omitempty"`
	// Containment is the time from the run's start (the first start, for a
	// resumed run) until the last step whose Spec.Containment is set
	// ended; only when Contained, 0 otherwise. In nanoseconds in JSON.
	Containment time.Duration `json:"containment,omitempty"`
	// Cleanup is the time from the run's start until the last step that
	// is not containment ended; 0 when none ran or one never ended (an
	// interrupted run). In nanoseconds in JSON.
	Cleanup time.Duration `json:"cleanup,omitempty"`
	// Residual is what the subject still holds after the run, as the
	// backends' inventories read it; absent when no backend takes one.
	Residual []steps.Residual `json:"residual,omitempty"`
}

// assess sets the outcome and containment fields from the plan.
func (res *Result) assess(plan *Plan, cancelled bool) {
	a := Assess(plan, res.Steps, cancelled)
	res.Outcome, res.Contained, res.CleanupFailed = a.Outcome, a.Contained, a.CleanupFailed
	if !a.Contained {
		res.NotContained, res.Containment = a.Missing, 0
	}
	// A time to clean-up only once every clean-up step has ended: an
	// interrupted one has not, and the time so far is not the clean-up's.
	for _, s := range res.Steps {
		if s.Status == StatusInterrupted || s.Status == StatusCancelled {
			res.Cleanup = 0
		}
	}
}

// Step returns the result of the step with the id, or nil.
func (r *Result) Step(id string) *StepResult {
	for i := range r.Steps {
		if r.Steps[i].ID == id {
			return &r.Steps[i]
		}
	}
	return nil
}
