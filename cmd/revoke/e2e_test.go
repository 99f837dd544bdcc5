package main

// End-to-end tests: a sandbox tenant runs in the test process, its
// environment file is written with writeSandboxEnv, and revoke commands run
// against it with --env, so the real clients (go-ldap, msgraph-sdk-go) talk
// to it over loopback and the tenant's request log shows exactly what was
// sent.

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
)

// e2eEnv is a sandbox tenant and an environment file for it.
type e2eEnv struct {
	tenant *sandbox.Tenant
	seed   *sandbox.Seed
	// dir holds environment.yaml, its secret files and state/.
	dir, file, stateDir string
}

// newE2E starts a tenant from seed (nil: the default seed) and writes its
// environment into a fresh temporary directory, with state_dir inside it.
func newE2E(t *testing.T, seed *sandbox.Seed, opts sandbox.Options) *e2eEnv {
	t.Helper()
	if seed == nil {
		seed = sandbox.DefaultSeed()
	}
	tn, err := sandbox.Start(context.Background(), seed, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	file, err := writeSandboxEnv(dir, tn, seed, stateDir)
	if err != nil {
		t.Fatal(err)
	}
	return &e2eEnv{tenant: tn, seed: seed, dir: dir, file: file, stateDir: stateDir}
}

// cli runs one command line in-process with --env appended.
func (e *e2eEnv) cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return e.cliWith(t, nil, args...)
}

// cliWith is cli with a hook that may adjust the cli (its logger) first.
func (e *e2eEnv) cliWith(t *testing.T, setup func(*cli), args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := newCLI(strings.NewReader(""), &out, &errOut)
	c.getenv = func(k string) string {
		switch k {
		case "USER":
			return "tester"
		case "XDG_STATE_HOME":
			// Never the developer's own state directory.
			return filepath.Join(e.dir, "xdg")
		}
		return ""
	}
	if setup != nil {
		setup(c)
	}
	code = c.Main(context.Background(), append(args, "--env", e.file))
	return out.String(), errOut.String(), code
}

// editEnv rewrites the environment file: each old string must occur.
func (e *e2eEnv) editEnv(t *testing.T, oldNew ...string) {
	t.Helper()
	b, err := os.ReadFile(e.file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("environment file has no %q:\n%s", oldNew[i], s)
		}
		s = strings.ReplaceAll(s, oldNew[i], oldNew[i+1])
	}
	if err := os.WriteFile(e.file, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runIDs are the runs journaled in the state directory, from the journal
// file names.
func (e *e2eEnv) runIDs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(e.stateDir, "runs", "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range files {
		ids = append(ids, strings.TrimSuffix(filepath.Base(f), ".jsonl"))
	}
	return ids
}

// onlyRun is the id of the one run journaled; it fails the test otherwise.
func (e *e2eEnv) onlyRun(t *testing.T) string {
	t.Helper()
	ids := e.runIDs(t)
	if len(ids) != 1 {
		t.Fatalf("want exactly one journal in %s, found %v", e.stateDir, ids)
	}
	return ids[0]
}

// journal reads run id's journal.
func (e *e2eEnv) journal(t *testing.T, id string) *engine.JournalLog {
	t.Helper()
	path, err := engine.RunPath(e.stateDir, id)
	if err != nil {
		t.Fatal(err)
	}
	log, err := engine.ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	return log
}

