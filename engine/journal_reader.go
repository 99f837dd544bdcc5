package engine

// The journal's reader: a journal as read back, its verification, its
// step histories and the run list.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

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
	// seal is the seal as read with the journal, or sealErr why not
	// (errNoSeal: there is none).
	seal    journalSeal
	sealErr error
}

// ReadRun reads the journal of run runID under stateDir. An id that is
// not a run id is Invalid; a run with no journal there is NotFound, with
// the message OpenJournal gives too ("no run ID in STATE_DIR").
func ReadRun(stateDir, runID string) (*JournalLog, error) {
	path, err := RunPath(stateDir, runID)
	if err != nil {
		return nil, err
	}
	log, err := ReadJournal(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoRun(stateDir, runID)
	}
	return log, err
}

// errNoRun is the answer for a run id with no journal in stateDir.
func errNoRun(stateDir, runID string) error {
	return steps.Errorf(steps.NotFound, "no run %s in %s", runID, stateDir)
}

// ReadJournal reads a run's journal. A last line that does not parse is a
// crash mid-write: it is ignored and reported in Warnings. Any other line
// that does not parse is an error naming it. It does not verify the hash
// chain or the seal; Verify does.
func ReadJournal(path string) (*JournalLog, error) {
	// The seal is read before the journal and again after it: a run still
	// going appends a line, then seals it, so a journal read between two
	// equal readings of the seal is at most one line past it, as VerifySeal
	// accepts. A run that moved on meanwhile is read again.
	var data []byte
	var seal journalSeal
	var sealErr error
	for try := 0; ; try++ {
		seal, sealErr = readSeal(path)
		var err error
		data, err = os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read journal: %w", err)
		}
		again, againErr := readSeal(path)
		if try == 4 || again == seal && (againErr == nil) == (sealErr == nil) {
			break
		}
	}
	log := &JournalLog{Path: path, seal: seal, sealErr: sealErr}
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
		return nil, fmt.Errorf("journal %s %w", path, ErrNoEvent)
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
				if ev.Unchecked {
					h.Status = StatusUnchecked
				}
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
	RequestedBy string    `json:"requested_by,omitempty"`
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
