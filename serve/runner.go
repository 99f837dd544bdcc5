package serve

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/steps"
)

// execute runs (or resumes) run id to its end; the driver calls it. A run
// that is no longer queued or scheduled (cancelled meanwhile) is left
// alone. When ctx ends first (the service stops), the run is interrupted
// at a journal boundary and stays "started" in the request journal, so
// the next start resumes it.
func (s *Server) execute(ctx context.Context, id string) {
	s.mu.Lock()
	rs := s.runs[id]
	if rs == nil || (rs.Status != StatusQueued && rs.Status != StatusScheduled) {
		s.mu.Unlock()
		return
	}
	rec := record{Type: recStarted, Time: s.now(), ID: id}
	if err := s.store.Append(rec); err != nil {
		s.mu.Unlock()
		// Not started; the next start of the service tries again.
		s.Logger.Error("request journal", "run", id, "error", err)
		return
	}
	s.apply(rs, rec)
	req, caller, approver := rs.Request, rs.Caller, rs.ApprovedBy
	s.mu.Unlock()
	s.metrics.running.Inc()
	defer s.metrics.running.Dec()

	res, err := s.runOrResume(ctx, id, req, caller, approver)
	if ctx.Err() != nil && (err != nil || res == nil || res.Outcome == engine.OutcomeCancelled) {
		// Interrupted by the service stopping: resumed on the next start.
		s.Logger.Info("run interrupted by shutdown", "run", id)
		return
	}
	end := record{Time: s.now(), ID: id}
	if err != nil {
		end.Type, end.Error = recFailed, err.Error()
	} else {
		end.Type, end.Outcome, end.Contained = recFinished, res.Outcome, res.Contained
	}
	s.mu.Lock()
	if err := s.store.Append(end); err != nil {
		s.Logger.Error("request journal", "run", id, "error", err)
	}
	s.apply(rs, end)
	s.mu.Unlock()
	if err != nil {
		s.metrics.ended(StatusFailed)
		s.Logger.Error("run failed", "run", id, "error", err)
		return
	}
	s.metrics.finished(res)
	s.Logger.Info("run finished", "run", id, "outcome", res.Outcome, "contained", res.Contained)
}

// runOrResume starts run id afresh, or, when its journal exists (the
// service stopped or died while it ran), resumes it from there.
func (s *Server) runOrResume(ctx context.Context, id string, req RunRequest, caller Caller, approver *Caller) (*engine.Result, error) {
	// A journal killed before its first line is discarded: that run did
	// nothing and starts afresh.
	switch started, err := engine.RunStarted(s.Env.StateDir, id); {
	case err != nil:
		return nil, err
	case started:
		return s.resume(ctx, id)
	}
	subject, err := s.Env.Conns.Resolve(ctx, s.Env.Registry, req.User)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", req.User, err)
	}
	// One run per person at a time, also across a CLI's runs: this one
	// waits for another to end, and decides on what that one left.
	lock, err := engine.LockSubject(ctx, s.Env.StateDir, subject, id, true)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	rb := s.Env.Runbooks[req.Runbook]
	if rb == nil {
		return nil, fmt.Errorf("runbook %s is no longer loaded", req.Runbook)
	}
	ereq := engine.Request{RequestedBy: requester(&caller), Reason: req.Reason, Ticket: req.Ticket}
	if approver != nil {
		ereq.ApprovedBy, ereq.AllowProtected = requester(approver), true
	}
	plan, lints, err := s.Env.Policy.Plan(ctx, rb, s.Env.Facts, subject, ereq)
	if err != nil {
		return nil, err
	}
	if lints.Errors() > 0 {
		var msgs []string
		for _, l := range lints {
			msgs = append(msgs, l.String())
		}
		return nil, errors.New("the plan has errors: " + strings.Join(msgs, "; "))
	}
	j, err := engine.CreateJournal(s.Env.StateDir, id)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer j.Close()
	x := s.executor(j)
	return x.Run(ctx, plan)
}

// resume continues run id from its journal, as `revoke resume` does:
// only where and on whom it started, holding the subject's lock.
func (s *Server) resume(ctx context.Context, id string) (*engine.Result, error) {
	j, log, err := engine.OpenJournal(s.Env.StateDir, id, false)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	if fin := log.Finished(); fin != nil {
		// It ended before the service could journal that it did.
		return &engine.Result{RunID: id, Outcome: fin.Outcome, Contained: contained(fin.Outcome)}, nil
	}
	rec := log.Record()
	plan, state, err := engine.ResumePlan(log, s.Env.Registry, s.Env.Runbooks[rec.Runbook], s.Env.Policy.Digest, false)
	if err != nil {
		return nil, err
	}
	if err := engine.SameEnvironment(id, rec.Environment, s.Env.Facts); err != nil {
		return nil, err
	}
	journaled := rec.Subject
	engine.Identify(s.Env.Registry, &journaled)
	now, err := s.Env.Conns.Resolve(ctx, s.Env.Registry, rec.Subject.Ref)
	switch {
	case steps.ClassOf(err) == steps.NotFound:
		now = &steps.Subject{Ref: rec.Subject.Ref}
	case err != nil:
		return nil, err
	}
	if err := engine.SameSubject(&journaled, now); err != nil {
		return nil, err
	}
	lock, err := engine.LockSubject(ctx, s.Env.StateDir, now, id, true)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	s.Logger.Info("resuming run", "run", id)
	return s.executor(nil).Resume(ctx, plan, state, j)
}

// executor journals into j and reports events to the metrics.
func (s *Server) executor(j *engine.Journal) *engine.Executor {
	onEvent := s.metrics.event
	if s.WrapEvents != nil {
		onEvent = s.WrapEvents(onEvent)
	}
	return &engine.Executor{Conns: s.Env.Conns, MaxParallel: s.Env.MaxParallel, Logger: s.Logger, Journal: j, OnEvent: onEvent}
}
