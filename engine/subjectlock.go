package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// subjectKeyKinds are the identifier kinds a subject's lock is keyed on:
// the ones that name one record for good, whatever reference was typed
// (a UPN, DOMAIN\user, a SID) and whatever a rename changes.
var subjectKeyKinds = []string{steps.IDObjectID, steps.IDGUID, steps.IDSID, steps.IDImmutableID}

// subjectLockPoll is how often a waiting LockSubject tries again.
const subjectLockPoll = 200 * time.Millisecond

// SubjectLock is a held per-subject lock: while it is held, no other
// revoke process (nor another LockSubject in this one) can lock any of the
// subject's keys. Release lets go; so does the process's death.
type SubjectLock struct {
	files []*os.File
	// Keys are the lock's keys, sorted: kind:value of each strong
	// identifier, or ref:<reference> for a subject without one.
	Keys []string
}

// SubjectBusyError is LockSubject's refusal: another run holds one of the
// subject's keys.
type SubjectBusyError struct {
	// Subject is the reference of the subject asked for.
	Subject string
	// RunID and PID are the holder's, as it wrote them in the lock file;
	// empty and 0 when it had not yet (it is between taking the lock and
	// writing its name).
	RunID string
	PID   int
}

func (e *SubjectBusyError) Error() string {
	return fmt.Sprintf("subject %s is already being acted on by %s: wait for it to end, or pass --wait", e.Subject, e.holder())
}

// holder names the holder as well as the lock file tells.
func (e *SubjectBusyError) holder() string {
	if e.RunID == "" {
		return "another revoke process"
	}
	return fmt.Sprintf("run %s (pid %d)", e.RunID, e.PID)
}

// subjectHolder is what a holder writes in each lock file it holds.
type subjectHolder struct {
	RunID   string    `json:"run_id"`
	PID     int       `json:"pid"`
	Subject string    `json:"subject"`
	Since   time.Time `json:"since"`
}

// SubjectKeys returns the keys a subject's lock is taken on, sorted: for
// every backend's identity, each identifier of kind object_id, guid, sid
// or immutable_id as kind:value, lower-cased and without duplicates (a
// synced user's SID is the same on both sides, and so one key). A subject
// without any (no backend identified it) is keyed on its reference,
// ref:<lower-cased reference>.
func SubjectKeys(subject *steps.Subject) []string {
	if subject == nil {
		return nil
	}
	var keys []string
	for _, id := range subject.Identities {
		for _, kind := range subjectKeyKinds {
			if v := strings.TrimSpace(id.IDs[kind]); v != "" {
				keys = append(keys, kind+":"+strings.ToLower(v))
			}
		}
	}
	if len(keys) == 0 {
		keys = append(keys, "ref:"+strings.ToLower(strings.TrimSpace(subject.Ref)))
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// LockSubject takes the per-subject lock of subject for run runID under
// stateDir: one file per key (SubjectKeys), STATE_DIR/locks/<SHA-256 of
// the key>.lock (folder 0700, files 0600), each locked exclusively as the
// journal is (flock on Unix, LockFileEx on Windows) and holding the run id
// and pid of its holder. Two runs on one person through different
// references (a UPN, a SID) share a key, so the second is refused.
//
// The files are taken in sorted order, all or none: when one is held
// elsewhere every file taken so far is let go again, so two processes
// never hold parts of one subject's lock. Without wait that is a
// *SubjectBusyError naming the holder's run and pid; with wait LockSubject
// tries again every 200 ms until it has them all or ctx is done (then
// ctx's error). The kernel drops the locks of a process that dies, so a
// crashed run never locks its subject out. On systems that are neither
// Unix nor Windows nothing is locked.
func LockSubject(ctx context.Context, stateDir string, subject *steps.Subject, runID string, wait bool) (*SubjectLock, error) {
	keys := SubjectKeys(subject)
	if len(keys) == 0 {
		return nil, steps.Errorf(steps.Invalid, "lock subject: no subject")
	}
	dir := filepath.Join(stateDir, "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create lock folder: %w", err)
	}
	paths := make([]string, len(keys))
	for i, k := range keys {
		sum := sha256.Sum256([]byte(k))
		paths[i] = filepath.Join(dir, hex.EncodeToString(sum[:])+".lock")
	}
	// Taken in the order of the file names, the same in every process.
	slices.Sort(paths)
	holder, err := json.Marshal(subjectHolder{RunID: runID, PID: os.Getpid(), Subject: subject.Ref, Since: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	holder = append(holder, '\n')
	for {
		l, busy, err := tryLockAll(paths, holder)
		if err != nil {
			return nil, err
		}
		if l != nil {
			l.Keys = keys
			return l, nil
		}
		busy.Subject = subject.Ref
		if !wait {
			return nil, busy
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped waiting for subject %s, which %s is acting on: %w", subject.Ref, busy.holder(), ctx.Err())
		case <-time.After(subjectLockPoll):
		}
	}
}

// tryLockAll locks every file or none: a *SubjectBusyError when one is
// held elsewhere.
func tryLockAll(paths []string, holder []byte) (*SubjectLock, *SubjectBusyError, error) {
	l := &SubjectLock{}
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			l.Release()
			return nil, nil, fmt.Errorf("open subject lock: %w", err)
		}
		if err := lockFile(f); err != nil {
			f.Close()
			l.Release()
			if errors.Is(err, errJournalLocked) {
				return nil, readHolder(p), nil
			}
			return nil, nil, fmt.Errorf("lock subject %s: %w", p, err)
		}
		l.files = append(l.files, f)
		// Only the holder writes, so what a refused process reads is the
		// holder's name (or nothing, in the instant before this write).
		err = f.Truncate(0)
		if err == nil {
			_, err = f.WriteAt(holder, 0)
		}
		if err != nil {
			l.Release()
			return nil, nil, fmt.Errorf("write subject lock %s: %w", p, err)
		}
	}
	return l, nil, nil
}

// readHolder reads who holds a lock file; fields stay empty when it
// cannot tell.
func readHolder(path string) *SubjectBusyError {
	busy := &SubjectBusyError{}
	if b, err := os.ReadFile(path); err == nil {
		var h subjectHolder
		if json.Unmarshal(b, &h) == nil && runIDRE.MatchString(h.RunID) {
			busy.RunID, busy.PID = h.RunID, h.PID
		}
	}
	return busy
}

// Release lets go of the lock: each file is emptied (the holder's name is
// no longer true) and closed, which drops its lock. The files stay: taking
// a lock on a file another process may just have opened and then removing
// it would let two processes hold "the" lock on two different files.
// Releasing twice, or a nil lock, is harmless.
func (l *SubjectLock) Release() error {
	if l == nil {
		return nil
	}
	var errs []error
	for _, f := range l.files {
		errs = append(errs, f.Truncate(0), f.Close())
	}
	l.files = nil
	return errors.Join(errs...)
}