// journalBytes is run id's journal file as written.
func (e *e2eEnv) journalBytes(t *testing.T, id string) []byte {
	t.Helper()
	path, err := engine.RunPath(e.stateDir, id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stepEvents are the journal's events of one type for one step.
func stepEvents(log *engine.JournalLog, typ engine.EventType, step string) []engine.Event {
	var out []engine.Event
	for _, ev := range log.Events {
		if ev.Type == typ && ev.Step == step {
			out = append(out, ev)
		}
	}
	return out
}

// finished is the journal's run_finished outcome, "" when there is none.
func finished(log *engine.JournalLog) engine.Outcome {
	if fin := log.Finished(); fin != nil {
		return fin.Outcome
	}
	return ""
}

// isWrite reports whether a logged request changes the tenant: an LDAP
// add, delete, modify or modrdn, or a Graph POST, PATCH, PUT or DELETE
// other than the OAuth token request.
func isWrite(e sandbox.Entry) bool {
	switch e.Protocol {
	case "ldap":
		switch e.Method {
		case "add", "delete", "modify", "modrdn", "modifydn":
			return true
		}
	case "graph":
		switch e.Method {
		case "POST", "PATCH", "PUT", "DELETE":
			// A $batch only carries requests, each logged on its own.
			return !strings.Contains(e.Path, "/oauth2/") && !strings.HasSuffix(e.Path, "/$batch")
		}
	}
	return false
}

// applied are the writes the tenant accepted (LDAP result 0, HTTP 2xx): a
// request cut short by a SIGKILL reaches the server truncated and is
// refused, changing nothing, so it does not count as a change made.
func applied(entries []sandbox.Entry) []sandbox.Entry {
	var out []sandbox.Entry
	for _, e := range writes(entries) {
		if (e.Protocol == "ldap" && e.Status == 0) || (e.Protocol == "graph" && e.Status >= 200 && e.Status < 300) {
			out = append(out, e)
		}
	}
	return out
}

// writes are the logged requests that would change the tenant, accepted
// or not.
func writes(entries []sandbox.Entry) []sandbox.Entry {
	var out []sandbox.Entry
	for _, e := range entries {
		if isWrite(e) {
			out = append(out, e)
		}
	}
	return out
}

// count counts the entries f matches.
func count(entries []sandbox.Entry, f func(sandbox.Entry) bool) int {
	n := 0
	for _, e := range entries {
		if f(e) {
			n++
		}
	}
	return n
}

// fmtEntries renders entries one a line for failure messages.
func fmtEntries(entries []sandbox.Entry) string {
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.Time.Format("15:04:05.000") + " " + e.Protocol + " " + e.Method + " " + e.Path + " " +
			strconv.Itoa(e.Status) + " " + e.Detail + "\n")
	}
	return b.String()
}

// Seed ids the tests refer to.
const (
	adeleID  = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e01"
	adeleDN  = "CN=Adele Vance,OU=Staff,DC=contoso,DC=test"
	obrienID = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e04"
	obrienDN = "CN=Patrick O'Brien,OU=Staff,DC=contoso,DC=test"
	diegoID  = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e07"
)

func TestE2EUnknownUserChangesNothing(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", "nobody@contoso.test", "--yes")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := "revoke: nobody@contoso.test was not found in ad or entra: check the reference (UPN, object id, sAMAccountName, DOMAIN\\user, DN or SID); nothing was changed\n"
	if stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if w := writes(e.tenant.Log().Entries()); len(w) != 0 {
		t.Errorf("writes sent for an unknown user:\n%s", fmtEntries(w))
	}
	if ids := e.runIDs(t); len(ids) != 0 {
		t.Errorf("journals written for an unknown user: %v", ids)
	}
}

