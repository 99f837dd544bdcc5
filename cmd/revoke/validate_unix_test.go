//go:build unix

package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// A named pipe given to validate is refused at once, not opened: nobody
// writes to it, and CI would hang.
func TestValidateRefusesAPipe(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := syscall.Mkfifo("runbook.yaml", 0o600); err != nil {
		t.Fatal(err)
	}
	type result struct {
		stdout string
		code   int
	}
	done := make(chan result, 1)
	go func() {
		stdout, _, code := runCLI(t, "validate", "runbook.yaml")
		done <- result{stdout, code}
	}()
	select {
	case r := <-done:
		want := "runbook.yaml: error: runbook.yaml is a named pipe, not a regular file\n"
		if r.code != 1 || !strings.HasPrefix(r.stdout, want) {
			t.Errorf("exit %d, stdout:\n%s\nwant it to start:\n%s", r.code, r.stdout, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("validate still blocked on the pipe after 10s")
	}
}
