package main

// Fault tests: the sandbox throttles, fails, drops connections, restarts
// its LDAP server and slows down while `revoke run --env` works against it,
// and the run must retry what is retryable, honour Retry-After, time out
// slow steps, and name missing permissions.

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
)

// when runs action once, as soon as the tenant's request log holds an entry
// match accepts, and returns a channel closed after action returned. The
// watcher stops with the test.
func (e *e2eEnv) when(t *testing.T, match func(sandbox.Entry) bool, action func()) <-chan struct{} {
	t.Helper()
	return e.whenLog(t, func(log []sandbox.Entry) bool { return slices.ContainsFunc(log, match) }, action)
}

// whenLog is when for a condition on the whole request log.
func (e *e2eEnv) whenLog(t *testing.T, cond func([]sandbox.Entry) bool, action func()) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if cond(e.tenant.Log().Entries()) {
				action()
				close(done)
				return
			}
		}
	}()
	return done
}

// fired reports whether a when's action has run.
func fired(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// stepStatuses maps each step of the journal to how it ended.
func stepStatuses(log *engine.JournalLog) map[string]engine.EventType {
	out := map[string]engine.EventType{}
	for _, ev := range log.Events {
		switch ev.Type {
		case engine.EventStepSucceeded, engine.EventStepSatisfied, engine.EventStepFailed, engine.EventStepBlocked:
			out[ev.Step] = ev.Type
		}
	}
	return out
}

// requests are the logged requests with this method whose path has prefix.
func requests(entries []sandbox.Entry, method, prefix string) []sandbox.Entry {
	var out []sandbox.Entry
	for _, e := range entries {
		if e.Protocol == "graph" && e.Method == method && strings.HasPrefix(e.Path, prefix) {
			out = append(out, e)
		}
	}
	return out
}

func statuses(entries []sandbox.Entry) []int {
	var out []int
	for _, e := range entries {
		out = append(out, e.Status)
	}
	return out
}

// runOK runs compromised on Adele and fails the test unless it succeeded;
// it returns the run's journal.
func (e *e2eEnv) runOK(t *testing.T, extra ...string) *engine.JournalLog {
	t.Helper()
	args := append([]string{"run", "compromised", "--user", "adele@contoso.test", "--yes"}, extra...)
	stdout, stderr, code := e.cli(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nrequests:\n%s", code, stdout, stderr, fmtEntries(e.tenant.Log().Entries()))
	}
	log := e.journal(t, e.onlyRun(t))
	if got := finished(log); got != engine.OutcomeContained {
		t.Fatalf("outcome %q", got)
	}
	return log
}

func TestFaultThrottledWithRetryAfter(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{Faults: []sandbox.FaultRule{
		{Path: "/v1.0/users/", Method: "PATCH", Nth: 1, Status: 429, RetryAfter: 2 * time.Second},
	}})
	log := e.runOK(t)

	attempts := stepEvents(log, engine.EventStepAttempt, "disable-entra-user")
	if len(attempts) != 1 {
		t.Fatalf("step_attempt events %+v, want one", attempts)
	}
	a := attempts[0]
	if a.Phase != "apply" || a.Attempt != 1 || a.Class != "retryable" || time.Duration(a.RetryWait) < 2*time.Second {
		t.Errorf("step_attempt phase=%s attempt=%d class=%s retry_wait=%s, want apply 1 retryable ≥2s (the Retry-After)",
			a.Phase, a.Attempt, a.Class, time.Duration(a.RetryWait))
	}
	if !strings.Contains(a.Error, "429") {
		t.Errorf("step_attempt error %q does not say 429", a.Error)
	}
	ok := stepEvents(log, engine.EventStepSucceeded, "disable-entra-user")
	if len(ok) != 1 || ok[0].Attempt != 2 {
		t.Errorf("step_succeeded %+v, want one after 2 Apply calls", ok)
	}
	// The request log shows the wait was honoured: the retried PATCH was
	// sent at least 2s after the throttled one was answered.
	patches := requests(e.tenant.Log().Entries(), "PATCH", "/v1.0/users/"+adeleID)
	if got := statuses(patches); !slices.Equal(got, []int{429, 204}) {
		t.Fatalf("PATCH statuses %v, want [429 204]", got)
	}
	if gap := patches[1].Time.Sub(patches[0].Time); gap < 2*time.Second {
		t.Errorf("the retry came %s after the 429, before its Retry-After of 2s", gap)
	}
}

