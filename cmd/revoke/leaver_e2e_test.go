package main

import (
	"crypto/tls"
	"crypto/x509"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
)

// The seed's leaver and what she holds (sandbox/default_seed.yaml).
const (
	miriamID        = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e0c"
	salesGroupID    = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d01"
	marketingID     = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d05"
	marketingAllID  = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d06" // dynamic, with Power BI Pro
	skuPowerBI      = "f8a1db68-be16-40ed-86d5-cb42ce701560"
	miriamLeaverDN  = "CN=Miriam Graham,OU=Leavers,DC=contoso,DC=test"
	manualAppName   = "Contoso Expenses (legacy)"
	provisionMethod = "/provisionOnDemand"
)

// leaverRun runs termination on the seed's leaver in e, and fails the
// test unless it ends contained (exit 0).
func leaverRun(t *testing.T, e *e2eEnv) string {
	t.Helper()
	stdout, stderr, code := e.cli(t, "run", "termination", "--user", "miriam@contoso.test", "--yes", "--ticket", "HR-2231", "--reason", "leaver")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	return stdout
}

// graphWrites are the Graph writes the tenant accepted, as METHOD PATH.
func graphWrites(entries []sandbox.Entry) []string {
	var out []string
	for _, w := range applied(entries) {
		if w.Protocol == "graph" {
			out = append(out, w.Method+" "+w.Path)
		}
	}
	return out
}

// TestTerminationDeprovisionsTheLeaver runs the built-in termination
// runbook on the seeded leaver against the sandbox: both SCIM apps lose
// her assignment and are each provisioned on demand after it, one ticket
// names the manual app, the two groups Graph can change are left and the
// dynamic one is reported, the direct licence goes and the inherited one
// is reported, and on premises the account is annotated and moved.
func TestTerminationDeprovisionsTheLeaver(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	stdout := leaverRun(t, e)
	id := e.onlyRun(t)
	log := e.journal(t, id)
	if got := finished(log); got != engine.OutcomeContained {
		t.Fatalf("outcome %q\n%s", got, stdout)
	}

	writes := graphWrites(e.tenant.Log().Entries())
	has := func(pred func(string) bool) []int {
		var at []int
		for i, w := range writes {
			if pred(w) {
				at = append(at, i)
			}
		}
		return at
	}
	// Each SCIM app: its assignment deleted, then provision on demand.
	unassigned := has(func(w string) bool {
		return strings.HasPrefix(w, "DELETE /v1.0/users/"+miriamID+"/appRoleAssignments/") ||
			strings.Contains(w, "/appRoleAssignedTo/")
	})
	provisioned := has(func(w string) bool { return strings.HasSuffix(w, provisionMethod) })
	if len(unassigned) != 3 {
		t.Errorf("%d assignments removed, want 3 (two SCIM apps, one manual):\n%s", len(unassigned), strings.Join(writes, "\n"))
	}
	if len(provisioned) < 2 {
		t.Fatalf("%d provisionOnDemand calls, want one per SCIM app at least:\n%s", len(provisioned), strings.Join(writes, "\n"))
	}
	for _, p := range provisioned[:2] {
		if p < unassigned[0] {
			t.Errorf("provisioned on demand (%s) before any unassignment:\n%s", writes[p], strings.Join(writes, "\n"))
		}
	}
	st := e.tenant.Directory().State()
	for _, app := range st.Apps {
		for _, acct := range app.Accounts {
			if strings.EqualFold(acct.UserID, miriamID) && acct.Active {
				t.Errorf("%s still holds an active account for Miriam: %+v", app.DisplayName, acct)
			}
		}
	}

	// One ticket, naming the manual app and the run.
	tickets := e.tenant.ServiceNowRecords("incident")
	if len(tickets) != 1 || !strings.Contains(tickets[0]["description"], manualAppName) || tickets[0]["correlation_id"] != "revoke:"+id+":open-ticket" {
		t.Errorf("tickets %v, want one naming %s", tickets, manualAppName)
	}
	if !strings.Contains(stdout, "INC0010001") {
		t.Errorf("the report does not name the ticket:\n%s", stdout)
	}

	// Groups: Sales and Marketing through /$ref, never the dynamic one.
	for _, g := range []string{salesGroupID, marketingID} {
		if len(has(func(w string) bool { return w == "DELETE /v1.0/groups/"+g+"/members/"+miriamID+"/$ref" })) != 1 {
			t.Errorf("no removal from group %s:\n%s", g, strings.Join(writes, "\n"))
		}
	}
	if n := has(func(w string) bool { return strings.Contains(w, "/groups/"+marketingAllID+"/") }); len(n) != 0 {
		t.Errorf("a write to the dynamic group:\n%s", strings.Join(writes, "\n"))
	}
	var user *sandbox.UserState
	for i := range st.Users {
		if u := &st.Users[i]; u.Entra != nil && u.Entra.ID == miriamID {
			user = u
		}
	}
	if user == nil {
		t.Fatalf("no state for Miriam")
	}
	if !slices.Equal(user.Entra.Groups, []string{marketingAllID}) {
		t.Errorf("groups left %v, want only the dynamic one", user.Entra.Groups)
	}
	// The state lists direct licences; Power BI Pro stays through the
	// dynamic group (the residual report below says so).
	if len(user.Entra.Licenses) != 0 {
		t.Errorf("direct licences left %v, want none", user.Entra.Licenses)
	}
	if n := has(func(w string) bool { return w == "POST /v1.0/users/"+miriamID+"/assignLicense" }); len(n) != 1 {
		t.Errorf("%d assignLicense calls, want 1:\n%s", len(n), strings.Join(writes, "\n"))
	}

	// The residual report names the dynamic group and the inherited licence.
	var residual []steps.Residual
	for _, ev := range log.Events {
		if ev.Type == engine.EventResidual {
			residual = ev.Residual
		}
	}
	var group, license bool
	for _, r := range residual {
		group = group || r.Kind == steps.ResidualGroup && strings.Contains(r.What, "Marketing (everyone)")
		license = license || r.Kind == steps.ResidualLicense && (strings.Contains(r.What, "POWER_BI_PRO") || strings.Contains(r.What, skuPowerBI))
	}
	if !group || !license {
		t.Errorf("residual lacks the dynamic group (%t) or the inherited licence (%t): %+v", group, license, residual)
	}
	// The moved account is found again for the report, not left unchecked.
	for _, r := range residual {
		if r.Backend == "ad" && r.Kind == steps.ResidualUnchecked && strings.Contains(r.What, "inventory failed") {
			t.Errorf("the AD inventory did not find the moved account: %+v", r)
		}
	}

	// On premises: moved into the leavers' OU, annotated with the run.
	dn, info := ldapAccount(t, e, "miriam")
	if !strings.EqualFold(dn, miriamLeaverDN) {
		t.Errorf("the account is at %s, want %s", dn, miriamLeaverDN)
	}
	if !strings.Contains(info, id) || !strings.Contains(info, "HR-2231") {
		t.Errorf("info %q names neither the run %s nor the ticket", info, id)
	}
}

