package main

// `revoke run RUNBOOK --users FILE` and `revoke resume BULK_ID`: one run
// per subject, each planned, decided, journaled and resumable on its own,
// under one engine.BulkScheduler.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/steps"
)

// The four columns of a bulk's summary: every subject ends in one.
const (
	bulkContained = "contained"
	bulkFailed    = "failed"
	bulkDenied    = "denied"
	bulkSkipped   = "skipped"
)

// bulkFlags are run's flags that only a bulk reads.
type bulkFlags struct {
	users       string
	concurrency []string
	window      int
}

// set adds the bulk flags; users only to run (resume reads the
// subjects from the bulk's manifest).
func (f *bulkFlags) set(fs *pflag.FlagSet, users bool) {
	if users {
		fs.StringVar(&f.users, "users", "", "run for every subject in FILE: one reference a line, or a CSV with a user column; - reads stdin")
	}
	fs.StringArrayVar(&f.concurrency, "backend-concurrency", nil, fmt.Sprintf("BACKEND=N: at most N calls at once to that backend across a bulk's subjects (default %d each; repeatable)", engine.DefaultBackendConcurrency))
	fs.IntVar(&f.window, "window", engine.DefaultBulkWindow, "how many subjects of a bulk are being contained at once")
}

// bulkResult is one subject's end: a line of `-o json`, a row of the
// summary.
type bulkResult struct {
	Line   int    `json:"line"`
	User   string `json:"user"`
	BulkID string `json:"bulk_id"`
	// RunID is the subject's run; its journal exists unless the subject
	// ended before its run started (Status failed or skipped, Error says
	// why).
	RunID  string `json:"run_id"`
	Status string `json:"status"`
	// Outcome is the run's (engine.Outcome), "" when no run started.
	Outcome     engine.Outcome `json:"outcome,omitempty"`
	Containment string         `json:"containment,omitempty"`
	Error       string         `json:"error,omitempty"`
	// Throttled counts the throttled answers the scheduler absorbed for
	// this subject.
	Throttled int `json:"throttled,omitempty"`
	// Resumed marks a subject `revoke resume BULK_ID` continued.
	Resumed bool `json:"resumed,omitempty"`

	started bool // its journal exists
}

// bulkMemoryLimit is the Go runtime's soft memory limit during a bulk,
// unless GOMEMLIMIT sets one (docs/benchmarks.md: a thousand subjects).
const bulkMemoryLimit = 112 << 20

// bulkRunner runs the subjects of one bulk.
type bulkRunner struct {
	c        *cli
	sess     *session
	ws       *engine.Workspace
	rb       *engine.Runbook
	manifest *engine.BulkManifest
	sched    *engine.BulkScheduler
	facts    engine.EnvironmentFacts
	wait     bool
	force    bool // resume: --force
	jsonOut  bool
	progress *bulkProgress

	mu      sync.Mutex
	persons map[string]int // lock key → line of the subject that holds it
	out     io.Writer
	// turns orders the claims on persons by the file's order, whichever
	// subject resolves first: of two lines naming one person, the earlier
	// runs and the later is skipped, every time.
	turns    []chan struct{}
	turnOnce []sync.Once
}

// takeTurn runs claim once subject i-1 has taken its turn, then lets
// subject i+1 take its own; once per subject (later calls do nothing).
func (b *bulkRunner) takeTurn(i int, claim func()) {
	b.turnOnce[i].Do(func() {
		if i > 0 {
			<-b.turns[i-1]
		}
		if claim != nil {
			claim()
		}
		close(b.turns[i])
	})
}

// parseConcurrency reads --backend-concurrency BACKEND=N flags.
func parseConcurrency(flags []string) (map[string]int, error) {
	m := map[string]int{}
	for _, f := range flags {
		name, n, ok := strings.Cut(f, "=")
		var v int
		if _, err := fmt.Sscan(n, &v); !ok || err != nil || v < 1 || strings.TrimSpace(name) == "" {
			return nil, usageErrorf("--backend-concurrency %q: want BACKEND=N with N at least 1, such as entra=16", f)
		}
		m[strings.TrimSpace(name)] = v
	}
	return m, nil
}

