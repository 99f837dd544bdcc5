package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/steps"
)

// runCmd executes a runbook for a subject.
type runCmd struct {
	subjectFlags
	bulkFlags
	yes         bool
	wait        bool
	maxParallel int
	stateDir    string
}

func (*runCmd) Name() string     { return "run" }
func (*runCmd) Synopsis() string { return "execute a runbook for a subject (asks first unless --yes)" }
func (*runCmd) Usage() string {
	return "RUNBOOK (--user REF | --users FILE) [--env FILE] [--yes]"
}

func (r *runCmd) SetFlags(fs *pflag.FlagSet) {
	r.subjectFlags.set(fs)
	fs.BoolVarP(&r.yes, "yes", "y", false, "do not ask before changing anything (required when stdin is not a terminal)")
	fs.BoolVar(&r.wait, "wait", false, "when another run is acting on the subject, wait for it to end instead of refusing")
	fs.IntVar(&r.maxParallel, "max-parallel", 8, "how many steps may run at once")
	fs.StringVar(&r.stateDir, "state-dir", "", "where journals go (default: the environment's state_dir)")
	r.bulkFlags.set(fs, true)
}

// wrapRunEvents, when set, wraps the event hook of every `revoke run`.
// Production code never sets it: the crash tests do (crash_test.go), so
// that the hook that kills a run mid-journal exists only in test builds.
var wrapRunEvents func(next func(engine.Event)) func(engine.Event)

func (r *runCmd) Run(ctx context.Context, c *cli, args []string) error {
	if r.users != "" {
		return r.runBulk(ctx, c, args)
	}
	if err := r.check(c, args, "run"); err != nil {
		return err
	}
	if r.maxParallel < 1 {
		return usageErrorf("--max-parallel must be at least 1")
	}
	if !r.yes && !c.isTerminal(c.stdin) {
		return usageErrorf("refusing to change anything without --yes: stdin is not a terminal to ask on")
	}
	ws, rb, err := r.load(c, args[0])
	if err != nil {
		return err
	}
	sess, err := c.openSession(ctx, r.envFile, r.stateDir)
	if err != nil {
		return err
	}
	defer sess.Close()
	out := c.stdout
	human := r.output == "text"
	if human && sess.env.tenant != nil {
		fmt.Fprintln(out, "Sandbox: no --env given, so this runs against an embedded sandbox tenant seeded with examples/sandbox/contoso.yaml. Nothing real is touched.")
		fmt.Fprintln(out)
	}
	subject, err := sess.resolve(ctx, r.user)
	if err != nil {
		return err
	}
	// One run per person at a time, across processes: a second responder
	// is refused (or waits) before anything is decided, so two runs never
	// reset a password four times. One that waited decides on what the
	// first left, not on what it saw before.
	runID := engine.NewRunID()
	lock, err := engine.LockSubject(ctx, sess.env.StateDir, subject, runID, false)
	if busy := (*engine.SubjectBusyError)(nil); errors.As(err, &busy) && r.wait {
		fmt.Fprintf(c.stderr, "revoke: %s: waiting for it to end\n", termSafe(strings.TrimSuffix(busy.Error(), ": wait for it to end, or pass --wait")))
		if lock, err = engine.LockSubject(ctx, sess.env.StateDir, subject, runID, true); err == nil {
			if subject, err = sess.resolve(ctx, r.user); err != nil {
				lock.Release()
			}
		}
	}
	if err != nil {
		return err
	}
	defer lock.Release()
	plan, lints, err := ws.Policy.Plan(ctx, rb, sess.facts(), subject, r.request(c, engine.Request{}))
	if err != nil {
		return err
	}
	for _, l := range lints {
		fmt.Fprintln(c.stderr, l.String())
	}
	if lints.Errors() > 0 {
		return errSilent(exitFailure)
	}

	// With --yes nothing is shown to a person who could say no, so the
	// live Check round would only delay containment: the executor Checks
	// each step anyway. The permission preflight costs no Graph call.
	var previews map[string]*engine.Preview
	if !r.yes && !plan.Denied() {
		previews = engine.PreviewPlan(ctx, plan, sess.conns, r.maxParallel)
	} else {
		previews = engine.PreflightPlan(ctx, plan, sess.conns)
	}
	if human {
		printPlanWith(out, plan, previewNote(previews))
		if sess.env.tenant != nil {
			printSandboxState(ctx, out, sess, "Before", r.user)
		}
	}
	if plan.Denied() {
		// The refusal is journaled like any run: who asked, and why not.
		res, err := sess.executor(r.maxParallel, nil).Run(ctx, plan)
		if err != nil {
			return err
		}
		if !human {
			writeJSON(out, res)
		}
		return errSilent(exitDenied)
	}
	if !r.yes {
		ok, err := confirm(c.stdin, out, fmt.Sprintf("\nRun %s on %s in %s? [y/N] ", plan.Runbook.Name, subject.Ref, sess.env.Name))
		if err != nil || !ok {
			fmt.Fprintln(out, "Nothing changed.")
			return errSilent(exitFailure)
		}
	}

	var onEvent func(engine.Event)
	if human {
		onEvent = newDisplay(out, plan, c.isTerminal(c.stdout)).event
	}
	x := sess.executor(r.maxParallel, onEvent)
	x.runID = runID
	if wrapRunEvents != nil {
		x.OnEvent = wrapRunEvents(x.OnEvent)
	}
	if human {
		fmt.Fprintln(out)
	}
	res, err := x.Run(ctx, plan)
	if err != nil {
		return err
	}
	return finishRun(ctx, c, sess, res, human, r.user)
}

