//go:build windows

package steps

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// TryLockFile takes an exclusive lock on f, or fails at once with
// ErrLocked. Windows locks byte ranges, and a locked range cannot be read
// by others: the lock covers one byte far past the end of any file, so a
// journal can still be read while a run holds it. Windows drops the lock
// when the handle closes or the process dies.
func TryLockFile(f *os.File) error {
	ol := windows.Overlapped{Offset: 0xFFFFFFFE, OffsetHigh: 0x7FFFFFFF}
	err := windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return ErrLocked
	}
	return err
}
