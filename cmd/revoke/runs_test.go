package main

import (
	"testing"

	"github.com/revoke-dev/revoke/sandbox"
)

// show and resume of a run id with no journal say the same thing, with
// the same exit code, and resume changes nothing.
func TestShowAndResumeOfAnUnknownRun(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	const id = "01JD3Q4Z8X6V2N0K5T7W9YB1CM"
	want := "revoke: no run " + id + " in " + e.stateDir + "\n"
	for _, args := range [][]string{{"show", id}, {"show", id, "--verify"}, {"resume", id}, {"resume", id, "--force"}} {
		stdout, stderr, code := e.cli(t, args...)
		if code != exitFailure || stdout != "" || stderr != want {
			t.Errorf("%v: exit %d\nstdout:\n%s\nstderr: %q\nwant exit %d, stderr %q", args, code, stdout, stderr, exitFailure, want)
		}
	}
	if ids := e.runIDs(t); len(ids) != 0 {
		t.Errorf("journals appeared: %v", ids)
	}
	if w := writes(e.tenant.Log().Entries()); len(w) != 0 {
		t.Errorf("the tenant was written to:\n%s", fmtEntries(w))
	}
}

// A string that is not a run id is a usage error for both.
func TestShowAndResumeOfWhatIsNotARunID(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	want := `revoke: "../etc/passwd" is not a run id (26 characters such as 01JD3Q4Z8X6V2N0K5T7W9YB1CM)` + "\n"
	for _, args := range [][]string{{"show", "../etc/passwd"}, {"resume", "../etc/passwd"}} {
		if _, stderr, code := e.cli(t, args...); code != exitUsage || stderr != want {
			t.Errorf("%v: exit %d, stderr %q, want exit %d, %q", args, code, stderr, exitUsage, want)
		}
	}
}
