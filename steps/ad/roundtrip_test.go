package ad

// Round trips of the containment chain's ad steps, pinned exactly from the
// sandbox's request log: a step that starts afresh takes what it may from
// the resolved facts (ad.disable_account writes from them, conditionally),
// and a resumed or retried one reads, as it must.

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

const adeleDN = "CN=Adele Vance,OU=Staff,DC=contoso,DC=test"

// The sandbox's log lines of the requests these steps make on adele.
const (
	opSearch     = "search " + adeleDN + ": scope=base filter=(&(objectCategory=person)(objectClass=user)) entries=1 (0)"
	opReplaceUAC = "modify " + adeleDN + ": replace userAccountControl (0)"
	opResetPwd   = "modify " + adeleDN + ": replace unicodePwd (0)"
	// The conditional disable (delete the resolved value, add it with
	// ACCOUNTDISABLE), taken and refused (noSuchAttribute: the value moved).
	opDisableIf        = "modify " + adeleDN + ": delete userAccountControl, add userAccountControl (0)"
	opDisableIfRefused = "modify " + adeleDN + ": delete userAccountControl, add userAccountControl (16)"
)

// during runs fn and returns the LDAP requests the sandbox logged
// meanwhile, as "method dn: detail (status)".
func (s *sandboxDC) during(fn func()) []string {
	s.tenant.Log().Reset()
	fn()
	out := []string{}
	for _, e := range s.tenant.Log().Entries() {
		if e.Protocol == "ldap" {
			out = append(out, fmt.Sprintf("%s %s: %s (%d)", e.Method, e.Path, e.Detail, e.Status))
		}
	}
	return out
}

