package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

var updateJournal = flag.Bool("update-journal", false, "rewrite testdata/journal/*.jsonl")

// goldenRunID is the run id of the golden journals.
const goldenRunID = "01JD3Q4Z8X6V2N0K5T7W9YB1CM"

// runJournaled runs a plan sequentially into a fresh journal and returns
// its path.
func runJournaled(t *testing.T, stateDir string, w *world, plan *Plan) (string, *Result) {
	t.Helper()
	j := newJournal(t, stateDir)
	x, _ := testExecutor(w, j)
	x.MaxParallel = 1
	res, err := x.Run(t.Context(), plan)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return j.Path(), res
}

func TestJournalFilesArePrivateAndNeverReused(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	j, err := CreateJournal(state, goldenRunID)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if j.RunID() != goldenRunID || j.Path() != filepath.Join(state, "runs", goldenRunID+".jsonl") {
		t.Errorf("run %s at %s", j.RunID(), j.Path())
	}
	for path, want := range map[string]os.FileMode{runsDir(state): 0o700 | os.ModeDir, j.Path(): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
	if _, err := CreateJournal(state, goldenRunID); err == nil || !errors.Is(err, os.ErrExist) {
		t.Errorf("second CreateJournal of one run: %v, want it refused", err)
	}
	fresh, err := CreateJournal(state, "")
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if fresh.RunID() == goldenRunID || !runIDRE.MatchString(fresh.RunID()) {
		t.Errorf("fresh run id %q", fresh.RunID())
	}
}

// A journal is held by one process at a time: resuming a run that is still
// going, or one another resume holds, is refused until it is let go.
func TestJournalIsLockedWhileOpen(t *testing.T) {
	if runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("the journal lock is Unix and Windows only")
	}
	state := t.TempDir()
	j, err := CreateJournal(state, goldenRunID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(Event{Type: EventRunStarted, Run: &RunRecord{Runbook: "test"}}); err != nil {
		t.Fatal(err)
	}
	wantLocked := "run " + goldenRunID + " is in use by another revoke process (a run or resume still going): let it end, or stop it, then resume"
	if _, _, err := OpenJournal(state, goldenRunID, false); err == nil || err.Error() != wantLocked || steps.ClassOf(err) != steps.Invalid {
		t.Fatalf("open while the run holds it: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	resumed, log, err := OpenJournal(state, goldenRunID, false)
	if err != nil || len(log.Events) != 1 {
		t.Fatalf("open after the run let go: %v", err)
	}
	if _, _, err := OpenJournal(state, goldenRunID, false); err == nil || err.Error() != wantLocked {
		t.Errorf("second resume: %v", err)
	}
	resumed.Close()
	again, _, err := OpenJournal(state, goldenRunID, false)
	if err != nil {
		t.Fatalf("open after the resume let go: %v", err)
	}
	again.Close()
	other := "01JF0000000000000000000000"
	if _, _, err := OpenJournal(state, other, false); err == nil || steps.ClassOf(err) != steps.NotFound ||
		err.Error() != "no run "+other+" in "+state {
		t.Errorf("open a run that does not exist: %v", err)
	}
}

func TestJournalRunPathRefusesWhatIsNotARunID(t *testing.T) {
	for _, id := range []string{"", "../../etc/passwd", "01jd3q4z8x6v2n0k5t7w9yb1cm", "01JD3Q4Z8X6V2N0K5T7W9YB1C", "01JD3Q4Z8X6V2N0K5T7W9YB1CI", "81JD3Q4Z8X6V2N0K5T7W9YB1CM"} {
		if p, err := RunPath("/state", id); err == nil {
			t.Errorf("RunPath(%q) = %s, want an error", id, p)
		}
	}
	if p, err := RunPath("/state", goldenRunID); err != nil || p != "/state/runs/"+goldenRunID+".jsonl" {
		t.Errorf("RunPath = %s, %v", p, err)
	}
}

// lines splits a journal into its lines, newline-free.
func lines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
}

func writeLines(t *testing.T, path string, ls [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, append(bytes.Join(ls, []byte("\n")), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestJournalVerifyChainFindsTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func([][]byte) [][]byte
		want   string
	}{
		{name: "an intact journal verifies", tamper: func(ls [][]byte) [][]byte { return ls }},
		{name: "an edited line breaks the chain at the next line",
			tamper: func(ls [][]byte) [][]byte {
				ls[2] = bytes.Replace(ls[2], []byte(`"summary":"acted"`), []byte(`"summary":"ACTED"`), 1)
				return ls
			},
			want: "line 4: hash chain broken: prev does not match the SHA-256 of line 3"},
		{name: "a removed line shows as a seq gap",
			tamper: func(ls [][]byte) [][]byte { return slices.Delete(ls, 2, 3) },
			want:   "line 3: seq 4, want 3"},
		{name: "swapped lines show as a seq out of order",
			tamper: func(ls [][]byte) [][]byte { ls[1], ls[2] = ls[2], ls[1]; return ls },
			want:   "line 2: seq 3, want 2"},
		{name: "a first line with a prev hash",
			tamper: func(ls [][]byte) [][]byte {
				ls[0] = bytes.Replace(ls[0], []byte(`"prev":""`), []byte(`"prev":"00"`), 1)
				return ls
			},
			want: "line 1: hash chain broken: the first line's prev must be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := fakeRegistry()
			state := t.TempDir()
			path, _ := runJournaled(t, state, newWorld(), testPlan(t, reg, ts{id: "a"}, ts{id: "b"}))
			writeLines(t, path, tc.tamper(lines(t, path)))
			log, err := ReadJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			err = log.VerifyChain()
			if got := fmt.Sprint(err); tc.want == "" && err != nil || tc.want != "" && got != tc.want {
				t.Errorf("VerifyChain: %v, want %q", err, tc.want)
			}
			_, _, err = OpenJournal(state, log.RunID, false)
			if tc.want != "" && (err == nil || !strings.HasSuffix(err.Error(), tc.want+"; refusing to append to it")) {
				t.Errorf("OpenJournal of a broken chain: %v", err)
			}
		})
	}
}

func TestJournalToleratesATornLastLine(t *testing.T) {
	reg := fakeRegistry()
	state := t.TempDir()
	path, _ := runJournaled(t, state, newWorld(), testPlan(t, reg, ts{id: "a"}))
	n := len(lines(t, path))
	torn := `{"seq":6,"time":"2025-01-0`
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(torn)
	f.Close()

	log, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("line %d: ignored a torn last line (%d bytes): the run stopped mid-write", n+1, len(torn))
	if len(log.Events) != n || log.Torn != len(torn) || !slices.Equal(log.Warnings, []string{want}) {
		t.Errorf("%d events, torn %d, warnings %q; want %d, %d, %q", len(log.Events), log.Torn, log.Warnings, n, len(torn), want)
	}
	if err := log.VerifyChain(); err != nil {
		t.Errorf("VerifyChain: %v", err)
	}
	// Appending cuts the torn bytes first, so the file stays well formed.
	j, _, err := OpenJournal(state, log.RunID, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(Event{Type: EventRunInterrupted}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	log, err = ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(log.Events) != n+1 || log.Torn != 0 || log.Warnings != nil || log.VerifyChain() != nil {
		t.Errorf("after append: %d events, torn %d, warnings %q, chain %v", len(log.Events), log.Torn, log.Warnings, log.VerifyChain())
	}
}

func TestJournalAcceptsACompleteLastLineWithoutItsNewline(t *testing.T) {
	reg := fakeRegistry()
	state := t.TempDir()
	path, _ := runJournaled(t, state, newWorld(), testPlan(t, reg, ts{id: "a"}))
	data, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.TrimSuffix(data, []byte("\n")), 0o600)
	j, log, err := OpenJournal(state, goldenRunIDOf(t, path), false)
	if err != nil {
		t.Fatal(err)
	}
	if log.Warnings != nil || log.Outcome() != OutcomeContained {
		t.Errorf("warnings %q, outcome %s", log.Warnings, log.Outcome())
	}
	if _, err := j.Append(Event{Type: EventRunInterrupted}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	log, err = ReadJournal(path)
	if err != nil || log.VerifyChain() != nil || len(log.Events) != len(lines(t, path)) {
		t.Errorf("after append: %v, chain %v", err, log.VerifyChain())
	}
}

func goldenRunIDOf(t *testing.T, path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".jsonl")
}

func TestJournalRefusesWhatIsNotAJournal(t *testing.T) {
	dir := t.TempDir()
	good := `{"seq":1,"time":"2025-01-02T03:04:05Z","type":"run_started","prev":"","run_id":"` + goldenRunID + `","run":{"runbook":"x","file":"","digest":"","policy_digest":"","subject":{"ref":""},"environment":{"name":"","kind":"","protected":null},"request":{"requested_by":"","reason":"","allow_protected":false},"steps":null}}`
	for _, tc := range []struct {
		name, data, want string
	}{
		{"an empty file", "", "journal PATH holds no complete event"},
		{"only a torn line", `{"seq":1,"ti`, "journal PATH holds no complete event"},
		{"a bad line before the last", good + "\nnot json\n" + good + "\n", "PATH:2: not a journal event: invalid character 'o' in literal null (expecting 'u')"},
		{"a line without a type", good + "\n{\"seq\":2}\n" + good + "\n", "PATH:2: not a journal event: no event type"},
		{"a first event that is not run_started", `{"seq":1,"type":"step_started","prev":""}` + "\n", "PATH:1: the first event is step_started, want run_started with the run's record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".jsonl")
			os.WriteFile(path, []byte(tc.data), 0o600)
			_, err := ReadJournal(path)
			if want := strings.ReplaceAll(tc.want, "PATH", path); err == nil || err.Error() != want {
				t.Errorf("err %v, want %q", err, want)
			}
		})
	}
}

func TestJournalAppendIsSafeForConcurrentUse(t *testing.T) {
	state := t.TempDir()
	j := newJournal(t, state)
	if _, err := j.Append(Event{Type: EventRunStarted, RunID: j.RunID(), Run: &RunRecord{Runbook: "x"}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			if _, err := j.Append(Event{Type: EventStepProgress, Step: fmt.Sprintf("s%d", i), Message: "m"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	j.Close()
	log, err := ReadJournal(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(log.Events) != 41 || log.VerifyChain() != nil {
		t.Errorf("%d events, chain %v", len(log.Events), log.VerifyChain())
	}
	if _, err := j.Append(Event{Type: EventRunFinished}); err == nil || !strings.Contains(err.Error(), "is closed") {
		t.Errorf("append after close: %v", err)
	}
}

func TestJournalHoldsNoSecret(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	w.sc("a").twoPhase = true
	state := t.TempDir()
	j := newJournal(t, state)
	x, _ := testExecutor(w, j)
	x.Conns["fake"] = &fakeConn{w: w, password: fakeSecret}
	plan := testPlan(t, reg, ts{id: "a"}, ts{id: "b"})
	res, err := x.Run(t.Context(), plan)
	if err != nil || res.Outcome != OutcomeContained {
		t.Fatalf("%v %v", res, err)
	}
	text := journalText(t, j.Path())
	if strings.Contains(text, fakeSecret) {
		t.Errorf("the journal holds the secret:\n%s", text)
	}
	for _, want := range []string{`"password":"[redacted]"`, `"message":"first half done"`, `"user":"adele@contoso.com"`} {
		if !strings.Contains(text, want) {
			t.Errorf("journal lacks %s:\n%s", want, text)
		}
	}
}

func TestJournalDetailsAreRedactedAndEncodable(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]any
		want string
	}{
		{"secret-looking keys are redacted, counts kept",
			map[string]any{"new_password": fakeSecret, "passwords": 2, "accessToken": fakeSecret, "ClientSecret": fakeSecret,
				"nested": map[string]any{"refresh_token": fakeSecret, "pwdLastSet": "2025-01-02"},
				"list":   []any{map[string]any{"apiKey": fakeSecret}}},
			`{"ClientSecret":"[redacted]","accessToken":"[redacted]","list":[{"apiKey":"[redacted]"}],"nested":{"pwdLastSet":"2025-01-02","refresh_token":"[redacted]"},"new_password":"[redacted]","passwords":2}`},
		{"unencodable details are replaced by a note",
			map[string]any{"ch": make(chan int)},
			`{"unencodable":"the step's details could not be journaled: json: unsupported type: chan int"}`},
		{"no details", nil, `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jsonString(safeDetails(tc.in))
			if err != nil || got != tc.want {
				t.Errorf("got %s (%v)\nwant %s", got, err, tc.want)
			}
		})
	}
}

func TestJournalRecordsTheFullPlan(t *testing.T) {
	reg := fakeRegistry()
	plan := testPlan(t, reg,
		ts{id: "a", onError: Continue, attempts: 3, maxWait: 2 * time.Minute, timeout: time.Minute},
		ts{id: "b", needs: []string{"a"}, skip: "cloud-only"})
	plan.Steps[0].With["times"] = 2
	plan.Request.ApprovedBy, plan.Request.AllowProtected = "ciso", true
	path, _ := runJournaled(t, t.TempDir(), newWorld(), plan)
	log, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := jsonString(log.Record())
	want := `{"runbook":"test","scenario":"test","file":"test.yaml","digest":"rb-digest-1","policy_digest":"policy-digest-1",` +
		`"subject":{"ref":"adele@contoso.com","facts":{"fake":{"enabled":true,"id":"42","password":"[redacted]"}}},` +
		`"environment":{"name":"test-env","kind":"hybrid","protected":["breakglass@contoso.com"]},` +
		`"request":{"requested_by":"soc-oncall","reason":"INC-4711","ticket":"T-1","approved_by":"ciso","allow_protected":true},` +
		`"steps":[{"id":"a","uses":"fake.act","run":true,"with":{"grace":"5s","times":2},"on_error":"continue","retry":{"attempts":3,"max_wait":"2m0s"},"timeout":"1m0s"},` +
		`{"id":"b","uses":"fake.act","run":false,"reason":"cloud-only","with":{"grace":"5s","times":1},"needs":["a"],"on_error":"block","retry":{"attempts":5,"max_wait":"30s"},"timeout":"2m0s"}]}`
	if got != want {
		t.Errorf("run record\n got %s\nwant %s", got, want)
	}
}

func TestJournalListRuns(t *testing.T) {
	reg := fakeRegistry()
	state := t.TempDir()
	if runs, err := ListRuns(state); err != nil || runs != nil {
		t.Errorf("no runs folder: %v, %v", runs, err)
	}
	finished, _ := runJournaled(t, state, newWorld(), testPlan(t, reg, ts{id: "a"}))
	time.Sleep(2 * time.Millisecond) // ULIDs order by millisecond
	interrupted := cancelledRun(t, state, newWorld(), reg)
	bad := filepath.Join(runsDir(state), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ.jsonl")
	os.WriteFile(bad, []byte("garbage\n"), 0o600)
	os.WriteFile(filepath.Join(runsDir(state), "notes.txt"), []byte("not a run"), 0o600)

	runs, err := ListRuns(state)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range runs {
		got = append(got, fmt.Sprintf("%s %s %s %s %s %s", filepath.Base(r.Path), r.Runbook, r.Subject, r.RequestedBy, r.Outcome, r.Problem))
		if r.Problem == "" && (r.Started.IsZero() || r.Ended.Before(r.Started)) {
			t.Errorf("%s: started %s ended %s", r.ID, r.Started, r.Ended)
		}
	}
	want := []string{
		filepath.Base(finished) + " test adele@contoso.com soc-oncall contained ",
		filepath.Base(interrupted) + " test adele@contoso.com soc-oncall interrupted ",
		"7ZZZZZZZZZZZZZZZZZZZZZZZZZ.jsonl     " + bad + ":1: not a journal event: invalid character 'g' looking for beginning of value",
	}
	if !slices.Equal(got, want) {
		t.Errorf("runs\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// cancelledRun runs a and b (b needs a) and cancels the run once a's Apply
// reported its first half: a is interrupted, b never starts.
func cancelledRun(t *testing.T, state string, w *world, reg *steps.Registry) string {
	t.Helper()
	w.sc("a").twoPhase, w.sc("a").hangAfterHalf = true, true
	j := newJournal(t, state)
	x, _ := testExecutor(w, j)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	x.OnEvent = func(ev Event) {
		if ev.Type == EventStepProgress {
			cancel()
		}
	}
	res, err := x.Run(ctx, testPlan(t, reg, ts{id: "a"}, ts{id: "b", needs: []string{"a"}}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeCancelled {
		t.Fatalf("outcome %s, want cancelled", res.Outcome)
	}
	j.Close()
	return j.Path()
}

// TestJournalGolden pins the journal format: a run with a fixed clock and
// run id must write testdata/journal/interrupted.jsonl byte for byte.
// Regenerate with -update-journal after a deliberate format change.
func TestJournalGolden(t *testing.T) {
	state := t.TempDir()
	path := goldenRun(t, state)
	got := journalText(t, path)
	golden := filepath.Join("testdata", "journal", "interrupted.jsonl")
	if *updateJournal {
		os.MkdirAll(filepath.Dir(golden), 0o755)
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("journal differs from %s (rerun with -update-journal if deliberate)\n got:\n%s\nwant:\n%s", golden, got, want)
	}
	// The seal is pinned too: its slots name the last two lines.
	gotSeal, err := os.ReadFile(sealPath(path))
	if err != nil {
		t.Fatal(err)
	}
	goldenSeal := filepath.Join("testdata", "journal", "interrupted.seal")
	if *updateJournal {
		if err := os.WriteFile(goldenSeal, gotSeal, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantSeal, err := os.ReadFile(goldenSeal)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotSeal, wantSeal) {
		t.Errorf("seal differs from %s (rerun with -update-journal if deliberate)\n got:\n%s\nwant:\n%s", goldenSeal, gotSeal, wantSeal)
	}
	log, err := ReadJournal(golden)
	if err != nil {
		t.Fatal(err)
	}
	if err := log.Verify(); err != nil || log.SealedAt() != len(log.Events) {
		t.Errorf("golden journal: %v, sealed at line %d of %d", err, log.SealedAt(), len(log.Events))
	}
}

// goldenRun writes the golden journal's run: a warning, a skipped step, a
// retried attempt, a satisfied step, a failure that continues, progress,
// then a cancellation mid-Apply.
func goldenRun(t *testing.T, state string) string {
	t.Helper()
	reg, w := fakeRegistry(), newWorld()
	w.applied["revoke"] = true
	w.sc("disable").applyErrs = []error{steps.RetryableAfter(errors.New("429 too many requests"), 2*time.Second)}
	w.sc("notify").applyErrs = []error{steps.ForbiddenNeeding(errors.New("insufficient privileges"), "Mail.Send")}
	w.sc("reset").twoPhase, w.sc("reset").hangAfterHalf = true, true
	plan := testPlan(t, reg,
		ts{id: "disable"},
		ts{id: "revoke"},
		ts{id: "ad", skip: "cloud-only environment"},
		ts{id: "notify", uses: "fake.other", onError: Continue},
		ts{id: "reset", needs: []string{"disable", "ad"}},
		ts{id: "confirm", needs: []string{"reset", "notify"}})
	plan.Warn = []string{"a synced subject's cloud block is undone by the next sync"}
	plan.Runbook.Digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	plan.PolicyDigest = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
	j, err := CreateJournal(state, goldenRunID)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	x, _ := testExecutor(w, j)
	x.MaxParallel = 1
	clock := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	x.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(250 * time.Millisecond)
		return clock
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	x.OnEvent = func(ev Event) {
		if ev.Type == EventStepProgress {
			cancel()
		}
	}
	res, err := x.Run(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeCancelled {
		t.Fatalf("outcome %s", res.Outcome)
	}
	return j.Path()
}

// jsonString renders v as compact JSON, as the journal does.
func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// chainedLine is a well-formed next line for ls, as a writer that bypasses
// the seal would append it.
func chainedLine(t *testing.T, ls [][]byte, typ EventType) []byte {
	t.Helper()
	b, err := json.Marshal(Event{Seq: len(ls) + 1, Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Type: typ, Prev: digest(ls[len(ls)-1])})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The seal finds what the chain cannot: lines cut from the end and an
// edited last line. A journal one line past its seal (a crash between the
// line's fsync and the seal's) is accepted; resuming an untrusted journal
// is refused and changes nothing, unless forced.
func TestJournalSealFindsACutTailAndAnEditedLastLine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, path string, ls [][]byte) [][]byte
		// want is VerifySeal's error with n standing for the journal's
		// line count before tampering; "" when it must pass.
		want string
	}{
		{name: "an intact journal passes",
			tamper: func(t *testing.T, path string, ls [][]byte) [][]byte { return ls }},
		{name: "the last line cut off",
			tamper: func(t *testing.T, path string, ls [][]byte) [][]byte { return ls[:len(ls)-1] },
			want:   "the journal ends at line {n-1}, but its seal records line {n}: lines were cut from its end"},
		{name: "the last three lines cut off",
			tamper: func(t *testing.T, path string, ls [][]byte) [][]byte { return ls[:len(ls)-3] },
			want:   "the journal ends at line {n-3}, but its seal records line {n}: lines were cut from its end"},
		{name: "an edited last line, which the chain cannot see",
			tamper: func(t *testing.T, path string, ls [][]byte) [][]byte {
				last := ls[len(ls)-1]
				ls[len(ls)-1] = bytes.Replace(last, []byte(`"type":"run_finished"`), []byte(`"type":"run_interrupted"`), 1)
				if bytes.Equal(last, ls[len(ls)-1]) {
					t.Fatalf("the last line is not run_finished: %s", last)
				}
				return ls
			},
			want: "line {n} is not the line its seal records: it was edited"},
		{name: "one line past the seal, as a crash between the fsyncs leaves it",
			tamper: func(t *testing.T, path string, ls [][]byte) [][]byte {
				return append(ls, chainedLine(t, ls, EventRunInterrupted))
			}},
		{name: "two lines past the seal",
			tamper: func(t *testing.T, path string, ls [][]byte) [][]byte {
				ls = append(ls, chainedLine(t, ls, EventRunInterrupted))
				return append(ls, chainedLine(t, ls, EventRunInterrupted))
			},
			want: "the journal goes on 2 lines past line {n}, the last its seal records: lines were added after it was sealed"},
		{name: "a torn seal slot falls back to the line before, which the journal is one past",
			tamper: func(t *testing.T, path string, ls [][]byte) [][]byte {
				f, err := os.OpenFile(sealPath(path), os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if _, err := f.WriteAt([]byte("revoke-seal-1 seq=00"), int64(len(ls)%2*sealSlotLen)); err != nil {
					t.Fatal(err)
				}
				return ls
			}},
		{name: "a removed seal",
			tamper: func(t *testing.T, path string, ls [][]byte) [][]byte {
				if err := os.Remove(sealPath(path)); err != nil {
					t.Fatal(err)
				}
				return ls
			},
			want: "no seal beside the journal ({seal}): whether lines were cut from its end cannot be told"},
		{name: "a seal with no readable slot",
			tamper: func(t *testing.T, path string, ls [][]byte) [][]byte {
				if err := os.WriteFile(sealPath(path), bytes.Repeat([]byte("x"), 2*sealSlotLen), 0o600); err != nil {
					t.Fatal(err)
				}
				return ls
			},
			want: "its seal {seal} holds no readable record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := fakeRegistry()
			state := t.TempDir()
			path, _ := runJournaled(t, state, newWorld(), testPlan(t, reg, ts{id: "a"}, ts{id: "b"}))
			ls := lines(t, path)
			n := len(ls)
			writeLines(t, path, tc.tamper(t, path, ls))
			want := strings.NewReplacer("{n}", fmt.Sprint(n), "{n-1}", fmt.Sprint(n-1), "{n-3}", fmt.Sprint(n-3),
				"{seal}", sealPath(path)).Replace(tc.want)
			log, err := ReadJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := log.VerifyChain(); err != nil {
				t.Fatalf("the chain alone must not see this: %v", err)
			}
			err = log.Verify()
			if got := fmt.Sprint(err); tc.want == "" && err != nil || tc.want != "" && got != want {
				t.Fatalf("Verify: %v, want %q", err, want)
			}
			before, _ := os.ReadFile(path)
			j, _, err := OpenJournal(state, log.RunID, false)
			if err == nil {
				j.Close()
			}
			if tc.want != "" {
				wantOpen := "journal " + path + ": " + want + "; it cannot be trusted: refusing to resume it unless forced"
				if err == nil || err.Error() != wantOpen || steps.ClassOf(err) != steps.Invalid {
					t.Errorf("OpenJournal: %v, want %q", err, wantOpen)
				}
				if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
					t.Error("the refused open changed the journal")
				}
			}
			// Forced but let go before a line is written (a resume refused
			// for another reason), the journal is as untrusted as before.
			if tc.want != "" {
				j, _, err := OpenJournal(state, log.RunID, true)
				if err != nil {
					t.Fatal(err)
				}
				j.Close()
				again, err := ReadJournal(path)
				if err != nil || fmt.Sprint(again.Verify()) != want {
					t.Errorf("after a forced open with no line written: %v, %v; want %q", err, again.Verify(), want)
				}
			}
			// Forced (or trusted), the journal goes on and is sealed with
			// its next line; the override is a warning, which run_resumed
			// notes.
			j, log, err = OpenJournal(state, log.RunID, true)
			if err != nil {
				t.Fatal(err)
			}
			var wantWarn []string
			if tc.want != "" {
				wantWarn = []string{"forced: " + want + "; the journal was resumed as it is and sealed again"}
			}
			if !slices.Equal(log.Warnings, wantWarn) {
				t.Errorf("warnings %q, want %q", log.Warnings, wantWarn)
			}
			if _, err := j.Append(Event{Type: EventRunInterrupted}); err != nil {
				t.Fatal(err)
			}
			j.Close()
			after, err := ReadJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := after.Verify(); err != nil || after.SealedAt() != len(after.Events) {
				t.Errorf("after the forced append: %v, sealed at %d of %d lines", err, after.SealedAt(), len(after.Events))
			}
		})
	}
}

// Every line is sealed as it is appended: the seal always records the last
// line, so a journal read at any point of a run verifies.
func TestJournalSealsEveryLine(t *testing.T) {
	state := t.TempDir()
	j, err := CreateJournal(state, goldenRunID)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if fi, err := os.Stat(sealPath(j.Path())); err != nil || fi.Mode() != 0o600 || fi.Size() != 2*int64(sealSlotLen) {
		t.Fatalf("seal of a new journal: %v %v", fi, err)
	}
	for k := 1; k <= 5; k++ {
		ev := Event{Type: EventStepProgress, Step: "a", Message: "m"}
		if k == 1 {
			ev = Event{Type: EventRunStarted, RunID: goldenRunID, Run: &RunRecord{Runbook: "x"}}
		}
		if _, err := j.Append(ev); err != nil {
			t.Fatal(err)
		}
		log, err := ReadJournal(j.Path())
		if err != nil {
			t.Fatal(err)
		}
		if err := log.Verify(); err != nil || log.SealedAt() != k {
			t.Errorf("after line %d: %v, sealed at %d", k, err, log.SealedAt())
		}
	}
}

// show and resume answer an unknown run alike: ReadRun says what
// OpenJournal says, with the same class.
func TestReadRunOfAnUnknownRun(t *testing.T) {
	state := t.TempDir()
	want := "no run " + goldenRunID + " in " + state
	if _, err := ReadRun(state, goldenRunID); err == nil || err.Error() != want || steps.ClassOf(err) != steps.NotFound {
		t.Errorf("ReadRun: %v, want NotFound %q", err, want)
	}
	if _, _, err := OpenJournal(state, goldenRunID, false); err == nil || err.Error() != want || steps.ClassOf(err) != steps.NotFound {
		t.Errorf("OpenJournal: %v, want NotFound %q", err, want)
	}
}

// A journal created and left before its first line was written whole (a
// kill between the two) is discarded, seal and all, so its run can start
// afresh; one that records its run, or that another process holds, is
// not.
func TestDiscardUnstarted(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		discarded     bool
	}{
		{"no line", "", true},
		{"a torn first line", `{"seq":1,"ti`, true},
		{"a run that started", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			j, err := CreateJournal(state, goldenRunID)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.discarded {
				if _, err := j.Append(Event{Type: EventRunStarted, Run: &RunRecord{Runbook: "test"}}); err != nil {
					t.Fatal(err)
				}
			}
			path, _ := RunPath(state, goldenRunID)
			if tc.content != "" {
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := ReadJournal(path); tc.discarded != errors.Is(err, ErrNoEvent) {
				t.Fatalf("ReadJournal: %v", err)
			}
			if runtime.GOOS != "plan9" && runtime.GOOS != "js" && runtime.GOOS != "wasip1" {
				if err := DiscardUnstarted(state, goldenRunID); err == nil || err.Error() != "run "+goldenRunID+" is in use by another revoke process" {
					t.Errorf("discard while held: %v", err)
				}
			}
			j.Close()
			err = DiscardUnstarted(state, goldenRunID)
			_, statErr := os.Stat(path)
			_, sealErr := os.Stat(sealPath(path))
			if tc.discarded {
				if err != nil || !errors.Is(statErr, fs.ErrNotExist) || !errors.Is(sealErr, fs.ErrNotExist) {
					t.Errorf("discard: %v; journal %v, seal %v, want both gone", err, statErr, sealErr)
				}
				if j, err := CreateJournal(state, goldenRunID); err != nil {
					t.Errorf("the run cannot start afresh: %v", err)
				} else {
					j.Close()
				}
				return
			}
			if want := "journal " + path + " records its run: not discarded (<nil>)"; err == nil || err.Error() != want || statErr != nil {
				t.Errorf("discard: %v (journal %v)\nwant %s, the journal kept", err, statErr, want)
			}
		})
	}
}

// A journal cut to nothing while its seal records lines is not a run that
// never started: it is neither discarded nor opened as one.
func TestDiscardUnstartedRefusesACutJournal(t *testing.T) {
	state := t.TempDir()
	startedJournal(t, state).Close()
	path, _ := RunPath(state, goldenRunID)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	want := "journal " + path + " holds no complete event, but its seal records 1 lines: it was cut, and cannot be trusted"
	if err := DiscardUnstarted(state, goldenRunID); err == nil || err.Error() != want {
		t.Errorf("discard: %v\nwant %s", err, want)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the cut journal is gone: %v", err)
	}
	if _, _, err := OpenJournal(state, goldenRunID, false); err == nil || err.Error() != want || errors.Is(err, ErrNoEvent) {
		t.Errorf("open: %v\nwant %s", err, want)
	}
}

// A journal discarded between its creation and its lock (another process
// found it empty and took it for a run that never started) is not written
// to: CreateJournal sees the file at the path is no longer its own.
func TestIsAt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !isAt(f, path) {
		t.Error("a file is not at its own path")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if isAt(f, path) {
		t.Error("a removed file is still at its path")
	}
	g, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	if isAt(f, path) {
		t.Error("another file at the path is taken for this one")
	}
}

// RunStarted: no journal, or one killed before its first line (then
// discarded), is a run to start; a journal with lines is one to resume; a
// cut one is neither, and says so.
func TestRunStarted(t *testing.T) {
	state := t.TempDir()
	path, _ := RunPath(state, goldenRunID)
	if started, err := RunStarted(state, goldenRunID); started || err != nil {
		t.Errorf("no journal: %v %v", started, err)
	}
	j, err := CreateJournal(state, goldenRunID)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if started, err := RunStarted(state, goldenRunID); started || err != nil {
		t.Errorf("a journal without a line: %v %v", started, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the journal without a line was kept: %v", err)
	}
	startedJournal(t, state).Close()
	if started, err := RunStarted(state, goldenRunID); !started || err != nil {
		t.Errorf("a started run: %v %v", started, err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	if started, err := RunStarted(state, goldenRunID); !started || err == nil {
		t.Errorf("a cut journal: %v %v, want it neither started afresh nor silent", started, err)
	}
}

// startedJournal creates run goldenRunID's journal in state with its
// run_started line, open.
func startedJournal(t *testing.T, state string) *Journal {
	t.Helper()
	j, err := CreateJournal(state, goldenRunID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(Event{Type: EventRunStarted, Run: &RunRecord{Runbook: "test"}}); err != nil {
		t.Fatal(err)
	}
	return j
}
