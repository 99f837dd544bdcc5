//go:build unix

package steps

import "syscall"

// openNonBlock keeps an open from waiting for a writer should the path
// become a named pipe between ReadFile's stat and its open; the descriptor
// is then checked and refused. On a regular file it changes nothing.
const openNonBlock = syscall.O_NONBLOCK
