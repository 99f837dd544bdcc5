//go:build unix

package engine

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// mkfifo makes a named pipe nobody writes to: opening it for reading
// would block for ever.
func mkfifo(t *testing.T, path string) string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// within fails the test when f has not returned after a few seconds: a
// read that blocks on a pipe would otherwise hang the suite.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: still blocked after 5s", what)
	}
}

func TestLoadRefusesPipesAndDevicesPromptly(t *testing.T) {
	dir := t.TempDir()
	runbook := mkfifo(t, filepath.Join(dir, "leaver.yaml"))
	policy := mkfifo(t, filepath.Join(dir, "hold.rego"))
	var lints Lints
	within(t, "Load", func() {
		var err error
		_, lints, err = Load(specMirrorRegistry(), []string{runbook, policy, "/dev/zero"}, false)
		if err != nil {
			t.Error(err)
		}
	})
	checkLints(t, lints, []string{
		"/dev/zero: error: /dev/zero is a device, not a regular file",
		policy + ": error: " + policy + " is a named pipe, not a regular file",
		runbook + ": error: " + runbook + " is a named pipe, not a regular file",
	})
}

func TestSecretFileMustBeARegularFile(t *testing.T) {
	dir := t.TempDir()
	mkfifo(t, filepath.Join(dir, "pipe"))
	env := &Environment{Name: "h", Kind: "hybrid", File: filepath.Join(dir, "env.yaml"), Dir: dir,
		Sections: map[string]steps.Values{"ad": {"fifo_file": "pipe", "zero_file": "/dev/zero"}}}
	be := env.BackendEnv("ad", nil)
	for field, want := range map[string]string{
		"fifo": "ad.fifo_file: " + filepath.Join(dir, "pipe") + " is a named pipe, not a regular file",
		"zero": "ad.zero_file: /dev/zero is a device, not a regular file",
	} {
		within(t, "Secret("+field+")", func() {
			got, err := be.Secret(field)
			if err == nil || err.Error() != want || steps.ClassOf(err) != steps.Invalid || got != "" {
				t.Errorf("Secret(%s) = %q, %v (class %v); want error %q of class invalid", field, got, err, steps.ClassOf(err), want)
			}
		})
	}
}
