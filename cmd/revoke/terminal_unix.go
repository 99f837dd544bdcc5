//go:build unix

package main

import "golang.org/x/sys/unix"

// ttyFD asks the terminal driver for the window size: only a terminal
// answers (a pipe, a file or /dev/null fail with ENOTTY). The request
// exists on every Unix, unlike the termios ones, whose names differ.
func ttyFD(fd uintptr) bool {
	_, err := unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ)
	return err == nil
}