// runBulk is `revoke run RUNBOOK --users FILE`.
func (r *runCmd) runBulk(ctx context.Context, c *cli, args []string) error {
	if err := checkOutput(r.output); err != nil {
		return err
	}
	switch {
	case len(args) != 1:
		return usageErrorf("run needs exactly one RUNBOOK (a name or a file), got %d arguments", len(args))
	case r.user != "":
		return usageErrorf("--user and --users exclude each other: put the one subject in the file")
	case r.allowProtected && strings.TrimSpace(r.approvedBy) == "":
		return usageErrorf("--allow-protected needs --approved-by NAME: who approved touching a protected account")
	case r.window < 1:
		return usageErrorf("--window must be at least 1")
	}
	concurrency, err := parseConcurrency(r.concurrency)
	if err != nil {
		return err
	}
	if r.users == "-" && !r.yes {
		return usageErrorf("--users - reads the subjects from stdin, so nobody can be asked there: pass --yes")
	}
	if !r.yes && !c.isTerminal(c.stdin) {
		return usageErrorf("refusing to change anything without --yes: stdin is not a terminal to ask on")
	}
	users, err := readUsersFile(r.users, c.stdin)
	if err != nil {
		return err
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
	m := &engine.BulkManifest{BulkID: engine.NewRunID(), Created: time.Now().UTC(), Runbook: rb.Name,
		Request: r.request(c, engine.Request{})}
	if known := ws.Runbooks[rb.Name]; known == nil || known.Digest != rb.Digest {
		// Given by path: absolute, so that a resume from another
		// directory finds it.
		m.File = rb.File
		if abs, err := filepath.Abs(rb.File); err == nil {
			m.File = abs
		}
	}
	for _, u := range users {
		m.Subjects = append(m.Subjects, engine.BulkEntry{Line: u.line, Ref: u.ref, RunID: engine.NewRunID()})
	}
	human := r.output == "text"
	if human && sess.env.tenant != nil {
		fmt.Fprintln(c.stdout, "Sandbox: no --env given, so this runs against an embedded sandbox tenant seeded with examples/sandbox/contoso.yaml. Nothing real is touched.")
		fmt.Fprintln(c.stdout)
	}
	if !r.yes {
		ok, err := confirm(c.stdin, c.stdout, fmt.Sprintf("Run %s on %d subjects in %s? [y/N] ", rb.Name, len(users), sess.env.Name))
		if err != nil || !ok {
			fmt.Fprintln(c.stdout, "Nothing changed.")
			return errSilent(exitFailure)
		}
	}
	// The manifest is written before any run starts, with every run id:
	// whatever happens next, `revoke resume BULK_ID` finds each subject.
	if err := engine.WriteBulkManifest(sess.env.StateDir, m); err != nil {
		return err
	}
	b := &bulkRunner{c: c, sess: sess, ws: ws, rb: rb, manifest: m, wait: r.wait, jsonOut: !human, out: c.stdout,
		sched: engine.NewBulkScheduler(engine.BulkConfig{Concurrency: concurrency, Window: r.window})}
	return b.run(ctx, nil)
}

// resumeBulk is `revoke resume BULK_ID`: every subject whose run did not
// finish is resumed, every subject whose run never started is started.
func (r *resumeCmd) resumeBulk(ctx context.Context, c *cli, stateDir, bulkID string) error {
	m, err := engine.ReadBulkManifest(stateDir, bulkID)
	if err != nil {
		return err
	}
	ws, lints, err := loadWorkspace(c, r.runbookDirs, r.policyDirs)
	if err != nil {
		return err
	}
	if err := refuseErrors(c, lints); err != nil {
		return err
	}
	rb := ws.Runbooks[m.Runbook]
	if m.File != "" {
		if rb, _, err = ws.Runbook(c.reg, m.File); err != nil {
			return usageErrorf("bulk %s: runbook %s: %v", bulkID, m.File, err)
		}
	}
	if rb == nil {
		return usageErrorf("bulk %s: runbook %s is not loaded (pass the --runbooks directory it came from)", bulkID, m.Runbook)
	}
	concurrency, err := parseConcurrency(r.concurrency)
	if err != nil {
		return err
	}
	sess, err := c.openSession(ctx, r.envFile, r.stateDir)
	if err != nil {
		return err
	}
	defer sess.Close()
	b := &bulkRunner{c: c, sess: sess, ws: ws, rb: rb, manifest: m, wait: r.wait, force: r.force, jsonOut: r.output != "text", out: c.stdout,
		sched: engine.NewBulkScheduler(engine.BulkConfig{Concurrency: concurrency, Window: r.window})}
	return b.run(ctx, func(e engine.BulkEntry) bool {
		// A journal that cannot be discarded is resumed, which says why
		// it cannot go on.
		started, err := engine.RunStarted(stateDir, e.RunID)
		return started || err != nil
	})
}

// run runs every subject of the manifest; started says which have a
// journal to resume (nil: none, a new bulk).
func (b *bulkRunner) run(ctx context.Context, started func(engine.BulkEntry) bool) error {
	m := b.manifest
	b.facts = b.sess.facts()
	b.persons = map[string]int{}
	human := !b.jsonOut
	if human {
		verb := "Running"
		if started != nil {
			verb = "Resuming"
		}
		fmt.Fprintf(b.out, "%s bulk %s: %s for %d subjects in %s\n", verb, m.BulkID, termSafe(m.Runbook), len(m.Subjects), termSafe(b.sess.env.Name))
		if b.c.isTerminal(b.c.stdout) {
			b.progress = newBulkProgress(ctx, b.out, len(m.Subjects), b.sched)
		}
	}
	if b.c.getenv("GOMEMLIMIT") == "" {
		// Most of a bulk's heap is subjects contained and waiting for the
		// others' containment before their clean-up; a soft limit makes
		// the collector (and the scavenger returning pages to the system)
		// work harder near it instead of letting the heap double. The CPU
		// that costs, a bulk paced by a write quota has to spare.
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(bulkMemoryLimit))
	}
	start := time.Now()
	subs := make([]*engine.BulkSubject, len(m.Subjects))
	for i := range m.Subjects {
		subs[i] = b.sched.Add()
	}
	results := make([]*bulkResult, len(m.Subjects))
	b.turns, b.turnOnce = make([]chan struct{}, len(m.Subjects)), make([]sync.Once, len(m.Subjects))
	for i := range b.turns {
		b.turns[i] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for i, e := range m.Subjects {
		res := &bulkResult{Line: e.Line, User: e.Ref, BulkID: m.BulkID, RunID: e.RunID}
		results[i] = res
		resume := started != nil && started(e)
		if err := subs[i].Start(ctx); err != nil {
			// Interrupted before this subject began: nothing was done to it.
			subs[i].Done()
			b.takeTurn(i, nil)
			res.Status, res.Error = bulkSkipped, "not started: the bulk was interrupted"
			res.started = resume
			b.report(res)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer subs[i].Done()
			defer b.takeTurn(i, nil) // a subject that ended before its claim
			if resume {
				b.resumeOne(ctx, i, subs[i], res)
			} else {
				b.startOne(ctx, i, subs[i], res)
			}
			res.Throttled = subs[i].Throttled()
			b.report(res)
		}()
	}
	wg.Wait()
	if b.progress != nil {
		b.progress.stop()
	}
	return b.finish(ctx, results, time.Since(start))
}

// report shows one subject's end: a JSON line, or the progress display.
func (b *bulkRunner) report(res *bulkResult) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.jsonOut {
		line, err := json.Marshal(res)
		if err == nil {
			b.out.Write(append(line, '\n'))
		}
	}
	if b.progress != nil {
		b.progress.ended(res.Status)
	}
}

