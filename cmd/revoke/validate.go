package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
)

// validateCmd checks runbooks, environments, policies and their tests: what
// CI runs on every change.
type validateCmd struct {
	output string
	format string
}

func (*validateCmd) Name() string { return "validate" }
func (*validateCmd) Synopsis() string {
	return "check runbooks, environment files and policies, and run policy and runbook tests"
}
func (*validateCmd) Usage() string {
	return "[PATH…]  (default: ./runbooks and ./policies, with the built-ins)"
}

func (v *validateCmd) SetFlags(fs *pflag.FlagSet) {
	outputFlag(fs, &v.output)
	fs.StringVar(&v.format, "format", "text", "text, or github for workflow annotations (::error file=…)")
}

// validateReport is validate's JSON output.
type validateReport struct {
	Lints   engine.Lints   `json:"lints"`
	Summary validateCounts `json:"summary"`
}

type validateCounts struct {
	Runbooks          int `json:"runbooks"`
	Environments      int `json:"environments"`
	Policies          int `json:"policies"`
	Facts             int `json:"facts"`
	SandboxSeeds      int `json:"sandbox_seeds"`
	RunbookTests      int `json:"runbook_tests"`
	PolicyTestsPassed int `json:"policy_tests_passed"`
	PolicyTestsFailed int `json:"policy_tests_failed"`
	Errors            int `json:"errors"`
	Warnings          int `json:"warnings"`
}

func (v *validateCmd) Run(ctx context.Context, c *cli, args []string) error {
	if err := checkOutput(v.output); err != nil {
		return err
	}
	if v.format != "text" && v.format != "github" {
		return usageErrorf("--format must be text or github, not %q", v.format)
	}
	paths := args
	if len(paths) == 0 {
		for _, d := range []string{"runbooks", "policies"} {
			if info, err := os.Stat(d); err == nil && info.IsDir() {
				paths = append(paths, d)
			}
		}
	}
	ws, lints, err := engine.Load(c.reg, paths, true)
	if err != nil {
		return usageErrorf("validate: %v", err)
	}
	counts := validateCounts{
		Runbooks:     ws.Counts[engine.KindRunbook],
		Environments: ws.Counts[engine.KindEnvironment],
		Policies:     ws.Counts[engine.KindPolicy] + ws.Counts[engine.KindPolicyTest],
		Facts:        ws.Counts[engine.KindFacts],
		SandboxSeeds: ws.Counts[engine.KindSandboxSeed],
		RunbookTests: len(ws.Tests),
	}
	if ws.Policy != nil {
		passed, failed, ls := ws.Policy.Test(ctx)
		counts.PolicyTestsPassed, counts.PolicyTestsFailed = passed, failed
		lints = append(lints, ls...)
		for _, rb := range ws.Files {
			if rb != nil && rb.Name != "" {
				lints = append(lints, ws.Policy.Lint(ctx, rb)...)
			}
		}
		lints = append(lints, ws.RunRunbookTests(ctx)...)
	}
	for _, seed := range ws.Seeds {
		lints = append(lints, seedLints(seed.File, seed.Data)...)
	}
	lints.Sort()
	counts.Errors = lints.Errors()
	counts.Warnings = len(lints) - counts.Errors

	switch {
	case v.output == "json":
		if lints == nil {
			lints = engine.Lints{}
		}
		if err := writeJSON(c.stdout, validateReport{Lints: lints, Summary: counts}); err != nil {
			return err
		}
	case v.format == "github":
		writeGitHub(c.stdout, lints)
	default:
		for _, l := range lints {
			fmt.Fprintln(c.stdout, l.String())
		}
		fmt.Fprintln(c.stdout, summaryLine(counts))
	}
	if counts.Errors > 0 {
		return errSilent(exitFailure)
	}
	return nil
}

// seedProblem is how the sandbox reports a seed problem.
var seedProblem = regexp.MustCompile(`^(.*?):(\d+):(\d+): (.*)$`)

// seedLints checks a sandbox seed with the sandbox's own parser.
func seedLints(file string, data []byte) engine.Lints {
	_, err := sandbox.ParseSeed(file, data)
	var se *sandbox.SeedError
	if !errors.As(err, &se) {
		return nil
	}
	var lints engine.Lints
	for _, p := range se.Problems {
		l := engine.Lint{File: file, Level: engine.Error, Code: "seed", Message: p}
		if m := seedProblem.FindStringSubmatch(p); m != nil {
			l.Line, _ = strconv.Atoi(m[2])
			l.Column, _ = strconv.Atoi(m[3])
			l.Message = m[4]
		}
		lints = append(lints, l)
	}
	return lints
}

func summaryLine(n validateCounts) string {
	var parts []string
	add := func(k int, one, many string) {
		if k == 1 {
			parts = append(parts, "1 "+one)
		} else if k > 1 {
			parts = append(parts, fmt.Sprintf("%d %s", k, many))
		}
	}
	add(n.Runbooks, "runbook", "runbooks")
	add(n.Environments, "environment", "environments")
	add(n.Policies, "policy file", "policy files")
	add(n.Facts, "facts file", "facts files")
	add(n.SandboxSeeds, "sandbox seed", "sandbox seeds")
	read := "built-ins only"
	if len(parts) > 0 {
		read = strings.Join(parts, ", ") + " (and the built-ins)"
	}
	return fmt.Sprintf("validated %s; policy tests: %d passed, %d failed; %d runbook test cases; %s, %s",
		read, n.PolicyTestsPassed, n.PolicyTestsFailed, n.RunbookTests,
		plural(n.Errors, "error"), plural(n.Warnings, "warning"))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// writeGitHub prints workflow commands GitHub Actions turns into annotations.
func writeGitHub(w io.Writer, lints engine.Lints) {
	for _, l := range lints {
		fmt.Fprintf(w, "::%s file=%s,line=%d,col=%d,title=%s::%s\n", l.Level, ghEscapeProp(l.File),
			max(l.Line, 1), max(l.Column, 1), ghEscapeProp("revoke "+l.Code), ghEscapeData(l.Message))
	}
}

// GitHub's workflow command escaping: data escapes %, CR and LF; properties
// also , and :.
func ghEscapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghEscapeProp(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
