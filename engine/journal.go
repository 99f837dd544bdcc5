package engine

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

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

// journalFile is what a Journal writes to: an *os.File, or in tests a
// wrapper that simulates a crash.
type journalFile interface {
	io.Writer
	Sync() error
	Close() error
}

// Journal is the append-only record of one run, safe for concurrent use.
type Journal struct {
	mu    sync.Mutex
	f     journalFile
	lock  *os.File // held for the journal's life: see lockJournal
	path  string
	runID string
	seq   int
	prev  string
	// err is sticky: after a failed write the file may end in a torn line,
	// and appending behind it would bury the tear mid-file.
	err    error
	closed bool
}

// runIDRE is the syntax of run ids: ULIDs in Crockford base32, which sort
// by start time.
var runIDRE = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)

// NewRunID returns a fresh run id: a ULID from the current time and
// crypto/rand entropy.
func NewRunID() string {
	// crypto/rand.Reader does not fail (since Go 1.24 it crashes the
	// program rather than return an error), so MustNew cannot panic here.
	return ulid.MustNew(ulid.Now(), rand.Reader).String()
}

// RunPath returns where the journal of a run lives under a state
// directory. It refuses anything but a ULID, so a run id taken from the
// command line cannot name a file elsewhere.
func RunPath(stateDir, runID string) (string, error) {
	if !runIDRE.MatchString(runID) {
		return "", fmt.Errorf("%q is not a run id (26 characters such as 01JD3Q4Z8X6V2N0K5T7W9YB1CM)", runID)
	}
	if _, err := ulid.ParseStrict(runID); err != nil {
		return "", fmt.Errorf("%q is not a run id: %v", runID, err)
	}
	return filepath.Join(stateDir, "runs", runID+".jsonl"), nil
}

// CreateJournal creates the journal of a new run under
// <stateDir>/runs/<runID>.jsonl (folders 0700, file 0600), refusing an
// existing file. An empty runID gets a fresh one from NewRunID.
func CreateJournal(stateDir, runID string) (*Journal, error) {
	if runID == "" {
		runID = NewRunID()
	}
	path, err := RunPath(stateDir, runID)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create journal folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	lock, err := lockJournal(path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock journal %s: %w", path, err)
	}
	syncDir(dir)
	return &Journal{f: f, lock: lock, path: path, runID: runID}, nil
}

// lockJournal locks the journal at path for this process, through a
// handle of its own: a read-only one, which every system's lock accepts
// (Windows will not lock through the append-only handle the journal
// writes with). Closing it lets go.
func lockJournal(path string) (*os.File, error) {
	l, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := lockFile(l); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// syncDir makes a new directory entry durable. Some file systems refuse
// to fsync a directory; the journal's own fsyncs still hold, so a failure
// here is not worth refusing the run over.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// errJournalLocked is lockFile's answer when another process holds the
// journal.
var errJournalLocked = errors.New("locked")

// OpenJournal opens an existing run's journal to append to it, continuing
// its sequence and hash chain, and returns what it holds. It refuses a
// journal whose chain is broken. A torn last line (a crash mid-write) is
// cut off before appending; the returned log's Warnings say so.
//
// The journal stays locked until Close, as a new run's is: a second
// process resuming the same run, or resuming one still running, would
// interleave two chains and repeat writes, so it is refused.
func OpenJournal(stateDir, runID string) (*Journal, *JournalLog, error) {
	path, err := RunPath(stateDir, runID)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, steps.Errorf(steps.NotFound, "no run %s in %s", runID, stateDir)
		}
		return nil, nil, fmt.Errorf("open journal: %w", err)
	}
	lock, err := lockJournal(path)
	if err != nil {
		f.Close()
		if errors.Is(err, errJournalLocked) {
			return nil, nil, steps.Errorf(steps.Invalid, "run %s is in use by another revoke process (a run or resume still going): let it end, or stop it, then resume", runID)
		}
		return nil, nil, fmt.Errorf("lock journal %s: %w", path, err)
	}
	// From here on, Close releases both handles.
	j := &Journal{f: f, lock: lock, path: path}
	// Read only once the lock is held: what another process appended
	// before it let go is part of the history.
	log, err := ReadJournal(path)
	if err != nil {
		j.Close()
		return nil, nil, err
	}
	if err := log.VerifyChain(); err != nil {
		j.Close()
		return nil, log, fmt.Errorf("journal %s: %w; refusing to append to it", path, err)
	}
	if log.Torn > 0 {
		if err := f.Truncate(int64(log.size)); err != nil {
			j.Close()
			return nil, log, fmt.Errorf("journal %s: cut the torn last line: %w", path, err)
		}
	}
	if log.missingNewline {
		if _, err := f.Write([]byte{'\n'}); err != nil {
			j.Close()
			return nil, log, fmt.Errorf("journal %s: end the last line: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		j.Close()
		return nil, log, fmt.Errorf("journal %s: %w", path, err)
	}
	j.runID, j.seq, j.prev = log.RunID, len(log.lines), digest(log.lines[len(log.lines)-1])
	return j, log, nil
}

// RunID is the id of the run the journal records.
func (j *Journal) RunID() string { return j.runID }

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Append writes one event as a line and fsyncs it; it returns the event as
// written (Seq, Time and Prev filled) only once the line is durable, so the
// caller's next action starts after its record. Time defaults to now.
// After a failed write every later Append fails too.
func (j *Journal) Append(ev Event) (Event, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ev, fmt.Errorf("journal %s is closed", j.path)
	}
	if j.err != nil {
		return ev, j.err
	}
	ev.Seq = j.seq + 1
	ev.Prev = j.prev
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = ev.Time.UTC()
	line, err := json.Marshal(ev)
	if err != nil {
		// Nothing was written: the journal stays usable.
		return ev, fmt.Errorf("journal %s: encode %s event: %w", j.path, ev.Type, err)
	}
	if _, err := j.f.Write(append(line, '\n')); err != nil {
		j.err = fmt.Errorf("journal %s: write: %w", j.path, err)
		return ev, j.err
	}
	if err := j.f.Sync(); err != nil {
		j.err = fmt.Errorf("journal %s: fsync: %w", j.path, err)
		return ev, j.err
	}
	j.seq = ev.Seq
	j.prev = digest(line)
	return ev, nil
}

