package entra

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// riskEvery is Identity Protection's spacing. Graph allows "any" request on
// riskyUser (and riskDetection, conditional access policies) one a second
// per tenant, for all apps together, and its 429s carry no Retry-After: a
// read of riskState counts as much as confirmCompromised does, so both go
// through the gate, and nothing else does.
const riskEvery = time.Second

// slotMaxAhead bounds how far ahead a slot read from the shared file is
// believed. A holder writes "every after my call ended", so a true slot is
// never more than a second ahead; one further ahead was written by a clock
// that has since been set back, or is garbage, and is ignored rather than
// waited for.
const slotMaxAhead = 10 * time.Second

// slotLockPoll is how often a gate tries the slot file's lock again while
// another process holds it (for one call: at most a second's wait and a
// request).
const slotLockPoll = 5 * time.Millisecond

// gate runs calls one at a time, each starting at least every after the
// previous one ended. It is the client-side limiter for Identity
// Protection, which throttles at about one request a second per tenant, by
// when requests reach it: spacing from the end of the previous call, not
// its start, keeps a first call slowed by a token fetch or a TLS handshake
// from reaching the service less than a second before the next.
//
// With a file the turn is shared with every other gate, in this process or
// another, that uses the same file: a call runs holding the file's
// exclusive lock (steps.TryLockFile), and the file holds when the next call
// may start. A holder that dies drops its lock with its process; one that
// hangs holds up the others only until their contexts end.
type gate struct {
	every time.Duration
	// file is the slot file; "" spaces calls within this gate only.
	file string
	now  func() time.Time

	turn chan struct{} // holds a token while a call of this gate runs
	next time.Time     // guarded by turn: the earliest start of the next call
}

func newGate(every time.Duration, file string) *gate {
	return &gate{every: every, file: file, now: time.Now, turn: make(chan struct{}, 1)}
}

// riskLimits are the process's Identity Protection limiters: one gate per
// tenant, so that two connections to one tenant (a bulk run's) share the
// spacing even without a state directory, and one confirmer per tenant and
// app, so that their confirmations share requests.
var riskLimits = struct {
	sync.Mutex
	gates      map[string]*gate
	confirmers map[string]*confirmer
}{gates: map[string]*gate{}, confirmers: map[string]*confirmer{}}

// riskConfirmerFor returns the process's confirmer for the app clientID in
// the tenant graphURL and tenantID name, and through it the tenant's gate.
// With a state directory the gate keeps its slots in
// STATE_DIR/entra/identity-protection-<hash of the tenant>.slot (folder
// 0700, file 0600), shared by every revoke process using that state
// directory; the first connection to a tenant decides the file.
func riskConfirmerFor(stateDir, graphURL, tenantID, clientID string) *confirmer {
	tenant := strings.ToLower(strings.TrimRight(graphURL, "/")) + "\n" + strings.ToLower(tenantID)
	riskLimits.Lock()
	defer riskLimits.Unlock()
	g := riskLimits.gates[tenant]
	if g == nil {
		file := ""
		if stateDir != "" {
			sum := sha256.Sum256([]byte(tenant))
			file = filepath.Join(stateDir, "entra", "identity-protection-"+hex.EncodeToString(sum[:12])+".slot")
		}
		g = newGate(riskEvery, file)
		riskLimits.gates[tenant] = g
	}
	app := tenant + "\n" + strings.ToLower(clientID)
	cf := riskLimits.confirmers[app]
	if cf == nil {
		cf = newConfirmer(g)
		riskLimits.confirmers[app] = cf
	}
	return cf
}

// do runs call in the caller's turn, or returns ctx's error if ctx ends
// first; a caller that gives up before its turn uses none. call's own
// error is returned as it is.
func (g *gate) do(ctx context.Context, call func() error) error {
	select {
	case g.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-g.turn }()
	at := g.next
	var f *os.File
	if g.file != "" {
		var err error
		f, at, err = g.lockShared(ctx, at)
		if err != nil {
			return fmt.Errorf("shared Identity Protection rate limit (%s): %w", g.file, err)
		}
		defer f.Close() // drops the lock
	}
	if err := sleepUntil(ctx, at); err != nil {
		return err
	}
	err := call()
	g.next = g.now().Add(g.every)
	if f != nil {
		// A failed write costs the other processes their spacing, not
		// this call its result: the service's 429 is retried.
		_ = writeSlot(f, g.next)
	}
	return err
}

