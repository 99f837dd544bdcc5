package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/revoke-dev/revoke/engine"
)

// eventPoll is how often an event stream looks for new journal lines.
const eventPoll = 250 * time.Millisecond

// runEvents streams a run's journal events as Server-Sent Events: each
// line as "id: <seq>", "event: <type>", "data: <the line's JSON>", from
// the first (or after Last-Event-ID) until the run has ended, then an
// "end" event with the run's status. It reads the journal itself (the
// record of the run), so a stream after a restart is the same stream.
func (s *Server) runEvents(w http.ResponseWriter, r *http.Request) {
	_, rs := s.lookup(w, r, ActionRead)
	if rs == nil {
		return
	}
	after := 0
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "Last-Event-ID must be an event's seq")
			return
		}
		after = n
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	for {
		// The status is read before the journal: a run seen ended has
		// every line on disk already.
		s.mu.Lock()
		status := rs.Status
		s.mu.Unlock()
		if log, err := engine.ReadRun(s.Env.StateDir, rs.ID); err == nil {
			for _, ev := range log.Events {
				if ev.Seq <= after {
					continue
				}
				b, err := json.Marshal(ev)
				if err != nil {
					return
				}
				_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
				if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, b); err != nil {
					return
				}
				after = ev.Seq
			}
		}
		if !active(status) {
			_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			fmt.Fprintf(w, "event: end\ndata: {\"status\":%q}\n\n", status)
			_ = rc.Flush()
			return
		}
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		case <-time.After(eventPoll):
		}
	}
}
