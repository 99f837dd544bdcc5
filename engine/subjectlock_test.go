package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

const (
	runA = "01JD3Q4Z8X6V2N0K5T7W9YB1CA"
	runB = "01JD3Q4Z8X6V2N0K5T7W9YB1CB"
)

func skipWithoutLocks(t *testing.T) {
	if runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("the subject lock is Unix and Windows only")
	}
}

// adele is one person seen through two references: both directories
// publish her SID, Entra ID her object id, AD her objectGUID.
func adele(ref string) *steps.Subject {
	return &steps.Subject{Ref: ref, Identities: map[string]steps.Identity{
		"entra": {IDs: map[string]string{steps.IDObjectID: "4C6D2A8E-1F3B-4A5C-9D7E-0B1A2C3D4E01",
			steps.IDSID: "S-1-5-21-1-2-3-1104", steps.IDUPN: "adele@contoso.test"}},
		"ad": {IDs: map[string]string{steps.IDGUID: "aed37c78-d3fa-5f38-93db-4c25d2756e23",
			steps.IDSID: "S-1-5-21-1-2-3-1104", steps.IDSAM: "adele"}},
	}}
}

func TestSubjectKeys(t *testing.T) {
	for _, tc := range []struct {
		name    string
		subject *steps.Subject
		want    []string
	}{
		{name: "strong ids of every backend, lower-cased, a shared SID once", subject: adele("adele@contoso.test"),
			want: []string{"guid:aed37c78-d3fa-5f38-93db-4c25d2756e23", "object_id:4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e01", "sid:s-1-5-21-1-2-3-1104"}},
		{name: "names that change with a rename are not keys",
			subject: &steps.Subject{Ref: "x", Identities: map[string]steps.Identity{"ad": {IDs: map[string]string{
				steps.IDSAM: "x", steps.IDUPN: "x@y", steps.IDDN: "CN=x", steps.IDImmutableID: "eHzTrvrTOF+T20wl0nVuIw=="}}}},
			want: []string{"immutable_id:ehztrvrtof+t20wl0nvuiw=="}},
		{name: "without identities, the reference", subject: &steps.Subject{Ref: " Adele@Contoso.test "},
			want: []string{"ref:adele@contoso.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SubjectKeys(tc.subject); !slices.Equal(got, tc.want) {
				t.Errorf("SubjectKeys = %q, want %q", got, tc.want)
			}
		})
	}
}