// claim records that line acts on the person the keys name, or returns
// the line that already does. Call it in the subject's turn.
func (b *bulkRunner) claim(keys []string, line int) (int, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range keys {
		if first, ok := b.persons[k]; ok && first != line {
			return first, false
		}
	}
	for _, k := range keys {
		b.persons[k] = line
	}
	return 0, true
}

// startOne resolves, plans, decides and runs one subject.
func (b *bulkRunner) startOne(ctx context.Context, i int, bs *engine.BulkSubject, res *bulkResult) {
	fail := func(err error) { res.Status, res.Error = bulkFailed, termSafe(err.Error()) }
	var subject *steps.Subject
	err := bs.Retry(ctx, func(ctx context.Context) error {
		var err error
		subject, err = b.sess.resolve(ctx, res.User)
		return err
	})
	if err != nil {
		fail(err)
		return
	}
	var (
		first int
		ok    bool
	)
	b.takeTurn(i, func() { first, ok = b.claim(engine.SubjectKeys(subject), res.Line) })
	if !ok {
		res.Status, res.Error = bulkSkipped, fmt.Sprintf("the same person as line %d: one run per person", first)
		return
	}
	lock, err := engine.LockSubject(ctx, b.sess.env.StateDir, subject, res.RunID, b.wait)
	if err != nil {
		fail(err)
		return
	}
	defer lock.Release()
	plan, lints, err := b.ws.Policy.Plan(ctx, b.rb, b.facts, subject, b.manifest.Request)
	if err != nil {
		fail(err)
		return
	}
	if lints.Errors() > 0 {
		var msgs []string
		for _, l := range lints {
			msgs = append(msgs, l.String())
		}
		fail(errors.New(strings.Join(msgs, "; ")))
		return
	}
	j, err := engine.CreateJournal(b.sess.env.StateDir, res.RunID)
	if err != nil {
		fail(fmt.Errorf("journal: %w", err))
		return
	}
	defer j.Close()
	res.started = true
	x := b.executor(bs, plan)
	x.Journal = j
	r, err := x.Run(ctx, bs.Plan(plan, nil))
	b.ended(res, r, err)
}

