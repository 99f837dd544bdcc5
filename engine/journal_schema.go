package engine

// The journal's event schema: what each line of RUN_ID.jsonl holds.

import (
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// EventType names a journal event.
type EventType string

// Journal event types, in the order a run writes them.
const (
	// EventRunStarted opens every journal: the run id, the runbook and
	// policy digests, the subject, who asked and why, and the full plan.
	EventRunStarted EventType = "run_started"
	// EventDecision carries the policy's deny reasons and warnings.
	EventDecision EventType = "decision"
	// EventRunResumed marks where `revoke resume` took over.
	EventRunResumed EventType = "run_resumed"
	// EventStepStarted is written before a step's first call.
	EventStepStarted EventType = "step_started"
	// EventStepAttempt records a failed or interrupted call and, when it
	// will be retried, the wait before the next one.
	EventStepAttempt EventType = "step_attempt"
	// EventStepProgress is a fact a step reported mid-Apply.
	EventStepProgress EventType = "step_progress"
	// EventStepApplied: Apply succeeded and Verify is next; the step's
	// dependents may start from here.
	EventStepApplied EventType = "step_applied"
	// EventStepSatisfied: Check found the subject already in the wanted
	// state; Apply was not called.
	EventStepSatisfied EventType = "step_satisfied"
	// EventStepSucceeded: Apply (and Verify) succeeded.
	EventStepSucceeded EventType = "step_succeeded"
	// EventStepFailed: the step failed for good.
	EventStepFailed EventType = "step_failed"
	// EventStepBlocked: the step was never started, because a need failed
	// (BlockedBy names it) or, with Aborted, because the run was aborted.
	EventStepBlocked EventType = "step_blocked"
	// EventRunInterrupted: the run was cancelled; it can be resumed.
	EventRunInterrupted EventType = "run_interrupted"
	// EventResidual lists what the subject still holds once the steps
	// ended (the backends' inventories), just before run_finished.
	EventResidual EventType = "residual"
	// EventRunFinished closes a run with its outcome.
	EventRunFinished EventType = "run_finished"
)

// Event is one line of a run's journal, and what Executor.OnEvent sees.
// Seq, Time, Type and Prev are on every line; the other fields are set by
// the event types that need them. No field ever holds a secret.
type Event struct {
	// Seq counts lines from 1.
	Seq  int       `json:"seq"`
	Time time.Time `json:"time"`
	Type EventType `json:"type"`
	// Prev is the hex SHA-256 of the previous line's bytes (without its
	// newline), "" on the first line: editing or removing a line breaks
	// the chain at the line after it.
	Prev string `json:"prev"`

	// RunID is set on run_started and run_resumed.
	RunID string `json:"run_id,omitempty"`
	// Run is run_started's record of the run and its full plan.
	Run *RunRecord `json:"run,omitempty"`
	// Deny and Warn are the decision event's.
	Deny []string `json:"deny,omitempty"`
	Warn []string `json:"warn,omitempty"`

	// Step is the step id of step_* events.
	Step string `json:"step,omitempty"`
	// Resumed marks the step_started of a step an earlier run left unended.
	Resumed bool `json:"resumed,omitempty"`
	// Phase is check, apply or verify on step_attempt.
	Phase string `json:"phase,omitempty"`
	// Attempt numbers the call within its phase (step_attempt), or counts
	// the Apply calls made (step_succeeded, step_failed).
	Attempt int `json:"attempt,omitempty"`
	// RetryWait is how long the executor waits before the next attempt;
	// zero when it gives up.
	RetryWait JournalDuration `json:"retry_wait,omitempty"`
	// Interrupted marks an attempt cut short by the run's cancellation.
	Interrupted bool `json:"interrupted,omitempty"`
	// Message and Details are step_progress's.
	Message string         `json:"message,omitempty"`
	Details map[string]any `json:"details,omitempty"`
	// Summary is the change of step_satisfied and step_succeeded (whose
	// Details hold the change's details).
	Summary string `json:"summary,omitempty"`
	// Error, Class and Permission describe a failure: the message, the
	// steps error class, and the permission a Forbidden caller lacks.
	Error      string `json:"error,omitempty"`
	Class      string `json:"class,omitempty"`
	Permission string `json:"permission,omitempty"`
	// BlockedBy names the need that kept a step_blocked step from starting,
	// or the step whose failure aborted the run.
	BlockedBy string `json:"blocked_by,omitempty"`
	Aborted   bool   `json:"aborted,omitempty"`

	// Outcome and Containment are run_finished's.
	Outcome     Outcome         `json:"outcome,omitempty"`
	Containment JournalDuration `json:"containment,omitempty"`
	// Notes on run_resumed say what the resume overrode or repaired.
	Notes []string `json:"notes,omitempty"`
	// Unchecked marks a step_satisfied whose Check could not read the
	// state: the step ended unchecked, not already done.
	Unchecked bool `json:"unchecked,omitempty"`
	// Residual is the residual event's list: what remains, never a secret.
	Residual []steps.Residual `json:"residual,omitempty"`
}

// RunRecord is what run_started records: enough to show the run and to
// rebuild its plan on resume without deciding again.
type RunRecord struct {
	Runbook  string `json:"runbook"`
	Title    string `json:"title,omitempty"`
	Scenario string `json:"scenario,omitempty"`
	File     string `json:"file"`
	// Digest is the runbook file's SHA-256; PolicyDigest the policies'.
	Digest       string           `json:"digest"`
	PolicyDigest string           `json:"policy_digest"`
	Subject      steps.Subject    `json:"subject"`
	Environment  EnvironmentFacts `json:"environment"`
	Request      Request          `json:"request"`
	Steps        []PlannedRecord  `json:"steps"`
	// BulkID names the bulk run (`revoke run --users`) this run is one
	// subject of; "" for a run of its own. The bulk's manifest,
	// <state_dir>/bulks/BULK_ID.json, lists its runs.
	BulkID string `json:"bulk_id,omitempty"`
}

// PlannedRecord is one planned step as journaled.
type PlannedRecord struct {
	ID   string `json:"id"`
	Uses string `json:"uses"`
	// Run is false when the policy skipped the step; Reason says why.
	Run    bool   `json:"run"`
	Reason string `json:"reason,omitempty"`
	// With is the effective parameters, durations as strings.
	With    map[string]any  `json:"with,omitempty"`
	Needs   []string        `json:"needs,omitempty"`
	OnError OnError         `json:"on_error"`
	Retry   RetryRecord     `json:"retry"`
	Timeout JournalDuration `json:"timeout"`
	Tags    []string        `json:"tags,omitempty"`
}

// RetryRecord is a step's retry bounds as journaled.
type RetryRecord struct {
	Attempts int             `json:"attempts"`
	MaxWait  JournalDuration `json:"max_wait"`
}

// JournalDuration is a time.Duration written as text ("1m30s") so that a
// journal reads well and round-trips exactly.
type JournalDuration time.Duration

// MarshalText renders the duration as time.Duration.String does.
func (d JournalDuration) MarshalText() ([]byte, error) {
	return []byte(time.Duration(d).String()), nil
}

// UnmarshalText parses a duration such as "1m30s".
func (d *JournalDuration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = JournalDuration(v)
	return nil
}
