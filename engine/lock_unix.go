//go:build unix

package engine

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on the file, or fails at
// once with errJournalLocked. The kernel drops it when the file is closed
// or the process dies, so a crashed run never leaves a stale lock behind.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errJournalLocked
	}
	return err
}