// wantOps fails the test when a phase sent other requests than want.
func wantOps(t *testing.T, phase string, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s sent:\n  %s\nwant:\n  %s", phase, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// setUAC changes adele's userAccountControl behind revoke's back.
func (s *sandboxDC) setUAC(t *testing.T, uac int) {
	t.Helper()
	dir := s.tenant.Directory()
	dir.Lock()
	defer dir.Unlock()
	acc, _ := dir.ADAccountByDN(adeleDN)
	if acc == nil {
		t.Fatal("no adele in the sandbox")
	}
	acc.UserAccountControl = uac
}

func (s *sandboxDC) uac(t *testing.T) int {
	t.Helper()
	dir := s.tenant.Directory()
	dir.Lock()
	defer dir.Unlock()
	acc, _ := dir.ADAccountByDN(adeleDN)
	return acc.UserAccountControl
}

func TestDisableAccountRoundTrips(t *testing.T) {
	tests := []struct {
		name string
		// before adjusts the call (or the sandbox) after resolution;
		// meanwhile changes the sandbox between Check and Apply.
		before, meanwhile func(t *testing.T, s *sandboxDC, call *steps.Call)
		check             string
		satisfied         bool
		apply             string
		applySatisfied    bool
		checkOps          []string
		applyOps          []string
		verifyOps         []string
		uac               int
	}{
		{name: "fresh: one conditional modify, no search before it, none after",
			check: "userAccountControl: 512 → 514 (disabled)", checkOps: nil,
			applyOps: []string{opDisableIf},
			apply:    "userAccountControl: 512 → 514 (disabled)", verifyOps: nil, uac: 514},
		{name: "fresh, with the facts as the journal keeps them (float64)",
			before: func(t *testing.T, s *sandboxDC, call *steps.Call) { call.Subject = journaled(t, call.Subject) },
			check:  "userAccountControl: 512 → 514 (disabled)", checkOps: nil,
			applyOps: []string{opDisableIf},
			apply:    "userAccountControl: 512 → 514 (disabled)", verifyOps: nil, uac: 514},
		{name: "resumed: every phase reads",
			before: func(t *testing.T, s *sandboxDC, call *steps.Call) { call.Resumed = true },
			check:  "userAccountControl: 512 → 514 (disabled)", checkOps: []string{opSearch},
			applyOps: []string{opSearch, opReplaceUAC},
			apply:    "userAccountControl: 512 → 514 (disabled)", verifyOps: []string{opSearch}, uac: 514},
		{name: "changed between resolution and Apply: refused, read, replaced, the other bit kept",
			// DONT_EXPIRE_PASSWORD set by someone else after Check.
			meanwhile: func(t *testing.T, s *sandboxDC, call *steps.Call) { s.setUAC(t, 66048) },
			check:     "userAccountControl: 512 → 514 (disabled)", checkOps: nil,
			applyOps: []string{opDisableIfRefused, opSearch, opReplaceUAC},
			apply:    "userAccountControl: 66048 → 66050 (disabled)", verifyOps: []string{opSearch}, uac: 66050},
		{name: "disabled meanwhile: refused, Apply finds it done",
			meanwhile: func(t *testing.T, s *sandboxDC, call *steps.Call) { s.setUAC(t, 546) },
			check:     "userAccountControl: 512 → 514 (disabled)", checkOps: nil,
			applyOps: []string{opDisableIfRefused, opSearch},
			apply:    "already disabled", applySatisfied: true, verifyOps: []string{opSearch}, uac: 546},
		{name: "disabled meanwhile with the same bits: refused too (AD matches the whole value)",
			meanwhile: func(t *testing.T, s *sandboxDC, call *steps.Call) { s.setUAC(t, 514) },
			check:     "userAccountControl: 512 → 514 (disabled)", checkOps: nil,
			applyOps: []string{opDisableIfRefused, opSearch},
			apply:    "already disabled", applySatisfied: true, verifyOps: []string{opSearch}, uac: 514},
		{name: "resolved disabled but enabled since: only a read may say disabled",
			// A resume's journaled facts: disabled when the run started.
			before: func(t *testing.T, s *sandboxDC, call *steps.Call) { call.Subject.Facts["ad"][attrUAC] = float64(514) },
			check:  "userAccountControl: 512 → 514 (disabled)", checkOps: []string{opSearch},
			applyOps: []string{opSearch, opReplaceUAC},
			apply:    "userAccountControl: 512 → 514 (disabled)", verifyOps: []string{opSearch}, uac: 514},
		{name: "resolved disabled and still disabled: satisfied on a read",
			before: func(t *testing.T, s *sandboxDC, call *steps.Call) {
				s.setUAC(t, 514)
				call.Subject.Facts["ad"][attrUAC] = 514
			},
			check: "already disabled", satisfied: true, checkOps: []string{opSearch}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSandbox(t)
			c := s.open(t, nil)
			call, _ := callFor(t, c, "adele", steps.Values{})
			if tt.before != nil {
				tt.before(t, s, call)
			}
			step := disableAccount.New()
			var ch steps.Change
			var err error
			wantOps(t, "Check", s.during(func() { ch, err = step.Check(t.Context(), call) }), tt.checkOps...)
			if err != nil || ch.Summary != tt.check || ch.Satisfied != tt.satisfied {
				t.Fatalf("Check = %+v, %v; want %q (satisfied %v)", ch, err, tt.check, tt.satisfied)
			}
			if tt.satisfied {
				return
			}
			if tt.meanwhile != nil {
				tt.meanwhile(t, s, call)
			}
			wantOps(t, "Apply", s.during(func() { ch, err = step.Apply(t.Context(), call) }), tt.applyOps...)
			if err != nil || ch.Summary != tt.apply || ch.Satisfied != tt.applySatisfied {
				t.Fatalf("Apply = %+v, %v; want %q (satisfied %v)", ch, err, tt.apply, tt.applySatisfied)
			}
			wantOps(t, "Verify", s.during(func() { err = step.(steps.Verifier).Verify(t.Context(), call) }), tt.verifyOps...)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got := s.uac(t); got != tt.uac {
				t.Errorf("userAccountControl = %d, want %d", got, tt.uac)
			}
			// A second Apply on the same value (the engine's retry) decides
			// on a read, not on facts its first attempt made stale.
			wantOps(t, "Apply again", s.during(func() { ch, err = step.Apply(t.Context(), call) }), opSearch)
			if err != nil || !ch.Satisfied || ch.Summary != "already disabled" {
				t.Errorf("Apply again = %+v, %v; want satisfied, already disabled", ch, err)
			}
		})
	}
}

// journaled returns the subject as a resume reads it back from the
// journal: through JSON, numbers as float64.
func journaled(t *testing.T, s *steps.Subject) *steps.Subject {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out steps.Subject
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if _, ok := out.Facts["ad"][attrUAC].(float64); !ok {
		t.Fatalf("journaled userAccountControl is %T, want float64", out.Facts["ad"][attrUAC])
	}
	return &out
}

// engineProgress makes the call's Progress do what the executor's does:
// a reported line is Prior at once, for a retried Apply to see.
func engineProgress(call *steps.Call) *[]string {
	var msgs []string
	call.Progress = func(msg string, details map[string]any) {
		msgs = append(msgs, msg)
		call.Prior = append(call.Prior, steps.Progress{Message: msg, Details: details})
	}
	return &msgs
}