// resumeOne continues one subject's journaled run, with the checks of
// `revoke resume RUN_ID`: same runbook and policies (or --force), same
// environment, same person.
func (b *bulkRunner) resumeOne(ctx context.Context, i int, bs *engine.BulkSubject, res *bulkResult) {
	res.started, res.Resumed = true, true
	fail := func(err error) { res.Status, res.Error = bulkFailed, termSafe(err.Error()) }
	stateDir := b.sess.env.StateDir
	if log, err := engine.ReadRun(stateDir, res.RunID); err == nil && log.Finished() != nil {
		// Ended before the crash: nothing to do again; its person stays
		// claimed, so a later line naming them is still skipped.
		subject := log.Record().Subject
		engine.Identify(b.c.reg, &subject)
		b.takeTurn(i, func() { b.claim(engine.SubjectKeys(&subject), res.Line) })
		res.Resumed = false
		res.Outcome = log.Outcome()
		res.Status = bulkStatus(res.Outcome)
		return
	}
	journal, log, err := engine.OpenJournal(stateDir, res.RunID, b.force)
	if err != nil {
		fail(err)
		return
	}
	defer journal.Close()
	rec := log.Record()
	plan, state, err := engine.ResumePlan(log, b.c.reg, b.rb, b.ws.Policy.Digest, b.force)
	if err != nil {
		fail(err)
		return
	}
	if err := engine.SameEnvironment(log.RunID, rec.Environment, b.facts); err != nil {
		fail(err)
		return
	}
	journaled := rec.Subject
	engine.Identify(b.c.reg, &journaled)
	var now *steps.Subject
	err = bs.Retry(ctx, func(ctx context.Context) error {
		var err error
		now, err = b.sess.resolve(ctx, rec.Subject.Ref)
		return err
	})
	switch {
	case steps.ClassOf(err) == steps.NotFound:
		now = &steps.Subject{Ref: rec.Subject.Ref}
	case err != nil:
		fail(err)
		return
	}
	if err := engine.SameSubject(&journaled, now); err != nil {
		fail(err)
		return
	}
	b.takeTurn(i, func() { b.claim(engine.SubjectKeys(now), res.Line) })
	lock, err := engine.LockSubject(ctx, stateDir, now, log.RunID, b.wait)
	if err != nil {
		fail(err)
		return
	}
	defer lock.Release()
	x := b.executor(bs, plan)
	r, err := x.Resume(ctx, bs.Plan(plan, state), state, journal)
	b.ended(res, r, err)
}

// executor is a subject's: its steps' calls under the bulk's scheduler,
// with as many steps at once as its plan has (the scheduler bounds the
// calls per backend; a fixed bound per run could let clean-up steps
// waiting for the bulk's containment hold the places its own containment
// steps need).
func (b *bulkRunner) executor(bs *engine.BulkSubject, plan *engine.Plan) *engine.Executor {
	x := &engine.Executor{Conns: b.sess.conns, MaxParallel: len(plan.Steps) + 1, Logger: b.c.logger,
		BeforeStep: bs.BeforeStep, BulkID: b.manifest.BulkID, OnEvent: bs.Observe(nil)}
	if wrapRunEvents != nil {
		x.OnEvent = wrapRunEvents(x.OnEvent)
	}
	return x
}

// ended fills a subject's result from its run's.
func (b *bulkRunner) ended(res *bulkResult, r *engine.Result, err error) {
	if r != nil {
		res.Outcome = r.Outcome
		res.Status = bulkStatus(r.Outcome)
		if r.Contained {
			res.Containment = fmtDur(r.Containment)
		}
		if res.Status != bulkContained && res.Status != bulkDenied && len(r.NotContained) > 0 {
			res.Error = termSafe(strings.Join(r.NotContained, "; "))
		}
		if r.Outcome == engine.OutcomeDenied {
			res.Error = termSafe(strings.Join(r.NotContained, "; "))
		}
	}
	if err != nil {
		res.Status, res.Error = bulkFailed, termSafe(err.Error())
	}
}

