package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestValidateShippedTree(t *testing.T) {
	stdout, stderr, code := runCLI(t, "validate", repo+"/runbooks", repo+"/policies", repo+"/examples")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "error:") {
		t.Errorf("errors in the shipped tree:\n%s", stdout)
	}
	if !strings.Contains(stdout, " 0 failed;") || !strings.Contains(stdout, "0 errors") {
		t.Errorf("summary: %s", stdout)
	}
}

const badRunbook = `version: 1
name: Bad_Name
steps:
  - id: a
    uses: ad.disable_acount
  - id: b
    uses: ad.reset_password
    needs: [c, b]
    with: {times: 9, colour: red}
  - id: c
    uses: entra.disable_user
    needs: [d]
    on_error: ignore
  - id: d
    uses: entra.revoke_sessions
    needs: [c]
    retry: {attempts: 0}
    timeout: soon
  - id: a
    uses: entra.disable_devices
    extra: 1
`

func TestValidateReportsEveryProblem(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"runbooks/bad.yaml":    badRunbook,
		"policies/broken.rego": "package revoke\n\ndeny contains msg if {\n  msg := \n}\n",
		"other.yaml":           "hello: world\n",
	})
	t.Chdir(dir)
	stdout, _, code := runCLI(t, "validate", "runbooks", "policies", "other.yaml")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	want := `other.yaml: warning: not a runbook (no top-level steps), environment (no kind: hybrid|cloud), facts file (no subject), sandbox seed or runbook test (*_test.yaml): ignored
policies/broken.rego:5:1: error: rego_parse_error: unexpected } token
runbooks/bad.yaml:2:7: error: name "Bad_Name" must be lower-case letters, digits and dashes
runbooks/bad.yaml:5:11: error: unknown step "ad.disable_acount" (did you mean "ad.disable_account"?)
runbooks/bad.yaml:8:16: error: step "b" needs itself
runbooks/bad.yaml:9:19: error: ad.reset_password.times: 9 is out of range 1–5
runbooks/bad.yaml:9:22: error: ad.reset_password has no parameter "colour" (it has times, length)
runbooks/bad.yaml:13:15: error: on_error: "ignore" is not one of block, continue, abort
runbooks/bad.yaml:16:13: error: needs form a cycle: c → d → c
runbooks/bad.yaml:17:23: error: retry.attempts: 0 is out of range 1–20
runbooks/bad.yaml:18:14: error: timeout: "soon" is not a duration such as 30s or 2m
runbooks/bad.yaml:19:5: error: duplicate step id "a" (first at line 4)
runbooks/bad.yaml:21:5: error: unknown key "extra" in step (known: id, uses, needs, with, on_error, retry, timeout, tags)
`
	lines := strings.SplitAfter(stdout, "\n")
	got := strings.Join(lines[:len(lines)-2], "")
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if summary := lines[len(lines)-2]; !strings.HasSuffix(summary, "12 errors, 1 warning\n") {
		t.Errorf("summary %q", summary)
	}
}

func TestValidateFormats(t *testing.T) {
	dir := writeFiles(t, map[string]string{"bad.yaml": "version: 1\nname: x\nsteps:\n  - {id: a, uses: ad.nope}\n"})
	t.Chdir(dir)

	stdout, _, code := runCLI(t, "validate", "--format", "github", "bad.yaml")
	want := "::error file=bad.yaml,line=4,col=19,title=revoke unknown-step::unknown step \"ad.nope\" (`revoke steps` lists the registered ones)\n"
	if code != 1 || stdout != want {
		t.Errorf("github: exit %d\n got: %q\nwant: %q", code, stdout, want)
	}

	stdout, _, code = runCLI(t, "validate", "--output", "json", "bad.yaml")
	var report struct {
		Lints []struct {
			File    string `json:"file"`
			Line    int    `json:"line"`
			Column  int    `json:"column"`
			Level   string `json:"level"`
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"lints"`
		Summary map[string]int `json:"summary"`
	}
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if code != 1 || len(report.Lints) != 1 || report.Lints[0].Line != 4 || report.Lints[0].Code != "unknown-step" ||
		report.Summary["errors"] != 1 || report.Summary["runbooks"] != 1 {
		t.Errorf("json: exit %d, %+v", code, report)
	}
}

func TestValidateDefaultsAndPaths(t *testing.T) {
	t.Chdir(t.TempDir())
	stdout, _, code := runCLI(t, "validate")
	if code != 0 || !strings.HasPrefix(stdout, "validated built-ins only;") {
		t.Errorf("empty dir: exit %d, %q", code, stdout)
	}
	if err := os.Mkdir("empty", 0o755); err != nil {
		t.Fatal(err)
	}
	stdout, _, code = runCLI(t, "validate", "empty")
	if code != 0 || !strings.HasPrefix(stdout, "empty: warning: no runbooks, environments, policies or tests here (.yaml, .yml, .rego, .json)\n") {
		t.Errorf("empty dir: exit %d, %q", code, stdout)
	}
	_, stderr, code := runCLI(t, "validate", "nosuchdir")
	if code != 2 || !strings.Contains(stderr, "revoke: validate: stat nosuchdir: no such file or directory") {
		t.Errorf("missing path: exit %d, %q", code, stderr)
	}
}
