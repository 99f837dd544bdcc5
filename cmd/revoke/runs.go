package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/revoke-dev/revoke/engine"
)

// runsCmd lists run history from the journals.
type runsCmd struct {
	envFile  string
	stateDir string
	output   string
}

func (*runsCmd) Name() string { return "runs" }
func (*runsCmd) Synopsis() string {
	return "run history: id, runbook, subject, who asked, when, outcome"
}
func (*runsCmd) Usage() string { return "[--env FILE | --state-dir DIR]" }

func (r *runsCmd) SetFlags(fs *pflag.FlagSet) {
	fs.StringVar(&r.envFile, "env", "", "environment file whose state_dir holds the journals (default: the embedded sandbox's)")
	fs.StringVar(&r.stateDir, "state-dir", "", "where the journals are")
	outputFlag(fs, &r.output)
}

func (r *runsCmd) Run(ctx context.Context, c *cli, args []string) error {
	if err := checkOutput(r.output); err != nil {
		return err
	}
	if len(args) > 0 {
		return usageErrorf("runs takes no arguments (revoke show RUN_ID shows one run)")
	}
	dir, err := c.stateDirFor(r.envFile, r.stateDir)
	if err != nil {
		return err
	}
	runs, err := engine.ListRuns(dir)
	if err != nil {
		return err
	}
	if r.output == "json" {
		if runs == nil {
			runs = []engine.RunSummary{}
		}
		return writeJSON(c.stdout, runs)
	}
	if len(runs) == 0 {
		fmt.Fprintf(c.stdout, "no runs in %s\n", dir)
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tRUNBOOK\tSUBJECT\tREQUESTED BY\tSTARTED\tOUTCOME")
	for _, s := range runs {
		if s.Problem != "" {
			fmt.Fprintf(tw, "%s\t\t\t\t\tunreadable: %s\n", termSafe(s.ID), termSafe(s.Problem))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", termSafe(s.ID), termSafe(s.Runbook), termSafe(s.Subject), termSafe(s.RequestedBy),
			s.Started.Local().Format(time.DateTime), termSafe(string(s.Outcome)))
	}
	return tw.Flush()
}

// showCmd prints one run's journal as a timeline.
type showCmd struct {
	envFile  string
	stateDir string
	verify   bool
	output   string
}

func (*showCmd) Name() string { return "show" }
func (*showCmd) Synopsis() string {
	return "one run's journal as a timeline; --verify checks its hash chain and seal"
}
func (*showCmd) Usage() string { return "RUN_ID [--verify]" }

func (s *showCmd) SetFlags(fs *pflag.FlagSet) {
	fs.StringVar(&s.envFile, "env", "", "environment file whose state_dir holds the journal (default: the embedded sandbox's)")
	fs.StringVar(&s.stateDir, "state-dir", "", "where the journal is")
	fs.BoolVar(&s.verify, "verify", false, "check the hash chain and the seal: exit 1 if any line was edited, removed or cut from the end")
	outputFlag(fs, &s.output)
}

func (s *showCmd) Run(ctx context.Context, c *cli, args []string) error {
	if err := checkOutput(s.output); err != nil {
		return err
	}
	if len(args) != 1 {
		return usageErrorf("show needs exactly one RUN_ID (revoke runs lists them)")
	}
	dir, err := c.stateDirFor(s.envFile, s.stateDir)
	if err != nil {
		return err
	}
	if _, err := engine.RunPath(dir, args[0]); err != nil {
		return usageErrorf("%v", err)
	}
	log, err := engine.ReadRun(dir, args[0])
	if err != nil {
		return err
	}
	var verifyErr error
	if s.verify {
		verifyErr = log.Verify()
	}
	if s.output == "json" {
		if err := writeJSON(c.stdout, log.Events); err != nil {
			return err
		}
	} else {
		printTimeline(c, log)
		for _, w := range log.Warnings {
			fmt.Fprintf(c.stdout, "warning: %s\n", termSafe(w))
		}
		if s.verify && verifyErr == nil {
			fmt.Fprintf(c.stdout, "hash chain verified: %d lines, sealed at line %d\n", len(log.Events), log.SealedAt())
		}
	}
	if verifyErr != nil {
		return fmt.Errorf("%s: %w", log.Path, verifyErr)
	}
	return nil
}

func printTimeline(c *cli, log *engine.JournalLog) {
	w := c.stdout
	rec := log.Record()
	start := log.Events[0].Time
	fmt.Fprintf(w, "Run %s: %s for %s in %s (%s)\n", termSafe(log.RunID), termSafe(rec.Runbook), termSafe(rec.Subject.Ref), termSafe(rec.Environment.Name), termSafe(rec.Environment.Kind))
	req := rec.Request
	fmt.Fprintf(w, "Requested by %s at %s", termSafe(orNone(req.RequestedBy)), start.Local().Format(time.DateTime))
	if req.Reason != "" {
		fmt.Fprintf(w, ", reason: %s", termSafe(req.Reason))
	}
	if req.Ticket != "" {
		fmt.Fprintf(w, ", ticket: %s", termSafe(req.Ticket))
	}
	if req.ApprovedBy != "" {
		fmt.Fprintf(w, ", approved by %s", termSafe(req.ApprovedBy))
	}
	fmt.Fprintf(w, "\nRunbook %s (sha256 %s), policies sha256 %s\n\n", termSafe(rec.File), termSafe(abbrev(rec.Digest)), termSafe(abbrev(rec.PolicyDigest)))
	for _, ev := range log.Events {
		line := eventLine(ev)
		switch ev.Type {
		case engine.EventRunStarted:
			line = "run started"
		case engine.EventDecision:
			for _, d := range ev.Deny {
				fmt.Fprintf(w, "%9s  denied: %s\n", "+"+fmtDur(ev.Time.Sub(start)), termSafe(d))
			}
			for _, m := range ev.Warn {
				fmt.Fprintf(w, "%9s  warning: %s\n", "+"+fmtDur(ev.Time.Sub(start)), termSafe(m))
			}
			continue
		case engine.EventRunResumed:
			line = "run resumed"
		case engine.EventResidual:
			fmt.Fprintf(w, "%9s  still open:\n", "+"+fmtDur(ev.Time.Sub(start)))
			printResidual(w, ev.Residual)
			continue
		case engine.EventRunFinished:
			line = "run finished: " + termSafe(string(ev.Outcome))
			if ev.Containment > 0 {
				line += ", time to containment " + fmtDur(time.Duration(ev.Containment))
			}
		}
		if line != "" {
			fmt.Fprintf(w, "%9s  %s\n", "+"+fmtDur(ev.Time.Sub(start)), line)
		}
	}
}

func abbrev(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return orNone(d)
}
