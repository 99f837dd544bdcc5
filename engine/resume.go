package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// ResumeState is what a journal says about an interrupted run, for
// Executor.Resume.
type ResumeState struct {
	RunID string
	// Started is when the run first started: Call.RunStarted and the
	// containment time count from it.
	Started time.Time
	// Steps holds the journaled history of every step that started or was
	// blocked, by id. Ended steps are not run again; started-but-unended
	// ones run with Call.Resumed and their progress in Call.Prior.
	Steps map[string]*StepHistory
	// Notes are journaled with run_resumed: a changed runbook or policy
	// resumed with force, a torn last line that was cut off.
	Notes []string
}

// ResumePlan rebuilds the plan of an interrupted run from its journal, not
// by deciding again: the steps, parameters, skips and limits it journaled.
// rb is the runbook as loaded now and policyDigest the policies' digest
// now; when either differs from what the run started with (or rb is nil:
// the runbook is gone) ResumePlan refuses unless force, and with force the
// journaled plan still runs. A run that finished is not resumed. The
// registry supplies the specs of the steps still to run.
func ResumePlan(log *JournalLog, reg *steps.Registry, rb *Runbook, policyDigest string, force bool) (*Plan, *ResumeState, error) {
	rec := log.Record()
	if fin := log.Finished(); fin != nil {
		return nil, nil, fmt.Errorf("run %s already finished (%s): there is nothing to resume", log.RunID, fin.Outcome)
	}
	state := &ResumeState{RunID: log.RunID, Started: log.Events[0].Time, Steps: log.StepHistories(),
		Notes: append([]string(nil), log.Warnings...)}
	var changed []string
	switch {
	case rb == nil:
		changed = append(changed, fmt.Sprintf("runbook %s is no longer loaded", rec.Runbook))
	case rb.Digest != rec.Digest:
		changed = append(changed, fmt.Sprintf("runbook %s changed since the run started (digest %s, now %s)",
			rec.Runbook, short(rec.Digest), short(rb.Digest)))
	}
	if policyDigest != rec.PolicyDigest {
		changed = append(changed, fmt.Sprintf("the policies changed since the run started (digest %s, now %s)",
			short(rec.PolicyDigest), short(policyDigest)))
	}
	if len(changed) > 0 && !force {
		return nil, nil, fmt.Errorf("run %s: %s; resume with force to run the journaled plan anyway",
			log.RunID, joinSemi(changed))
	}
	for _, c := range changed {
		state.Notes = append(state.Notes, "forced: "+c+"; the journaled plan runs")
	}

	runbook := &Runbook{Version: 1, Name: rec.Runbook, Title: rec.Title, Scenario: rec.Scenario,
		File: rec.File, Digest: rec.Digest}
	plan := &Plan{Runbook: runbook, Environment: rec.Environment, Request: rec.Request,
		PolicyDigest: rec.PolicyDigest}
	subject := rec.Subject
	plan.Subject = &subject
	plan.Deny, plan.Warn = log.Decision()
	var problems []error
	for _, pr := range rec.Steps {
		def := &StepDef{ID: pr.ID, Uses: pr.Uses, Needs: pr.Needs, OnError: pr.OnError,
			Retry:   Retry{Attempts: pr.Retry.Attempts, MaxWait: time.Duration(pr.Retry.MaxWait)},
			Timeout: time.Duration(pr.Timeout), Tags: pr.Tags}
		h := state.Steps[pr.ID]
		toRun := pr.Run && (h == nil || !h.Status.Ended())
		spec, ok := reg.Step(pr.Uses)
		switch {
		case ok:
			def.Spec = spec
			with, err := journaledWith(spec, pr.With)
			if err != nil {
				if toRun {
					problems = append(problems, fmt.Errorf("step %s: %w", pr.ID, err))
				}
				with = steps.Values(pr.With)
			}
			def.With = with
		case toRun:
			problems = append(problems, fmt.Errorf("step %s uses %s, which is not registered", pr.ID, pr.Uses))
		default:
			// Ended or skipped: it will not run, so its spec is not needed.
			def.With = steps.Values(pr.With)
		}
		runbook.Steps = append(runbook.Steps, def)
		plan.Steps = append(plan.Steps, &PlannedStep{Def: def, Run: pr.Run, Reason: pr.Reason, With: def.With})
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("run %s cannot be resumed: %w", log.RunID, errors.Join(problems...))
	}
	assignWaves(plan.Steps)
	return plan, state, nil
}

// journaledWith converts journaled parameters (JSON: durations as strings,
// numbers as float64) back to their Go types, filling defaults of
// parameters the spec gained since.
func journaledWith(spec *steps.Spec, with map[string]any) (steps.Values, error) {
	out := steps.Values{}
	for _, name := range sortedKeys(with) {
		p := spec.Param(name)
		if p == nil {
			return nil, fmt.Errorf("journaled parameter %q is no longer a parameter of %s", name, spec.Name)
		}
		v, err := ConvertParam(p, with[name])
		if err != nil {
			return nil, fmt.Errorf("journaled parameter %s.%s: %v", spec.Name, name, err)
		}
		out[name] = v
	}
	if problems := FillDefaults(spec, out); len(problems) > 0 {
		return nil, errors.New(joinSemi(problems))
	}
	return out, nil
}

// Resume continues an interrupted run in its own journal (continuing its
// sequence and hash chain) after a run_resumed event. Steps that ended are
// not run again; a step that started but never ended runs with
// Call.Resumed and Call.Prior, and, like every step, is Checked before any
// Apply, so a change the crashed run made is found satisfied. Steps that
// never started run as in Run.
func (x *Executor) Resume(ctx context.Context, plan *Plan, state *ResumeState, j *Journal) (*Result, error) {
	if state == nil || j == nil {
		return nil, errors.New("resume: need the run's state and journal")
	}
	if j.RunID() != state.RunID {
		return nil, fmt.Errorf("resume: journal %s is not run %s's", j.Path(), state.RunID)
	}
	r, err := x.newRun(ctx, plan, j, state)
	if err != nil {
		return nil, err
	}
	defer r.cancel()
	r.runID, r.started = state.RunID, state.Started
	if _, err := r.emit(Event{Type: EventRunResumed, RunID: r.runID, Notes: state.Notes}); err != nil {
		return nil, fmt.Errorf("run %s: %w", r.runID, err)
	}
	x.logger().Info("run resumed", "run", r.runID, "runbook", plan.Runbook.Name, "subject", subjectRef(plan))
	return r.execute()
}

// short abbreviates a digest for messages.
func short(digest string) string {
	if digest == "" {
		return "none"
	}
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

func joinSemi(parts []string) string { return strings.Join(parts, "; ") }
