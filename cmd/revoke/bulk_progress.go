package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/revoke-dev/revoke/engine"
)

// bulkProgress is a bulk's live display on a terminal (github.com/
// vbauerster/mpb): one bar of subjects ended, how many are contained and
// remain, and the throttling pause the subjects wait on, with its reason.
// It is never drawn when stdout is not a terminal.
type bulkProgress struct {
	p     *mpb.Progress
	bar   *mpb.Bar
	sched *engine.BulkScheduler
	total int

	mu     sync.Mutex
	counts map[string]int
}

func newBulkProgress(ctx context.Context, w io.Writer, total int, sched *engine.BulkScheduler) *bulkProgress {
	bp := &bulkProgress{sched: sched, total: total, counts: map[string]int{}}
	bp.p = mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(30), mpb.WithRefreshRate(200*time.Millisecond))
	bp.bar = bp.p.New(int64(total), mpb.BarStyle(),
		mpb.PrependDecorators(decor.CountersNoUnit("%d/%d ended ")),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return bp.status(time.Now()) })))
	return bp
}

// status is the text beside the bar.
func (bp *bulkProgress) status(now time.Time) string {
	bp.mu.Lock()
	ended := 0
	for _, n := range bp.counts {
		ended += n
	}
	parts := []string{fmt.Sprintf("contained %d", bp.counts[bulkContained])}
	for _, s := range []string{bulkFailed, bulkDenied, bulkSkipped} {
		if bp.counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, bp.counts[s]))
		}
	}
	parts = append(parts, fmt.Sprintf("remaining %d", bp.total-ended))
	bp.mu.Unlock()
	if waits := bp.sched.Waits(); len(waits) > 0 {
		w := waits[len(waits)-1]
		reason := w.Reason
		if len(reason) > 60 {
			reason = reason[:57] + "..."
		}
		parts = append(parts, fmt.Sprintf("waiting on %s throttling %s (%s)", w.Scope, fmtDur(w.Until.Sub(now).Round(100*time.Millisecond)), termSafe(reason)))
	}
	return strings.Join(parts, " · ")
}

// ended counts a subject's end.
func (bp *bulkProgress) ended(status string) {
	bp.mu.Lock()
	bp.counts[status]++
	bp.mu.Unlock()
	bp.bar.Increment()
}

// stop ends the display, the bar full or not.
func (bp *bulkProgress) stop() {
	bp.bar.SetTotal(-1, true)
	bp.p.Wait()
}
