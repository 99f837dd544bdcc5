package main

import (
	"context"
	"fmt"
	"io"
	"os/user"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/steps"
)

// subjectFlags are the flags plan and run share: what to load, who the
// subject is, and who asks.
type subjectFlags struct {
	user           string
	envFile        string
	runbookDirs    []string
	policyDirs     []string
	output         string
	requestedBy    string
	reason         string
	ticket         string
	allowProtected bool
	approvedBy     string
}

func (f *subjectFlags) set(fs *pflag.FlagSet) {
	fs.StringVarP(&f.user, "user", "u", "", "the subject: UPN, object id, sAMAccountName, DOMAIN\\user, DN or SID (required)")
	fs.StringVar(&f.envFile, "env", "", "environment file (default: the embedded sandbox)")
	fs.StringArrayVar(&f.runbookDirs, "runbooks", nil, "directory of runbooks, added to the built-ins (repeatable)")
	fs.StringArrayVar(&f.policyDirs, "policies", nil, "directory of Rego policies, added to the defaults (repeatable)")
	outputFlag(fs, &f.output)
	fs.StringVar(&f.requestedBy, "requested-by", "", "who asks (default: $USER)")
	fs.StringVar(&f.reason, "reason", "", "why, for the journal and policies")
	fs.StringVar(&f.ticket, "ticket", "", "incident or ticket id")
	fs.BoolVar(&f.allowProtected, "allow-protected", false, "allow acting on a protected subject (needs --approved-by)")
	fs.StringVar(&f.approvedBy, "approved-by", "", "who approved acting on a protected subject")
}

func (f *subjectFlags) check(c *cli, args []string, verb string) error {
	if err := checkOutput(f.output); err != nil {
		return err
	}
	if len(args) != 1 {
		return usageErrorf("%s needs exactly one RUNBOOK (a name or a file), got %d arguments", verb, len(args))
	}
	if f.user == "" {
		return usageErrorf("%s needs --user REF", verb)
	}
	if f.allowProtected && strings.TrimSpace(f.approvedBy) == "" {
		return usageErrorf("--allow-protected needs --approved-by NAME: who approved touching a protected account")
	}
	return nil
}

// request builds the run's request: the flags over base (a facts file's
// request, or nothing), who asks defaulting to $USER.
func (f *subjectFlags) request(c *cli, base engine.Request) engine.Request {
	req := base
	for _, kv := range []struct {
		dst  *string
		flag string
	}{
		{&req.RequestedBy, f.requestedBy}, {&req.Reason, f.reason},
		{&req.Ticket, f.ticket}, {&req.ApprovedBy, f.approvedBy},
	} {
		if kv.flag != "" {
			*kv.dst = kv.flag
		}
	}
	req.AllowProtected = req.AllowProtected || f.allowProtected
	if req.RequestedBy == "" {
		req.RequestedBy = whoAmI(c.getenv)
	}
	return req
}

// load reads the built-ins and the user's directories and finds the
// runbook; any error in what was loaded stops here.
func (f *subjectFlags) load(c *cli, ref string) (*engine.Workspace, *engine.Runbook, error) {
	ws, lints, err := loadWorkspace(c, f.runbookDirs, f.policyDirs)
	if err != nil {
		return nil, nil, err
	}
	rb, rbLints, err := ws.Runbook(c.reg, ref)
	if err != nil {
		return nil, nil, usageErrorf("%v", err)
	}
	if err := refuseErrors(c, append(lints, rbLints...)); err != nil {
		return nil, nil, err
	}
	return ws, rb, nil
}

// loadWorkspace loads the built-ins with the user's runbook and policy
// directories, for the commands that act (plan, run, resume).
func loadWorkspace(c *cli, runbookDirs, policyDirs []string) (*engine.Workspace, engine.Lints, error) {
	paths := append(append([]string{}, runbookDirs...), policyDirs...)
	ws, lints, err := engine.Load(c.reg, paths, true)
	if err != nil {
		return nil, nil, usageErrorf("%v", err)
	}
	return ws, lints, nil
}

