//go:build windows

package main

import "golang.org/x/sys/windows"

// ttyFD reports whether the handle is a console: only a console has a
// console mode (NUL, pipes and files do not).
func ttyFD(fd uintptr) bool {
	var mode uint32
	return windows.GetConsoleMode(windows.Handle(fd), &mode) == nil
}
