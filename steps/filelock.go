package steps

import "errors"

// ErrLocked is TryLockFile's answer when another open file (in this
// process or another) holds the lock.
var ErrLocked = errors.New("file is locked by another holder")
