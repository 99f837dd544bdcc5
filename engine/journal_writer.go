package engine

// The journal's writer: creating, locking, appending and reopening a run's
// journal.

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/revoke-dev/revoke/steps"
)

// journalFile is what a Journal writes to: an *os.File, or in tests a
// wrapper that simulates a crash.
type journalFile interface {
	io.Writer
	Sync() error
	Close() error
}

// Journal is the append-only record of one run, safe for concurrent use.
type Journal struct {
	mu   sync.Mutex
	f    journalFile
	lock *os.File // held for the journal's life: see lockJournal
	// seal records the last line written, beside the journal (see
	// journal_seal.go).
	seal sealFile
	// sealNext: the journal was opened forced, and its next line rewrites
	// both seal slots rather than one.
	sealNext bool
	path     string
	runID    string
	seq      int
	prev     string
	// err is sticky: after a failed write the file may end in a torn line,
	// and appending behind it would bury the tear mid-file.
	err    error
	closed bool
}

// runIDRE is the syntax of run ids: ULIDs in Crockford base32, which sort
// by start time.
var runIDRE = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)

// NewRunID returns a fresh run id: a ULID from the current time and
// crypto/rand entropy.
func NewRunID() string {
	// crypto/rand.Reader does not fail (since Go 1.24 it crashes the
	// program rather than return an error), so MustNew cannot panic here.
	return ulid.MustNew(ulid.Now(), rand.Reader).String()
}

// RunPath returns where the journal of a run lives under a state
// directory. It refuses anything but a ULID, so a run id taken from the
// command line cannot name a file elsewhere.
func RunPath(stateDir, runID string) (string, error) {
	if !runIDRE.MatchString(runID) {
		return "", fmt.Errorf("%q is not a run id (26 characters such as 01JD3Q4Z8X6V2N0K5T7W9YB1CM)", runID)
	}
	if _, err := ulid.ParseStrict(runID); err != nil {
		return "", fmt.Errorf("%q is not a run id: %v", runID, err)
	}
	return filepath.Join(stateDir, "runs", runID+".jsonl"), nil
}

// CreateJournal creates the journal of a new run under
// <stateDir>/runs/<runID>.jsonl (folders 0700, file 0600), refusing an
// existing file. An empty runID gets a fresh one from NewRunID.
func CreateJournal(stateDir, runID string) (*Journal, error) {
	if runID == "" {
		runID = NewRunID()
	}
	path, err := RunPath(stateDir, runID)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create journal folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	lock, err := lockJournal(path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock journal %s: %w", path, err)
	}
	// Between the create and the lock the file was nobody's: another
	// process may have found it empty and discarded it as a run that
	// never started (DiscardUnstarted). Then this run must not go on
	// writing to a file no longer there.
	if !isAt(f, path) {
		f.Close()
		lock.Close()
		return nil, fmt.Errorf("create journal %s: it was discarded by another process as it was created", path)
	}
	j := &Journal{f: f, lock: lock, path: path, runID: runID}
	// The seal exists, sealing "no line yet", before the first line is
	// written: a journal with lines and no seal was not left by revoke.
	// O_TRUNC, not O_EXCL: the journal's O_EXCL already made the run new.
	seal, err := os.OpenFile(sealPath(path), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err == nil {
		j.seal = seal
		err = sealBoth(seal, 0, "", "")
	}
	if err != nil {
		j.Close()
		return nil, fmt.Errorf("create the seal of journal %s: %w", path, err)
	}
	syncDir(dir)
	return j, nil
}

// ErrNoEvent is the error (wrapped) for a journal that holds no complete
// event: its run was created and stopped before its first line was
// written whole, before any step could act.
var ErrNoEvent = errors.New("holds no complete event")

// DiscardUnstarted removes run runID's journal and seal when the journal
// holds no complete event (ErrNoEvent) and its seal records no line: the
// process died between creating the journal and writing its first line,
// so nothing was done and the run may start afresh under the same id. A
// journal that records its run, one whose seal says it had lines (it was
// cut), or one another process holds is left as it is, with an error.
// The files are removed while the journal's lock is held, so a process
// creating it meanwhile finds it gone (CreateJournal checks).
func DiscardUnstarted(stateDir, runID string) error {
	path, err := RunPath(stateDir, runID)
	if err != nil {
		return err
	}
	lock, err := lockJournal(path)
	if err != nil {
		if errors.Is(err, errJournalLocked) {
			return steps.Errorf(steps.Invalid, "run %s is in use by another revoke process", runID)
		}
		return fmt.Errorf("lock journal %s: %w", path, err)
	}
	defer lock.Close()
	if _, err := ReadJournal(path); !errors.Is(err, ErrNoEvent) {
		return fmt.Errorf("journal %s records its run: not discarded (%v)", path, err)
	}
	if err := unstartedSeal(path); err != nil {
		return err
	}
	for _, p := range []string{path, sealPath(path)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("discard the unstarted journal: %w", err)
		}
	}
	syncDir(filepath.Dir(path))
	return nil
}

