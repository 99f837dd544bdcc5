package main

// Crash-and-resume tests: revoke runs as a child process (this test binary
// re-executed, TestMain dispatching to the CLI) that SIGKILLs itself right
// after journal line N is on disk, and `revoke resume` must finish the run
// with every change made exactly once.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
)

// childArgsEnv, when set in the environment, makes this test binary act as
// the revoke command: its value is the JSON array of arguments.
const childArgsEnv = "REVOKE_E2E_CHILD_ARGS"

// crashAfterEnv makes a child run kill itself with SIGKILL right after the
// journal line of that number is on disk: the crash-and-resume tests use it
// to stop a run at every point a real crash could. Only this test binary
// reads it (TestProductionCodeHasNoCrashHook).
const crashAfterEnv = "REVOKE_TEST_CRASH_AFTER_LINE"

func TestMain(m *testing.M) {
	if raw, ok := os.LookupEnv(childArgsEnv); ok {
		// Set before any command runs, and only in a child: no test reads
		// wrapRunEvents concurrently with this write.
		if n, err := strconv.Atoi(os.Getenv(crashAfterEnv)); err == nil && n > 0 {
			wrapRunEvents = func(next func(engine.Event)) func(engine.Event) { return crashAfter(n, next) }
		}
		os.Exit(childMain(raw))
	}
	os.Exit(m.Run())
}

// crashAfter wraps an event hook so that the process kills itself once
// journal line n is written (and fsync'd: OnEvent runs after Append).
func crashAfter(n int, next func(engine.Event)) func(engine.Event) {
	return func(ev engine.Event) {
		if next != nil {
			next(ev)
		}
		if ev.Seq >= n {
			// Kill, not Exit: no deferred cleanup may run, as in a real
			// crash (on Unix it is SIGKILL).
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				_ = p.Kill()
			}
			select {} // never returns
		}
	}
}

// TestProductionCodeHasNoCrashHook: the variable that makes revoke kill
// itself is read only by test builds, so no environment can crash a real
// run half-way on purpose.
func TestProductionCodeHasNoCrashHook(t *testing.T) {
	root := filepath.Join("..", "..")
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(crashAfterEnv)) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("production source mentions %s: %v", crashAfterEnv, found)
	}
	// The walk must have seen the CLI's own sources, or it proves nothing.
	if _, err := os.Stat(filepath.Join(root, "cmd", "revoke", "run.go")); err != nil {
		t.Fatalf("the walk did not start at the module root: %v", err)
	}
}

// childMain is main() for the child process.
func childMain(raw string) int {
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", childArgsEnv, err)
		return exitUsage
	}
	return runMain(args, os.Stdin, os.Stdout, os.Stderr)
}

// childResult is how a child revoke process ended.
type childResult struct {
	stdout, stderr string
	// code is the exit code; -1 when a signal ended the process.
	code   int
	signal syscall.Signal
}

// runChild runs revoke args in a child process with extra environment
// variables (KEY=VALUE).
func runChild(t *testing.T, env []string, args ...string) childResult {
	t.Helper()
	return runChildWith(t, env, nil, args...)
}

// runChildWith is runChild calling started with the process once it runs.
func runChildWith(t *testing.T, env []string, started func(*os.Process), args ...string) childResult {
	t.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childArgsEnv+"="+string(raw)), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child %v: %v", args, err)
	}
	if started != nil {
		started(cmd.Process)
	}
	err = cmd.Wait()
	res := childResult{stdout: out.String(), stderr: errOut.String(), code: cmd.ProcessState.ExitCode()}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run child %v: %v", args, err)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.signal = ws.Signal()
	}
	return res
}