// finishRun prints a run's summary and turns its outcome into an exit code
// (the table in docs/execution.md).
func finishRun(ctx context.Context, c *cli, sess *session, res *engine.Result, human bool, user string) error {
	out := c.stdout
	if !human {
		if err := writeJSON(out, res); err != nil {
			return err
		}
	} else {
		printSummary(out, res)
		if sess.env.tenant != nil {
			printSandboxState(context.WithoutCancel(ctx), out, sess, "After", user)
		}
		printNext(out, sess, res, user)
	}
	code := res.Outcome.ExitCode()
	switch {
	case res.Outcome == engine.OutcomeCancelled || res.Outcome == engine.OutcomeInterrupted:
		return &exitError{code: code, err: fmt.Errorf("run %s interrupted; to continue: %s", res.RunID, resumeHint(sess, res.RunID))}
	case code == 0:
		return nil
	}
	return errSilent(code)
}

// resumeHint is the command that continues a run, or why there is none.
func resumeHint(sess *session, runID string) string {
	if sess.env.tenant != nil {
		return "a run against the embedded sandbox cannot be resumed (its tenant ended with the process)"
	}
	hint := "revoke resume " + runID
	if sess.envFile != "" {
		hint += " --env " + sess.envFile
	}
	return hint
}

// printNext ends a run's report with where its journal is and what to do
// next: check it, resume it, grant what was missing, or run it again.
func printNext(w io.Writer, sess *session, res *engine.Result, user string) {
	if path, err := engine.RunPath(sess.env.StateDir, res.RunID); err == nil {
		fmt.Fprintf(w, "\nJournal: %s\n", termSafe(path))
	}
	env := ""
	if sess.envFile != "" {
		env = " --env " + sess.envFile
	}
	var next []string
	switch res.Outcome {
	case engine.OutcomeCancelled, engine.OutcomeInterrupted:
		next = append(next, resumeHint(sess, res.RunID),
			"revoke inventory --user "+user+env+" (what the subject still holds is read at the end of a run, and this one did not end)")
	case engine.OutcomeNotContained, engine.OutcomeContainedCleanupFailed, engine.OutcomeFailed:
		failed := false
		for _, s := range res.Steps {
			if grant := "grant " + s.Permission + " (step " + s.ID + " was refused without it)"; s.Permission != "" && !slices.Contains(next, grant) {
				next = append(next, grant)
			}
			failed = failed || s.Status == engine.StatusFailed || s.Status == engine.StatusBlocked || s.Status == engine.StatusAborted
		}
		// A run again finds changes already in place satisfied; a password
		// reset is a new change each time and is made again.
		again := "then run the runbook again for " + user + " (changes already in place are found satisfied; password resets are made again)"
		if failed {
			next = append(next, "fix what the failed steps say, "+again)
		} else {
			next = append(next, "act on what NOT CONTAINED lists above, "+again)
		}
	}
	next = append(next, "revoke show "+res.RunID+" --verify"+env)
	fmt.Fprintln(w, "Next:")
	for _, n := range next {
		fmt.Fprintln(w, "  "+termSafe(n))
	}
}

func confirm(in io.Reader, out io.Writer, prompt string) (bool, error) {
	fmt.Fprint(out, prompt)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes", nil
}