// lockShared takes the slot file's lock and returns it with the later of
// at and the slot the file holds.
func (g *gate) lockShared(ctx context.Context, at time.Time) (*os.File, time.Time, error) {
	if err := os.MkdirAll(filepath.Dir(g.file), 0o700); err != nil {
		return nil, at, err
	}
	f, err := os.OpenFile(g.file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, at, err
	}
	for {
		err := steps.TryLockFile(f)
		if err == nil {
			break
		}
		if errors.Is(err, steps.ErrLocked) {
			err = sleepUntil(ctx, time.Now().Add(slotLockPoll))
		}
		if err != nil {
			f.Close()
			return nil, at, err
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		f.Close()
		return nil, at, err
	}
	if next, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b))); err == nil &&
		next.After(at) && next.Before(g.now().Add(slotMaxAhead)) {
		at = next
	}
	return f, at, nil
}

// writeSlot records in the slot file when the next call may start.
func writeSlot(f *os.File, next time.Time) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(next.UTC().Format(time.RFC3339Nano)+"\n"), 0)
	return err
}

// sleepUntil waits until at, or until ctx is done.
func sleepUntil(ctx context.Context, at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxConfirmIDs bounds the users one confirmCompromised request carries.
// Graph documents no limit; a bounded request keeps one refused id from
// failing hundreds of confirmations at once.
const maxConfirmIDs = 50

// confirmWindow is how long a batch collects ids after its first one when
// the gate would let it go sooner: runs started together (a bulk run's)
// arrive within it, and one request confirms them all. It delays a lone
// confirmation by no more, and is usually spent waiting for the gate
// anyway (the step's Check read took the slot a second earlier).
const confirmWindow = 25 * time.Millisecond

// confirmer sends the confirmCompromised calls that want to go at the same
// time as one request carrying all their user ids: Identity Protection
// allows a request a second per tenant, not a user a second. Each caller
// gets the request's result as its own.
type confirmer struct {
	gate   *gate
	window time.Duration

	mu   sync.Mutex
	open *confirmBatch // the batch still collecting ids, if any
}

func newConfirmer(g *gate) *confirmer { return &confirmer{gate: g, window: confirmWindow} }

// confirmSender posts one confirmCompromised request for ids.
type confirmSender func(ctx context.Context, ids []string) error

// confirmBatch is one confirmCompromised request in the making.
type confirmBatch struct {
	send   confirmSender  // the first caller's connection sends it
	ids    []string       // in arrival order
	want   map[string]int // callers waiting on each id
	sent   bool           // ids are final
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	n      int   // ids the request carried, once done
	err    error // the request's error, once done
}

// confirm confirms id compromised, in one request with whatever other ids
// are waiting, and returns how many users that request carried. The
// request goes through the connection of the caller that opened the batch
// (send): every caller of one confirmer is the same app in the same
// tenant.
func (cf *confirmer) confirm(ctx context.Context, id string, send confirmSender) (int, error) {
	cf.mu.Lock()
	b := cf.open
	if b == nil || len(b.ids) >= maxConfirmIDs {
		// The request outlives any one caller (others may join), and is
		// called off when every caller has given up before it was sent.
		bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		b = &confirmBatch{send: send, want: map[string]int{}, ctx: bctx, cancel: cancel, done: make(chan struct{})}
		cf.open = b
		go cf.flush(b)
	}
	if b.want[id] == 0 {
		b.ids = append(b.ids, id)
	}
	b.want[id]++
	cf.mu.Unlock()

	select {
	case <-b.done:
		return b.n, b.err
	case <-ctx.Done():
		cf.leave(b, id)
		return 0, ctx.Err()
	}
}

// leave takes a caller that gave up out of a batch not yet sent; the last
// one to leave calls the batch off.
func (cf *confirmer) leave(b *confirmBatch, id string) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if b.sent {
		return
	}
	if b.want[id]--; b.want[id] == 0 {
		delete(b.want, id)
		for i, x := range b.ids {
			if x == id {
				b.ids = append(b.ids[:i], b.ids[i+1:]...)
				break
			}
		}
	}
	if len(b.ids) == 0 {
		if cf.open == b {
			cf.open = nil
		}
		b.cancel()
	}
}

// flush waits for the gate's turn and the collection window, closes the
// batch and sends it, in that turn.
func (cf *confirmer) flush(b *confirmBatch) {
	defer close(b.done)
	defer b.cancel()
	until := time.Now().Add(cf.window)
	var ids []string
	err := cf.gate.do(b.ctx, func() error {
		if err := sleepUntil(b.ctx, until); err != nil {
			return err
		}
		cf.mu.Lock()
		if cf.open == b {
			cf.open = nil
		}
		b.sent = true
		ids = append(ids, b.ids...)
		cf.mu.Unlock()
		if len(ids) == 0 {
			return nil
		}
		return b.send(b.ctx, ids)
	})
	if ids == nil {
		// Called off before its turn: every caller has left.
		cf.mu.Lock()
		if cf.open == b {
			cf.open = nil
		}
		b.sent = true
		cf.mu.Unlock()
	}
	b.n, b.err = len(ids), err
}