// Close syncs and closes the file. Closing twice is harmless.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	serr := j.f.Sync()
	cerr := j.f.Close()
	if j.lock != nil {
		j.lock.Close() // after the last write: only then may another process append
	}
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("close journal %s: %w", j.path, err)
	}
	return nil
}

// JournalLog is a journal as read back.
type JournalLog struct {
	Path  string
	RunID string
	// Events are the complete lines, in order.
	Events []Event
	// Torn is the length of a torn last line that was ignored, 0 if none.
	Torn int
	// Warnings say what was tolerated (a torn last line).
	Warnings []string

	lines [][]byte // raw bytes of each event's line, for the chain
	size  int      // bytes up to and including the last complete line
	// missingNewline: the last line parsed but its newline was never
	// written; appending must end it first.
	missingNewline bool
}

// ReadJournal reads a run's journal. A last line that does not parse is a
// crash mid-write: it is ignored and reported in Warnings. Any other line
// that does not parse is an error naming it. It does not verify the hash
// chain; VerifyChain does.
func ReadJournal(path string) (*JournalLog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	log := &JournalLog{Path: path}
	for off, n := 0, 1; off < len(data); n++ {
		end, next := len(data), len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			end, next = off+i, off+i+1
		}
		unended := end == len(data)
		line := data[off:end]
		var ev Event
		err := json.Unmarshal(line, &ev)
		if err == nil && ev.Type == "" {
			err = errors.New("no event type")
		}
		if err != nil {
			if unended {
				log.Torn = len(line)
				log.Warnings = append(log.Warnings, fmt.Sprintf(
					"line %d: ignored a torn last line (%d bytes): the run stopped mid-write", n, len(line)))
				break
			}
			return nil, fmt.Errorf("%s:%d: not a journal event: %v", path, n, err)
		}
		log.Events = append(log.Events, ev)
		log.lines = append(log.lines, line)
		log.size = next
		log.missingNewline = unended
		off = next
	}
	if len(log.Events) == 0 {
		return nil, fmt.Errorf("journal %s holds no complete event", path)
	}
	if first := log.Events[0]; first.Type != EventRunStarted || first.Run == nil {
		return nil, fmt.Errorf("%s:1: the first event is %s, want run_started with the run's record", path, first.Type)
	}
	log.RunID = log.Events[0].RunID
	return log, nil
}

// VerifyChain checks every line's seq and prev hash and reports the first
// that does not match ("line 7: hash chain broken: …"). An edited or
// removed line shows at the line after it; an edit to the last line
// cannot be detected by the chain alone.
func (l *JournalLog) VerifyChain() error {
	prev := ""
	for i, ev := range l.Events {
		n := i + 1
		if ev.Seq != n {
			return fmt.Errorf("line %d: seq %d, want %d", n, ev.Seq, n)
		}
		if ev.Prev != prev {
			if i == 0 {
				return fmt.Errorf("line 1: hash chain broken: the first line's prev must be empty")
			}
			return fmt.Errorf("line %d: hash chain broken: prev does not match the SHA-256 of line %d", n, n-1)
		}
		prev = digest(l.lines[i])
	}
	return nil
}

// Record returns the run_started record.
func (l *JournalLog) Record() *RunRecord { return l.Events[0].Run }