// previewNote renders a step's live Check and permission preflight.
func previewNote(previews map[string]*engine.Preview) func(id string) string {
	return func(id string) string {
		p := previews[id]
		if p == nil {
			return ""
		}
		var parts []string
		switch {
		case p.Err != nil:
			parts = append(parts, "check failed: "+p.Err.Error())
		case p.Change.Unchecked:
			parts = append(parts, "cannot check: "+p.Change.Summary)
		case p.Change.Satisfied:
			parts = append(parts, "already done: "+p.Change.Summary)
		case p.Change.Summary != "":
			parts = append(parts, p.Change.Summary)
		}
		if len(p.Missing) > 0 {
			parts = append(parts, "MISSING PERMISSION "+strings.Join(p.Missing, ", ")+": this step will fail")
		}
		if len(p.MissingRoles) > 0 {
			parts = append(parts, "MISSING ROLE "+strings.Join(p.MissingRoles, ", ")+": this step will fail")
		}
		return strings.Join(parts, "; ")
	}
}

// runHeadline is the summary's first line after "Run ": the outcome, and
// a time that cannot be mistaken for the time to containment. A contained
// run is "contained in" its time to containment, not in the time its
// clean-up kept it going.
func runHeadline(res *engine.Result) string {
	took := fmtDur(res.Ended.Sub(res.Started))
	switch {
	case res.Outcome == engine.OutcomeCancelled && res.Contained:
		return fmt.Sprintf("%s cancelled after %s, before every step ended; contained in %s", res.RunID, took, fmtDur(res.Containment))
	case res.Outcome == engine.OutcomeCancelled:
		return fmt.Sprintf("%s cancelled after %s, before every step ended; not contained", res.RunID, took)
	case res.Contained && res.Outcome == engine.OutcomeContainedCleanupFailed:
		return fmt.Sprintf("%s contained in %s, a clean-up step failed; the run took %s", res.RunID, fmtDur(res.Containment), took)
	case res.Contained:
		return fmt.Sprintf("%s contained in %s; the run took %s", res.RunID, fmtDur(res.Containment), took)
	case res.Outcome == engine.OutcomeNotContained:
		return fmt.Sprintf("%s not contained in the %s the run took", res.RunID, took)
	}
	return fmt.Sprintf("%s %s in %s", res.RunID, strings.ReplaceAll(string(res.Outcome), "_", " "), took)
}

// printSummary prints, first and plainly, whether the subject is
// contained and if not what is missing; then each step's outcome and
// duration, the time to containment (only when it was reached), and what
// no API call can close.
func printSummary(w io.Writer, res *engine.Result) {
	fmt.Fprintf(w, "\nRun %s\n", runHeadline(res))
	if len(res.NotContained) > 0 && res.Outcome != engine.OutcomeDenied {
		fmt.Fprintln(w, "\nNOT CONTAINED: the subject may still have access. What did not happen:")
		for _, m := range res.NotContained {
			fmt.Fprintf(w, "  - %s\n", termSafe(m))
		}
	}
	fmt.Fprintln(w)
	for _, s := range res.Steps {
		d := ""
		if !s.Started.IsZero() && !s.Ended.IsZero() {
			d = fmtDur(s.Ended.Sub(s.Started))
		}
		detail := s.Change.Summary
		switch {
		case s.Error != "":
			detail = s.Error
		case s.Reason != "":
			detail = s.Reason
		case s.BlockedBy != "":
			detail = "blocked by " + s.BlockedBy
		}
		fmt.Fprintf(w, "  %-11s %-24s %7s  %s\n", s.Status, s.ID, d, termSafe(detail))
	}
	if res.Contained {
		fmt.Fprintf(w, "\nContained. Time to containment: %s (run start until the last disable or revoke step ended)\n", fmtDur(res.Containment))
	}
	if res.Cleanup > 0 {
		fmt.Fprintf(w, "Time to clean-up: %s (run start until the last other step ended)\n", fmtDur(res.Cleanup))
	}
	if len(res.CleanupFailed) > 0 && res.Contained {
		fmt.Fprintf(w, "Clean-up incomplete: %s did not complete; containment does not depend on it.\n", strings.Join(res.CleanupFailed, ", "))
	}
	if res.Residual != nil {
		fmt.Fprintln(w, "\nStill open (what the directories say the subject still holds):")
		printResidual(w, res.Residual)
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

// notFound explains a subject found nowhere: exit 1, nothing changed.
func notFound(err error) error {
	if steps.ClassOf(err) == steps.NotFound {
		return &exitError{code: exitFailure, err: fmt.Errorf("%v; nothing was changed", err)}
	}
	return err
}
