//go:build !unix && !windows

package steps

import "os"

// TryLockFile does nothing here: only Unix and Windows have file locks
// revoke uses (see docs/design.md, Known limits).
func TryLockFile(*os.File) error { return nil }