// Finished returns the run_finished event, or nil when the run never
// finished (it was interrupted or crashed).
func (l *JournalLog) Finished() *Event {
	for i := len(l.Events) - 1; i >= 0; i-- {
		if l.Events[i].Type == EventRunFinished {
			return &l.Events[i]
		}
	}
	return nil
}

// Outcome is run_finished's outcome, or OutcomeInterrupted without one.
func (l *JournalLog) Outcome() Outcome {
	if f := l.Finished(); f != nil {
		return f.Outcome
	}
	return OutcomeInterrupted
}

// Decision returns the policy's deny reasons and warnings as journaled.
func (l *JournalLog) Decision() (deny, warn []string) {
	for _, ev := range l.Events {
		if ev.Type == EventDecision {
			return ev.Deny, ev.Warn
		}
	}
	return nil, nil
}

// StepHistory is what the journal says about one step, across the run and
// its resumes.
type StepHistory struct {
	// Status is where the step ended; StatusInterrupted when it started
	// but never ended. A step with no history never started.
	Status         Status
	Started, Ended time.Time
	// Attempts counts the failed or interrupted calls journaled.
	Attempts int
	// Summary and Details are the change of a satisfied or succeeded step.
	Summary string
	Details map[string]any
	// Error, Class and Permission describe a failure; BlockedBy the need
	// (or the aborting step) that kept a blocked step from starting.
	Error, Class, Permission, BlockedBy string
	// Progress holds every step_progress record, oldest first.
	Progress []steps.Progress
}

// StepHistories folds the step events into one history per step id.
func (l *JournalLog) StepHistories() map[string]*StepHistory {
	out := map[string]*StepHistory{}
	get := func(id string) *StepHistory {
		h := out[id]
		if h == nil {
			h = &StepHistory{}
			out[id] = h
		}
		return h
	}
	for _, ev := range l.Events {
		if ev.Step == "" {
			continue
		}
		h := get(ev.Step)
		switch ev.Type {
		case EventStepStarted:
			h.Status, h.Started, h.Ended = StatusInterrupted, ev.Time, time.Time{}
		case EventStepAttempt:
			h.Attempts++
		case EventStepProgress:
			h.Progress = append(h.Progress, steps.Progress{Message: ev.Message, Details: ev.Details})
		case EventStepSatisfied, EventStepSucceeded:
			h.Status = StatusSucceeded
			if ev.Type == EventStepSatisfied {
				h.Status = StatusSatisfied
			}
			h.Ended, h.Summary, h.Details = ev.Time, ev.Summary, ev.Details
		case EventStepFailed:
			h.Status, h.Ended = StatusFailed, ev.Time
			h.Error, h.Class, h.Permission = ev.Error, ev.Class, ev.Permission
		case EventStepBlocked:
			h.Status = StatusBlocked
			if ev.Aborted {
				h.Status = StatusAborted
			}
			h.Ended, h.Error, h.BlockedBy = ev.Time, ev.Error, ev.BlockedBy
		}
	}
	return out
}

// RunSummary is one line of run history.
type RunSummary struct {
	ID          string    `json:"id"`
	Runbook     string    `json:"runbook,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	RequestedBy string    `json:"requestedBy,omitempty"`
	Started     time.Time `json:"started,omitzero"`
	// Ended is the time of the last event.
	Ended time.Time `json:"ended,omitzero"`
	// Outcome is run_finished's, or interrupted when the run never
	// finished (cancelled or crashed: `revoke resume` continues it).
	Outcome Outcome `json:"outcome,omitempty"`
	Path    string  `json:"path"`
	// Problem says why the journal could not be read; the fields above
	// but ID and Path are then empty.
	Problem string `json:"problem,omitempty"`
}

// ListRuns summarises every journal under <stateDir>/runs, oldest first.
// A missing folder is no runs; an unreadable journal is listed with its
// Problem rather than hidden.
func ListRuns(stateDir string) ([]RunSummary, error) {
	dir := filepath.Join(stateDir, "runs")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var out []RunSummary
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".jsonl")
		if !ok || e.IsDir() || !runIDRE.MatchString(id) {
			continue
		}
		s := RunSummary{ID: id, Path: filepath.Join(dir, e.Name())}
		log, err := ReadJournal(s.Path)
		if err != nil {
			s.Problem = err.Error()
			out = append(out, s)
			continue
		}
		rec := log.Record()
		s.Runbook, s.Subject, s.RequestedBy = rec.Runbook, rec.Subject.Ref, rec.Request.RequestedBy
		s.Started = log.Events[0].Time
		s.Ended = log.Events[len(log.Events)-1].Time
		s.Outcome = log.Outcome()
		out = append(out, s)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].ID < out[k].ID })
	return out, nil
}
