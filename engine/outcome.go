package engine

import (
	"fmt"
	"strings"
)

// Assessment is what a run reached, read from its plan and its steps'
// results: the one source of the outcome, of "contained" and of what keeps
// a subject from being contained, for the text and JSON output, the journal
// and `runs` alike.
type Assessment struct {
	Outcome Outcome
	// Contained is true when the runbook has containment steps, every one
	// that was to run ended succeeded or satisfied, at least one ran, and
	// the subject has no gap (a synced account whose source is missing).
	Contained bool
	// Missing says, one line each, what keeps the subject from being
	// contained: gaps first, then each containment step that did not
	// complete with why. Empty when contained or when the runbook has no
	// containment step.
	Missing []string
	// CleanupFailed lists the steps outside containment that failed, were
	// blocked or aborted.
	CleanupFailed []string
}

// Assess judges a run. cancelled says the run stopped before every step
// ended (its outcome is then OutcomeCancelled whatever it reached);
// denied that the policies refused it.
func Assess(plan *Plan, results []StepResult, cancelled bool) Assessment {
	if plan.Denied() {
		return Assessment{Outcome: OutcomeDenied, Missing: []string{"the run was denied: nothing ran"}}
	}
	var (
		a       Assessment
		planned int // containment steps in the runbook
		ran     int // … that the policies let run
		skipped []string
		byID    = map[string]*StepResult{}
	)
	for i := range results {
		byID[results[i].ID] = &results[i]
	}
	a.Missing = append(a.Missing, plan.subjectGaps()...)
	for _, ps := range plan.Steps {
		r := byID[ps.Def.ID]
		containment := ps.Def.Spec != nil && ps.Def.Spec.Containment
		if containment {
			planned++
		}
		if !ps.Run {
			if containment {
				skipped = append(skipped, fmt.Sprintf("%s (%s)", ps.Def.ID, ps.Reason))
			}
			continue
		}
		status := Status("")
		if r != nil {
			status = r.Status
		}
		done := status == StatusSucceeded || status == StatusSatisfied
		// An unchecked clean-up step did nothing and failed nothing: the
		// residual report names what it could not read. An unchecked
		// containment step did not contain.
		failed := !done && status != StatusUnchecked && status != "" && status != StatusCancelled && status != StatusInterrupted
		switch {
		case containment:
			ran++
			if !done {
				a.Missing = append(a.Missing, "step "+ps.Def.ID+" ("+ps.Def.Uses+") "+notDone(r))
			}
		case failed:
			a.CleanupFailed = append(a.CleanupFailed, ps.Def.ID)
		}
	}
	if planned > 0 && ran == 0 {
		a.Missing = append(a.Missing, "the policies skipped every containment step: "+strings.Join(skipped, "; "))
	}
	a.Missing = append(a.Missing, masterNotContained(plan, byID)...)
	a.Contained = planned > 0 && len(a.Missing) == 0
	switch {
	case cancelled:
		a.Outcome = OutcomeCancelled
	case planned == 0 && len(a.CleanupFailed) > 0:
		// Without containment steps every step is clean-up.
		a.Outcome = OutcomeFailed
	case planned == 0:
		a.Outcome = OutcomeSucceeded
	case !a.Contained:
		a.Outcome = OutcomeNotContained
	case len(a.CleanupFailed) > 0:
		a.Outcome = OutcomeContainedCleanupFailed
	default:
		a.Outcome = OutcomeContained
	}
	return a
}

// notDone says why a containment step did not complete.
func notDone(r *StepResult) string {
	if r == nil {
		return "never ran"
	}
	switch r.Status {
	case StatusBlocked:
		return "was blocked by " + r.BlockedBy
	case StatusAborted:
		return "never started: the run was aborted after " + r.BlockedBy + " failed"
	case StatusCancelled, "":
		return "never started: the run was cancelled"
	case StatusInterrupted:
		return "was interrupted"
	case StatusUnchecked:
		return "could not check: " + r.Change.Summary
	}
	if r.Error != "" {
		return string(r.Status) + ": " + r.Error
	}
	return string(r.Status)
}

// masterNotContained says, for each record mastered in another backend
// that found the subject (a synced user's AD account), that no containment
// step of that backend completed: a policy skipped them, or they failed.
// The copy's block is undone by the next sync, so the run is not contained
// however its own steps ended. (A master that found nothing is a gap.)
func masterNotContained(plan *Plan, byID map[string]*StepResult) []string {
	if plan.Subject == nil {
		return nil
	}
	var out []string
	for _, name := range sortedKeys(plan.Subject.Identities) {
		master := plan.Subject.Identities[name].MasteredIn
		if master == "" || !plan.Subject.Found(master) {
			continue
		}
		var why []string
		done := false
		for _, ps := range plan.Steps {
			spec := ps.Def.Spec
			if spec == nil || !spec.Containment || spec.Backend() != master {
				continue
			}
			r := byID[ps.Def.ID]
			switch {
			case !ps.Run:
				why = append(why, ps.Def.ID+" skipped: "+ps.Reason)
			case r != nil && (r.Status == StatusSucceeded || r.Status == StatusSatisfied):
				done = true
			}
		}
		if done {
			continue
		}
		msg := fmt.Sprintf("the %s account of %s is synced from %s, and no %s containment step completed", name, plan.Subject.Ref, master, master)
		if len(why) > 0 {
			msg += " (" + strings.Join(why, "; ") + ")"
		}
		out = append(out, msg+": the next directory sync undoes the "+name+" block")
	}
	return out
}

// subjectGaps are the subject's gaps, which no step can close.
func (p *Plan) subjectGaps() []string {
	if p.Subject == nil {
		return nil
	}
	return p.Subject.Gaps
}

// ExitCode is the process exit code for an outcome: 0 contained or
// succeeded, 1 not contained, failed, cancelled or interrupted, 3 denied,
// 4 contained with a clean-up step failed.
func (o Outcome) ExitCode() int {
	switch o {
	case OutcomeContained, OutcomeSucceeded:
		return 0
	case OutcomeDenied:
		return 3
	case OutcomeContainedCleanupFailed:
		return 4
	}
	return 1
}
