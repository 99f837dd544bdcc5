//go:build !unix && !windows

package engine

import "os"

// lockFile does nothing here: only Unix and Windows get the journal lock (see
// docs/design.md, Known limits).
func lockFile(*os.File) error { return nil }
