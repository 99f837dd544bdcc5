package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/revoke-dev/revoke/sandbox"
)

// missingPAA is what the preflight shows on each step Entra would refuse
// on the break-glass Global Administrator when the app holds only User
// Administrator (the default seed's app).
const missingPAA = "MISSING ROLE Privileged Authentication Administrator (the target holds Global Administrator): this step will fail"

// A privileged subject, approved with --allow-protected: the live plan
// names the directory role the app lacks on every step Entra guards by the
// subject's roles, before anything runs, and writes nothing.
func TestPlanShowsTheMissingRoleForAPrivilegedSubject(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	stdout, stderr, code := e.cli(t, "plan", "compromised", "--user", "breakglass@contoso.test",
		"--allow-protected", "--approved-by", "ciso")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, step := range []string{"disable-entra-user", "revoke-sessions", "reset-entra-password"} {
		if note := noteOf(stdout, step); !strings.HasSuffix(note, missingPAA) {
			t.Errorf("%s's note %q does not end with the missing role\nstdout:\n%s", step, note, stdout)
		}
	}
	if note := noteOf(stdout, "disable-devices"); strings.Contains(note, "MISSING") {
		t.Errorf("disable-devices: %q", note)
	}
	if w := writes(e.tenant.Log().Entries()); len(w) != 0 {
		t.Errorf("writes sent by a plan:\n%s", fmtEntries(w))
	}

	stdout, _, code = e.cli(t, "plan", "compromised", "--user", "breakglass@contoso.test",
		"--allow-protected", "--approved-by", "ciso", "--output", "json")
	var out struct {
		Steps []struct {
			ID    string `json:"id"`
			Check struct {
				MissingRoles []string `json:"missing_roles"`
			} `json:"check"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != 0 {
		t.Fatalf("exit %d, %v:\n%s", code, err, stdout)
	}
	for _, s := range out.Steps {
		if s.ID == "disable-entra-user" && strings.Join(s.Check.MissingRoles, "|") != "Privileged Authentication Administrator (the target holds Global Administrator)" {
			t.Errorf("JSON missing_roles %q", s.Check.MissingRoles)
		}
	}
}

// The run shows the same before it starts, and the refusal it then meets
// names the role, not the permission the app holds; an app holding the
// role is shown nothing missing.
func TestRunNamesTheMissingRoleBeforeAndAfter(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", "breakglass@contoso.test",
		"--allow-protected", "--approved-by", "ciso", "--yes")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFailure, stdout, stderr)
	}
	plan, summary, _ := strings.Cut(stdout, "\nRun ")
	if note := noteOf(plan, "disable-entra-user"); !strings.HasSuffix(note, missingPAA) {
		t.Errorf("before the run, disable-entra-user's note is %q\nstdout:\n%s", note, stdout)
	}
	const refused = "Insufficient privileges to complete the operation. (needs the Entra role Privileged Authentication Administrator " +
		"for the app's service principal: the target holds Global Administrator)"
	if !strings.Contains(summary, refused) {
		t.Errorf("the refusal does not name the role:\n%s", stdout)
	}

	seed := sandbox.DefaultSeed()
	seed.Apps[0].DirectoryRoles = append(seed.Apps[0].DirectoryRoles, "Privileged Authentication Administrator")
	e = newE2E(t, seed, sandbox.Options{})
	stdout, stderr, code = e.cli(t, "plan", "compromised", "--user", "breakglass@contoso.test",
		"--allow-protected", "--approved-by", "ciso")
	if code != 0 || strings.Contains(stdout, "MISSING") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// noteOf returns the note printed under a step's line in a plan, or "".
func noteOf(plan, step string) string {
	lines := strings.Split(plan, "\n")
	for i, l := range lines {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "run" && f[1] == step && i+1 < len(lines) {
			if next := lines[i+1]; strings.HasPrefix(next, "        ") {
				return strings.TrimSpace(next)
			}
		}
	}
	return ""
}
