package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/revoke-dev/revoke/steps"
	_ "github.com/revoke-dev/revoke/steps/builtin"
)

// Exit codes, as DESIGN.md promises them.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	exitDenied  = 3
)

// command is one subcommand: its flags, and what it does with its arguments.
type command interface {
	Name() string
	// Synopsis is one line for `revoke help`.
	Synopsis() string
	// Usage is the argument line after the command name.
	Usage() string
	SetFlags(fs *pflag.FlagSet)
	Run(ctx context.Context, c *cli, args []string) error
}

// cli holds what commands share: streams, the registry, the environment.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	reg            *steps.Registry
	getenv         func(string) string
	// isTerminal reports whether a stream is an interactive terminal.
	isTerminal func(f any) bool
	logger     *slog.Logger
	commands   []command
}

func newCLI(stdin io.Reader, stdout, stderr io.Writer) *cli {
	c := &cli{
		stdin: stdin, stdout: stdout, stderr: stderr,
		reg:        steps.Default,
		getenv:     os.Getenv,
		isTerminal: isTerminal,
	}
	c.commands = []command{
		&validateCmd{}, &planCmd{}, &runCmd{}, &resumeCmd{}, &runsCmd{}, &showCmd{},
		&inventoryCmd{}, &stepsCmd{}, &schemaCmd{}, &sandboxCmd{}, &versionCmd{}, &serveCmd{},
	}
	return c
}

// newLogger builds the structured log on stderr: REVOKE_LOG_LEVEL debug,
// info, warn (default) or error; REVOKE_LOG_FORMAT text (default) or json.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if level == "" {
		level = "warn"
	}
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("REVOKE_LOG_LEVEL=%s: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("REVOKE_LOG_FORMAT=%s: want text or json", format)
}

// exitError carries the exit code an error should end the process with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is a mistake in how the command was called: exit 2.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// errSilent ends with a code after the command has already said why.
func errSilent(code int) error { return &exitError{code: code} }

// Main runs one command line and returns the process's exit code.
func (c *cli) Main(ctx context.Context, args []string) int {
	if c.logger == nil {
		logger, err := newLogger(c.stderr, c.getenv("REVOKE_LOG_LEVEL"), c.getenv("REVOKE_LOG_FORMAT"))
		if err != nil {
			fmt.Fprintf(c.stderr, "revoke: %v\n", err)
			return exitUsage
		}
		c.logger = logger
	}
	err := c.dispatch(ctx, args)
	if err == nil {
		return exitOK
	}
	code := exitFailure
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
	}
	msg := err.Error()
	if errors.Is(err, context.Canceled) {
		if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
			// Stopped by a signal: say so first, not only "context
			// canceled" at the end of whatever was waiting.
			msg = fmt.Sprintf("interrupted (%v): %s", cause, msg)
		}
	}
	// An error may quote a directory's answer or a journal's line: escaped,
	// keeping the newlines of the errors that list several problems.
	fmt.Fprintf(c.stderr, "revoke: %s\n", termSafeLines(msg))
	return code
}

func (c *cli) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		c.help(c.stderr)
		return errSilent(exitUsage)
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		if len(args) > 1 {
			if cmd := c.lookup(args[1]); cmd != nil {
				c.commandHelp(c.stdout, cmd, c.flagSet(cmd))
				return nil
			}
		}
		c.help(c.stdout)
		return nil
	case "--version":
		name = "version"
	}
	cmd := c.lookup(name)
	if cmd == nil {
		if near := c.nearest(name); near != "" {
			return usageErrorf("unknown command %q: did you mean %s? (run 'revoke help' for the list)", name, near)
		}
		return usageErrorf("unknown command %q (run 'revoke help' for the list)", name)
	}
	fs := c.flagSet(cmd)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			c.commandHelp(c.stdout, cmd, fs)
			return nil
		}
		return usageErrorf("%s: %v (run 'revoke %s --help')", name, err, name)
	}
	return cmd.Run(ctx, c, fs.Args())
}

func (c *cli) lookup(name string) command {
	for _, cmd := range c.commands {
		if cmd.Name() == name {
			return cmd
		}
	}
	return nil
}

// nearest is the command a mistyped name most likely meant: the one it
// starts (a prefix of at least two letters), else the one at the smallest
// edit distance (a transposition counts as one edit) when that is at most
// 2 and less than the name's length, so "rn" finds run but "xy" finds
// nothing. Ties go to the first command in help order.
func (c *cli) nearest(name string) string {
	names := []string{"help"}
	for _, cmd := range c.commands {
		names = append(names, cmd.Name())
	}
	if len(name) >= 2 {
		for _, n := range names {
			if strings.HasPrefix(n, name) {
				return n
			}
		}
	}
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(name, n); d < bestD && d < len([]rune(name)) {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b:
// insertions, deletions, substitutions and adjacent transpositions.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	// d[i][j] is the distance between x[:i] and y[:j].
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}

func (c *cli) flagSet(cmd command) *pflag.FlagSet {
	fs := pflag.NewFlagSet(cmd.Name(), pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	cmd.SetFlags(fs)
	return fs
}

func (c *cli) help(w io.Writer) {
	fmt.Fprint(w, "revoke cuts off a person's access across Microsoft Entra ID and Active Directory.\n\nUsage: revoke COMMAND [flags] [args]\n\nCommands:\n")
	for _, cmd := range c.commands {
		fmt.Fprintf(w, "  %-10s %s\n", cmd.Name(), cmd.Synopsis())
	}
	fmt.Fprint(w, "\nRun 'revoke COMMAND --help' for a command's flags.\nExit codes: 0 success, 1 failure, 2 usage error, 3 denied by policy.\n")
}

func (c *cli) commandHelp(w io.Writer, cmd command, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "Usage: revoke %s %s\n\n%s\n", cmd.Name(), cmd.Usage(), cmd.Synopsis())
	if usages := fs.FlagUsages(); strings.TrimSpace(usages) != "" {
		fmt.Fprintf(w, "\nFlags:\n%s", usages)
	}
}

// outputFlag adds --output text|json.
func outputFlag(fs *pflag.FlagSet, p *string) {
	fs.StringVarP(p, "output", "o", "text", "output format: text or json")
}

func checkOutput(v string) error {
	if v != "text" && v != "json" {
		return usageErrorf("--output must be text or json, not %q", v)
	}
	return nil
}

// isTerminal reports whether f is an open file on an interactive terminal.
// A character device is not enough: /dev/null is one, and a run fed from
// /dev/null must be refused without --yes rather than read an empty
// answer as "no" (or, worse, have something read as "yes"). So the
// terminal driver is asked (ttyFD, per operating system).
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && file != nil && ttyFD(file.Fd())
}
