package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to write from the command's goroutine
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// `revoke sandbox --write-env DIR` serves until interrupted, writes an
// environment file with its secrets in private files beside it, and says
// how to use it; revoke pointed at that file plans and shows state, and
// the tenant pages Graph collections as --page-size says.
func TestSandboxCommandServesUntilInterrupted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sb")
	log := filepath.Join(t.TempDir(), "requests.jsonl")
	var out, errOut syncBuffer
	c := newCLI(strings.NewReader(""), &out, &errOut)
	c.getenv = func(k string) string {
		if k == "USER" {
			return "tester"
		}
		return ""
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- c.Main(ctx, []string{"sandbox", "--write-env", dir, "--page-size", "1", "--log", log}) }()

	env := filepath.Join(dir, "environment.yaml")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "Serving until interrupted") {
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox did not come up:\nstdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, want := range []string{
		"Sandbox tenant 7a3e9f1c-2b4d-4e8a-9c61-0d5f3b2a1e47 is up (nothing real lives here)\n",
		"\nEnvironment file: " + env + " (secrets in files beside it, mode 0600)\n",
		"  revoke run compromised --user adele@contoso.test --env " + env + "\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	for name, mode := range map[string]os.FileMode{"environment.yaml": 0o600, "client-secret": 0o600, "ad-bind-password": 0o600, "ca.pem": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v, want %v", name, err, fi, mode)
		}
	}
	data, err := os.ReadFile(env)
	if err != nil || strings.Contains(string(data), "sandbox-only-secret") ||
		!strings.Contains(string(data), "protected: [\"breakglass@contoso.test\"]\n") {
		t.Errorf("environment file (%v):\n%s", err, data)
	}

	// One item a Graph page: the plan's device Check pages alex's two devices.
	stdout, stderr, code := runCLI(t, "plan", "compromised", "--user", "alex@contoso.test", "--env", env)
	if code != 0 || !strings.Contains(stdout, "Plan: compromised for alex@contoso.test in sandbox (hybrid)") {
		t.Errorf("plan against the served sandbox: exit %d\n%s\n%s", code, stdout, stderr)
	}
	stdout, stderr, code = runCLI(t, "sandbox", "state", "--env", env, "--user", "adele@contoso.test")
	if code != 0 || !strings.Contains(stdout, "adele@contoso.test: accountEnabled true") {
		t.Errorf("sandbox state: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if reqs, err := os.ReadFile(log); err != nil || !bytes.Contains(reqs, []byte("/ownedDevices?$skiptoken=")) {
		t.Errorf("request log (%v) lacks the plan's requests:\n%s", err, reqs)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 || !strings.HasSuffix(out.String(), "Sandbox stopped.\n") {
			t.Errorf("after the interrupt: exit %d, stdout ends %q", code, out.String()[max(0, len(out.String())-40):])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sandbox did not stop when interrupted")
	}
}

func TestSandboxCommandUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"sandbox", "--page-size", "1000"}, "revoke: --page-size: want 1 to 999 (0: the default), got 1000\n"},
		{[]string{"sandbox", "--throttle", "lots"}, "revoke: --throttle: "},
		{[]string{"sandbox", "extra"}, "revoke: sandbox takes no arguments but 'state' (got \"extra\")\n"},
	}
	for _, tc := range tests {
		_, stderr, code := runCLI(t, tc.args...)
		if code != 2 || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q…", tc.args, code, stderr, tc.want)
		}
	}
}
