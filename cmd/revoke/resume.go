package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/steps"
)

// resumeCmd continues an interrupted run from its journal.
type resumeCmd struct {
	envFile     string
	stateDir    string
	runbookDirs []string
	policyDirs  []string
	force       bool
	wait        bool
	maxParallel int
	output      string
	bulkFlags
}

func (*resumeCmd) Name() string { return "resume" }
func (*resumeCmd) Synopsis() string {
	return "continue an interrupted run: ended steps are not repeated, unended ones are checked first"
}
func (*resumeCmd) Usage() string { return "(RUN_ID | BULK_ID) [--env FILE]" }

func (r *resumeCmd) SetFlags(fs *pflag.FlagSet) {
	fs.StringVar(&r.envFile, "env", "", "environment file the run used")
	fs.StringVar(&r.stateDir, "state-dir", "", "where the journal is (default: the environment's state_dir)")
	fs.StringArrayVar(&r.runbookDirs, "runbooks", nil, "directory of runbooks, added to the built-ins (repeatable)")
	fs.StringArrayVar(&r.policyDirs, "policies", nil, "directory of Rego policies, added to the defaults (repeatable)")
	fs.BoolVar(&r.force, "force", false, "resume even though the runbook or policies changed since the run started, or the journal does not match its seal")
	fs.BoolVar(&r.wait, "wait", false, "when another run is acting on the subject, wait for it to end instead of refusing")
	fs.IntVar(&r.maxParallel, "max-parallel", 8, "how many steps may run at once")
	outputFlag(fs, &r.output)
	r.bulkFlags.set(fs, false)
}

func (r *resumeCmd) Run(ctx context.Context, c *cli, args []string) error {
	if err := checkOutput(r.output); err != nil {
		return err
	}
	if len(args) != 1 {
		return usageErrorf("resume needs exactly one RUN_ID (revoke runs lists them)")
	}
	if r.envFile == "" {
		return usageErrorf("resume needs --env FILE: a run against the embedded sandbox cannot be resumed, its tenant ended with the process")
	}
	stateDir, err := c.stateDirFor(r.envFile, r.stateDir)
	if err != nil {
		return err
	}
	if engine.IsBulk(stateDir, args[0]) {
		return r.resumeBulk(ctx, c, stateDir, args[0])
	}
	if _, err := engine.RunPath(stateDir, args[0]); err != nil {
		return usageErrorf("%v", err)
	}
	journal, log, err := engine.OpenJournal(stateDir, args[0], r.force)
	if errors.Is(err, engine.ErrNoEvent) {
		// The journal does not even say what the run was: there is
		// nothing to continue, and nothing was done.
		return steps.Errorf(steps.Invalid, "%v: run %s stopped before its first step (before it journaled what it was to do), so it changed nothing; run the runbook again", err, args[0])
	}
	if err != nil {
		return err
	}
	defer journal.Close()
	for _, w := range log.Warnings {
		fmt.Fprintf(c.stderr, "revoke: %s\n", termSafe(w))
	}
	rec := log.Record()
	ws, lints, err := loadWorkspace(c, r.runbookDirs, r.policyDirs)
	if err != nil {
		return err
	}
	if err := refuseErrors(c, lints); err != nil {
		return err
	}
	rb := ws.Runbooks[rec.Runbook]
	if rb == nil || rb.Digest != rec.Digest {
		// The run may have used a runbook file given by path.
		if _, err := os.Stat(rec.File); err == nil {
			if fromFile, _, err := ws.Runbook(c.reg, rec.File); err == nil {
				rb = fromFile
			}
		}
	}
	plan, state, err := engine.ResumePlan(log, c.reg, rb, ws.Policy.Digest, r.force)
	if err != nil {
		return err
	}
	sess, err := c.openSession(ctx, r.envFile, r.stateDir)
	if err != nil {
		return err
	}
	defer sess.Close()
	// Act only where, and on whom, the run started: an environment file
	// of the same name may name another tenant or domain, and the
	// reference may now name someone else (a rename, a deleted and
	// recreated account).
	if err := engine.SameEnvironment(log.RunID, rec.Environment, sess.facts()); err != nil {
		return err
	}
	journaled := rec.Subject
	engine.Identify(c.reg, &journaled) // a run recorded without identities: from its facts
	now, err := sess.resolve(ctx, rec.Subject.Ref)
	switch {
	case steps.ClassOf(err) == steps.NotFound:
		now = &steps.Subject{Ref: rec.Subject.Ref} // found nowhere: SameSubject says where it was
	case err != nil:
		return err
	}
	if err := engine.SameSubject(&journaled, now); err != nil {
		return err
	}
	// One run at a time per person, whichever reference each was given:
	// two runs resetting one password would reset it four times.
	lock, err := engine.LockSubject(ctx, stateDir, now, log.RunID, r.wait)
	if err != nil {
		return err
	}
	defer lock.Release()
	human := r.output == "text"
	if human {
		fmt.Fprintf(c.stdout, "Resuming run %s: %s for %s in %s\n\n", termSafe(log.RunID), termSafe(rec.Runbook), termSafe(rec.Subject.Ref), termSafe(rec.Environment.Name))
	}
	x := &engine.Executor{Conns: sess.conns, MaxParallel: r.maxParallel, Logger: c.logger}
	if human {
		x.OnEvent = newDisplay(c.stdout, plan, c.isTerminal(c.stdout)).event
	}
	res, err := x.Resume(ctx, plan, state, journal)
	if err != nil {
		return err
	}
	return finishRun(ctx, c, sess, res, human, rec.Subject.Ref)
}
