package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/revoke-dev/revoke/engine"
)

func TestStepsList(t *testing.T) {
	stdout, _, code := runCLI(t, "steps")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := []string{"STEP", "ad.annotate", "ad.disable_account", "ad.move_to_ou", "ad.remove_group_memberships", "ad.reset_password",
		"entra.confirm_compromised", "entra.disable_devices", "entra.disable_user", "entra.remove_app_assignments", "entra.remove_auth_methods", "entra.remove_group_memberships",
		"entra.remove_inbox_rules", "entra.remove_licenses", "entra.remove_roles", "entra.reset_password", "entra.revoke_consents", "entra.revoke_sessions",
		"servicenow.open_ticket"}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), stdout)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w+" ") {
			t.Errorf("line %d = %q, want it to start with %q", i, lines[i], w)
		}
	}
}

func TestStepsDetail(t *testing.T) {
	stdout, _, code := runCLI(t, "steps", "ad.reset_password")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"ad.reset_password — Reset the on-premises password",
		"times   int 1–5     default 1   How many consecutive resets.",
		"length  int 16–256  default 32",
		"AD rights: Reset Password on the user object",
		"Idempotent: no",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	_, stderr, code := runCLI(t, "steps", "ad.nope")
	if code != 1 || !strings.Contains(stderr, `no step "ad.nope" (run 'revoke steps' for the list)`) {
		t.Errorf("unknown step: exit %d, stderr %q", code, stderr)
	}
	stdout, _, _ = runCLI(t, "steps", "entra.disable_user", "--output", "json")
	var spec struct {
		Permissions []struct {
			Kind, Title string
			Names       []string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &spec); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(spec.Permissions)
	want := `[{"Kind":"application","Title":"Graph application permissions","Names":["User.EnableDisableAccount.All","User.Read.All"]},` +
		`{"Kind":"delegated","Title":"Graph delegated permissions","Names":["User.EnableDisableAccount.All","User.Read.All"]},` +
		`{"Kind":"role","Title":"Entra ID roles","Names":["a role that may act on the subject's directory roles, if they hold any (Privileged Authentication Administrator for a Global Administrator)"]}]`
	if string(got) != want {
		t.Errorf("permissions = %s\nwant %s", got, want)
	}
}

// The step reference in docs/ is generated from the specs; this fails when
// someone changes a spec and forgets `revoke steps --markdown > docs/steps.md`.
func TestStepReferenceIsCurrent(t *testing.T) {
	want := string(engine.StepReference(newCLI(nil, nil, nil).reg))
	got, err := os.ReadFile(repo + "/docs/steps.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("docs/steps.md is stale: run `go run ./cmd/revoke steps --markdown > docs/steps.md`")
	}
}
