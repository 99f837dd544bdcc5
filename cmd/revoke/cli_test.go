package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