// RunStarted reports whether run runID has a journal to resume. A journal
// that never got its first line (DiscardUnstarted's case) is discarded
// here, and the run counts as not started: its caller starts it afresh
// under the same id. An error means there is a journal that can be
// neither resumed nor discarded as it is (held by another process, cut,
// unreadable): the caller's resume says why.
func RunStarted(stateDir, runID string) (bool, error) {
	path, err := RunPath(stateDir, runID)
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if _, err := ReadJournal(path); !errors.Is(err, ErrNoEvent) {
		return true, nil
	}
	if err := DiscardUnstarted(stateDir, runID); err != nil {
		return true, err
	}
	return false, nil
}

// unstartedSeal checks that the seal of the journal at path records no
// line (or is missing: the kill came before CreateJournal wrote it). A
// seal that records lines beside a journal with none says the journal
// was cut: it cannot be trusted, and is not a run that never started.
func unstartedSeal(path string) error {
	s, err := readSeal(path)
	switch {
	case errors.Is(err, errNoSeal):
		return nil
	case err != nil:
		return fmt.Errorf("journal %s: %w", path, err)
	case s.Seq > 0:
		return steps.Errorf(steps.Invalid, "journal %s holds no complete event, but its seal records %d lines: it was cut, and cannot be trusted", path, s.Seq)
	}
	return nil
}

// isAt reports whether f is the file at path now.
func isAt(f *os.File, path string) bool {
	fi, err1 := f.Stat()
	pi, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(fi, pi)
}

