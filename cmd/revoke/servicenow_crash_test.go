package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/revoke-dev/revoke/sandbox"
)

// ticketRunbook writes a runbook that only opens the leaver's ticket and
// returns its folder.
func ticketRunbook(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rb := "version: 1\nname: ticket-only\ntitle: Ticket only\ndescription: Opens the ticket for the apps a person removes.\n" +
		"steps:\n  - id: ticket\n    uses: servicenow.open_ticket\n"
	if err := os.WriteFile(filepath.Join(dir, "ticket-only.yaml"), []byte(rb), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTicketCrashAtEveryJournalLineThenResume kills a run that opens the
// leaver's ticket right after each of its journal lines, in a fresh tenant
// each time, and resumes it: the instance holds exactly one ticket, the
// run's, whatever line the crash came after (the one between the POST and
// the step's end is found again by its correlation_id).
func TestTicketCrashAtEveryJournalLineThenResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CLI as a child process once per journal line")
	}
	dir := ticketRunbook(t)
	runArgs := []string{"run", "ticket-only", "--user", "miriam@contoso.test", "--runbooks", dir, "--yes"}
	clean := newE2E(t, nil, sandbox.Options{})
	if stdout, stderr, code := clean.cli(t, runArgs...); code != 0 {
		t.Fatalf("clean run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	lines := len(clean.journal(t, clean.onlyRun(t)).Events)
	if lines < 5 {
		t.Fatalf("the clean run journaled only %d lines", lines)
	}
	eachCrashPoint(t, lines, func(t *testing.T, k int) {
		e := newE2E(t, nil, sandbox.Options{})
		res := runChild(t, []string{crashAfterEnv + "=" + strconv.Itoa(k)}, append(runArgs, "--env", e.file)...)
		if res.signal != syscall.SIGKILL {
			t.Fatalf("the run was not killed (exit %d)\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		id := e.onlyRun(t)
		stdout, stderr, code := e.cli(t, "resume", id, "--runbooks", dir)
		if code != 0 || !strings.Contains(stdout, "Run "+id+" succeeded") {
			t.Fatalf("resume: exit %d\n%s\n%s\njournal:\n%s", code, stdout, stderr, e.journalBytes(t, id))
		}
		recs := e.tenant.ServiceNowRecords("incident")
		if len(recs) != 1 || recs[0]["correlation_id"] != "revoke:"+id+":ticket" {
			t.Errorf("after a crash at line %d and a resume: incidents %v, want one, the run's", k, recs)
		}
		// The ticket's number is in the journal, whichever process opened it.
		if j := string(e.journalBytes(t, id)); !strings.Contains(j, `"number":"INC0010001"`) {
			t.Errorf("the journal does not name INC0010001:\n%s", j)
		}
	})
}