func TestE2EFilterInjectionIsEscaped(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	// A UPN may hold *, ( and ): the filter must escape them.
	ref := "*)(objectClass=*@contoso.test"
	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", ref, "--yes")
	if code != exitFailure || !strings.Contains(stderr, `was not found in ad or entra`) {
		t.Fatalf("exit %d, want 1 and not found\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	entries := e.tenant.Log().Entries()
	if w := writes(entries); len(w) != 0 {
		t.Errorf("writes sent:\n%s", fmtEntries(w))
	}
	// The LDAP search must carry the reference escaped (RFC 4515), so
	// that it matched nobody rather than everybody.
	const escaped = `\2a\29\28objectClass=\2a@contoso.test`
	var searches []string
	for _, en := range entries {
		if en.Protocol == "ldap" && en.Method == "search" && en.Path == "DC=contoso,DC=test" {
			searches = append(searches, en.Detail)
		}
	}
	if len(searches) != 1 || !strings.Contains(searches[0], "(userPrincipalName="+escaped+")") || !strings.HasSuffix(searches[0], "entries=0") {
		t.Errorf("subtree searches = %q, want one with the escaped filter and entries=0", searches)
	}
	// On Graph the reference is a path segment: escaped, not a query.
	for _, en := range entries {
		if en.Protocol == "graph" && strings.HasPrefix(en.Path, "/v1.0/users") && strings.ContainsAny(en.Path, "*()") {
			t.Errorf("graph request with an unescaped reference: %s", en.Path)
		}
	}
}

func TestE2EApostropheEndToEnd(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", "o'brien@contoso.test", "--yes")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	id := e.onlyRun(t)
	if got := finished(e.journal(t, id)); got != engine.OutcomeContained {
		t.Errorf("outcome %q", got)
	}
	entries := e.tenant.Log().Entries()
	var lookup []string
	for _, en := range entries {
		if en.Protocol == "graph" && strings.Contains(strings.ToLower(en.Path), "brien") {
			lookup = append(lookup, en.Path)
		}
	}
	// The user, their roles and their apps are read by the reference,
	// escaped in the path (' and @ percent-encoded); afterwards only the
	// object id is used.
	want := []string{
		"/v1.0/users/o%27brien%40contoso.test/appRoleAssignments",
		"/v1.0/users/o%27brien%40contoso.test/transitiveMemberOf/microsoft.graph.directoryRole",
		"/v1.0/users/o%27brien%40contoso.test?$select=id,userPrincipalName,displayName,accountEnabled,onPremisesSyncEnabled,signInSessionsValidFromDateTime,userType," +
			"onPremisesSecurityIdentifier,onPremisesImmutableId,onPremisesSamAccountName,onPremisesDomainName,onPremisesDistinguishedName",
	}
	slices.Sort(lookup)
	if strings.Join(lookup, "\n") != strings.Join(want, "\n") {
		t.Errorf("graph paths naming the reference:\n%s\nwant:\n%s", strings.Join(lookup, "\n"), strings.Join(want, "\n"))
	}
	w := writes(entries)
	wantWrites := []string{
		"ldap modify " + obrienDN + " delete userAccountControl, add userAccountControl",
		"ldap modify " + obrienDN + " replace unicodePwd",
		"ldap modify " + obrienDN + " replace unicodePwd",
		"graph PATCH /v1.0/users/" + obrienID + " accountEnabled=false",
		"graph POST /v1.0/users/" + obrienID + "/revokeSignInSessions ",
		"graph POST /v1.0/identityProtection/riskyUsers/confirmCompromised ",
	}
	if got := sortedWrites(w); strings.Join(got, "\n") != strings.Join(sortStrings(wantWrites), "\n") {
		t.Errorf("writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(sortStrings(wantWrites), "\n"))
	}
}

// sortedWrites renders writes as "protocol method path detail", sorted, to
// compare what was changed regardless of parallel steps' order.
func sortedWrites(w []sandbox.Entry) []string {
	var out []string
	for _, e := range w {
		out = append(out, e.Protocol+" "+e.Method+" "+e.Path+" "+e.Detail)
	}
	return sortStrings(out)
}

func sortStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestE2EAmbiguousReferenceIsRefused(t *testing.T) {
	// An on-premises-only account with Megan's sAMAccountName (a seed
	// built in code skips the seed file's uniqueness check): the
	// reference megan then names two AD accounts.
	seed := sandbox.DefaultSeed()
	seed.Users = append(seed.Users, sandbox.SeedUser{
		UserPrincipalName: "megan.b@contoso.test", DisplayName: "Megan Impostor",
		AD: &sandbox.SeedADAccount{DN: "CN=Megan Impostor,OU=Staff,DC=contoso,DC=test",
			SAMAccountName: "megan", UserAccountControl: 512, Password: "Sandbox-Only-Impostor-9!"},
	})
	e := newE2E(t, seed, sandbox.Options{})
	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", "megan", "--yes")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := "revoke: resolve megan in ad: ambiguous: \"megan\" matches 2 accounts: " +
		"CN=Megan Bowen,OU=Staff,DC=contoso,DC=test, CN=Megan Impostor,OU=Staff,DC=contoso,DC=test\n"
	if stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
	}
	if ids := e.runIDs(t); len(ids) != 0 {
		t.Errorf("journals written for an ambiguous reference: %v", ids)
	}
	if w := writes(e.tenant.Log().Entries()); len(w) != 0 {
		t.Errorf("writes sent for an ambiguous reference:\n%s", fmtEntries(w))
	}
}

func TestE2EProtectedAccount(t *testing.T) {
	// The app may disable an administrator only with Privileged
	// Authentication Administrator, as in Graph; give it that so the
	// approved run can succeed.
	seed := sandbox.DefaultSeed()
	seed.Apps[0].DirectoryRoles = append(seed.Apps[0].DirectoryRoles, "Privileged Authentication Administrator")
	e := newE2E(t, seed, sandbox.Options{})

	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", "breakglass@contoso.test", "--yes")
	if code != exitDenied {
		t.Fatalf("exit %d, want 3\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "denied: breakglass@contoso.test is protected") {
		t.Errorf("no denial in stdout:\n%s", stdout)
	}
	if w := writes(e.tenant.Log().Entries()); len(w) != 0 {
		t.Errorf("writes sent for a denied run:\n%s", fmtEntries(w))
	}
	denied := e.onlyRun(t)
	if got := finished(e.journal(t, denied)); got != engine.OutcomeDenied {
		t.Errorf("denied run's outcome %q", got)
	}

	stdout, stderr, code = e.cli(t, "run", "compromised", "--user", "breakglass@contoso.test", "--yes",
		"--allow-protected", "--approved-by", "ciso", "--reason", "INC-9")
	if code != 0 {
		t.Fatalf("approved run: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var approved string
	for _, id := range e.runIDs(t) {
		if id != denied {
			approved = id
		}
	}
	log := e.journal(t, approved)
	req := log.Record().Request
	if req.ApprovedBy != "ciso" || !req.AllowProtected || req.Reason != "INC-9" || req.RequestedBy != "tester" {
		t.Errorf("journaled request %+v", req)
	}
	if got := finished(log); got != engine.OutcomeContained {
		t.Errorf("approved run's outcome %q", got)
	}
	breakglass := "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e09"
	if n := count(e.tenant.Log().Entries(), func(en sandbox.Entry) bool {
		return en.Method == "PATCH" && en.Path == "/v1.0/users/"+breakglass && en.Detail == "accountEnabled=false"
	}); n != 1 {
		t.Errorf("%d PATCHes disabling breakglass, want 1:\n%s", n, fmtEntries(writes(e.tenant.Log().Entries())))
	}
}

// An administrator by group membership is as protected as one by direct
// assignment: nestor's only role is his role-assignable group's, and AD
// does not flag him. The live plan refuses him and nothing is written.
func TestE2EProtectedThroughAGroup(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	stdout, stderr, code := e.cli(t, "plan", "compromised", "--user", "nestor@contoso.test")
	want := "nestor@contoso.test is protected: it holds privileged Entra roles (Helpdesk Administrator); " +
		"to proceed anyway, pass --allow-protected and name who approved it with --approved-by"
	if code != exitDenied || !strings.Contains(stdout, want) {
		t.Fatalf("exit %d, want 3 and %q\nstdout:\n%s\nstderr:\n%s", code, want, stdout, stderr)
	}
	if w := writes(e.tenant.Log().Entries()); len(w) != 0 {
		t.Errorf("writes sent for a refused plan:\n%s", fmtEntries(w))
	}
}

// An on-premises account outside the sync: the AD steps run, the Entra
// ones are skipped with a reason and a warning, and the run succeeds with
// nothing sent to Graph but the resolution's reads.
func TestE2EOnPremisesOnlyAccount(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", "lynne@contoso.test", "--yes")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"lynne@contoso.test was found only in on-premises Active Directory, so the Entra ID steps are skipped",
		"skipped     revoke-sessions                   lynne@contoso.test was not found in Entra ID",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	lynneDN := "CN=Lynne Robbins,OU=Staff,DC=contoso,DC=test"
	want := []string{
		"ldap modify " + lynneDN + " delete userAccountControl, add userAccountControl",
		"ldap modify " + lynneDN + " replace unicodePwd",
		"ldap modify " + lynneDN + " replace unicodePwd",
	}
	var got []string
	for _, w := range writes(e.tenant.Log().Entries()) {
		got = append(got, strings.TrimSpace(w.Protocol+" "+w.Method+" "+w.Path+" "+w.Detail))
	}
	if !slices.Equal(got, want) {
		t.Errorf("writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := finished(e.journal(t, e.onlyRun(t))); got != engine.OutcomeContained {
		t.Errorf("outcome %q", got)
	}
}

// A guest's password is their home organization's: the cloud reset is
// skipped, the account is still disabled and its sessions revoked.
func TestE2EGuest(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	guest := "pradeep_fabrikam.test#EXT#@contoso.test"
	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", guest, "--yes")
	if code != 0 || !strings.Contains(stdout, guest+" is a guest: ask their home organization to reset the password") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	id := "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e08"
	var got []string
	for _, w := range writes(e.tenant.Log().Entries()) {
		got = append(got, strings.TrimSpace(w.Method+" "+w.Path+" "+w.Detail))
	}
	want := []string{"PATCH /v1.0/users/" + id + " accountEnabled=false", "POST /v1.0/users/" + id + "/revokeSignInSessions"}
	if !slices.Equal(slices.DeleteFunc(slices.Clone(got), func(s string) bool { return strings.Contains(s, "riskyUsers") }), want) {
		t.Errorf("writes:\n%s\nwant (besides Identity Protection):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Someone who may activate an administrator role in PIM is protected too:
// the live plan reads the eligibility and refuses.
func TestE2EProtectedByPIMEligibility(t *testing.T) {
	seed := sandbox.DefaultSeed()
	seed.RoleEligibilities = append(seed.RoleEligibilities, sandbox.SeedRoleAssignment{User: "megan@contoso.test", Roles: []string{"User Administrator"}})
	e := newE2E(t, seed, sandbox.Options{})
	stdout, stderr, code := e.cli(t, "plan", "compromised", "--user", "megan@contoso.test")
	want := "megan@contoso.test is protected: it may activate privileged Entra roles in Privileged Identity Management (User Administrator)"
	if code != exitDenied || !strings.Contains(stdout, want) {
		t.Fatalf("exit %d, want 3 and %q\nstdout:\n%s\nstderr:\n%s", code, want, stdout, stderr)
	}
}

func TestE2EPasswordResetNeedsEncryption(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	plain := e.tenant.LDAPURL()
	e.editEnv(t, e.tenant.LDAPSURL(), plain, "\nstate_dir", "\n  start_tls: false\nstate_dir")
	wantLint := e.file + ":14:1: error: ad: url " + plain + " is not ldaps:// and start_tls is off: the bind password and password resets would cross the network in clear\n"

	stdout, stderr, code := runCLIEnv(t, nil, "validate", e.file)
	if code != exitFailure || !strings.Contains(stdout+stderr, wantLint) {
		t.Errorf("validate: exit %d, want 1 and %q\nstdout:\n%s\nstderr:\n%s", code, wantLint, stdout, stderr)
	}

	stdout, stderr, code = e.cli(t, "run", "compromised", "--user", "adele@contoso.test", "--yes")
	want := wantLint + "revoke: " + e.file + ": 1 error\n"
	if code != exitFailure || stderr != want || stdout != "" {
		t.Errorf("run: exit %d, want 1\nstdout:\n%s\nstderr:\n%s\nwant stderr:\n%s", code, stdout, stderr, want)
	}
	// Refused before connecting: not even the bind (whose password would
	// have crossed in clear) was sent.
	if n := count(e.tenant.Log().Entries(), func(en sandbox.Entry) bool { return en.Protocol == "ldap" }); n != 0 {
		t.Errorf("%d LDAP operations sent over an unencrypted connection:\n%s", n, fmtEntries(e.tenant.Log().Entries()))
	}
	if ids := e.runIDs(t); len(ids) != 0 {
		t.Errorf("journals written: %v", ids)
	}
}

func TestE2EUntrustedCA(t *testing.T) {
	tests := []struct {
		name string
		// from, to edit the environment file to trust the other CA.
		from, to string
		// The message, cut where the x509 detail (which varies) would
		// follow.
		stderr string
	}{
		{"ad", "  bind_password_file: ad-bind-password\n  ca_file: ca.pem", "  bind_password_file: ad-bind-password\n  ca_file: other-ca.pem",
			"revoke: open ad: ldaps://127.0.0.1:PORT: certificate signed by unknown authority; set ca_file to the CA that issued it\n"},
		{"entra", "  ca_file: ca.pem\nad:", "  ca_file: other-ca.pem\nad:",
			"revoke: resolve adele@contoso.test in entra: entra: resolve \"adele@contoso.test\": authenticate: server certificate not trusted (x509: certificate signed by unknown authority"},
	}
	// Another tenant's CA: a valid CA that did not sign this tenant's
	// certificates.
	other := newE2E(t, nil, sandbox.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newE2E(t, nil, sandbox.Options{})
			if err := os.WriteFile(filepath.Join(e.dir, "other-ca.pem"), other.tenant.CAPEM(), 0o644); err != nil {
				t.Fatal(err)
			}
			e.editEnv(t, tt.from, tt.to)
			stdout, stderr, code := e.cli(t, "run", "compromised", "--user", "adele@contoso.test", "--yes")
			stderr = portRE.ReplaceAllString(stderr, "127.0.0.1:PORT")
			// Plainly: the reason and the fix, every parenthesis closed
			// (no sentence cut mid-way).
			if code != exitFailure || !strings.HasPrefix(stderr, tt.stderr) || !strings.Contains(stderr, "set ca_file to the CA") ||
				strings.Count(stderr, "(") != strings.Count(stderr, ")") {
				t.Errorf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s\nwant stderr:\n%s", code, stdout, stderr, tt.stderr)
			}
			if w := writes(e.tenant.Log().Entries()); len(w) != 0 {
				t.Errorf("writes sent:\n%s", fmtEntries(w))
			}
		})
	}
}

var portRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// debugLogger makes a cli log at debug level into buf.
func debugLogger(buf *bytes.Buffer) func(*cli) {
	return func(c *cli) {
		c.logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}
