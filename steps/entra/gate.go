package entra

import (
	"context"
	"sync"
	"time"
)

// gate spaces calls at least every apart, in the order they arrive. It is
// the client-side limiter for Identity Protection, which throttles at about
// one request a second per tenant.
type gate struct {
	every time.Duration
	mu    sync.Mutex
	next  time.Time // the earliest time the next call may start
}

func newGate(every time.Duration) *gate { return &gate{every: every} }

// wait blocks until the caller's turn, or until ctx is done. A caller that
// gives up keeps its slot: the gate never lets two calls through closer
// than every.
func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	now := time.Now()
	at := g.next
	if at.Before(now) {
		at = now
	}
	g.next = at.Add(g.every)
	g.mu.Unlock()
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