func TestFaultBurstOf503s(t *testing.T) {
	// Every matching rule counts a request, so these fail the first three
	// revokeSignInSessions calls and let the fourth through.
	path := "/v1.0/users/" + adeleID + "/revokeSignInSessions"
	var rules []sandbox.FaultRule
	for n := 1; n <= 3; n++ {
		rules = append(rules, sandbox.FaultRule{Path: path, Method: "POST", Nth: n, Status: 503})
	}
	e := newE2E(t, nil, sandbox.Options{Faults: rules})
	// Short waits: a custom copy of the steps with a 200ms backoff ceiling.
	dir := writeFiles(t, map[string]string{"burst.yaml": `version: 1
name: burst
scenario: compromised
steps:
  - id: disable-entra-user
    uses: entra.disable_user
  - id: disable-ad-account
    uses: ad.disable_account
  - id: reset-ad-password
    uses: ad.reset_password
    needs: [disable-ad-account]
    with: {times: 2}
  - id: revoke-sessions
    uses: entra.revoke_sessions
    needs: [disable-entra-user, reset-ad-password]
    retry: {attempts: 5, max_wait: 200ms}
`})
	stdout, stderr, code := e.cli(t, "run", "burst", "--runbooks", dir, "--user", "adele@contoso.test", "--yes")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	log := e.journal(t, e.onlyRun(t))
	attempts := stepEvents(log, engine.EventStepAttempt, "revoke-sessions")
	if len(attempts) != 3 {
		t.Fatalf("%d step_attempt events, want 3: %+v", len(attempts), attempts)
	}
	for i, a := range attempts {
		if a.Phase != "apply" || a.Attempt != i+1 || a.Class != "retryable" || a.RetryWait <= 0 ||
			time.Duration(a.RetryWait) > 200*time.Millisecond || !strings.Contains(a.Error, "503") {
			t.Errorf("attempt %d: phase=%s attempt=%d class=%s wait=%s error=%q", i+1, a.Phase, a.Attempt, a.Class,
				time.Duration(a.RetryWait), a.Error)
		}
	}
	ok := stepEvents(log, engine.EventStepSucceeded, "revoke-sessions")
	if len(ok) != 1 || ok[0].Attempt != 4 {
		t.Errorf("step_succeeded %+v, want one after 4 Apply calls", ok)
	}
	if got := statuses(requests(e.tenant.Log().Entries(), "POST", path)); !slices.Equal(got, []int{503, 503, 503, 200}) {
		t.Errorf("revokeSignInSessions statuses %v, want [503 503 503 200]", got)
	}
}

func TestFaultGraphConnectionReset(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{Faults: []sandbox.FaultRule{
		{Path: "/v1.0/users/*/revokeSignInSessions", Method: "POST", Nth: 1, Reset: true},
		{Path: "/v1.0/devices/", Method: "PATCH", Nth: 1, Reset: true},
	}})
	log := e.runOK(t)
	for _, tt := range []struct{ step, method, path string }{
		{"revoke-sessions", "POST", "/v1.0/users/" + adeleID + "/revokeSignInSessions"},
		{"disable-devices", "PATCH", "/v1.0/devices/0d1e2f30-4a5b-4c6d-8e7f-9a0b1c2d3e03"},
	} {
		attempts := stepEvents(log, engine.EventStepAttempt, tt.step)
		if len(attempts) != 1 || attempts[0].Class != "retryable" || attempts[0].Phase != "apply" {
			t.Errorf("%s: step_attempt events %+v, want one retryable apply", tt.step, attempts)
		}
		if got := statuses(requests(e.tenant.Log().Entries(), tt.method, tt.path)); !slices.Equal(got, []int{0, map[string]int{"POST": 200, "PATCH": 204}[tt.method]}) {
			t.Errorf("%s: statuses %v, want the reset (0) then success", tt.step, got)
		}
	}
	adeleWrites(t, successful(e.tenant.Log().Entries()))
}

// successful drops the requests the sandbox failed on purpose.
func successful(entries []sandbox.Entry) []sandbox.Entry {
	var out []sandbox.Entry
	for _, e := range entries {
		if !strings.HasPrefix(e.Detail, "fault injected") {
			out = append(out, e)
		}
	}
	return out
}

// afterUACModify matches the LDAP modify that disables Adele's account.
func afterUACModify(en sandbox.Entry) bool {
	return en.Protocol == "ldap" && en.Method == "modify" && en.Path == adeleDN && en.Detail == "delete userAccountControl, add userAccountControl"
}

