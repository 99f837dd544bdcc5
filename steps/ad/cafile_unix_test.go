//go:build unix

package ad

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// The CA file is read through steps.ReadFile: a device, a pipe or a
// directory is refused by name, at once, before any connection.
func TestCAFileMustBeARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "ca.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for ca, want := range map[string]string{
		"/dev/zero": "ad ca_file: /dev/zero is a device, not a regular file",
		fifo:        "ad ca_file: " + fifo + " is a named pipe, not a regular file",
		dir:         "ad ca_file: " + dir + " is a directory, not a regular file",
	} {
		env := &steps.Env{
			Section: steps.Values{fieldURL: "ldaps://dc.contoso.test", fieldBaseDN: "DC=contoso,DC=test",
				fieldBindDN: "CN=svc,DC=contoso,DC=test", fieldCAFile: ca},
			Secret: func(string) (string, error) { return "pw", nil },
		}
		done := make(chan error, 1)
		go func() { _, err := newConfig(env); done <- err }()
		select {
		case err := <-done:
			if err == nil || err.Error() != want || steps.ClassOf(err) != steps.Invalid {
				t.Errorf("%s: error %v (class %v), want %q (invalid)", ca, err, steps.ClassOf(err), want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: still blocked after 5s", ca)
		}
	}
}