// ldapAccount reads an account's DN and info from the sandbox's LDAP face
// as the environment's service account, over LDAPS with the sandbox's CA.
func ldapAccount(t *testing.T, e *e2eEnv, sam string) (dn, info string) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(e.tenant.CAPEM())
	lc, err := ldap.DialURL(e.tenant.LDAPSURL(), ldap.DialWithTLSConfig(&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	svc := e.seed.AD.ServiceAccounts[0]
	if err := lc.Bind(svc.DN, svc.Password); err != nil {
		t.Fatal(err)
	}
	res, err := lc.Search(ldap.NewSearchRequest(e.seed.AD.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(sAMAccountName="+ldap.EscapeFilter(sam)+")", []string{"distinguishedName", "info"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search %s: %v, %d entries", sam, err, len(res.Entries))
	}
	return res.Entries[0].DN, res.Entries[0].GetAttributeValue("info")
}

// TestTerminationCrashAtEveryJournalLineThenResume kills the leaver's
// termination right after each journal line but the last, in a fresh
// tenant each time, and resumes it: the run ends contained, every change
// a clean run makes is made exactly once (provision on demand aside: an
// action, not a change, which Verify repeats to read its result), and the
// instance holds exactly one ticket.
func TestTerminationCrashAtEveryJournalLineThenResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CLI as a child process once per journal line")
	}
	runArgs := []string{"run", "termination", "--user", "miriam@contoso.test", "--yes", "--ticket", "HR-2231"}
	clean := newE2E(t, nil, sandbox.Options{})
	if stdout, stderr, code := clean.cli(t, runArgs...); code != 0 {
		t.Fatalf("clean run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	crashEveryLineThenResume(t, clean, runArgs, leaverChanges, func(t *testing.T, e *e2eEnv, id string) {
		if recs := e.tenant.ServiceNowRecords("incident"); len(recs) != 1 {
			t.Errorf("%d tickets after the resume, want 1: %v", len(recs), recs)
		}
	})
}

// leaverChanges are changes without provision-on-demand requests and
// with the annotation's text reduced to the attribute it writes (it names
// the run, which differs between tenants).
func leaverChanges(entries []sandbox.Entry) []string {
	var out []string
	for _, c := range changes(entries) {
		if strings.HasSuffix(strings.Fields(c)[2], provisionMethod) {
			continue
		}
		out = append(out, c)
	}
	return out
}
