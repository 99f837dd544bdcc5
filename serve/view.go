package serve

import (
	"time"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/steps"
)

// RunView is GET /v1/runs/{id}'s answer: the request, where the run is,
// its plan, and, once its journal exists, each step's result, whether
// containment was reached and what the subject still holds.
type RunView struct {
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	URL       string     `json:"url"`
	Runbook   string     `json:"runbook"`
	User      string     `json:"user"`
	Reason    string     `json:"reason"`
	Ticket    string     `json:"ticket,omitempty"`
	Created   time.Time  `json:"created"`
	Updated   time.Time  `json:"updated"`
	NotBefore *time.Time `json:"not_before,omitempty"`
	// RequestedBy, ApprovedBy and EndedBy (who rejected or cancelled) are
	// caller ids.
	RequestedBy     string     `json:"requested_by"`
	ApprovedBy      string     `json:"approved_by,omitempty"`
	EndedBy         string     `json:"ended_by,omitempty"`
	ApprovalExpires *time.Time `json:"approval_expires,omitempty"`
	// Protected says why the subject is protected (and so waits for
	// approval); Warnings are the policies' warnings on the plan.
	Protected []string      `json:"protected,omitempty"`
	Warnings  []string      `json:"warnings,omitempty"`
	Plan      []PlannedStep `json:"plan"`
	// Outcome is the run's (docs/execution.md), once it ended; Contained
	// is true only when containment was reached.
	Outcome   engine.Outcome `json:"outcome,omitempty"`
	Contained bool           `json:"contained"`
	// TimeToContainment is in seconds, when contained.
	TimeToContainment float64          `json:"time_to_containment,omitempty"`
	Error             string           `json:"error,omitempty"`
	Steps             []StepView       `json:"steps,omitempty"`
	Residual          []steps.Residual `json:"residual,omitempty"`
}

// StepPending is the status of a planned step that has not started.
const StepPending engine.Status = "pending"

// StepView is one step's result as the run's journal tells it.
type StepView struct {
	ID      string        `json:"id"`
	Uses    string        `json:"uses"`
	Status  engine.Status `json:"status"`
	Summary string        `json:"summary,omitempty"`
	Error   string        `json:"error,omitempty"`
	Reason  string        `json:"reason,omitempty"`
	Started time.Time     `json:"started,omitzero"`
	Ended   time.Time     `json:"ended,omitzero"`
}

// viewLocked is rs's view without its journal (with s.mu held).
func (s *Server) viewLocked(rs *runState) RunView {
	v := RunView{ID: rs.ID, Status: rs.Status, URL: runURL(rs.ID), Runbook: rs.Request.Runbook,
		User: rs.Request.User, Reason: rs.Request.Reason, Ticket: rs.Request.Ticket, Created: rs.Created,
		Updated: rs.Updated, NotBefore: rs.Request.NotBefore, RequestedBy: rs.Caller.ID,
		Protected: rs.Protected, Warnings: rs.Warnings, Plan: rs.Plan, Outcome: rs.Outcome,
		Contained: rs.Contained, Error: rs.Error}
	if v.Plan == nil {
		v.Plan = []PlannedStep{}
	}
	if rs.ApprovedBy != nil {
		v.ApprovedBy = rs.ApprovedBy.ID
	}
	if rs.EndedBy != nil {
		v.EndedBy = rs.EndedBy.ID
	}
	if rs.Status == StatusAwaitingApproval {
		t := rs.ApprovalExpires
		v.ApprovalExpires = &t
	}
	return v
}

// view is rs's view; with steps, the step results, containment and
// residual read from its journal.
func (s *Server) view(rs *runState, withSteps bool) RunView {
	s.mu.Lock()
	v := s.viewLocked(rs)
	s.mu.Unlock()
	if !withSteps {
		return v
	}
	log, err := engine.ReadRun(s.Env.StateDir, rs.ID)
	if err != nil || len(log.Events) == 0 || log.Record() == nil {
		return v
	}
	hist := log.StepHistories()
	for _, pr := range log.Record().Steps {
		sv := StepView{ID: pr.ID, Uses: pr.Uses, Reason: pr.Reason, Status: StepPending}
		if !pr.Run {
			sv.Status = engine.StatusSkipped
		}
		if h := hist[pr.ID]; h != nil {
			sv.Status, sv.Summary, sv.Error, sv.Started, sv.Ended = h.Status, h.Summary, h.Error, h.Started, h.Ended
		}
		v.Steps = append(v.Steps, sv)
	}
	for _, ev := range log.Events {
		switch ev.Type {
		case engine.EventResidual:
			v.Residual = ev.Residual
		case engine.EventRunFinished:
			// The journal is the truth of how the run ended, also in the
			// instant before the request journal says so.
			v.Outcome = ev.Outcome
			v.Contained = contained(ev.Outcome)
			if v.Contained {
				v.TimeToContainment = time.Duration(ev.Containment).Seconds()
			}
		}
	}
	return v
}

// contained reports whether an outcome means containment was reached.
func contained(o engine.Outcome) bool {
	return o == engine.OutcomeContained || o == engine.OutcomeContainedCleanupFailed
}
