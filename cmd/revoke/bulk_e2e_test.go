package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
)

// bulkSeedUsers are the default seed's people, in a users file's order:
// synced and cloud-only, a guest, three protected (an administrator, the
// break-glass account, one with a role through a group) and one nobody.
var bulkSeedUsers = []string{"adele@contoso.test", "alex@contoso.test", "megan@contoso.test", "o'brien@contoso.test",
	"isaiah@contoso.test", "adm-johanna@contoso.test", "diego@contoso.test", "pradeep_fabrikam.test#EXT#@contoso.test",
	"breakglass@contoso.test", "nestor@contoso.test", "lidia@contoso.test", "miriam@contoso.test", "lynne@contoso.test",
	"nobody@contoso.test"}

// writeUsers writes a users file into the e2e directory.
func (e *e2eEnv) writeUsers(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// bulkIDs are the bulks whose manifests are in the state directory.
func (e *e2eEnv) bulkIDs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(e.stateDir, "bulks", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range files {
		ids = append(ids, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	return ids
}

var runIDRE = regexp.MustCompile(`[0-9A-HJKMNP-TV-Z]{26}`)

// TestBulkRunMixedSubjects runs compromised for twenty lines: the seed's
// fourteen people, five synthetic ones (synced and cloud-only) and Adele
// again by her sAMAccountName. Every containable subject is contained, the
// protected ones denied alone, the unknown one failed alone, the repeated
// person skipped; each run has its journal with the bulk id, and -o json
// says the same, one line a subject.
func TestBulkRunMixedSubjects(t *testing.T) {
	seed := sandbox.DefaultSeed()
	if err := seed.AddSyntheticUsers(5); err != nil {
		t.Fatal(err)
	}
	e := newE2E(t, seed, sandbox.Options{})
	lines := slices.Clone(bulkSeedUsers)
	for i := 1; i <= 5; i++ {
		lines = append(lines, fmt.Sprintf("user%05d@contoso.test", i))
	}
	lines = append(lines, `CONTOSO\adele`)
	users := e.writeUsers(t, "users.txt", "# the wave of 7 December\n"+strings.Join(lines, "\n")+"\n\n")
	stdout, stderr, code := e.cli(t, "run", "compromised", "--users", users, "--yes")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1 (one subject failed)\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	bulks := e.bulkIDs(t)
	if len(bulks) != 1 {
		t.Fatalf("bulk manifests %v, want one", bulks)
	}
	bulk := bulks[0]
	got := runIDRE.ReplaceAllString(stdout, "ID")
	got = regexp.MustCompile(`ended in [0-9.]+m?s`).ReplaceAllString(got, "ended in T")
	got = regexp.MustCompile(`(?m)^Throttled answers.*\n`).ReplaceAllString(got, "")
	want := `Running bulk ID: compromised for 20 subjects in sandbox

Bulk ID ended in T: 20 subjects
  contained  15
  failed     1
  denied     3
  skipped    1

Not contained, or contained with clean-up failed:
  line 7    adm-johanna@contoso.test     denied                     ID  the run was denied: nothing ran
  line 10   breakglass@contoso.test      denied                     ID  the run was denied: nothing ran
  line 11   nestor@contoso.test          denied                     ID  the run was denied: nothing ran
  line 15   nobody@contoso.test          failed                     (no run)  nobody@contoso.test was not found in ad or entra: check the reference (UPN, object id, sAMAccountName, DOMAIN\user, DN or SID); nothing was changed
  line 21   CONTOSO\adele                skipped                    (no run)  the same person as line 2: one run per person

Manifest: ` + filepath.Join(e.stateDir, "bulks", "ID.json") + ` (one journal per subject under runs/)
`
	if got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
	m, err := engine.ReadBulkManifest(e.stateDir, bulk)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Subjects) != 20 || m.Runbook != "compromised" || m.Request.RequestedBy != "tester" {
		t.Errorf("manifest %+v", m)
	}
	// A journal for each of the eighteen runs that started, each tied to
	// the bulk; none for the unknown and the repeated.
	runs := e.runIDs(t)
	if len(runs) != 18 {
		t.Errorf("%d journals, want 18", len(runs))
	}
	outcomes := map[engine.Outcome]int{}
	for _, id := range runs {
		log := e.journal(t, id)
		if log.Record().BulkID != bulk {
			t.Errorf("run %s: bulk_id %q, want %s", id, log.Record().BulkID, bulk)
		}
		outcomes[finished(log)]++
	}
	if want := map[engine.Outcome]int{engine.OutcomeContained: 15, engine.OutcomeDenied: 3}; !maps.Equal(outcomes, want) {
		t.Errorf("outcomes %v, want %v", outcomes, want)
	}
	// Nothing was written for the denied.
	for _, en := range writes(e.tenant.Log().Entries()) {
		for _, who := range []string{"4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e09"} {
			if strings.Contains(en.Path, who) {
				t.Errorf("a write for breakglass: %s %s", en.Method, en.Path)
			}
		}
	}

	// -o json: one line a subject, by the same columns (a second bulk
	// finds every containable subject already contained).
	stdout, stderr, code = e.cli(t, "run", "compromised", "--users", users, "--yes", "-o", "json")
	if code != exitFailure {
		t.Fatalf("json: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	status := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var r struct {
			Line   int    `json:"line"`
			User   string `json:"user"`
			BulkID string `json:"bulk_id"`
			RunID  string `json:"run_id"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		if r.BulkID == bulk || !runIDRE.MatchString(r.BulkID) || !runIDRE.MatchString(r.RunID) {
			t.Errorf("line %q: bulk or run id", line)
		}
		status[r.User] = r.Status
	}
	if len(status) != 20 {
		t.Errorf("%d JSON lines, want 20:\n%s", len(status), stdout)
	}
	for user, want := range map[string]string{"adele@contoso.test": "contained", "breakglass@contoso.test": "denied",
		"nobody@contoso.test": "failed", `CONTOSO\adele`: "skipped", "lynne@contoso.test": "contained",
		"user00001@contoso.test": "contained", "user00002@contoso.test": "contained"} {
		if status[user] != want {
			t.Errorf("%s: status %q, want %q", user, status[user], want)
		}
	}
}

// TestBulkUsersFileErrors: a users file that cannot be run is refused
// whole, before anything is connected, with the line at fault.
func TestBulkUsersFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, content, want string
	}{
		{"an empty file", "users.txt", "", "--users FILE: no users in it (one reference a line, or a CSV with a user column; blank lines and # comments are ignored)"},
		{"only comments and blank lines", "users.txt", "# nobody yet\n\n   \n", "--users FILE: no users in it (one reference a line, or a CSV with a user column; blank lines and # comments are ignored)"},
		{"a CSV without a user column", "users.csv", "name,mail\nAdele,adele@contoso.test\n", "--users FILE:1: the CSV header has no user column (it has name, mail)"},
		{"a CSV row without its user", "users.csv", "name,user\nAdele,adele@contoso.test\nAlex,\n", "--users FILE:3: no user in this row"},
		{"a line that is no reference", "users.txt", "adele@contoso.test\nalex\u202e@contoso.test\n", "--users: nothing was run:\nFILE:2: subject reference \"alex\\u202e@contoso.test\" has a control character at byte 4"},
		{"a person twice", "users.txt", "adele@contoso.test\nalex@contoso.test\nADELE@contoso.test\n", "--users: nothing was run:\nFILE:3: ADELE@contoso.test repeats line 1: one run per person, so list each person once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, tc.file)
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := runCLI(t, "run", "compromised", "--users", p, "--yes")
			if code != exitUsage {
				t.Fatalf("exit %d, want 2\nstderr:\n%s", code, stderr)
			}
			if want := strings.ReplaceAll(tc.want, "FILE", p); !strings.Contains(stderr, want) {
				t.Errorf("stderr:\n%s\nwant it to contain:\n%s", stderr, want)
			}
		})
	}
}

// TestBulkUsersFromStdinCSV reads a CSV with a user column from stdin; the
// other columns are ignored.
func TestBulkUsersFromStdinCSV(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	stdout, stderr, code := e.cliWith(t, func(c *cli) {
		c.stdin = strings.NewReader("name,user,team\nLynne,lynne@contoso.test,Sales\nPradeep,pradeep_fabrikam.test#EXT#@contoso.test,Guests\n")
	}, "run", "compromised", "--users", "-", "--yes", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if n := strings.Count(stdout, `"status":"contained"`); n != 2 {
		t.Errorf("%d contained, want 2:\n%s", n, stdout)
	}
	for _, want := range []string{`"line":2,"user":"lynne@contoso.test"`, `"line":3,"user":"pradeep_fabrikam.test#EXT#@contoso.test"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("no %s in:\n%s", want, stdout)
		}
	}
}

// bulkCrashUsers are containable people, synced and cloud-only.
var bulkCrashUsers = []string{"adele@contoso.test", "alex@contoso.test", "megan@contoso.test", "isaiah@contoso.test",
	"diego@contoso.test", "lidia@contoso.test", "miriam@contoso.test", "lynne@contoso.test"}

// TestBulkThrottledSandboxContainsAll: under a write quota far below what
// the bulk writes (10 directory writes per 2 s), or a resource-unit budget
// so tight that resolution and checks meet 429s too, every subject is
// still contained, and the scheduler says it absorbed throttled answers.
func TestBulkThrottledSandboxContainsAll(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    sandbox.Options
		refused func(sandbox.AppQuota) int
	}{
		{"a write quota", sandbox.Options{WriteQuota: sandbox.WriteQuota{Writes: 10, Window: 2 * time.Second}},
			func(a sandbox.AppQuota) int { return a.WritesRefused }},
		{"a resource-unit budget", sandbox.Options{Throttle: &sandbox.ThrottleConfig{RU: 40, Per: 2 * time.Second}},
			func(a sandbox.AppQuota) int { return a.RURefused }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t, nil, tc.opts)
			users := e.writeUsers(t, "users.txt", strings.Join(bulkCrashUsers, "\n"))
			stdout, stderr, code := e.cli(t, "run", "compromised", "--users", users, "--yes")
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if !strings.Contains(stdout, "  contained  8\n  failed     0\n  denied     0\n  skipped    0\n") {
				t.Errorf("summary:\n%s", stdout)
			}
			if !strings.Contains(stdout, "Throttled answers absorbed by the scheduler: ") {
				t.Errorf("no throttled answers met: the budget did not bite\n%s", stdout)
			}
			if q := e.tenant.Quota(); len(q.Apps) != 1 || tc.refused(q.Apps[0]) == 0 {
				t.Errorf("the budget refused nothing: %+v", q)
			}
		})
	}
}

