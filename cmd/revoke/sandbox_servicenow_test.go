package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/revoke-dev/revoke/sandbox"
)

// The environment `revoke sandbox` writes has a servicenow section when
// the seed has an instance: basic auth as its user with a role, the
// password in a private file beside it, the seed's first assignment group
// and its manual apps. A run of servicenow.open_ticket through it opens
// one ticket, and the run's report names it.
func TestSandboxEnvServiceNow(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	data, err := os.ReadFile(e.file)
	if err != nil {
		t.Fatal(err)
	}
	want := "\nservicenow:\n  instance_url: \"" + e.tenant.ServiceNowURL() + "\"\n  credential: basic\n  username: \"svc-revoke\"\n" +
		"  password_file: servicenow-password\n  ca_file: ca.pem\n  assignment_group: \"Service Desk\"\n" +
		"  manual_apps: [\"Contoso Expenses (legacy)\"]\n"
	if !strings.HasSuffix(string(data), want) || strings.Contains(string(data), "Sandbox-ServiceNow-1!") {
		t.Errorf("environment file lacks\n%s\nor holds the password:\n%s", want, data)
	}
	fi, err := os.Stat(filepath.Join(e.dir, "servicenow-password"))
	got, _ := os.ReadFile(filepath.Join(e.dir, "servicenow-password"))
	if err != nil || fi.Mode().Perm() != 0o600 || string(got) != "Sandbox-ServiceNow-1!" {
		t.Errorf("servicenow-password: %v, %v, %q", err, fi, got)
	}

	dir := t.TempDir()
	rb := "version: 1\nname: ticket-only\ntitle: Ticket only\ndescription: Opens the ticket for the apps a person removes.\n" +
		"steps:\n  - id: ticket\n    uses: servicenow.open_ticket\n"
	if err := os.WriteFile(filepath.Join(dir, "ticket-only.yaml"), []byte(rb), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := e.cli(t, "run", "ticket-only", "--user", "miriam@contoso.test", "--runbooks", dir, "--yes", "--ticket", "HR-7")
	if code != 0 || !strings.Contains(stdout, "opened INC0010001 for 1 app: Contoso Expenses (legacy)") {
		t.Errorf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	recs := e.tenant.ServiceNowRecords("incident")
	if len(recs) != 1 || !strings.Contains(recs[0]["description"], "Request ticket: HR-7\n") || !strings.HasPrefix(recs[0]["correlation_id"], "revoke:") {
		t.Errorf("incidents = %v", recs)
	}
}

// A seed without an instance writes no servicenow section, and the
// environment is complete without it.
func TestSandboxEnvWithoutServiceNow(t *testing.T) {
	seed := sandbox.DefaultSeed()
	noSnow := *seed
	noSnow.ServiceNow = nil
	e := newE2E(t, &noSnow, sandbox.Options{})
	data, err := os.ReadFile(e.file)
	if err != nil || strings.Contains(string(data), "servicenow") {
		t.Errorf("environment file (%v):\n%s", err, data)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "servicenow-password")); !os.IsNotExist(err) {
		t.Errorf("servicenow-password written: %v", err)
	}
	if stdout, stderr, code := e.cli(t, "plan", "compromised", "--user", "adele@contoso.test"); code != 0 {
		t.Errorf("plan without a servicenow section: exit %d\n%s\n%s", code, stdout, stderr)
	}
}
