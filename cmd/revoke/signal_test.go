package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
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

// hangListener accepts TCP connections on loopback and never answers, as a
// host that is up but stuck does; accepted gets a value for each.
func hangListener(t *testing.T) (addr string, accepted <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 16)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String(), ch
}

// The first SIGINT ends the process promptly wherever it is blocked: in a
// TLS handshake or a StartTLS a domain controller never answers, or in a
// token request to an authority that never answers. The per-operation
// timeouts are a minute, so only the signal can end these in time.
func TestInterruptEndsABlockedOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("starts revoke as a child process")
	}
	adURL := regexp.MustCompile(`(?m)^  url: .*$`)
	authority := regexp.MustCompile(`(?m)^  authority_host: .*$`)
	tests := []struct {
		name string
		// env rewrites the sandbox's environment file to use the stuck host.
		env func(s, hang string) string
		// want is stderr exactly; "…" stands for the part another
		// package words (the resolver's error).
		want string
	}{
		{"a domain controller that never finishes the TLS handshake", func(s, hang string) string {
			return adURL.ReplaceAllString(s, `  url: "ldaps://`+hang+`"`)
		}, "revoke: interrupted (interrupt signal received): open ad: connect to ldaps://HANG: context canceled\n"},
		{"a domain controller that never answers StartTLS", func(s, hang string) string {
			return adURL.ReplaceAllString(s, `  url: "ldap://`+hang+`"`+"\n  start_tls: true")
		}, "revoke: interrupted (interrupt signal received): open ad: connect to ldap://HANG: context canceled\n"},
		{"a token endpoint that never answers", func(s, hang string) string {
			return authority.ReplaceAllString(s, `  authority_host: "https://`+hang+`/"`)
		}, "revoke: interrupted (interrupt signal received): resolve adele@contoso.test in entra: … context canceled\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newE2E(t, nil, sandbox.Options{})
			hang, accepted := hangListener(t)
			raw, err := os.ReadFile(e.file)
			if err != nil {
				t.Fatal(err)
			}
			env := strings.Replace(tt.env(string(raw), hang), "\nad:\n", "\nad:\n  timeout: 1m\n", 1)
			env = strings.Replace(env, "\nentra:\n", "\nentra:\n  timeout: 1m\n", 1)
			if err := os.WriteFile(e.file, []byte(env), 0o600); err != nil {
				t.Fatal(err)
			}
			var signalled time.Time
			res := runChildWith(t, nil, func(p *os.Process) {
				select {
				case <-accepted:
				case <-time.After(20 * time.Second):
					p.Kill()
					t.Error("revoke never connected to the stuck host")
					return
				}
				time.Sleep(200 * time.Millisecond) // blocked in the handshake by now
				signalled = time.Now()
				p.Signal(syscall.SIGINT)
			}, "plan", "compromised", "--user", "adele@contoso.test", "--env", e.file)
			took := time.Since(signalled)
			if took > 2*time.Second {
				t.Errorf("exited %s after SIGINT, want within 2s", took.Round(time.Millisecond))
			}
			want := strings.ReplaceAll(tt.want, "HANG", hang)
			head, tail, elided := strings.Cut(want, "…")
			ok := res.stderr == want
			if elided {
				ok = strings.HasPrefix(res.stderr, head) && strings.HasSuffix(res.stderr, tail) && strings.Count(res.stderr, "\n") == 1
			}
			if res.code != exitFailure || res.signal != 0 || !ok {
				t.Errorf("exit %d (signal %v), stderr:\n%s\nwant exit 1, stderr %q", res.code, res.signal, res.stderr, want)
			}
		})
	}
}

// The first signal's backstop: a command that does not return within the
// grace after the context is cancelled no longer holds the process.
func TestInterruptibleGivesUpAfterTheGrace(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stuck := func(ctx context.Context) int { <-release; return exitOK }
	prompt := func(ctx context.Context) int { <-ctx.Done(); return exitFailure }
	tests := []struct {
		name       string
		main       func(context.Context) int
		wantStderr string
	}{
		{"a command that honours the context ends with its own code and words", prompt, ""},
		{"a command stuck past the grace is left behind", stuck,
			"revoke: interrupt signal received, and still busy 100ms later: exiting anyway (a run stays resumable: revoke runs lists it)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			stopped := false
			var stderr bytes.Buffer
			time.AfterFunc(20*time.Millisecond, func() { cancel(errors.New("interrupt signal received")) })
			start := time.Now()
			code := interruptible(ctx, func() { stopped = true }, 100*time.Millisecond, &stderr, tt.main)
			if took := time.Since(start); code != exitFailure || took > time.Second || !stopped || stderr.String() != tt.wantStderr {
				t.Errorf("exit %d after %s (default signal handling restored: %t), stderr %q; want exit 1 within 1s, stderr %q",
					code, took, stopped, stderr.String(), tt.wantStderr)
			}
		})
	}
}
