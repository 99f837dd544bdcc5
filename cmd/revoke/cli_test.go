package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/revoke-dev/revoke/sandbox"
)

// runCLI runs one command line in-process and returns what it printed and
// its exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCLIEnv(t, map[string]string{"XDG_STATE_HOME": stateHome(t)}, args...)
}

// stateHome is a per-test XDG_STATE_HOME, so journals land in t.TempDir().
func stateHome(t *testing.T) string {
	t.Helper()
	if d, ok := stateHomes[t.Name()]; ok {
		return d
	}
	d := t.TempDir()
	stateHomes[t.Name()] = d
	return d
}

var stateHomes = map[string]string{}

// runCLIEnv runs a command line with the given environment variables (and
// USER=tester).
func runCLIEnv(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := newCLI(strings.NewReader(""), &out, &errOut)
	c.getenv = func(k string) string {
		if k == "USER" {
			return "tester"
		}
		return env[k]
	}
	code = c.Main(context.Background(), args)
	return out.String(), errOut.String(), code
}

// writeFiles writes name → content into a fresh temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// repo is the repository root, from this package's folder.
const repo = "../.."

func TestUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no command prints help and is a usage error", nil, 2, "", "Usage: revoke COMMAND"},
		{"help exits 0", []string{"help"}, 0, "Commands:", ""},
		{"a command's -h exits 0", []string{"validate", "-h"}, 0, "Usage: revoke validate", ""},
		{"an unknown command", []string{"frobnicate"}, 2, "", `revoke: unknown command "frobnicate" (run 'revoke help' for the list)`},
		{"an unknown flag", []string{"steps", "--nope"}, 2, "", "revoke: steps: unknown flag: --nope (run 'revoke steps --help')"},
		{"a bad --output", []string{"steps", "--output", "xml"}, 2, "", `revoke: --output must be text or json, not "xml"`},
		{"plan without --user", []string{"plan", "compromised"}, 2, "", "revoke: plan needs --user REF"},
		{"plan without a runbook", []string{"plan", "--user", "x"}, 2, "", "revoke: plan needs exactly one RUNBOOK (a name or a file), got 0 arguments"},
		{"allow-protected without approval", []string{"plan", "compromised", "--user", "x", "--allow-protected"}, 2, "",
			"revoke: --allow-protected needs --approved-by NAME: who approved touching a protected account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout, tt.stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.stderr)
			}
		})
	}
}

// A mistyped command gets the nearest one; nothing near gets nothing.
func TestUnknownCommandSuggestsTheNearest(t *testing.T) {
	tests := []struct{ typed, want string }{
		{"rn", `revoke: unknown command "rn": did you mean run? (run 'revoke help' for the list)` + "\n"},
		{"ru", `revoke: unknown command "ru": did you mean run? (run 'revoke help' for the list)` + "\n"},
		{"rns", `revoke: unknown command "rns": did you mean runs? (run 'revoke help' for the list)` + "\n"},
		{"valdiate", `revoke: unknown command "valdiate": did you mean validate? (run 'revoke help' for the list)` + "\n"},
		{"sho", `revoke: unknown command "sho": did you mean show? (run 'revoke help' for the list)` + "\n"},
		{"verison", `revoke: unknown command "verison": did you mean version? (run 'revoke help' for the list)` + "\n"},
		{"hlep", `revoke: unknown command "hlep": did you mean help? (run 'revoke help' for the list)` + "\n"},
		{"xy", `revoke: unknown command "xy" (run 'revoke help' for the list)` + "\n"},
		{"r", `revoke: unknown command "r" (run 'revoke help' for the list)` + "\n"},
		{"frobnicate", `revoke: unknown command "frobnicate" (run 'revoke help' for the list)` + "\n"},
		{"\x1b[2J", `revoke: unknown command "\x1b[2J" (run 'revoke help' for the list)` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.typed, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, tt.typed)
			if code != exitUsage || stdout != "" || stderr != tt.want {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2, stderr %q", code, stdout, stderr, tt.want)
			}
		})
	}
}

// isTerminal asks the terminal driver: /dev/null is a character device
// but no terminal, and neither is a pipe, a file or a buffer.
func TestIsTerminal(t *testing.T) {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "answers"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for name, f := range map[string]any{
		"/dev/null": devNull, "a pipe": r, "a file": file, "a buffer": strings.NewReader("y\n"), "a nil file": (*os.File)(nil),
	} {
		if isTerminal(f) {
			t.Errorf("%s is taken for a terminal", name)
		}
	}
}

// `revoke run` with stdin on /dev/null (cron, a CI job, `< /dev/null`)
// and without --yes refuses before opening anything: exit 2, as with a
// pipe, not a prompt that reads an empty answer.
func TestRunWithStdinOnDevNullNeedsYes(t *testing.T) {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	var out, errOut bytes.Buffer
	c := newCLI(devNull, &out, &errOut)
	c.getenv = func(k string) string {
		if k == "XDG_STATE_HOME" {
			return stateHome(t)
		}
		return ""
	}
	code := c.Main(context.Background(), []string{"run", "compromised", "--user", "adele@contoso.test"})
	want := "revoke: refusing to change anything without --yes: stdin is not a terminal to ask on\n"
	if code != exitUsage || out.String() != "" || errOut.String() != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 2, stderr %q", code, out.String(), errOut.String(), want)
	}
}

// A denial and a failed step are said once, by the command's output: at
// the default log level nothing repeats them on stderr.
func TestDenialAndFailureAreNotLoggedAgain(t *testing.T) {
	t.Run("a denied run", func(t *testing.T) {
		stdout, stderr, code := runCLI(t, "run", "compromised", "--user", "breakglass@contoso.test", "--yes")
		if code != exitDenied || stderr != "" {
			t.Errorf("exit %d, stderr %q; want exit 3 and nothing on stderr", code, stderr)
		}
		if want := "\nDenied: nothing will run\n  denied: breakglass@contoso.test is protected"; !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	})
	t.Run("a failed and a blocked step", func(t *testing.T) {
		seed := sandbox.DefaultSeed()
		for i := range seed.Apps {
			if seed.Apps[i].Name == "revoke-readonly" {
				seed.Apps[i].DirectoryRoles = seed.Apps[0].DirectoryRoles
				seed.Apps[i].Permissions = slices.DeleteFunc(slices.Clone(seed.Apps[0].Permissions),
					func(p string) bool { return p == "User.EnableDisableAccount.All" })
			}
		}
		e := newE2E(t, seed, sandbox.Options{})
		readonlyEnv(t, e)
		stdout, stderr, code := e.cli(t, "run", "compromised", "--user", "adele@contoso.test", "--yes")
		if code != exitFailure || stderr != "" {
			t.Errorf("exit %d, stderr %q; want exit 1 and nothing on stderr", code, stderr)
		}
		for _, want := range []string{"disable-entra-user       FAILED: ", "revoke-sessions          blocked: disable-entra-user failed"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		}
	})
}
