//go:build unix

package serve

import (
	"os"
	"syscall"
)

// lockStore locks the request journal exclusively, without waiting: a
// second revoke serve on the same state directory would run every run
// twice.
func lockStore(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