// adeleWrites checks that the tenant accepted exactly the changes one
// `compromised` run on Adele makes, each once, and nothing else.
func adeleWrites(t *testing.T, entries []sandbox.Entry) {
	t.Helper()
	got := sortedWrites(applied(entries))
	// ad.disable_account disables with one conditional modify (delete the
	// resolved userAccountControl, add it with ACCOUNTDISABLE) when the step
	// starts afresh, and with a read and replace when a resume finds it
	// started before the interruption: one of the two, once.
	disable := "ldap modify " + adeleDN + " delete userAccountControl, add userAccountControl"
	if replace := "ldap modify " + adeleDN + " replace userAccountControl"; slices.Contains(got, replace) {
		disable = replace
	}
	want := sortStrings([]string{
		disable,
		"ldap modify " + adeleDN + " replace unicodePwd",
		"ldap modify " + adeleDN + " replace unicodePwd",
		"graph PATCH /v1.0/users/" + adeleID + " accountEnabled=false",
		"graph PATCH /v1.0/devices/0d1e2f30-4a5b-4c6d-8e7f-9a0b1c2d3e03 accountEnabled=false",
		"graph POST /v1.0/users/" + adeleID + "/revokeSignInSessions ",
		"graph POST /v1.0/identityProtection/riskyUsers/confirmCompromised ",
		// The clean-up: her two sign-in methods but the password.
		"graph DELETE /v1.0/users/" + adeleID + "/authentication/microsoftAuthenticatorMethods/6e7f8a9b-0c1d-4e2f-8a3b-4c5d6e7f8a01 delete microsoftAuthenticator method",
		"graph DELETE /v1.0/users/" + adeleID + "/authentication/phoneMethods/3179e48a-750b-4051-897c-87b9720928f7 delete phone method",
	})
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("writes:\n%s\nwant each exactly once:\n%s\nrequest log:\n%s",
			strings.Join(got, "\n"), strings.Join(want, "\n"), fmtEntries(entries))
	}
}

