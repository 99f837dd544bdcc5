package main

// End-to-end tests of who a run acts on: any reference form names one
// person in both directories, a synced user missing on-premises is not
// contained, foreign and malformed references are refused, and the
// protected list matches the resolved person.

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
)

// containmentWrites are the writes a compromised run on adele sends, in a
// stable order: the AD disable, two AD password resets, the cloud disable
// and the session revocation (Identity Protection aside).
func containmentWrites(entries []sandbox.Entry) []string {
	var out []string
	for _, w := range applied(entries) {
		if strings.Contains(w.Path, "riskyUsers") {
			continue
		}
		out = append(out, w.Protocol+" "+w.Method+" "+w.Path+" "+w.Detail)
	}
	slices.Sort(out)
	return out
}

func TestE2EEveryReferenceFormActsOnBothDirectories(t *testing.T) {
	base := newE2E(t, nil, sandbox.Options{})
	if _, stderr, code := base.cli(t, "run", "compromised", "--user", "adele@contoso.test", "--yes"); code != 0 {
		t.Fatalf("by UPN: exit %d\n%s", code, stderr)
	}
	want := containmentWrites(base.tenant.Log().Entries())
	if len(want) < 5 {
		t.Fatalf("a run by UPN wrote only:\n%s", strings.Join(want, "\n"))
	}
	for _, ref := range []string{adeleID, strings.ToUpper(adeleID), `CONTOSO\adele`, `contoso\adele`, "adele", adeleDN, "  adele@contoso.test  "} {
		t.Run(ref, func(t *testing.T) {
			e := newE2E(t, nil, sandbox.Options{})
			stdout, stderr, code := e.cli(t, "run", "compromised", "--user", ref, "--yes", "-o", "json")
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			var res struct {
				Outcome   engine.Outcome `json:"outcome"`
				Contained bool           `json:"contained"`
			}
			if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Outcome != engine.OutcomeContained || !res.Contained {
				t.Errorf("result %+v (%v), want contained", res, err)
			}
			if got := containmentWrites(e.tenant.Log().Entries()); !slices.Equal(got, want) {
				t.Errorf("writes:\n%s\nwant (as by UPN):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestE2EForeignAndMalformedReferencesAreRefused(t *testing.T) {
	tests := []struct{ ref, stderr string }{
		{`FABRIKAM\adele`, `revoke: resolve FABRIKAM\adele in ad: subject reference "FABRIKAM\\adele" names domain FABRIKAM, but this environment's domain is CONTOSO: revoke acts only in the domain it is bound to` + "\n"},
		{`CONTOSO\evil\adele`, `revoke: subject reference "CONTOSO\\evil\\adele": a logon name (sAMAccountName) cannot contain "\\"` + "\n"},
		{"adele\x1b]0;x\a@contoso.test", `revoke: subject reference "adele\x1b]0;x\a@contoso.test" has a control character at byte 5` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			e := newE2E(t, nil, sandbox.Options{})
			stdout, stderr, code := e.cli(t, "run", "compromised", "--user", tt.ref, "--yes")
			if code != exitFailure || stderr != tt.stderr {
				t.Errorf("exit %d\nstderr %q\nwant   %q\nstdout:\n%s", code, stderr, tt.stderr, stdout)
			}
			if w := writes(e.tenant.Log().Entries()); len(w) != 0 {
				t.Errorf("writes sent:\n%s", fmtEntries(w))
			}
		})
	}
}

func TestE2ESyncedUserMissingOnPremisesIsNotContained(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	// AD searched where adele is not: her synced cloud account has no AD
	// account to link to.
	e.editEnv(t, `base_dn: "DC=contoso,DC=test"`, `base_dn: "OU=Service Accounts,DC=contoso,DC=test"`, "  leavers_ou: \"OU=Leavers,DC=contoso,DC=test\"\n", "")
	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", "adele@contoso.test", "--yes")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"not contained in",
		"NOT CONTAINED: the subject may still have access. What did not happen:\n  - the entra account of adele@contoso.test is synced from ad (sid S-1-5-21-",
		"disable-ad-account",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "Time to containment") {
		t.Errorf("a run that did not contain reports a time to containment:\n%s", stdout)
	}
	if got := finished(e.journal(t, e.onlyRun(t))); got != engine.OutcomeNotContained {
		t.Errorf("journal outcome %q", got)
	}
}

func TestE2EProtectedMatchesTheResolvedPerson(t *testing.T) {
	for _, ref := range []string{"lynne", `CONTOSO\lynne`, "LYNNE@contoso.test"} {
		t.Run(ref, func(t *testing.T) {
			e := newE2E(t, nil, sandbox.Options{})
			e.editEnv(t, "protected: [", "protected: [lynne@contoso.test, ")
			stdout, stderr, code := e.cli(t, "run", "termination", "--user", ref, "--yes")
			if code != exitDenied {
				t.Fatalf("exit %d, want 3\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			want := ref + " is protected: environment "
			if !strings.Contains(stdout, want) || !strings.Contains(stdout, "lists lynne@contoso.test as protected") {
				t.Errorf("stdout lacks the protection reason:\n%s", stdout)
			}
			if w := writes(e.tenant.Log().Entries()); len(w) != 0 {
				t.Errorf("writes sent for a protected subject:\n%s", fmtEntries(w))
			}
		})
	}
}

func TestE2EOneRunPerPersonAtATime(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	// Another process's run holds adele, found by her object id; this one
	// names her by her logon name.
	held := &steps.Subject{Ref: adeleID, Identities: map[string]steps.Identity{"entra": {IDs: map[string]string{steps.IDObjectID: adeleID}}}}
	const other = "01JD3Q4Z8X6V2N0K5T7W9YB1CM"
	lock, err := engine.LockSubject(t.Context(), e.stateDir, held, other, false)
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", `CONTOSO\adele`, "--yes")
	want := `revoke: subject CONTOSO\adele is already being acted on by run ` + other + ` (pid ` + strconv.Itoa(os.Getpid()) + `): wait for it to end, or pass --wait` + "\n"
	if code != exitFailure || stderr != want {
		t.Fatalf("exit %d\nstderr %q\nwant   %q\nstdout:\n%s", code, stderr, want, stdout)
	}
	if w := writes(e.tenant.Log().Entries()); len(w) != 0 {
		t.Errorf("writes sent while another run held the subject:\n%s", fmtEntries(w))
	}
	// With --wait the run starts once the other ends.
	go func() {
		time.Sleep(300 * time.Millisecond)
		lock.Release()
	}()
	if stdout, stderr, code := e.cli(t, "run", "compromised", "--user", `CONTOSO\adele`, "--yes", "--wait"); code != 0 {
		t.Fatalf("--wait: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if got := finished(e.journal(t, e.onlyRun(t))); got != engine.OutcomeContained {
		t.Errorf("outcome %q", got)
	}
}

func TestE2EInventoryOfASubjectNobodyRanAnythingOn(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	stdout, stderr, code := e.cli(t, "inventory", "--user", "megan@contoso.test", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var inv struct {
		Subject  string           `json:"subject"`
		Residual []steps.Residual `json:"residual"`
	}
	if err := json.Unmarshal([]byte(stdout), &inv); err != nil || inv.Subject != "megan@contoso.test" {
		t.Fatalf("%+v, %v\n%s", inv, err, stdout)
	}
	kinds := map[string]bool{}
	for _, r := range inv.Residual {
		kinds[r.Backend+" "+r.Kind] = true
	}
	for _, want := range []string{"entra account", "entra token", "ad account", "entra unchecked"} {
		if !kinds[want] {
			t.Errorf("no %q item in %+v", want, inv.Residual)
		}
	}
	if w := writes(e.tenant.Log().Entries()); len(w) != 0 {
		t.Errorf("an inventory wrote:\n%s", fmtEntries(w))
	}
	if ids := e.runIDs(t); len(ids) != 0 {
		t.Errorf("an inventory journaled runs: %v", ids)
	}
	// Text, and the same report at the end of a run and in its journal.
	if stdout, _, code := e.cli(t, "inventory", "--user", "megan@contoso.test"); code != 0 || !strings.Contains(stdout, "What megan@contoso.test still holds:\n") {
		t.Errorf("text inventory: exit %d\n%s", code, stdout)
	}
	if _, stderr, code := e.cli(t, "run", "termination", "--user", "megan@contoso.test", "--yes"); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	show, _, _ := e.cli(t, "show", e.onlyRun(t))
	if !strings.Contains(show, "still open:\n") || !strings.Contains(show, "entra: access tokens issued before ") {
		t.Errorf("show lacks the residual report:\n%s", show)
	}
	if stdout, stderr, code := e.cli(t, "inventory"); code != exitUsage || !strings.Contains(stderr, "inventory needs --user REF") {
		t.Errorf("no --user: exit %d\n%s%s", code, stdout, stderr)
	}
}

// A cloud-only environment file for a tenant that syncs from AD: the cloud
// block on a synced user is undone by the next sync, so the run must not
// read as contained (it did, exit 0, before).
func TestE2ESyncedUserInACloudOnlyEnvironmentIsNotContained(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	b, err := os.ReadFile(e.file)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "kind: hybrid", "kind: cloud", 1)
	s = regexp.MustCompile(`(?s)\nad:\n.*?\nstate_dir:`).ReplaceAllString(s, "\nstate_dir:")
	if err := os.WriteFile(e.file, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", "adele@contoso.test", "--yes")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := "NOT CONTAINED: the subject may still have access. What did not happen:\n  - the entra account of adele@contoso.test is synced from ad (sid S-1-5-21-"
	if !strings.Contains(stdout, want) || !strings.Contains(stdout, "which this environment does not reach") || strings.Contains(stdout, "Time to containment") {
		t.Errorf("stdout:\n%s", stdout)
	}
}

// revoke's own AD service account is protected: disabling it would stop
// every later run and resume (it was planned like anyone before).
func TestE2ERevokesOwnServiceAccountIsProtected(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	stdout, stderr, code := e.cli(t, "run", "termination", "--user", "svc-revoke", "--yes")
	if code != exitDenied || !strings.Contains(stdout, "svc-revoke is protected: it is the account revoke itself binds to AD as (bind_dn)") {
		t.Fatalf("exit %d, want 3\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if w := writes(e.tenant.Log().Entries()); len(w) != 0 {
		t.Errorf("writes sent:\n%s", fmtEntries(w))
	}
}

// A user whose mailbox Graph cannot reach: the inbox rules could not be
// checked, and the run says so instead of "already done".
func TestE2EAMailboxGraphCannotReachIsNotCheckedNotDone(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", "o'brien@contoso.test", "--yes")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "  unchecked   remove-inbox-rules ") || !strings.Contains(stdout, "remove-inbox-rules       NOT CHECKED: no Exchange Online mailbox") {
		t.Errorf("stdout:\n%s", stdout)
	}
	if strings.Contains(stdout, "remove-inbox-rules       already done") {
		t.Errorf("an unread mailbox reported as already done:\n%s", stdout)
	}
	h := e.journal(t, e.onlyRun(t)).StepHistories()
	if h["remove-inbox-rules"].Status != engine.StatusUnchecked {
		t.Errorf("journaled status %s", h["remove-inbox-rules"].Status)
	}
}
