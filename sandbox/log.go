package sandbox

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Entry is one request the tenant served, on either face. It never holds a
// password or a request body: tests assert on what was sent by method,
// path and status, and the log may be written to a terminal.
type Entry struct {
	Time     time.Time `json:"time"`
	Client   string    `json:"client"`           // remote address, or the app's client id for Graph
	Protocol string    `json:"protocol"`         // "graph" or "ldap"
	Method   string    `json:"method"`           // HTTP method, or LDAP operation: bind, search, modify, extended…
	Path     string    `json:"path"`             // URL path (+query), or the DN
	Status   int       `json:"status"`           // HTTP status, or LDAP result code
	Detail   string    `json:"detail,omitempty"` // e.g. "replace unicodePwd" — NEVER a password value
	// Batch is the item id of a request that came inside a $batch (the
	// batch itself is logged after its items); "" for one sent alone.
	Batch string `json:"batch,omitempty"`
}

// RequestLog records every request the tenant serves. It is safe for
// concurrent use by the Graph and LDAP servers. With a sink it also writes
// each entry as one JSON line, so `revoke sandbox` can stream it.
type RequestLog struct {
	mu      sync.Mutex
	entries []Entry
	sink    io.Writer
}

// NewRequestLog returns an empty log that also writes JSON lines to sink
// when sink is not nil.
func NewRequestLog(sink io.Writer) *RequestLog {
	return &RequestLog{sink: sink}
}

// Add records e, stamping it with the current time when e.Time is zero.
// A failing sink does not fail the request being logged.
func (l *RequestLog) Add(e Entry) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, e)
	if l.sink != nil {
		b, err := json.Marshal(e)
		if err == nil {
			b = append(b, '\n')
			_, _ = l.sink.Write(b)
		}
	}
}

// Entries returns a copy of every entry recorded so far, oldest first.
func (l *RequestLog) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Entry(nil), l.entries...)
}

// Reset forgets every entry, so a test can assert on what one action sent.
func (l *RequestLog) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = nil
}