// lockJournal locks the journal at path for this process, through a
// handle of its own: a read-only one, which every system's lock accepts
// (Windows will not lock through the append-only handle the journal
// writes with). Closing it lets go.
func lockJournal(path string) (*os.File, error) {
	l, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := lockFile(l); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// syncDir makes a new directory entry durable. Some file systems refuse
// to fsync a directory; the journal's own fsyncs still hold, so a failure
// here is not worth refusing the run over.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// errJournalLocked is lockFile's answer when another process holds the
// journal.
var errJournalLocked = errors.New("locked")

// OpenJournal opens an existing run's journal to append to it, continuing
// its sequence and hash chain, and returns what it holds. It refuses a
// journal whose chain is broken. It refuses one that does not match its
// seal (lines cut from its end, an edited last line, no seal) unless
// force: then the returned log's Warnings record the override, and the
// journal is sealed as it is now. A torn last line (a crash mid-write) is
// cut off before appending; the Warnings say so too.
//
// The journal stays locked until Close, as a new run's is: a second
// process resuming the same run, or resuming one still running, would
// interleave two chains and repeat writes, so it is refused.
func OpenJournal(stateDir, runID string, force bool) (*Journal, *JournalLog, error) {
	path, err := RunPath(stateDir, runID)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, errNoRun(stateDir, runID)
		}
		return nil, nil, fmt.Errorf("open journal: %w", err)
	}
	lock, err := lockJournal(path)
	if err != nil {
		f.Close()
		if errors.Is(err, errJournalLocked) {
			return nil, nil, steps.Errorf(steps.Invalid, "run %s is in use by another revoke process (a run or resume still going): let it end, or stop it, then resume", runID)
		}
		return nil, nil, fmt.Errorf("lock journal %s: %w", path, err)
	}
	// From here on, Close releases the handles.
	j := &Journal{f: f, lock: lock, path: path}
	// Read only once the lock is held: what another process appended
	// before it let go is part of the history.
	log, err := ReadJournal(path)
	if errors.Is(err, ErrNoEvent) {
		// Empty and sealed as such: a run that never started. Empty
		// with a seal of lines: cut, and not to be taken for one.
		if serr := unstartedSeal(path); serr != nil {
			err = serr
		}
	}
	if err != nil {
		j.Close()
		return nil, nil, err
	}
	if err := log.VerifyChain(); err != nil {
		j.Close()
		return nil, log, fmt.Errorf("journal %s: %w; refusing to append to it", path, err)
	}
	forced := false
	if err := log.VerifySeal(); err != nil {
		forced = true
		if !force {
			j.Close()
			return nil, log, steps.Errorf(steps.Invalid, "journal %s: %v; it cannot be trusted: refusing to resume it unless forced", path, err)
		}
		log.Warnings = append(log.Warnings, fmt.Sprintf("forced: %v; the journal was resumed as it is and sealed again", err))
	}
	if log.Torn > 0 {
		if err := f.Truncate(int64(log.size)); err != nil {
			j.Close()
			return nil, log, fmt.Errorf("journal %s: cut the torn last line: %w", path, err)
		}
	}
	if log.missingNewline {
		if _, err := f.Write([]byte{'\n'}); err != nil {
			j.Close()
			return nil, log, fmt.Errorf("journal %s: end the last line: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		j.Close()
		return nil, log, fmt.Errorf("journal %s: %w", path, err)
	}
	j.runID, j.seq, j.prev = log.RunID, len(log.lines), digest(log.lines[len(log.lines)-1])
	// Seal the journal as it now is: a journal one line past its seal (a
	// crash between the two fsyncs) catches up, and both slots are fresh
	// before the next line is sealed in one of them. A forced journal is
	// sealed only with the next line, run_resumed, which records the
	// override: a resume refused after this (another environment) must not
	// leave a damaged journal looking sound.
	seal, err := os.OpenFile(sealPath(path), os.O_RDWR|os.O_CREATE, 0o600)
	if err == nil {
		j.seal = seal
		if forced {
			j.sealNext = true
		} else {
			prev := ""
			if n := len(log.lines); n > 1 {
				prev = digest(log.lines[n-2])
			}
			err = sealBoth(seal, j.seq, j.prev, prev)
		}
	}
	if err != nil {
		j.Close()
		return nil, log, fmt.Errorf("journal %s: seal: %w", path, err)
	}
	return j, log, nil
}

// RunID is the id of the run the journal records.
func (j *Journal) RunID() string { return j.runID }

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Append writes one event as a line and fsyncs it; it returns the event as
// written (Seq, Time and Prev filled) only once the line is durable, so the
// caller's next action starts after its record. Time defaults to now.
// After a failed write every later Append fails too.
func (j *Journal) Append(ev Event) (Event, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ev, fmt.Errorf("journal %s is closed", j.path)
	}
	if j.err != nil {
		return ev, j.err
	}
	ev.Seq = j.seq + 1
	ev.Prev = j.prev
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = ev.Time.UTC()
	line, err := json.Marshal(ev)
	if err != nil {
		// Nothing was written: the journal stays usable.
		return ev, fmt.Errorf("journal %s: encode %s event: %w", j.path, ev.Type, err)
	}
	if _, err := j.f.Write(append(line, '\n')); err != nil {
		j.err = fmt.Errorf("journal %s: write: %w", j.path, err)
		return ev, j.err
	}
	if err := j.f.Sync(); err != nil {
		j.err = fmt.Errorf("journal %s: fsync: %w", j.path, err)
		return ev, j.err
	}
	before := j.prev
	j.seq = ev.Seq
	j.prev = digest(line)
	// The line is durable; the seal follows it. If the seal cannot be
	// written the journal would read as tampered with, so the run stops
	// writing (and acting) here, as after any failed write.
	if j.sealNext {
		err = sealBoth(j.seal, j.seq, j.prev, before)
	} else {
		err = writeSeal(j.seal, j.seq, j.prev)
	}
	if err != nil {
		j.err = fmt.Errorf("journal %s: seal line %d: %w", j.path, j.seq, err)
		return ev, j.err
	}
	j.sealNext = false
	return ev, nil
}

// Close syncs and closes the file. Closing twice is harmless.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	serr := j.f.Sync()
	cerr := j.f.Close()
	if j.seal != nil {
		cerr = errors.Join(cerr, j.seal.Close())
	}
	if j.lock != nil {
		j.lock.Close() // after the last write: only then may another process append
	}
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("close journal %s: %w", j.path, err)
	}
	return nil
}
