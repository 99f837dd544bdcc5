//go:build !unix && !windows

package main

// ttyFD is false where revoke cannot ask: it then never prompts, and a
// run needs --yes, which is the safe side.
func ttyFD(fd uintptr) bool { return false }