// TestCrashAtEveryJournalLineThenResume kills `revoke run compromised` on
// Adele right after each journal line but the last, in a fresh tenant each
// time, and resumes it: the resume must succeed, the journal's chain hold,
// and every change reach the tenant exactly once across both processes.
func TestCrashAtEveryJournalLineThenResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CLI some 20 times as a child process")
	}
	runArgs := []string{"run", "compromised", "--user", "adele@contoso.test", "--yes"}

	// A clean run says how many lines there are to crash after.
	clean := newE2E(t, nil, sandbox.Options{})
	if stdout, stderr, code := clean.cli(t, runArgs...); code != 0 {
		t.Fatalf("clean run: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	adeleWrites(t, clean.tenant.Log().Entries())
	lines := len(clean.journal(t, clean.onlyRun(t)).Events)
	if lines < 10 {
		t.Fatalf("the clean run journaled only %d lines", lines)
	}

	eachCrashPoint(t, lines, func(t *testing.T, k int) { crashAndResume(t, k, runArgs) })
}

// eachCrashPoint runs f as a subtest for every journal line k of a run of
// lines lines but the last, four at a time: most of a point's time is the
// Identity Protection gate's one-second spacing, not CPU.
func eachCrashPoint(t *testing.T, lines int, f func(t *testing.T, k int)) {
	var wg sync.WaitGroup
	points := make(chan int)
	for range 4 {
		wg.Go(func() {
			for k := range points {
				t.Run(fmt.Sprintf("after-line-%02d", k), func(t *testing.T) { f(t, k) })
			}
		})
	}
	for k := 1; k < lines; k++ {
		points <- k
	}
	close(points)
	wg.Wait()
}

func crashAndResume(t *testing.T, k int, runArgs []string) {
	e := newE2E(t, nil, sandbox.Options{})
	start := time.Now()
	res := runChild(t, []string{crashAfterEnv + "=" + strconv.Itoa(k)}, append(runArgs, "--env", e.file)...)
	if res.signal != syscall.SIGKILL {
		t.Fatalf("the run was not killed (exit %d, signal %v)\nstdout:\n%s\nstderr:\n%s", res.code, res.signal, res.stdout, res.stderr)
	}
	id := e.onlyRun(t)
	if n := len(e.journal(t, id).Events); n != k {
		t.Fatalf("the killed run left %d journal lines, want %d", n, k)
	}
	crashed := time.Since(start)

	stdout, stderr, code := e.cli(t, "resume", id)
	if code != 0 {
		t.Fatalf("resume: exit %d\nstdout:\n%s\nstderr:\n%s\njournal:\n%s", code, stdout, stderr, e.journalBytes(t, id))
	}
	if !strings.Contains(stdout, "Run "+id+" contained") {
		t.Errorf("resume output lacks the outcome:\n%s", stdout)
	}
	log := e.journal(t, id)
	if got := finished(log); got != engine.OutcomeContained {
		t.Errorf("outcome %q", got)
	}
	// Each planned step ended exactly once in all, across both processes.
	ended := map[string]int{}
	for _, ev := range log.Events {
		switch ev.Type {
		case engine.EventStepSucceeded, engine.EventStepSatisfied, engine.EventStepFailed, engine.EventStepBlocked:
			ended[ev.Step]++
		}
	}
	for _, step := range []string{"disable-ad-account", "disable-entra-user", "confirm-compromised",
		"reset-ad-password", "disable-devices", "revoke-sessions"} {
		if ended[step] != 1 || len(stepEvents(log, engine.EventStepFailed, step)) != 0 {
			t.Errorf("step %s ended %d times (failed %d)", step, ended[step], len(stepEvents(log, engine.EventStepFailed, step)))
		}
	}
	show, stderr, code := e.cli(t, "show", id, "--verify")
	if code != 0 || !strings.Contains(show, fmt.Sprintf("hash chain verified: %d lines, sealed at line %d", len(log.Events), len(log.Events))) {
		t.Errorf("show --verify: exit %d\n%s\n%s", code, show, stderr)
	}
	adeleWrites(t, e.tenant.Log().Entries())
	if t.Failed() {
		t.Logf("journal:\n%s", e.journalBytes(t, id))
	}
	t.Logf("crash after line %d: %s to the kill, %s in all", k, crashed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// TestCrashBetweenAPasswordResetAndItsJournalLine kills the run from
// outside the moment the first unicodePwd replace reached the directory:
// the reset is made, its step_progress line not yet written (Apply reads
// pwdLastSet back first, slowed here by LDAP latency). The step's spec
// promises "times: 2 means two resets in all", so the resume must make one
// more reset, not two.
func TestCrashBetweenAPasswordResetAndItsJournalLine(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	e.tenant.LDAP().SetLatency(300*time.Millisecond, 0)
	killed := make(chan struct{})
	res := runChildWith(t, nil, func(p *os.Process) {
		go func() {
			defer close(killed)
			for {
				for _, en := range e.tenant.Log().Entries() {
					if en.Path == adeleDN && en.Detail == "replace unicodePwd" {
						p.Kill()
						return
					}
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}, "run", "compromised", "--user", "adele@contoso.test", "--yes", "--env", e.file)
	<-killed
	if res.signal != syscall.SIGKILL {
		t.Fatalf("the run was not killed (exit %d)\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	id := e.onlyRun(t)
	log := e.journal(t, id)
	if n := len(stepEvents(log, engine.EventStepStarted, "reset-ad-password")); n != 1 {
		t.Fatalf("reset-ad-password started %d times before the kill, want 1", n)
	}
	if p := stepEvents(log, engine.EventStepProgress, "reset-ad-password"); len(p) != 0 {
		t.Fatalf("the kill came after the reset was journaled (%+v): the window was missed", p)
	}
	e.tenant.LDAP().SetLatency(0, 0)
	stdout, stderr, code := e.cli(t, "resume", id)
	if code != 0 {
		t.Fatalf("resume: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	resets := count(e.tenant.Log().Entries(), func(en sandbox.Entry) bool {
		return en.Path == adeleDN && en.Detail == "replace unicodePwd"
	})
	if resets != 2 {
		t.Errorf("%d password resets in all, want 2 (times: 2): the reset made before the crash was not counted", resets)
	}
}

// A run another process still holds cannot be resumed: two processes
// appending to one journal would repeat writes. The refusal changes
// nothing, and once the holder lets go the resume goes ahead.
func TestResumeRefusesARunInUse(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	res := runChild(t, []string{crashAfterEnv + "=3"}, "run", "compromised", "--user", "adele@contoso.test", "--yes", "--env", e.file)
	if res.signal != syscall.SIGKILL {
		t.Fatalf("the run was not killed (exit %d)\n%s", res.code, res.stderr)
	}
	id := e.onlyRun(t)
	holder, _, err := engine.OpenJournal(e.stateDir, id, false)
	if err != nil {
		t.Fatal(err)
	}
	before := e.journalBytes(t, id)
	stdout, stderr, code := e.cli(t, "resume", id)
	want := "revoke: run " + id + " is in use by another revoke process (a run or resume still going): let it end, or stop it, then resume\n"
	if code != 1 || stdout != "" || stderr != want {
		t.Errorf("resume while held: exit %d\nstdout:\n%s\nstderr:\n%s\nwant stderr %q", code, stdout, stderr, want)
	}
	if !bytes.Equal(e.journalBytes(t, id), before) {
		t.Error("the refused resume changed the journal")
	}
	holder.Close()
	if _, stderr, code := e.cli(t, "resume", id); code != 0 {
		t.Fatalf("resume after the holder let go: exit %d\n%s", code, stderr)
	}
}

// A run killed between creating its journal and writing the first line
// left a journal that does not even say what the run was: resume says so
// and that nothing was done, and leaves it.
func TestResumeOfARunThatNeverStarted(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	id := engine.NewRunID()
	j, err := engine.CreateJournal(e.stateDir, id)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	path, _ := engine.RunPath(e.stateDir, id)
	stdout, stderr, code := e.cli(t, "resume", id)
	want := "revoke: journal " + path + " holds no complete event: run " + id +
		" stopped before its first step (before it journaled what it was to do), so it changed nothing; run the runbook again\n"
	if code != 1 || stdout != "" || stderr != want {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant %q", code, stdout, stderr, want)
	}
}

// A journal whose end was cut off, or whose last line was edited, still
// chains; its seal gives it away. show --verify says so, resume refuses it
// and changes nothing (resuming would repeat what the lost lines record:
// the password resets), and resume --force goes ahead, noting the override.
func TestResumeRefusesAJournalThatDoesNotMatchItsSeal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(ls [][]byte) [][]byte
		want   string // with {n}: the journal's lines before tampering
	}{
		{name: "the last two lines cut",
			tamper: func(ls [][]byte) [][]byte { return ls[:len(ls)-2] },
			want:   "the journal ends at line {n-2}, but its seal records line {n}: lines were cut from its end"},
		{name: "the last line edited",
			tamper: func(ls [][]byte) [][]byte {
				ls[len(ls)-1] = bytes.Replace(ls[len(ls)-1], []byte(`"type":"step_`), []byte(`"type":"xstep_`), 1)
				return ls
			},
			want: "line {n} is not the line its seal records: it was edited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t, nil, sandbox.Options{})
			// After line 8 several steps have started and ended.
			res := runChild(t, []string{crashAfterEnv + "=8"}, "run", "compromised", "--user", "adele@contoso.test", "--yes", "--env", e.file)
			if res.signal != syscall.SIGKILL {
				t.Fatalf("the run was not killed (exit %d)\n%s", res.code, res.stderr)
			}
			id := e.onlyRun(t)
			path, _ := engine.RunPath(e.stateDir, id)
			ls := bytes.Split(bytes.TrimSuffix(e.journalBytes(t, id), []byte("\n")), []byte("\n"))
			n := len(ls)
			if !bytes.Contains(ls[n-1], []byte(`"type":"step_`)) {
				t.Fatalf("line %d is not a step event: %s", n, ls[n-1])
			}
			if err := os.WriteFile(path, append(bytes.Join(tc.tamper(ls), []byte("\n")), '\n'), 0o600); err != nil {
				t.Fatal(err)
			}
			want := strings.NewReplacer("{n}", strconv.Itoa(n), "{n-2}", strconv.Itoa(n-2)).Replace(tc.want)

			show, stderr, code := e.cli(t, "show", id, "--verify")
			if wantErr := "revoke: " + path + ": " + want + "\n"; code != exitFailure || stderr != wantErr || strings.Contains(show, "verified") {
				t.Errorf("show --verify: exit %d\nstdout:\n%s\nstderr: %q\nwant %q", code, show, stderr, wantErr)
			}

			before, writesBefore := e.journalBytes(t, id), len(writes(e.tenant.Log().Entries()))
			stdout, stderr, code := e.cli(t, "resume", id)
			wantErr := "revoke: journal " + path + ": " + want + "; it cannot be trusted: refusing to resume it unless forced\n"
			if code != exitFailure || stdout != "" || stderr != wantErr {
				t.Errorf("resume: exit %d\nstdout:\n%s\nstderr: %q\nwant %q", code, stdout, stderr, wantErr)
			}
			if !bytes.Equal(e.journalBytes(t, id), before) || len(writes(e.tenant.Log().Entries())) != writesBefore {
				t.Error("the refused resume changed the journal or the tenant")
			}

			stdout, stderr, code = e.cli(t, "resume", id, "--force")
			if code != 0 {
				t.Fatalf("resume --force: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			note := "forced: " + want + "; the journal was resumed as it is and sealed again"
			if !strings.Contains(stderr, "revoke: "+note+"\n") {
				t.Errorf("resume --force does not warn %q:\n%s", note, stderr)
			}
			log := e.journal(t, id)
			var notes []string
			for _, ev := range log.Events {
				if ev.Type == engine.EventRunResumed {
					notes = ev.Notes
				}
			}
			if !slices.Contains(notes, note) {
				t.Errorf("run_resumed notes %q lack %q", notes, note)
			}
			if err := log.Verify(); err != nil {
				t.Errorf("after the forced resume: %v", err)
			}
		})
	}
}

// An environment file of the same name that names another tenant or
// another domain is another place: resume refuses it and changes nothing.
func TestResumeRefusesAnotherDirectoryUnderTheSameName(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		want     string
	}{
		{name: "another tenant", old: "tenant_id: \"", new: "tenant_id: \"0ther",
			want: "entra tenant_id {old}, now 0ther{old}"},
		{name: "another base DN", old: `base_dn: "DC=contoso,DC=test"`, new: `base_dn: "DC=fabrikam,DC=test"`,
			want: "ad base_dn DC=contoso,DC=test, now DC=fabrikam,DC=test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t, nil, sandbox.Options{})
			res := runChild(t, []string{crashAfterEnv + "=3"}, "run", "compromised", "--user", "adele@contoso.test", "--yes", "--env", e.file)
			if res.signal != syscall.SIGKILL {
				t.Fatalf("the run was not killed (exit %d)\n%s", res.code, res.stderr)
			}
			id := e.onlyRun(t)
			rec := e.journal(t, id).Record()
			if rec.Environment.Identity["entra"]["tenant_id"] != e.tenant.TenantID() ||
				rec.Environment.Identity["ad"]["base_dn"] != "DC=contoso,DC=test" {
				t.Fatalf("run_started does not record the directories: %v", rec.Environment.Identity)
			}
			// The leavers' OU goes with the base DN it lies under.
			e.editEnv(t, tc.old, tc.new, "  leavers_ou: \"OU=Leavers,DC=contoso,DC=test\"\n", "")
			before, writesBefore := e.journalBytes(t, id), len(writes(e.tenant.Log().Entries()))
			stdout, stderr, code := e.cli(t, "resume", id)
			want := "revoke: run " + id + " was against " + strings.ReplaceAll(tc.want, "{old}", e.tenant.TenantID()) +
				": resume acts only where the run started, with the environment file it used\n"
			if code != exitFailure || stdout != "" || stderr != want {
				t.Errorf("resume: exit %d\nstdout:\n%s\nstderr: %q\nwant %q", code, stdout, stderr, want)
			}
			if !bytes.Equal(e.journalBytes(t, id), before) || len(writes(e.tenant.Log().Entries())) != writesBefore {
				t.Error("the refused resume changed the journal or the tenant")
			}
		})
	}
}

// A resume is one more run on its subject: while another revoke process
// acts on the person it is refused, naming that run, and changes nothing;
// with --wait it goes ahead once the other lets go.
func TestResumeTakesTheSubjectLock(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	res := runChild(t, []string{crashAfterEnv + "=3"}, "run", "compromised", "--user", "adele@contoso.test", "--yes", "--env", e.file)
	if res.signal != syscall.SIGKILL {
		t.Fatalf("the run was not killed (exit %d)\n%s", res.code, res.stderr)
	}
	id := e.onlyRun(t)
	// Another run holds Adele, named by her SID: the same person.
	subject := e.journal(t, id).Record().Subject
	engine.Identify(nil, &subject)
	subject.Ref = subject.FactString("ad", "objectSid")
	const other = "01JD3Q4Z8X6V2N0K5T7W9YB1CA"
	held, err := engine.LockSubject(t.Context(), e.stateDir, &subject, other, false)
	if err != nil {
		t.Fatal(err)
	}
	before, writesBefore := e.journalBytes(t, id), len(writes(e.tenant.Log().Entries()))
	stdout, stderr, code := e.cli(t, "resume", id)
	want := fmt.Sprintf("revoke: subject adele@contoso.test is already being acted on by run %s (pid %d): wait for it to end, or pass --wait\n", other, os.Getpid())
	if code != exitFailure || stdout != "" || stderr != want {
		t.Errorf("resume: exit %d\nstdout:\n%s\nstderr: %q\nwant %q", code, stdout, stderr, want)
	}
	if !bytes.Equal(e.journalBytes(t, id), before) || len(writes(e.tenant.Log().Entries())) != writesBefore {
		t.Error("the refused resume changed the journal or the tenant")
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		held.Release()
	}()
	if stdout, stderr, code := e.cli(t, "resume", id, "--wait"); code != 0 {
		t.Fatalf("resume --wait: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	adeleWrites(t, e.tenant.Log().Entries())
}
