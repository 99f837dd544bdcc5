package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/revoke-dev/revoke/engine"
)

// display shows a run as it happens: on a terminal, one line per step
// redrawn in place; elsewhere, one plain line per event worth reading.
type display struct {
	mu      sync.Mutex
	w       io.Writer
	live    bool
	started time.Time
	order   []string
	status  map[string]string
	drawn   int
}

func newDisplay(w io.Writer, plan *engine.Plan, live bool) *display {
	d := &display{w: w, live: live, status: map[string]string{}}
	for _, s := range plan.Steps {
		if s.Run {
			d.order = append(d.order, s.Def.ID)
			d.status[s.Def.ID] = "waiting"
		}
	}
	return d
}

// event is the executor's OnEvent hook. It runs under the executor's
// journal lock, so it only formats and writes.
func (d *display) event(ev engine.Event) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if ev.Type == engine.EventRunStarted || ev.Type == engine.EventRunResumed {
		d.started = ev.Time
	}
	line := eventLine(ev)
	if line == "" {
		return
	}
	if !d.live {
		fmt.Fprintf(d.w, "%8s  %s\n", "+"+fmtDur(ev.Time.Sub(d.started)), line)
		return
	}
	if ev.Step != "" {
		d.status[ev.Step] = line
	}
	d.redraw()
}

// redraw rewrites the step lines in place (cursor up, clear line).
func (d *display) redraw() {
	var b strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", d.drawn)
	}
	for _, id := range d.order {
		st := d.status[id]
		if safeID := termSafe(id); !strings.HasPrefix(st, safeID) {
			st = fmt.Sprintf("%-24s %s", safeID, st)
		}
		fmt.Fprintf(&b, "\x1b[2K  %s\n", st)
	}
	d.drawn = len(d.order)
	io.WriteString(d.w, b.String())
}

// eventLine renders one event for people, or "" for events not worth a
// line. Its fields come from the directories (summaries, errors) or from a
// journal file (show), so each is printed through termSafe.
func eventLine(ev engine.Event) string {
	step := fmt.Sprintf("%-24s", termSafe(ev.Step))
	ev.Phase, ev.Error, ev.Message = termSafe(ev.Phase), termSafe(ev.Error), termSafe(ev.Message)
	ev.Summary, ev.BlockedBy = termSafe(ev.Summary), termSafe(ev.BlockedBy)
	switch ev.Type {
	case engine.EventStepStarted:
		if ev.Resumed {
			return step + " started (resumed: checking before acting)"
		}
		return step + " started"
	case engine.EventStepAttempt:
		if ev.RetryWait > 0 {
			return fmt.Sprintf("%s %s attempt %d failed: %s; retrying in %s", step, ev.Phase, ev.Attempt, ev.Error, time.Duration(ev.RetryWait))
		}
		return fmt.Sprintf("%s %s attempt %d failed: %s", step, ev.Phase, ev.Attempt, ev.Error)
	case engine.EventStepProgress:
		return step + " " + ev.Message
	case engine.EventStepSatisfied:
		if ev.Unchecked {
			return step + " NOT CHECKED: " + ev.Summary
		}
		return step + " already done: " + ev.Summary
	case engine.EventStepSucceeded:
		return step + " succeeded: " + ev.Summary
	case engine.EventStepFailed:
		return step + " FAILED: " + ev.Error
	case engine.EventStepBlocked:
		if ev.Aborted {
			return step + " not started: the run was aborted by " + ev.BlockedBy
		}
		return step + " blocked: " + ev.BlockedBy + " failed"
	case engine.EventRunInterrupted:
		return "run interrupted: resumable"
	}
	return ""
}