// bulkChanges are changes() but Identity Protection's confirmCompromised:
// concurrent runs share one call for several users (steps/entra), so a
// crash splits one call into two without confirming anyone twice, and the
// request log does not say whom a call carried.
func bulkChanges(entries []sandbox.Entry) []string {
	return slices.DeleteFunc(changes(entries), func(c string) bool {
		return strings.Contains(c, "/identityProtection/riskyUsers/confirmCompromised")
	})
}

// TestBulkCrashThenResume kills a bulk mid-way (SIGKILL once a run's
// journal has its eighth line) and resumes it by its bulk id: no subject
// is lost (every one ends contained, those never started included) and no
// write is made twice (the tenant accepted exactly what a bulk run that
// was not interrupted makes).
func TestBulkCrashThenResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CLI as a child process")
	}
	clean := newE2E(t, nil, sandbox.Options{})
	users := clean.writeUsers(t, "users.txt", strings.Join(bulkCrashUsers, "\n"))
	if stdout, stderr, code := clean.cli(t, "run", "compromised", "--users", users, "--yes"); code != 0 {
		t.Fatalf("clean bulk: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := bulkChanges(clean.tenant.Log().Entries())

	e := newE2E(t, nil, sandbox.Options{})
	users = e.writeUsers(t, "users.txt", strings.Join(bulkCrashUsers, "\n"))
	res := runChild(t, []string{crashAfterEnv + "=8"}, "run", "compromised", "--users", users, "--yes", "--window", "3", "--env", e.file)
	if res.signal != syscall.SIGKILL {
		t.Fatalf("the bulk was not killed (exit %d)\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	bulks := e.bulkIDs(t)
	if len(bulks) != 1 {
		t.Fatalf("bulk manifests %v, want one", bulks)
	}
	if started := len(e.runIDs(t)); started >= len(bulkCrashUsers) {
		t.Fatalf("%d runs started before the crash: the window did not hold the rest back", started)
	}
	// One subject more as if the kill came between creating its journal
	// and writing the first line: a journal that records nothing, which
	// the resume starts afresh.
	m0, err := engine.ReadBulkManifest(e.stateDir, bulks[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range m0.Subjects {
		if started, err := engine.RunStarted(e.stateDir, s.RunID); err == nil && !started {
			j, err := engine.CreateJournal(e.stateDir, s.RunID)
			if err != nil {
				t.Fatal(err)
			}
			j.Close()
			break
		}
	}
	stdout, stderr, code := e.cli(t, "resume", bulks[0])
	if code != 0 {
		t.Fatalf("resume: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "  contained  8\n  failed     0\n  denied     0\n  skipped    0\n") {
		t.Errorf("summary:\n%s", stdout)
	}
	m, err := engine.ReadBulkManifest(e.stateDir, bulks[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range m.Subjects {
		if got := finished(e.journal(t, s.RunID)); got != engine.OutcomeContained {
			t.Errorf("%s (run %s): outcome %q", s.Ref, s.RunID, got)
		}
	}
	if got := bulkChanges(e.tenant.Log().Entries()); !slices.Equal(got, want) {
		t.Errorf("changes:\n%s\nwant each exactly once, as an uninterrupted bulk makes them:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