// withoutResend drops a password replace that was resent after the
// connection dropped before its answer came: the client sends the very
// same request again on the new connection (the same password, so one
// new password, not two). It is recognised as a replace followed by a
// bind and then another replace of the same account.
func withoutResend(t *testing.T, entries []sandbox.Entry) []sandbox.Entry {
	t.Helper()
	isReset := func(e sandbox.Entry) bool {
		return e.Protocol == "ldap" && e.Method == "modify" && e.Detail == "replace unicodePwd" && e.Status == 0
	}
	for i, e := range entries {
		if !isReset(e) {
			continue
		}
		for k := i + 1; k < len(entries); k++ {
			if entries[k].Protocol != "ldap" {
				continue
			}
			if entries[k].Method == "bind" {
				for m := k + 1; m < len(entries); m++ {
					if entries[m].Protocol == "ldap" && entries[m].Method != "bind" {
						if isReset(entries[m]) && entries[m].Path == e.Path {
							t.Logf("resent after the reconnect: %s %s", e.Method, e.Detail)
							return append(append([]sandbox.Entry(nil), entries[:i]...), entries[i+1:]...)
						}
						break
					}
				}
			}
			break
		}
	}
	return entries
}

func TestFaultLDAPMidRun(t *testing.T) {
	tests := []struct {
		name   string
		action func(*sandbox.Tenant)
	}{
		{"connections dropped", func(tn *sandbox.Tenant) { tn.DropLDAPConnections() }},
		{"server restarted", func(tn *sandbox.Tenant) {
			if err := tn.RestartLDAP(); err != nil {
				panic(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newE2E(t, nil, sandbox.Options{})
			// Slow LDAP makes the run wait on the server between the
			// disable and the resets, where the fault lands.
			e.tenant.LDAP().SetLatency(150*time.Millisecond, 0)
			hit := e.when(t, afterUACModify, func() {
				time.Sleep(50 * time.Millisecond) // the modify's answer is out
				tt.action(e.tenant)
			})
			log := e.runOK(t)
			if !fired(hit) {
				t.Fatal("the fault never fired")
			}
			st := stepStatuses(log)
			if st["disable-ad-account"] != engine.EventStepSucceeded || st["reset-ad-password"] != engine.EventStepSucceeded {
				t.Errorf("AD steps ended %v", st)
			}
			entries := e.tenant.Log().Entries()
			binds := count(entries, func(en sandbox.Entry) bool {
				return en.Protocol == "ldap" && en.Method == "bind" && en.Status == 0
			})
			if binds < 2 {
				t.Errorf("%d binds: the client never reconnected\n%s", binds, fmtEntries(entries))
			}
			adeleWrites(t, withoutResend(t, entries))
		})
	}
}

func TestFaultSlowStepTimesOut(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	dir := writeFiles(t, map[string]string{"slow.yaml": `version: 1
name: slow
steps:
  - id: disable-entra-user
    uses: entra.disable_user
    timeout: 1s
  - id: disable-devices
    uses: entra.disable_devices
    needs: [disable-entra-user]
  - id: revoke-sessions
    uses: entra.revoke_sessions
    needs: [disable-entra-user]
`})
	// Once the subject is resolved (the user, their roles and their apps
	// read, at once), every request takes 2s: longer than the step's whole
	// timeout.
	slow := e.whenLog(t, func(log []sandbox.Entry) bool {
		return count(log, func(en sandbox.Entry) bool {
			return en.Protocol == "graph" && strings.HasPrefix(en.Path, "/v1.0/users/adele%40contoso.test")
		}) == 3
	}, func() { e.tenant.SetLatency(2*time.Second, 0) })
	stdout, stderr, code := e.cli(t, "run", "slow", "--runbooks", dir, "--user", "adele@contoso.test", "--yes")
	if !fired(slow) {
		t.Fatal("the latency was never turned on")
	}
	if code != exitFailure {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	log := e.journal(t, e.onlyRun(t))
	failed := stepEvents(log, engine.EventStepFailed, "disable-entra-user")
	if len(failed) != 1 || !strings.Contains(failed[0].Error, "timed out after 1s") {
		t.Errorf("disable-entra-user failed %+v, want one saying it timed out after 1s", failed)
	}
	for _, step := range []string{"disable-devices", "revoke-sessions"} {
		b := stepEvents(log, engine.EventStepBlocked, step)
		if len(b) != 1 || b[0].BlockedBy != "disable-entra-user" {
			t.Errorf("%s: step_blocked %+v, want blocked by disable-entra-user", step, b)
		}
	}
	if got := finished(log); got != engine.OutcomeNotContained {
		t.Errorf("outcome %q", got)
	}
	if !strings.Contains(stdout, "failed      disable-entra-user") || !strings.Contains(stdout, "timed out after 1s") {
		t.Errorf("the summary does not show the timeout:\n%s", stdout)
	}
}

// readonlyEnv points the environment at the seed's revoke-readonly app.
func readonlyEnv(t *testing.T, e *e2eEnv) {
	t.Helper()
	var app sandbox.SeedApp
	for _, a := range e.seed.Apps {
		if a.Name == "revoke-readonly" {
			app = a
		}
	}
	e.editEnv(t, `client_id: "11111111-1111-1111-1111-111111111111"`, `client_id: "`+app.ClientID+`"`)
	writeSecret(t, e, "client-secret", app.Secret)
}

func TestFaultReadonlyAppFailsClosed(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	readonlyEnv(t, e)
	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", "adele@contoso.test", "--yes")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// Without the roles a subject holds, an administrator could not be
	// told from anyone else: resolution refuses rather than guess.
	want := "revoke: resolve adele@contoso.test in entra: entra: list directory roles of adele@contoso.test" +
		": Graph 403 Authorization_RequestDenied: Insufficient privileges to complete the operation. (needs RoleManagement.Read.Directory)\n"
	if stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
	}
	if w := writes(e.tenant.Log().Entries()); len(w) != 0 {
		t.Errorf("writes sent:\n%s", fmtEntries(w))
	}
}

func TestFaultPermanent403BlocksOnlyDependents(t *testing.T) {
	// revoke-readonly gets everything revoke has but User.EnableDisableAccount.All.
	seed := sandbox.DefaultSeed()
	for i := range seed.Apps {
		if seed.Apps[i].Name == "revoke-readonly" {
			seed.Apps[i].DirectoryRoles = seed.Apps[0].DirectoryRoles
			seed.Apps[i].Permissions = slices.DeleteFunc(slices.Clone(seed.Apps[0].Permissions),
				func(p string) bool { return p == "User.EnableDisableAccount.All" })
		}
	}
	e := newE2E(t, seed, sandbox.Options{})
	readonlyEnv(t, e)
	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", "adele@contoso.test", "--yes")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	log := e.journal(t, e.onlyRun(t))
	failed := stepEvents(log, engine.EventStepFailed, "disable-entra-user")
	if len(failed) != 1 || failed[0].Class != "forbidden" || failed[0].Permission != "User.EnableDisableAccount.All" ||
		!strings.Contains(failed[0].Error, "User.EnableDisableAccount.All") {
		t.Errorf("disable-entra-user failed %+v, want forbidden naming User.EnableDisableAccount.All", failed)
	}
	want := map[string]engine.EventType{
		"disable-entra-user":  engine.EventStepFailed,
		"disable-devices":     engine.EventStepBlocked,
		"revoke-sessions":     engine.EventStepBlocked,
		"disable-ad-account":  engine.EventStepSucceeded,
		"reset-ad-password":   engine.EventStepSucceeded,
		"confirm-compromised": engine.EventStepSucceeded,
		// The clean-up waits for the sessions' revocation.
		"remove-auth-methods": engine.EventStepBlocked,
		"remove-inbox-rules":  engine.EventStepBlocked,
		"revoke-consents":     engine.EventStepBlocked,
	}
	if got := stepStatuses(log); !maps.Equal(got, want) {
		t.Errorf("steps ended %v, want %v", got, want)
	}
	if got := finished(log); got != engine.OutcomeNotContained {
		t.Errorf("outcome %q", got)
	}
	if !strings.Contains(stdout, "User.EnableDisableAccount.All") {
		t.Errorf("the output does not name the missing permission:\n%s", stdout)
	}
	// A permanent refusal is not retried.
	if got := statuses(requests(e.tenant.Log().Entries(), "PATCH", "/v1.0/users/")); !slices.Equal(got, []int{403}) {
		t.Errorf("PATCH /users statuses %v, want one 403", got)
	}
}

// writeSecret replaces one of the environment's secret files.
func writeSecret(t *testing.T, e *e2eEnv, name, value string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, name), []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}
