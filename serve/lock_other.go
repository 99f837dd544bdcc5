//go:build !unix

package serve

import "os"

// lockStore does not lock where flock is not available; docs/serve.md
// says to run one revoke serve per state directory.
func lockStore(*os.File) error { return nil }