// Two runs on one person, through two references, in one process: the
// second is refused naming the first, and goes ahead once it is released.
// Files are private; another person is not held up.
func TestLockSubjectRefusesASecondRun(t *testing.T) {
	skipWithoutLocks(t)
	state := t.TempDir()
	ctx := t.Context()
	first, err := LockSubject(ctx, state, adele("adele@contoso.test"), runA, false)
	if err != nil {
		t.Fatal(err)
	}
	bySID := adele("S-1-5-21-1-2-3-1104")
	delete(bySID.Identities, "entra") // shares only the SID and GUID
	_, err = LockSubject(ctx, state, bySID, runB, false)
	want := fmt.Sprintf("subject S-1-5-21-1-2-3-1104 is already being acted on by run %s (pid %d): wait for it to end, or pass --wait", runA, os.Getpid())
	var busy *SubjectBusyError
	if !errors.As(err, &busy) || err.Error() != want || busy.RunID != runA {
		t.Fatalf("second lock: %v, want %q", err, want)
	}
	other := &steps.Subject{Ref: "megan@contoso.test", Identities: map[string]steps.Identity{
		"entra": {IDs: map[string]string{steps.IDObjectID: "99999999-1f3b-4a5c-9d7e-0b1a2c3d4e01"}}}}
	megan, err := LockSubject(ctx, state, other, runB, false)
	if err != nil {
		t.Fatalf("another subject: %v", err)
	}
	megan.Release()
	for _, p := range must(filepath.Glob(filepath.Join(state, "locks", "*.lock"))) {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != 0o600 {
			t.Errorf("%s: %v %v", p, fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(filepath.Join(state, "locks")); err != nil || fi.Mode() != 0o700|os.ModeDir {
		t.Errorf("locks folder: %v %v", fi.Mode(), err)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	first.Release() // twice is harmless
	second, err := LockSubject(ctx, state, bySID, runB, false)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	second.Release()
}

// Many goroutines race for one subject: exactly one holds it at any time.
func TestLockSubjectIsExclusiveUnderRace(t *testing.T) {
	skipWithoutLocks(t)
	state := t.TempDir()
	var mu sync.Mutex
	holding, most, won := 0, 0, 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			l, err := LockSubject(t.Context(), state, adele("adele@contoso.test"), runA, false)
			var busy *SubjectBusyError
			if errors.As(err, &busy) {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			holding++
			won++
			most = max(most, holding)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			holding--
			mu.Unlock()
			l.Release()
		})
	}
	wg.Wait()
	if most != 1 || won < 1 {
		t.Errorf("at most %d held at once, %d won", most, won)
	}
}

// With wait, the second run takes the lock once the first lets go; a
// cancelled wait gives up saying on whom it waited.
func TestLockSubjectWaits(t *testing.T) {
	skipWithoutLocks(t)
	state := t.TempDir()
	first, err := LockSubject(t.Context(), state, adele("adele@contoso.test"), runA, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = LockSubject(ctx, state, adele("adele@contoso.test"), runB, true)
	want := fmt.Sprintf("stopped waiting for subject adele@contoso.test, which run %s (pid %d) is acting on: context deadline exceeded", runA, os.Getpid())
	if err == nil || err.Error() != want || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled wait: %v, want %q", err, want)
	}
	released := make(chan time.Time, 1)
	go func() {
		time.Sleep(250 * time.Millisecond)
		released <- time.Now()
		first.Release()
	}()
	second, err := LockSubject(t.Context(), state, adele("adele@contoso.test"), runB, true)
	took := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	defer second.Release()
	if at := <-released; took.Before(at) {
		t.Error("the waiting lock was taken before the first let go")
	}
}

// subjectLockHelperEnv makes TestSubjectLockHelperProcess hold a lock in
// the state directory it names, as a revoke process would, until killed.
const subjectLockHelperEnv = "REVOKE_TEST_SUBJECT_LOCK_HELPER"

func TestSubjectLockHelperProcess(t *testing.T) {
	state := os.Getenv(subjectLockHelperEnv)
	if state == "" {
		t.Skip("a helper for TestLockSubjectIsDroppedWhenItsProcessDies")
	}
	if _, err := LockSubject(context.Background(), state, adele("adele@contoso.test"), runA, false); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	select {}
}

// A process that dies holding a subject's lock loses it: the kernel drops
// it, so a crashed run never locks its subject out.
func TestLockSubjectIsDroppedWhenItsProcessDies(t *testing.T) {
	skipWithoutLocks(t)
	state := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSubjectLockHelperProcess$")
	cmd.Env = append(os.Environ(), subjectLockHelperEnv+"="+state)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("helper: %q", line)
	}
	_, err = LockSubject(t.Context(), state, adele("S-1-5-21-1-2-3-1104"), runB, false)
	want := fmt.Sprintf("subject S-1-5-21-1-2-3-1104 is already being acted on by run %s (pid %d): wait for it to end, or pass --wait", runA, cmd.Process.Pid)
	if err == nil || err.Error() != want {
		t.Fatalf("while the helper holds it: %v, want %q", err, want)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	l, err := LockSubject(t.Context(), state, adele("adele@contoso.test"), runB, false)
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	l.Release()
	for _, p := range must(filepath.Glob(filepath.Join(state, "locks", "*.lock"))) {
		if b := must(os.ReadFile(p)); len(b) != 0 {
			t.Errorf("released lock file %s still names a holder: %s", p, b)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
