package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
)

// SIGINT in the middle of a run cancels it cleanly: the process exits 1
// saying how to resume, the journal ends with run_interrupted (no
// run_finished, chain intact), and `revoke resume` finishes the run with
// every change made once.
func TestInterruptThenResume(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a run with 150 ms per request")
	}
	e := newE2E(t, nil, sandbox.Options{Latency: 150 * time.Millisecond})
	runs := filepath.Join(e.stateDir, "runs")
	interrupt := func(p *os.Process) {
		// Wait until the first step has started: the journal holds its
		// step_started line.
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			files, _ := filepath.Glob(filepath.Join(runs, "*.jsonl"))
			if len(files) == 1 {
				if data, _ := os.ReadFile(files[0]); strings.Contains(string(data), `"type":"step_started"`) {
					p.Signal(syscall.SIGINT)
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		p.Kill()
	}
	res := runChildWith(t, nil, interrupt, "run", "compromised", "--user", "adele@contoso.test", "--yes", "--env", e.file)
	if res.code != 1 || res.signal != 0 {
		t.Fatalf("exit %d (signal %v), want 1\nstdout:\n%s\nstderr:\n%s", res.code, res.signal, res.stdout, res.stderr)
	}
	id := e.onlyRun(t)
	if want := "interrupted; to continue: revoke resume " + id + " --env " + e.file; !strings.Contains(res.stderr, want) {
		t.Errorf("stderr %q lacks %q", res.stderr, want)
	}
	log := e.journal(t, id)
	if err := log.VerifyChain(); err != nil {
		t.Fatal(err)
	}
	last := log.Events[len(log.Events)-1]
	if last.Type != engine.EventRunInterrupted || log.Finished() != nil {
		t.Fatalf("journal ends with %s (finished: %v), want run_interrupted", last.Type, log.Finished() != nil)
	}

	e.tenant.SetLatency(0, 0)
	stdout, stderr, code := e.cli(t, "resume", id)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if got := finished(e.journal(t, id)); got != engine.OutcomeContained {
		t.Errorf("outcome %s after resume", got)
	}
	adeleWrites(t, e.tenant.Log().Entries())
}
