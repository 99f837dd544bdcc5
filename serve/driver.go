package serve

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Driver is the loop that drives accepted runs: the service hands it a
// run's id and when it may start, and it calls exec for each, at most so
// many at once. It is the seam where a durable-execution engine (Temporal:
// a workflow per run, exec as its activity) can replace LocalDriver
// without touching the handlers; the request journal stays the record of
// what was accepted.
type Driver interface {
	// Submit hands over run id, to start at or after at (zero: now).
	// Submitting an id again moves its start.
	Submit(id string, at time.Time)
	// Cancel withdraws a run that has not started; a started one runs on.
	Cancel(id string)
	// Run calls exec for each submitted run once its time comes, until
	// ctx is done; then it waits for the execs running (which see ctx
	// done) to return.
	Run(ctx context.Context, exec func(ctx context.Context, id string))
}

// LocalDriver runs submitted runs in this process, at most Max at once,
// the others queued in the order of their start time (then id, which is
// the order of acceptance).
type LocalDriver struct {
	Max int

	mu   sync.Mutex
	due  map[string]time.Time
	wake chan struct{}
}

func (d *LocalDriver) init() {
	if d.due == nil {
		d.due, d.wake = map[string]time.Time{}, make(chan struct{}, 1)
	}
}

// Submit implements Driver.
func (d *LocalDriver) Submit(id string, at time.Time) {
	d.mu.Lock()
	d.init()
	d.due[id] = at
	d.mu.Unlock()
	d.poke()
}

// Cancel implements Driver.
func (d *LocalDriver) Cancel(id string) {
	d.mu.Lock()
	d.init()
	delete(d.due, id)
	d.mu.Unlock()
}

// Queued counts the runs whose time has come but that wait for a slot.
func (d *LocalDriver) Queued() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, now := 0, time.Now()
	for _, at := range d.due {
		if !at.After(now) {
			n++
		}
	}
	return n
}

func (d *LocalDriver) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run implements Driver.
func (d *LocalDriver) Run(ctx context.Context, exec func(ctx context.Context, id string)) {
	d.mu.Lock()
	d.init()
	d.mu.Unlock()
	max := max(d.Max, 1)
	slots := make(chan struct{}, max)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		ready, next := d.ready(time.Now())
		for _, id := range ready {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			d.mu.Lock()
			_, still := d.due[id]
			delete(d.due, id)
			d.mu.Unlock()
			if !still {
				<-slots
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots; d.poke() }()
				exec(ctx, id)
			}()
		}
		var timer <-chan time.Time
		var t *time.Timer
		if !next.IsZero() {
			t = time.NewTimer(time.Until(next))
			timer = t.C
		}
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// ready lists the runs whose time has come, earliest first, and when the
// next one's comes.
func (d *LocalDriver) ready(now time.Time) ([]string, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []string
	var next time.Time
	for id, at := range d.due {
		if !at.After(now) {
			ids = append(ids, id)
		} else if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	sort.Slice(ids, func(i, k int) bool {
		ai, ak := d.due[ids[i]], d.due[ids[k]]
		if !ai.Equal(ak) {
			return ai.Before(ak)
		}
		return ids[i] < ids[k]
	})
	return ids, next
}
