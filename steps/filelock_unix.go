//go:build unix

package steps

import (
	"errors"
	"os"
	"syscall"
)

// TryLockFile takes an exclusive advisory lock on f, or fails at once
// with ErrLocked. The lock belongs to this open file: another open of the
// same path, even in this process, is refused until f is closed. The
// kernel drops it when f is closed or the process dies, so a crashed
// holder never leaves a stale lock behind. The engine's journal and
// subject locks and the backends' shared state (entra's Identity
// Protection limiter) all take their locks here.
func TryLockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrLocked
	}
	return err
}