// bulkStatus is the summary column of a run's outcome.
func bulkStatus(o engine.Outcome) string {
	switch o {
	case engine.OutcomeContained, engine.OutcomeContainedCleanupFailed, engine.OutcomeSucceeded:
		return bulkContained
	case engine.OutcomeDenied:
		return bulkDenied
	}
	return bulkFailed
}

// bulkExitCode is a bulk's exit code: the worst of its subjects', by the
// outcome table (docs/execution.md): 0 when every subject is contained
// (or skipped as the same person as another line); 1 when any failed,
// was not contained, or was interrupted; else 3 when any was denied; else
// 4 when any was contained with clean-up failed.
func bulkExitCode(results []*bulkResult) int {
	code := 0
	for _, r := range results {
		switch {
		case r.Status == bulkFailed || r.Status == bulkSkipped && r.Outcome == "" && strings.HasPrefix(r.Error, "not started"):
			return exitFailure
		case r.Status == bulkDenied:
			code = exitDenied
		case r.Outcome == engine.OutcomeContainedCleanupFailed && code == 0:
			code = engine.OutcomeContainedCleanupFailed.ExitCode()
		}
	}
	return code
}

// finish prints the summary (text) and returns the bulk's exit code.
func (b *bulkRunner) finish(ctx context.Context, results []*bulkResult, took time.Duration) error {
	m := b.manifest
	interrupted := ctx.Err() != nil
	for _, r := range results {
		interrupted = interrupted || r.Outcome == engine.OutcomeCancelled || r.Outcome == engine.OutcomeInterrupted
	}
	if !b.jsonOut {
		printBulkSummary(b.out, m.BulkID, results, took, b.sched.Throttled())
		if p, err := engine.BulkPath(b.sess.env.StateDir, m.BulkID); err == nil {
			fmt.Fprintf(b.out, "\nManifest: %s (one journal per subject under runs/)\n", termSafe(p))
		}
	}
	code := bulkExitCode(results)
	if interrupted {
		hint := "revoke resume " + m.BulkID
		if b.sess.envFile != "" {
			hint += " --env " + b.sess.envFile
		}
		if b.sess.env.tenant != nil {
			hint = "a bulk against the embedded sandbox cannot be resumed (its tenant ended with the process)"
		}
		return &exitError{code: exitFailure, err: fmt.Errorf("bulk %s interrupted; to continue: %s", m.BulkID, hint)}
	}
	if code == 0 {
		return nil
	}
	return errSilent(code)
}

// printBulkSummary prints the count of each column, then every subject
// that was not contained, in the file's order.
func printBulkSummary(w io.Writer, bulkID string, results []*bulkResult, took time.Duration, throttled int) {
	counts := map[string]int{}
	for _, r := range results {
		counts[r.Status]++
	}
	fmt.Fprintf(w, "\nBulk %s ended in %s: %d subjects\n", bulkID, fmtDur(took), len(results))
	for _, s := range []string{bulkContained, bulkFailed, bulkDenied, bulkSkipped} {
		fmt.Fprintf(w, "  %-10s %d\n", s, counts[s])
	}
	if throttled > 0 {
		fmt.Fprintf(w, "Throttled answers absorbed by the scheduler: %d\n", throttled)
	}
	var rest []*bulkResult
	for _, r := range results {
		if r.Status != bulkContained || r.Outcome == engine.OutcomeContainedCleanupFailed {
			rest = append(rest, r)
		}
	}
	if len(rest) == 0 {
		return
	}
	sort.SliceStable(rest, func(i, j int) bool { return rest[i].Line < rest[j].Line })
	fmt.Fprintln(w, "\nNot contained, or contained with clean-up failed:")
	for _, r := range rest {
		what := r.Status
		if r.Outcome != "" {
			what = strings.ReplaceAll(string(r.Outcome), "_", " ")
		}
		run := r.RunID
		if !r.started {
			run = "(no run)"
		}
		fmt.Fprintf(w, "  line %-4d %-28s %-26s %s  %s\n", r.Line, termSafe(r.User), what, run, r.Error)
	}
}
