package serve

import (
	"slices"
	"time"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/steps"
)

// Statuses of a run in the service.
const (
	// StatusQueued: accepted, waiting for a free slot.
	StatusQueued = "queued"
	// StatusScheduled: waiting for its not_before.
	StatusScheduled = "scheduled"
	// StatusAwaitingApproval: waiting for a different caller's approval.
	StatusAwaitingApproval = "awaiting_approval"
	// StatusRunning: its journal is being written.
	StatusRunning = "running"
	// StatusCompleted: the run ended; its outcome says how.
	StatusCompleted = "completed"
	// StatusFailed: the run could not start or could not be resumed; its
	// error says why.
	StatusFailed    = "failed"
	StatusRejected  = "rejected"
	StatusCancelled = "cancelled"
	// StatusExpired: nobody approved it in time.
	StatusExpired = "expired"
)

// active reports whether a run with this status may still act: a request
// for the same subject and runbook gets it instead of a new run.
func active(status string) bool {
	switch status {
	case StatusQueued, StatusScheduled, StatusAwaitingApproval, StatusRunning:
		return true
	}
	return false
}

// PlannedStep is one step of a run's plan as the service shows it.
type PlannedStep struct {
	ID     string `json:"id"`
	Uses   string `json:"uses"`
	Run    bool   `json:"run"`
	Reason string `json:"reason,omitempty"`
}

// runState is one run as the service knows it, rebuilt from the request
// journal on start.
type runState struct {
	ID                    string
	Request               RunRequest
	Caller                Caller
	RemoteAddr, RequestID string
	Created               time.Time
	Status                string
	Keys                  []string
	IdemKey, BodyHash     string
	Batch                 bool
	ApprovalExpires       time.Time
	Plan                  []PlannedStep
	Warnings, Protected   []string
	ApprovedBy, EndedBy   *Caller
	Outcome               engine.Outcome
	Contained             bool
	Error                 string
	Updated               time.Time
	// subject is as resolved at acceptance; nil after a restart.
	subject *steps.Subject
}

// startAt is when the run may start.
func (r *runState) startAt() time.Time {
	if r.Request.NotBefore != nil {
		return *r.Request.NotBefore
	}
	return time.Time{}
}

// sameTarget reports whether r acts on the same person (a shared subject
// key) with the same runbook.
func (r *runState) sameTarget(runbook string, keys []string) bool {
	if r.Request.Runbook != runbook {
		return false
	}
	for _, k := range keys {
		if slices.Contains(r.Keys, k) {
			return true
		}
	}
	return false
}

// replay applies one request-journal record to the runs (under Open).
func (s *Server) replay(rec record) {
	if rec.Type == recAccepted {
		if rec.Request == nil || rec.Caller == nil {
			return
		}
		r := &runState{ID: rec.ID, Request: *rec.Request, Caller: *rec.Caller, RemoteAddr: rec.RemoteAddr,
			RequestID: rec.RequestID, Created: rec.Time, Status: rec.Status, Keys: rec.SubjectKeys,
			IdemKey: rec.IdempotencyKey, BodyHash: rec.BodyHash, Batch: rec.Batch, ApprovalExpires: rec.ApprovalExpires,
			Plan: rec.Plan, Warnings: rec.Warnings, Protected: rec.Protected, Updated: rec.Time}
		s.add(r)
		return
	}
	r := s.runs[rec.ID]
	if r == nil {
		return
	}
	s.apply(r, rec)
}

// add records a new run and its idempotency key.
func (s *Server) add(r *runState) {
	s.runs[r.ID] = r
	s.order = append(s.order, r.ID)
	if r.IdemKey != "" {
		k := idemMapKey(r.Caller.ID, r.IdemKey)
		e := s.idem[k]
		if e == nil {
			e = &idemEntry{hash: r.BodyHash, one: !r.Batch}
			s.idem[k] = e
		}
		e.ids = append(e.ids, r.ID)
	}
}

// apply changes r's state as rec says (and as it was journaled).
func (s *Server) apply(r *runState, rec record) {
	r.Updated = rec.Time
	switch rec.Type {
	case recApproved:
		r.ApprovedBy = rec.By
		r.Status = StatusQueued
		if r.Request.NotBefore != nil && r.Request.NotBefore.After(rec.Time) {
			r.Status = StatusScheduled
		}
	case recRejected:
		r.Status, r.EndedBy = StatusRejected, rec.By
	case recCancelled:
		r.Status, r.EndedBy = StatusCancelled, rec.By
	case recExpired:
		r.Status = StatusExpired
	case recStarted:
		r.Status = StatusRunning
	case recFinished:
		r.Status, r.Outcome, r.Contained = StatusCompleted, rec.Outcome, rec.Contained
	case recFailed:
		r.Status, r.Error = StatusFailed, rec.Error
	}
}

// idemMapKey scopes an Idempotency-Key to its caller: two callers never
// share a key's run by accident.
func idemMapKey(callerID, key string) string { return callerID + "\x00" + key }

// expireLocked marks runs whose approval expired (with s.mu held),
// journaling each; it returns the first journal error.
func (s *Server) expireLocked() error {
	now := s.now()
	for _, id := range s.order {
		r := s.runs[id]
		if r.Status != StatusAwaitingApproval || now.Before(r.ApprovalExpires) {
			continue
		}
		rec := record{Type: recExpired, Time: now, ID: id}
		if err := s.store.Append(rec); err != nil {
			return err
		}
		s.apply(r, rec)
		s.metrics.ended(StatusExpired)
	}
	return nil
}
