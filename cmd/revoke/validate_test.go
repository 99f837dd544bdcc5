package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf16"
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
	want := `other.yaml: warning: not a runbook (no top-level steps), environment (no top-level kind), facts file (no subject), sandbox seed or runbook test (*_test.yaml): ignored
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

// A policy that POSTs the subject's facts to a server is refused at its
// call, by validate and by plan alike, and the server hears nothing.
func TestPolicyCannotSendFactsAnywhere(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	dir := writeFiles(t, map[string]string{
		"policies/exfil.rego": "package revoke\n\nwarn contains \"sent\" if {\n\thttp.send({\"method\": \"POST\", \"url\": \"" +
			srv.URL + "\", \"body\": input.subject})\n}\n",
	})
	t.Chdir(dir)
	want := "policies/exfil.rego:4:2: error: rego_type_error: http.send is not available to revoke policies: they reach no network and no host state, and decide the same way every time (docs/policies.md lists the builtins left out)\n"

	stdout, _, code := runCLI(t, "validate", "policies")
	if code != 1 || !strings.HasPrefix(stdout, want) {
		t.Errorf("validate: exit %d, stdout:\n%s\nwant it to start:\n%s", code, stdout, want)
	}
	_, stderr, code := runCLI(t, "plan", "compromised", "--user", "adele@contoso.com",
		"--facts", repo+"/examples/facts/hybrid-synced.yaml", "--policies", "policies")
	if code != 1 || !strings.HasPrefix(stderr, want) {
		t.Errorf("plan: exit %d, stderr:\n%s\nwant it to start:\n%s", code, stderr, want)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server received %d requests, want none", n)
	}
}

// utf16le encodes s as UTF-16 little-endian with a byte-order mark, as
// Windows PowerShell's > writes it.
func utf16le(s string) string {
	var b strings.Builder
	b.WriteString("\xff\xfe")
	for _, u := range utf16.Encode([]rune(s)) {
		b.WriteByte(byte(u))
		b.WriteByte(byte(u >> 8))
	}
	return b.String()
}

// validate fails on what it cannot read, whatever the format, and only
// YAML of no known shape is a warning.
func TestValidateFailsOnWhatItCannotRead(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"broken.json":  "{\"version\": 1, \"name\": \"j\", \"steps\": [\n  {\"id\": \"a\", \"uses\": \"ad.disable_account\"}\n",
		"flow.yaml":    "{version: 1, name: f, steps: [{id: a, uses: ad.disable_account}\n",
		"tab.yaml":     "version: 1\nname: t\nsteps:\n  - id: a\n\t  uses: ad.disable_account\n",
		"onprem.yaml":  "version: 1\nname: e\nkind: on-prem-only\n",
		"title.yaml":   "version: 1\nname: e\nkind: Hybrid\n",
		"windows.yaml": utf16le("version: 1\nname: w\nsteps:\n  - id: a\n    uses: ad.disable_acount\n"),
		"odd.yaml":     "\xff\xfev\x00e\x00r",
		"policy.rego":  utf16le("package revoke\n\nwarn contains \"from a UTF-16 policy\" if false\n"),
		"notes.yaml":   "hello: world\n",
		"data.json":    "{\"hello\": \"world\"}\n",
	})
	t.Chdir(dir)
	stdout, _, code := runCLI(t, "validate", ".")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	want := `broken.json:3:1: error: did not find expected ',' or ']'
flow.yaml:2:1: error: did not find expected ',' or ']'
notes.yaml: warning: not a runbook (no top-level steps), environment (no top-level kind), facts file (no subject), sandbox seed or runbook test (*_test.yaml): ignored
odd.yaml: error: file starts with a UTF-16 byte-order mark but is not UTF-16 (odd length); save it as UTF-8
onprem.yaml:3:7: error: kind: "on-prem-only" is not one of hybrid, cloud
tab.yaml:5:1: error: a tab character in the indentation: YAML indents with spaces only
title.yaml:3:7: error: kind: "Hybrid" is not one of hybrid, cloud
windows.yaml:5:11: error: unknown step "ad.disable_acount" (did you mean "ad.disable_account"?)
`
	lines := strings.SplitAfter(stdout, "\n")
	if got := strings.Join(lines[:len(lines)-2], ""); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// A team's company-wide deny does not fail the built-in runbook tests;
// the team's own test of it runs and passes.
func TestValidateTeamDenyLeavesBuiltinTestsPassing(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"policies/ticket.rego": "package revoke\n\ndeny contains \"compromised runs need a ticket\" if {\n" +
			"\tinput.scenario == \"compromised\"\n\tnot input.request.ticket\n}\n",
		"runbooks/ticket_test.yaml": `tests:
  - name: no ticket
    runbook: compromised
    environment: {name: contoso, kind: cloud}
    subject: {ref: lee@contoso.com, entra: {id: x, userPrincipalName: lee@contoso.com, privilegedRoles: []}}
    expect: {deny: [need a ticket]}
`,
	})
	t.Chdir(dir)
	stdout, _, code := runCLI(t, "validate", "runbooks", "policies")
	if code != 0 || !strings.HasSuffix(stdout, "; 0 errors, 0 warnings\n") || strings.Contains(stdout, "error:") {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
}