func TestResetPasswordRoundTrips(t *testing.T) {
	tests := []struct {
		name  string
		times int
		// before adjusts the call after resolution; current is adele's
		// pwdLastSet then.
		before    func(call *steps.Call, current string)
		check     string // Check's summary without the pwdLastSet part
		checkOps  []string
		applyOps  []string
		verifyOps []string
		reports   []string
	}{
		{name: "fresh, twice: no search but the read-backs", times: 2,
			check: "2 resets of the password", checkOps: nil,
			applyOps: []string{opResetPwd, opSearch, opResetPwd, opSearch}, verifyOps: nil,
			reports: []string{"password reset 1 of 2", "password reset 2 of 2"}},
		{name: "fresh, once", times: 1,
			check: "1 reset of the password", checkOps: nil,
			applyOps: []string{opResetPwd, opSearch}, verifyOps: nil,
			reports: []string{"password reset 1 of 1"}},
		{name: "resumed after one of two was journaled", times: 2,
			before: func(call *steps.Call, current string) {
				call.Resumed = true
				call.Prior = []steps.Progress{{Message: "password reset 1 of 2",
					Details: map[string]any{"reset": float64(1), "of": float64(2), attrPwdLastSet: current}}}
			},
			check: "1 reset of the password", checkOps: []string{opSearch},
			applyOps: []string{opSearch, opResetPwd, opSearch}, verifyOps: nil,
			reports: []string{"password reset 2 of 2"}},
		{name: "resumed after both were journaled: Verify has no read-back and searches", times: 2,
			before: func(call *steps.Call, current string) {
				call.Resumed = true
				call.Prior = []steps.Progress{
					{Message: "password reset 1 of 2", Details: map[string]any{"reset": float64(1), "of": float64(2), attrPwdLastSet: current}},
					{Message: "password reset 2 of 2", Details: map[string]any{"reset": float64(2), "of": float64(2), attrPwdLastSet: current}},
				}
				// The seed's pwdLastSet predates this test's run.
				call.RunStarted = time.Time{}
			},
			check: "2 resets already done before the interruption", checkOps: []string{opSearch},
			applyOps: []string{opSearch}, verifyOps: []string{opSearch}},
		{name: "facts without pwdLastSet: read as before", times: 1,
			before: func(call *steps.Call, current string) { delete(call.Subject.Facts["ad"], attrPwdLastSet) },
			check:  "1 reset of the password", checkOps: []string{opSearch},
			applyOps: []string{opSearch, opResetPwd, opSearch}, verifyOps: nil,
			reports: []string{"password reset 1 of 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSandbox(t)
			c := s.open(t, nil)
			call, _ := callFor(t, c, "adele", steps.Values{"times": tt.times, "length": 32})
			reports := engineProgress(call)
			current := call.Subject.FactString("ad", attrPwdLastSet)
			if tt.before != nil {
				tt.before(call, current)
			}
			step := resetPassword.New().(*resetPasswordStep)
			var ch steps.Change
			var err error
			wantOps(t, "Check", s.during(func() { ch, err = step.Check(t.Context(), call) }), tt.checkOps...)
			want := fmt.Sprintf("%s (pwdLastSet %s)", tt.check, pwdLastSetText(current))
			if err != nil || ch.Summary != want {
				t.Fatalf("Check = %+v, %v; want %q", ch, err, want)
			}
			wantOps(t, "Apply", s.during(func() { ch, err = step.Apply(t.Context(), call) }), tt.applyOps...)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if !slices.Equal(*reports, tt.reports) {
				t.Errorf("reports %q, want %q", *reports, tt.reports)
			}
			wantOps(t, "Verify", s.during(func() { err = step.Verify(t.Context(), call) }), tt.verifyOps...)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// A retried Apply on the same value reads, even with nothing journaled:
// its failed attempt's reset may have reached the directory with the
// answer lost, and only pwdLastSet shows it (resetsDone's guarantee).
func TestResetPasswordRetriedApplyCountsAnUnjournaledReset(t *testing.T) {
	s := startSandbox(t)
	c := s.open(t, nil)
	call, _ := callFor(t, c, "adele", steps.Values{"times": 2, "length": 32})
	reports := engineProgress(call)
	gen := &recordingGenerator{}
	calls := 0
	step := &resetPasswordStep{generate: func(length int, avoid string) ([]byte, error) {
		if calls++; calls == 1 {
			return nil, errors.New("entropy exhausted")
		}
		return gen.generate(length, avoid)
	}}
	var err error
	wantOps(t, "first Apply", s.during(func() { _, err = step.Apply(t.Context(), call) }))
	want := "reset password of " + adeleDN + ": generate a password: entropy exhausted"
	if err == nil || err.Error() != want {
		t.Fatalf("first Apply = %v, want %q", err, want)
	}
	// What a lost answer leaves: a reset in the directory, no progress.
	if err := (&resetPasswordStep{generate: newPassword}).reset(t.Context(), c, adeleDN, "adele", 32); err != nil {
		t.Fatal(err)
	}
	var ch steps.Change
	wantOps(t, "second Apply", s.during(func() { ch, err = step.Apply(t.Context(), call) }),
		opSearch, opResetPwd, opSearch)
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if !slices.Equal(*reports, []string{"password reset 2 of 2"}) || len(gen.made) != 1 {
		t.Errorf("reports %q and %d passwords made, want [password reset 2 of 2] and 1", *reports, len(gen.made))
	}
	last, _ := call.Prior[len(call.Prior)-1].Details[attrPwdLastSet].(string)
	if wantSum := fmt.Sprintf("password reset once (pwdLastSet %s); 1 done before the interruption", pwdLastSetText(last)); ch.Summary != wantSum {
		t.Errorf("summary %q, want %q", ch.Summary, wantSum)
	}
	wantOps(t, "Verify", s.during(func() { err = step.Verify(t.Context(), call) }))
	if err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// Verify judges the read-back Apply made, with the same verdict a search
// would give; a value that made no reset searches.
func TestResetPasswordVerifyUsesTheReadBack(t *testing.T) {
	s := startSandbox(t)
	c := s.open(t, nil)
	call, _ := callFor(t, c, "adele", steps.Values{"times": 1, "length": 32})
	engineProgress(call)
	step := resetPassword.New().(*resetPasswordStep)
	if _, err := step.Apply(t.Context(), call); err != nil {
		t.Fatal(err)
	}
	readBack, _ := call.Prior[0].Details[attrPwdLastSet].(string)
	set, ok := filetime(readBack)
	if !ok {
		t.Fatalf("read-back pwdLastSet %q", readBack)
	}
	call.RunStarted = time.Now().Add(2 * time.Hour)
	want := fmt.Sprintf("%s: pwdLastSet %s is not after the run started (%s): the password was not reset",
		adeleDN, set.Format(time.RFC3339), call.RunStarted.UTC().Format(time.RFC3339))
	for _, tt := range []struct {
		name string
		step *resetPasswordStep
		ops  []string
	}{
		{"the value that applied", step, nil},
		{"a value that made no reset", resetPassword.New().(*resetPasswordStep), []string{opSearch}},
	} {
		var err error
		wantOps(t, tt.name+": Verify", s.during(func() { err = tt.step.Verify(t.Context(), call) }), tt.ops...)
		if err == nil || err.Error() != want {
			t.Errorf("%s: Verify = %v, want %q", tt.name, err, want)
		}
	}
}

func TestIntFact(t *testing.T) {
	tests := []struct {
		in   any
		want int
		ok   bool
	}{
		{512, 512, true},
		{int64(66048), 66048, true},
		{float64(514), 514, true},
		{json.Number("66050"), 66050, true},
		{float64(512.5), 0, false},
		{float64(1e12), 0, false},
		{json.Number("5x"), 0, false},
		{"512", 0, false},
		{nil, 0, false},
	}
	for _, tt := range tests {
		got, ok := intFact(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("intFact(%#v) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// A reset is resent after a lost connection (Conn.do redials and sends
// the same request again): that is safe only because a DC takes an
// administrative reset to the password it already has, as Samba does.
func TestSambaResetToTheSamePasswordAgainIsAccepted(t *testing.T) {
	dc := needSamba(t)
	admin := dc.admin(t)
	c := dc.open(t, nil)
	sam := unique("rvsame")
	u := dc.addUser(t, admin, sam, sam+"@contoso.test", 512)
	pw, err := newPassword(32, sam)
	if err != nil {
		t.Fatal(err)
	}
	same := string(pw)
	step := &resetPasswordStep{generate: func(int, string) ([]byte, error) { return []byte(same), nil }}
	var set []string
	for i := 1; i <= 2; i++ {
		if err := step.reset(t.Context(), c, u.DN, sam, 32); err != nil {
			t.Fatalf("reset %d to the same password: %v", i, err)
		}
		set = append(set, attr(t, admin, u.DN, attrPwdLastSet)[0])
	}
	if !newerFiletime(set[1], set[0]) {
		t.Errorf("pwdLastSet %v: the second reset did not move it", set)
	}
	if err := dc.bindAs(t, u.DN, same); err != nil {
		t.Errorf("bind with the password set twice: %v", err)
	}
}
