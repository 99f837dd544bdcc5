package engine

import (
	"errors"
	"os"

	"github.com/revoke-dev/revoke/steps"
)

// lockFile takes an exclusive lock on the journal or a subject's lock
// file, or fails at once with errJournalLocked. steps.TryLockFile is the
// one lock primitive (flock on Unix, LockFileEx on Windows, nothing
// elsewhere) that backends share too; the kernel drops the lock when the
// file is closed or the process dies, so a crashed run never leaves a
// stale lock behind.
func lockFile(f *os.File) error {
	err := steps.TryLockFile(f)
	if errors.Is(err, steps.ErrLocked) {
		return errJournalLocked
	}
	return err
}
