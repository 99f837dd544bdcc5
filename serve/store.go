package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/revoke-dev/revoke/engine"
)

// Record types of the request journal.
const (
	recAccepted  = "accepted"
	recApproved  = "approved"
	recRejected  = "rejected"
	recCancelled = "cancelled"
	recExpired   = "expired"
	recStarted   = "started"
	recFinished  = "finished"
	recFailed    = "failed"
)

// record is one line of the request journal: what the service accepted
// and every change of a run's state after that. Replaying the lines in
// order rebuilds every run the service knows (Store.Load).
type record struct {
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	ID   string    `json:"id"`

	// Accepted's: the request (one subject in User), who asked, from
	// where, the status it starts in, and what dedupe and idempotency
	// compare.
	Request        *RunRequest `json:"request,omitempty"`
	Caller         *Caller     `json:"caller,omitempty"`
	RemoteAddr     string      `json:"remote_addr,omitempty"`
	RequestID      string      `json:"request_id,omitempty"`
	Status         string      `json:"status,omitempty"`
	SubjectKeys    []string    `json:"subject_keys,omitempty"`
	IdempotencyKey string      `json:"idempotency_key,omitempty"`
	BodyHash       string      `json:"body_hash,omitempty"`
	// Batch marks a run asked for in a request with "users": a retry
	// with its Idempotency-Key is answered with the list of runs.
	Batch           bool          `json:"batch,omitempty"`
	ApprovalExpires time.Time     `json:"approval_expires,omitzero"`
	Plan            []PlannedStep `json:"plan,omitempty"`
	Warnings        []string      `json:"warnings,omitempty"`
	Protected       []string      `json:"protected,omitempty"`

	// By is who approved, rejected or cancelled.
	By *Caller `json:"by,omitempty"`
	// Outcome and Contained are finished's; Error is failed's.
	Outcome   engine.Outcome `json:"outcome,omitempty"`
	Contained bool           `json:"contained,omitempty"`
	Error     string         `json:"error,omitempty"`
}

// Store is the service's request journal: STATE_DIR/serve/requests.jsonl
// (folder 0700, file 0600), one JSON record a line, each written and
// fsync'd before the request it records is answered, so nothing the
// service said it accepted is lost to a crash. One process holds it at a
// time (an exclusive lock), as the run journals are held.
type Store struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// OpenStore opens (creating) the request journal under stateDir and
// returns it with the records already in it. A torn last line (the
// process died while writing it; its request was never answered) is cut
// off; any other undecodable line is an error, because skipping it could
// lose an accepted run.
func OpenStore(stateDir string) (*Store, []record, error) {
	dir := filepath.Join(stateDir, "serve")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create the request journal's folder: %w", err)
	}
	path := filepath.Join(dir, "requests.jsonl")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open the request journal: %w", err)
	}
	if err := lockStore(f); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("the request journal %s is held by another revoke serve: %w", path, err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read the request journal: %w", err)
	}
	recs, good, err := decodeRecords(b)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("request journal %s: %w", path, err)
	}
	if good < len(b) {
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("cut the torn last line of the request journal: %w", err)
		}
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return nil, nil, err
	}
	return &Store{f: f, path: path}, recs, nil
}

// decodeRecords decodes the journal's lines; good is the length of the
// part that decoded (everything but a torn last line: one without its
// newline, or the last one when it is not a record).
func decodeRecords(b []byte) (recs []record, good int, err error) {
	lines := bytes.SplitAfter(b, []byte("\n"))
	for i, raw := range lines {
		if len(raw) == 0 {
			continue
		}
		last := i == len(lines)-1 || (i == len(lines)-2 && len(lines[len(lines)-1]) == 0)
		var r record
		err := json.Unmarshal(bytes.TrimSuffix(raw, []byte("\n")), &r)
		if err != nil || r.ID == "" || r.Type == "" || raw[len(raw)-1] != '\n' {
			if last {
				return recs, good, nil
			}
			return nil, 0, fmt.Errorf("line %d is not a request record", i+1)
		}
		recs = append(recs, r)
		good += len(raw)
	}
	return recs, good, nil
}

// Append writes recs in one write and fsyncs them: when Append returns
// nil they survive a crash.
func (s *Store) Append(recs ...record) error {
	var buf bytes.Buffer
	for _, rec := range recs {
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("the request journal is closed")
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write the request journal: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync the request journal: %w", err)
	}
	return nil
}

// Close closes the journal and lets go of its lock.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
