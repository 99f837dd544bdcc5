package entra

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
)

func noop() error { return nil }

func TestGateSpacesCalls(t *testing.T) {
	g := newGate(40*time.Millisecond, "")
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < 3; i++ {
		if err := g.do(ctx, noop); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 80*time.Millisecond {
		t.Errorf("three calls in %v, want at least 80ms", el)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	g2 := newGate(time.Hour, "")
	if err := g2.do(ctx, noop); err != nil { // the first call passes at once
		t.Fatal(err)
	}
	called := false
	if err := g2.do(cctx, func() error { called = true; return nil }); !errors.Is(err, context.Canceled) || called {
		t.Errorf("do on a cancelled context: %v, called %v", err, called)
	}
	// The call's own error comes back as it is.
	boom := errors.New("boom")
	if err := newGate(time.Hour, "").do(ctx, func() error { return boom }); err != boom {
		t.Errorf("do: %v, want the call's error", err)
	}
}

// gateHelperEnv makes the test binary a helper process: "wait FILE N
// EVERY" waits N times on a gate sharing FILE and prints when each turn
// came; "hold FILE" locks FILE, says so, and sleeps until killed.
const gateHelperEnv = "REVOKE_TEST_GATE_HELPER"

func TestGateHelperProcess(t *testing.T) {
	args := strings.Fields(os.Getenv(gateHelperEnv))
	if len(args) == 0 {
		t.Skip("only a helper process for the gate tests")
	}
	switch args[0] {
	case "wait":
		n, _ := strconv.Atoi(args[2])
		every, _ := time.ParseDuration(args[3])
		g := newGate(every, args[1])
		for range n {
			// The call takes a while, as a request does: the next one
			// starts every after it ended.
			err := g.do(context.Background(), func() error {
				fmt.Println(time.Now().UTC().Format(time.RFC3339Nano))
				time.Sleep(every / 4)
				return nil
			})
			if err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
		}
	case "hold":
		f, err := os.OpenFile(args[1], os.O_RDWR|os.O_CREATE, 0o600)
		if err == nil {
			err = steps.TryLockFile(f)
		}
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
	}
	os.Exit(0)
}

// helper starts the test binary as a gate helper process.
func helper(t *testing.T, args string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestGateHelperProcess$")
	cmd.Env = append(os.Environ(), gateHelperEnv+"="+args)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, bufio.NewScanner(out)
}

func TestGateIsSharedByProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	file := filepath.Join(t.TempDir(), "entra", "identity-protection.slot")
	const every = 200 * time.Millisecond
	var (
		mu    sync.Mutex
		turns []time.Time
		wg    sync.WaitGroup
	)
	for range 2 {
		_, out := helper(t, fmt.Sprintf("wait %s 3 %s", file, every))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for out.Scan() {
				at, err := time.Parse(time.RFC3339Nano, out.Text())
				if err != nil {
					t.Errorf("helper said %q", out.Text())
					return
				}
				mu.Lock()
				turns = append(turns, at)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(turns, func(a, b time.Time) int { return a.Compare(b) })
	if len(turns) != 6 {
		t.Fatalf("turns %v, want 6", turns)
	}
	for i := 1; i < len(turns); i++ {
		// A turn is granted at its slot and printed a moment later.
		if gap := turns[i].Sub(turns[i-1]); gap < every+every/4 {
			t.Errorf("turns %d and %d of two processes %v apart, want %v after the first ended", i-1, i, gap, every)
		}
	}
	info, err := os.Stat(file)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("slot file: %v, %v; want mode 0600", info, err)
	}
}

func TestGateOutlivesACrashedHolder(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	file := filepath.Join(t.TempDir(), "identity-protection.slot")
	cmd, out := helper(t, "hold "+file)
	if !out.Scan() || out.Text() != "locked" {
		t.Fatalf("helper said %q", out.Text())
	}
	g := newGate(time.Second, file)
	// While the holder lives (hung, say), a caller gives up when its
	// context does, instead of waiting for ever.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := g.do(ctx, noop)
	want := "shared Identity Protection rate limit (" + file + "): context deadline exceeded"
	if err == nil || err.Error() != want {
		t.Errorf("wait while another process holds the lock: %v, want %s", err, want)
	}
	// The holder dies: the kernel drops its lock, and the next caller goes.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	start := time.Now()
	if err := g.do(context.Background(), noop); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("the first call after the holder died waited %v", el)
	}
}

func TestGateReadsTheSharedSlot(t *testing.T) {
	tests := []struct {
		name     string
		slot     string // the file's content; "" for none
		minWait  time.Duration
		maxWait  time.Duration
		wantNext time.Duration // the slot written, after the call's turn
	}{
		{"no file yet: at once", "", 0, 100 * time.Millisecond, time.Second},
		{"a slot 300ms ahead is waited for", "+300ms", 250 * time.Millisecond, 600 * time.Millisecond, time.Second},
		{"a slot an hour ahead is a clock set back: ignored", "+1h", 0, 100 * time.Millisecond, time.Second},
		{"a slot in the past: at once", "-1h", 0, 100 * time.Millisecond, time.Second},
		{"garbage: at once", "garbage", 0, 100 * time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "slot")
			if tt.slot != "" {
				content := tt.slot
				if d, err := time.ParseDuration(tt.slot); err == nil {
					content = time.Now().Add(d).UTC().Format(time.RFC3339Nano)
				}
				if err := os.WriteFile(file, []byte(content+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			g := newGate(time.Second, file)
			start := time.Now()
			var turn time.Time
			if err := g.do(context.Background(), func() error { turn = time.Now(); return nil }); err != nil {
				t.Fatal(err)
			}
			if el := turn.Sub(start); el < tt.minWait || el > tt.maxWait {
				t.Errorf("waited %v, want %v to %v", el, tt.minWait, tt.maxWait)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			next, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
			if d := next.Sub(turn); err != nil || d < tt.wantNext-100*time.Millisecond || d > tt.wantNext+10*time.Millisecond {
				t.Errorf("slot file says %q (%v after the turn), want about %v", b, d, tt.wantNext)
			}
		})
	}
}

// ipRequests are the tenant's Identity Protection requests, in the order
// it served them.
func ipRequests(tn *sandbox.Tenant) []sandbox.Entry {
	var out []sandbox.Entry
	for _, e := range tn.Log().Entries() {
		if strings.HasPrefix(e.Path, "/v1.0/identityProtection/") {
			out = append(out, e)
		}
	}
	return out
}

// Two connections, each with a gate of its own but the same state
// directory, read riskState at once: the sandbox, which refuses a second
// request within a second per tenant, serves every one, a second apart.
func TestSandboxGateSharedThroughTheStateDir(t *testing.T) {
	tn := startTenant(t)
	file := filepath.Join(t.TempDir(), "entra", "identity-protection.slot")
	var conns []*Conn
	for range 2 {
		c := openSandbox(t, tn, appID, appSecret)
		c.risk = newConfirmer(newGate(riskEvery, file)) // not the process's shared one
		conns = append(conns, c)
	}
	tn.Log().Reset()
	var wg sync.WaitGroup
	for _, c := range conns {
		for _, id := range []string{diegoID, meganID} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				call, _ := newCall(c, id, nil)
				if _, err := riskState(context.Background(), call); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	got := ipRequests(tn)
	if len(got) != 4 {
		t.Fatalf("Identity Protection requests %v, want 4", got)
	}
	for i, e := range got {
		if e.Status != 404 {
			t.Errorf("request %d: %s %s %d, want 404 (never risky), not refused", i, e.Method, e.Path, e.Status)
		}
		if i > 0 {
			if gap := e.Time.Sub(got[i-1].Time); gap < 950*time.Millisecond {
				t.Errorf("requests %d and %d %v apart, want a second", i-1, i, gap)
			}
		}
	}
}

func TestSandboxOpenSharesTheGateThroughTheStateDir(t *testing.T) {
	tn := startTenant(t)
	env := sandboxEnv(t, tn, appID, appSecret, true)
	env.StateDir = t.TempDir()
	sc, err := Backend.Open(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	c := sc.(*Conn)
	dir := filepath.Join(env.StateDir, "entra")
	if !strings.HasPrefix(c.risk.gate.file, dir+string(filepath.Separator)+"identity-protection-") ||
		!strings.HasSuffix(c.risk.gate.file, ".slot") {
		t.Errorf("slot file %q, want identity-protection-<hash>.slot in %s", c.risk.gate.file, dir)
	}
	// A second connection to the tenant shares the process's gate.
	other := openSandbox(t, tn, appID, appSecret)
	if other.risk != c.risk {
		t.Error("two connections to one tenant and app have two confirmers")
	}
	if reader := openSandbox(t, tn, readonlyID, readonlyKey); reader.risk.gate != c.risk.gate || reader.risk == c.risk {
		t.Error("another app in the tenant: want the tenant's gate and a confirmer of its own")
	}
}

// Five runs confirm five users at once: one request carries them all.
func TestSandboxConfirmCompromisedCoalesces(t *testing.T) {
	tn := startTenant(t)
	c := openSandbox(t, tn, appID, appSecret)
	ctx := context.Background()
	ids := []string{adeleID, alexID, meganID, obrienID, diegoID}
	// As in a run, each step's Check read came first and took the slot.
	call, _ := newCall(c, diegoID, nil)
	if ch, err := confirmCompromised.New().Check(ctx, call); err != nil || ch.Satisfied {
		t.Fatalf("Check: %+v, %v", ch, err)
	}
	tn.Log().Reset()
	var wg sync.WaitGroup
	summaries := make([]string, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call, _ := newCall(c, id, nil)
			ch, err := confirmCompromised.New().Apply(ctx, call)
			if err != nil {
				t.Errorf("Apply %s: %v", id, err)
			}
			summaries[i] = ch.Summary
		}()
	}
	wg.Wait()
	wantLog(t, tn, "POST /v1.0/identityProtection/riskyUsers/confirmCompromised 204")
	for i, s := range summaries {
		if want := "confirmed compromised (riskState confirmedCompromised), in one request with 4 other users"; s != want {
			t.Errorf("%s: %q, want %q", ids[i], s, want)
		}
	}
	d := tn.Directory()
	d.Lock()
	defer d.Unlock()
	for _, id := range ids {
		if u := d.UserByRef(id); u == nil || u.RiskState != riskConfirmedCompromised {
			t.Errorf("%s: riskState %q", id, u.RiskState)
		}
	}
}

// One id the service refuses does not fail the others: the refused
// request is sent again for each user alone.
func TestSandboxConfirmCompromisedSplitsARefusedRequest(t *testing.T) {
	tn := startTenant(t)
	c := openSandbox(t, tn, appID, appSecret)
	ctx := context.Background()
	const unknown = "00000000-0000-0000-0000-00000000dead"
	if err := c.risk.gate.do(ctx, noop); err != nil { // a read just went
		t.Fatal(err)
	}
	tn.Log().Reset()
	var wg sync.WaitGroup
	errs := map[string]error{}
	var mu sync.Mutex
	for _, id := range []string{diegoID, unknown} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call, _ := newCall(c, id, nil)
			_, err := confirmCompromised.New().Apply(ctx, call)
			mu.Lock()
			errs[id] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	if errs[diegoID] != nil {
		t.Errorf("the known user: %v", errs[diegoID])
	}
	want := "entra: confirm " + unknown + " compromised: Graph 400 BadRequest: Invalid user id '" + unknown + "'."
	if err := errs[unknown]; steps.ClassOf(err) != steps.Invalid || err.Error() != want {
		t.Errorf("the unknown user: %v (%v), want Invalid %s", err, steps.ClassOf(err), want)
	}
	got := ipRequests(tn)
	var statuses []int
	for _, e := range got {
		statuses = append(statuses, e.Status)
	}
	// Together (refused), then each alone, in either order.
	if len(statuses) != 3 || statuses[0] != 400 || !slices.Contains(statuses[1:], 204) || !slices.Contains(statuses[1:], 400) {
		t.Errorf("confirmCompromised statuses %v, want 400 then 204 and 400", statuses)
	}
}

// A caller that gives up before its batch went takes its id out; a batch
// everyone left is never sent.
func TestConfirmerCallerLeaves(t *testing.T) {
	g := newGate(time.Hour, "")
	if err := g.do(context.Background(), noop); err != nil { // the next turn is an hour away
		t.Fatal(err)
	}
	cf := newConfirmer(g)
	var sent [][]string
	var mu sync.Mutex
	send := func(_ context.Context, ids []string) error {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, ids)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	n, err := cf.confirm(ctx, diegoID, send)
	if n != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("confirm: %d, %v; want 0, deadline exceeded", n, err)
	}
	// The batch's wait is called off; nothing was sent.
	time.Sleep(50 * time.Millisecond)
	cf.mu.Lock()
	open := cf.open
	cf.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	if open != nil || len(sent) != 0 {
		t.Errorf("after the only caller left: open batch %v, sent %v", open, sent)
	}
}
