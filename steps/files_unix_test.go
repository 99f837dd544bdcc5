//go:build unix

package steps

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A named pipe with no writer would block an open for ever, and a device
// such as /dev/zero never ends: both are refused before they are opened.
func TestReadFileRefusesPipesAndDevicesPromptly(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "secret")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{fifo, fifo + " is a named pipe, not a regular file"},
		{"/dev/zero", "/dev/zero is a device, not a regular file"},
	}
	for _, tt := range tests {
		if _, err := os.Stat(tt.path); err != nil {
			t.Logf("skip %s: %v", tt.path, err)
			continue
		}
		done := make(chan error, 1)
		go func() {
			_, err := ReadFile(tt.path, MaxFileSize)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || err.Error() != tt.want || ClassOf(err) != Invalid {
				t.Errorf("%s: error %v (class %v), want %q (Invalid)", tt.path, err, ClassOf(err), tt.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: ReadFile still blocked after 5s", tt.path)
		}
	}
}