// refuseErrors prints the lints and refuses to go on when any is an error:
// a run on a broken runbook or policy set is not a run anyone wants.
func refuseErrors(c *cli, lints engine.Lints) error {
	if lints.Errors() == 0 {
		return nil
	}
	for _, l := range lints {
		fmt.Fprintln(c.stderr, l.String())
	}
	return fmt.Errorf("%s: fix the errors above first (revoke validate shows them all)", plural(lints.Errors(), "error"))
}

// whoAmI names the person running revoke, for the journal: $USER,
// $LOGNAME, or the account the process runs as.
func whoAmI(getenv func(string) string) string {
	for _, k := range []string{"USER", "LOGNAME"} {
		if v := getenv(k); v != "" {
			return v
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// planCmd shows what a run would do and why: offline from a facts file, or
// live, asking the directories (the embedded sandbox without --env) and
// running every step's Check.
type planCmd struct {
	subjectFlags
	facts string
}

func (*planCmd) Name() string { return "plan" }
func (*planCmd) Synopsis() string {
	return "show what a run would do for a subject and why, changing nothing"
}
func (*planCmd) Usage() string { return "RUNBOOK --user REF [--facts FILE | --env FILE]" }

func (p *planCmd) SetFlags(fs *pflag.FlagSet) {
	p.subjectFlags.set(fs)
	fs.StringVar(&p.facts, "facts", "", "plan offline from a facts file (environment, subject, request) instead of asking the directories")
}

func (p *planCmd) Run(ctx context.Context, c *cli, args []string) error {
	if err := p.check(c, args, "plan"); err != nil {
		return err
	}
	ws, rb, err := p.load(c, args[0])
	if err != nil {
		return err
	}
	var (
		plan     *engine.Plan
		lints    engine.Lints
		previews map[string]*engine.Preview
	)
	if p.facts != "" {
		facts, err := readFacts(p.facts, p.user)
		if err != nil {
			return err
		}
		plan, lints, err = ws.Policy.Plan(ctx, rb, facts.Environment, &facts.Subject, p.request(c, facts.Request))
		if err != nil {
			return err
		}
	} else {
		// Live: resolve the subject, decide, and Check every step that
		// would run, changing nothing.
		sess, err := c.openSession(ctx, p.envFile, "")
		if err != nil {
			return err
		}
		defer sess.Close()
		if p.output == "text" && sess.env.tenant != nil {
			fmt.Fprintln(c.stdout, "Sandbox: no --env given, so this plans against an embedded sandbox tenant seeded with examples/sandbox/contoso.yaml.")
			fmt.Fprintln(c.stdout)
		}
		subject, err := sess.resolve(ctx, p.user)
		if err != nil {
			return err
		}
		plan, lints, err = ws.Policy.Plan(ctx, rb, sess.facts(), subject, p.request(c, engine.Request{}))
		if err != nil {
			return err
		}
		previews = engine.PreviewPlan(ctx, plan, sess.conns, 8)
	}
	for _, l := range lints {
		fmt.Fprintln(c.stderr, l.String())
	}
	if lints.Errors() > 0 {
		return errSilent(exitFailure)
	}
	if p.output == "json" {
		out := planJSON(plan)
		if previews != nil {
			addPreviews(out, previews)
		}
		if err := writeJSON(c.stdout, out); err != nil {
			return err
		}
	} else {
		printPlanWith(c.stdout, plan, previewNote(previews))
	}
	if plan.Denied() {
		return errSilent(exitDenied)
	}
	return nil
}

func readFacts(file, user string) (*engine.Facts, error) {
	data, err := engine.ReadFile(file)
	if err != nil {
		return nil, usageErrorf("facts: %v", err)
	}
	facts, lints := engine.DecodeFacts(file, data)
	if lints.Errors() > 0 {
		msgs := make([]string, 0, len(lints))
		for _, l := range lints {
			msgs = append(msgs, l.String())
		}
		return nil, usageErrorf("facts file has errors:\n%s", strings.Join(msgs, "\n"))
	}
	switch {
	case facts.Subject.Ref == "":
		facts.Subject.Ref = user
	case !strings.EqualFold(facts.Subject.Ref, user):
		return nil, usageErrorf("--user %s does not match the facts file's subject.ref %s", user, facts.Subject.Ref)
	}
	return facts, nil
}

// planJSON is plan's machine output; its shape is a contract (docs/cli.md).
func planJSON(plan *engine.Plan) map[string]any {
	stepsOut := []any{}
	for _, s := range plan.Steps {
		stepsOut = append(stepsOut, map[string]any{
			"id": s.Def.ID, "uses": s.Def.Uses, "run": s.Run, "reason": s.Reason,
			"needs": nonNil(s.Def.Needs), "wave": s.Wave, "with": engine.ValuesJSON(s.With),
		})
	}
	return map[string]any{
		"runbook":     plan.Runbook.Name,
		"subject":     plan.Subject.Ref,
		"environment": map[string]any{"name": plan.Environment.Name, "kind": plan.Environment.Kind},
		"deny":        nonNil(plan.Deny),
		"warn":        nonNil(plan.Warn),
		"steps":       stepsOut,
	}
}

// addPreviews adds a live plan's Checks to its JSON: each step that runs
// gets "check": {"summary", "satisfied", "error", "missing", "missing_roles"}.
func addPreviews(out map[string]any, previews map[string]*engine.Preview) {
	for _, s := range out["steps"].([]any) {
		step := s.(map[string]any)
		p := previews[step["id"].(string)]
		if p == nil {
			continue
		}
		check := map[string]any{"summary": p.Change.Summary, "satisfied": p.Change.Satisfied, "missing": nonNil(p.Missing),
			"missing_roles": nonNil(p.MissingRoles)}
		if p.Err != nil {
			check["error"] = p.Err.Error()
		}
		if p.Change.Unchecked {
			// Satisfied only in that nothing would be done: nothing was read.
			check["unchecked"] = true
		}
		step["check"] = check
	}
}

// printPlanWith renders a plan for people — steps by wave, what is skipped,
// warnings and denials — with an optional per-step note (the live Check's
// "accountEnabled: true → false").
func printPlanWith(w io.Writer, plan *engine.Plan, note func(id string) string) {
	fmt.Fprintf(w, "Plan: %s for %s in %s (%s)\n", termSafe(plan.Runbook.Name), termSafe(plan.Subject.Ref),
		termSafe(plan.Environment.Name), termSafe(plan.Environment.Kind))
	for i, wave := range plan.Waves() {
		fmt.Fprintf(w, "\nWave %d\n", i+1)
		for _, s := range wave {
			line := fmt.Sprintf("  run   %-24s %s", termSafe(s.Def.ID), termSafe(s.Def.Uses))
			if params := paramText(s.With); params != "" {
				line += "  " + termSafe(params)
			}
			if len(s.Def.Needs) > 0 {
				line += "  (needs " + termSafe(strings.Join(s.Def.Needs, ", ")) + ")"
			}
			fmt.Fprintln(w, line)
			if note != nil {
				if n := note(s.Def.ID); n != "" {
					fmt.Fprintf(w, "        %s\n", termSafe(n))
				}
			}
		}
	}
	var skipped []*engine.PlannedStep
	for _, s := range plan.Steps {
		if !s.Run {
			skipped = append(skipped, s)
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintln(w, "\nSkipped")
		for _, s := range skipped {
			fmt.Fprintf(w, "  skip  %-24s %s: %s\n", termSafe(s.Def.ID), termSafe(s.Def.Uses), termSafe(s.Reason))
		}
	}
	if len(plan.Warn) > 0 {
		fmt.Fprintln(w, "\nWarnings")
		for _, m := range plan.Warn {
			fmt.Fprintf(w, "  warning: %s\n", termSafe(m))
		}
	}
	if plan.Denied() {
		fmt.Fprintln(w, "\nDenied: nothing will run")
		for _, m := range plan.Deny {
			fmt.Fprintf(w, "  denied: %s\n", termSafe(m))
		}
	}
}

// paramText renders parameters as k=v, sorted.
func paramText(v steps.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		val := engine.ParamJSON(v[k])
		if l, ok := val.([]string); ok {
			if len(l) == 0 {
				continue
			}
			val = "[" + strings.Join(l, ",") + "]"
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, val))
	}
	return strings.Join(parts, " ")
}
