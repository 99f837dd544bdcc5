package ad

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/steps"
)

var resetPassword = steps.Spec{
	Name:    "ad.reset_password",
	Summary: "Reset the on-premises password to random values, once or several times",
	Description: "Replaces unicodePwd with a fresh random password from crypto/rand, `times` times. " +
		"Twice when the account is compromised: the first reset makes a stolen hash useless, the " +
		"second one the password history a lagging replica could still accept. Passwords are never " +
		"shown, logged or journaled. Refused over an unencrypted connection. After a crash, the " +
		"resets already journaled count: `times: 2` means two resets in all.",
	Params: []steps.Param{
		{Name: paramTimes, Type: steps.Int, Default: 1, Min: steps.Bounds(1), Max: steps.Bounds(5),
			Description: "How many consecutive resets."},
		{Name: paramLength, Type: steps.Int, Default: 32, Min: steps.Bounds(16), Max: steps.Bounds(256),
			Description: "Length of each generated password."},
	},
	Permissions: []steps.Permission{{Kind: kindRight, Names: []string{rightResetPassword, "an encrypted connection (LDAPS or StartTLS)"}}},
	Idempotent:  false,
	Containment: false,
	New:         func() steps.Step { return &resetPasswordStep{generate: newPassword} },
}

const (
	paramTimes         = "times"
	paramLength        = "length"
	rightResetPassword = "Reset Password on the user object"
)

// clockSkew is how far the domain controller's clock may trail the engine's
// when Verify compares pwdLastSet with the run's start. Domain members keep
// time with their DC (Kerberos fails beyond 5 minutes), so a minute is
// generous and still far shorter than any earlier, unrelated reset.
const clockSkew = time.Minute

// resetPasswordStep is one execution of ad.reset_password: the engine
// calls Check, Apply (again on a retry) and Verify on the same value.
type resetPasswordStep struct {
	// generate makes one password; tests wrap it to see what was sent.
	generate func(length int, avoid string) ([]byte, error)
	// applied is set once Apply has run on this value. A retried Apply
	// must read: the failed attempt's reset may have reached the directory
	// without a progress line (the answer was lost), and only a fresh
	// pwdLastSet lets resetsDone count it.
	applied bool
	// readBack is the pwdLastSet read back after the last reset Apply made
	// on this value, for Verify; hasReadBack says there is one (Apply made
	// a reset and read it back).
	readBack    string
	hasReadBack bool
}

var (
	_ steps.Step     = (*resetPasswordStep)(nil)
	_ steps.Verifier = (*resetPasswordStep)(nil)
)

// Check says how many resets Apply would make. It is never satisfied: a
// password cannot be read to tell whether it is already "reset". A step
// that starts afresh counts from the resolved facts without a search: with
// nothing journaled and nothing applied, no reset can be its own yet.
func (s *resetPasswordStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	_, _, a, err := s.account(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	times := max(call.With.Int(paramTimes), 1)
	left := times - resetsDone(call, a.PwdLastSet)
	if left <= 0 {
		return steps.Change{
			Summary: fmt.Sprintf("%s already done before the interruption (pwdLastSet %s)", steps.Count(times, "reset"), pwdLastSetText(a.PwdLastSet)),
			Details: map[string]any{"resets": 0, "of": times, attrPwdLastSet: a.PwdLastSet},
		}, nil
	}
	return steps.Change{
		Summary: fmt.Sprintf("%s of the password (pwdLastSet %s)", steps.Count(left, "reset"), pwdLastSetText(a.PwdLastSet)),
		Details: map[string]any{"resets": left, "of": times, attrPwdLastSet: a.PwdLastSet},
	}, nil
}

// Apply resets the password `times` times, journaling each reset (never the
// value) so that after a crash only the missing ones are made.
//
// It needs the account's sAMAccountName (kept out of the passwords) and
// the pwdLastSet that resetsDone compares with. The first Apply of a step
// that starts afresh (not resumed, nothing journaled) takes both from the
// resolved facts; a resumed or retried one reads them, since a reset of
// its own may have landed unjournaled.
func (s *resetPasswordStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	c, dn, a, err := s.account(ctx, call)
	// Set after account, which looks at applied, and before any error
	// return: a failed read here leaves the next attempt reading too.
	s.applied, s.readBack, s.hasReadBack = true, "", false
	if err != nil {
		return steps.Change{}, err
	}
	times := max(call.With.Int(paramTimes), 1)
	length := call.With.Int(paramLength)
	if length == 0 {
		length = 32
	}
	done := resetsDone(call, a.PwdLastSet)
	last := a.PwdLastSet
	for n := done + 1; n <= times; n++ {
		if err := s.reset(ctx, c, dn, a.SAM, length); err != nil {
			return steps.Change{}, err
		}
		// Read pwdLastSet back for the journal: it is the proof, without
		// the value, that this reset happened. A read failure must not
		// hide a reset that was made, so it is journaled without it.
		b, err := c.read(ctx, dn)
		if err == nil {
			last = b.PwdLastSet
		} else {
			last = ""
		}
		// Verify may reuse the read-back of the last reset only.
		s.readBack, s.hasReadBack = last, err == nil
		call.Report(fmt.Sprintf("password reset %d of %d", n, times),
			map[string]any{"reset": n, "of": times, attrPwdLastSet: last})
	}
	made := max(times-done, 0)
	summary := fmt.Sprintf("password reset %d times (pwdLastSet %s)", made, pwdLastSetText(last))
	switch {
	case made == 1:
		summary = fmt.Sprintf("password reset once (pwdLastSet %s)", pwdLastSetText(last))
	case made == 0:
		summary = fmt.Sprintf("%s already done before the interruption", steps.Count(times, "reset"))
	}
	if done > 0 && made > 0 {
		summary += fmt.Sprintf("; %d done before the interruption", min(done, times))
	}
	return steps.Change{Summary: summary,
		Details: map[string]any{"resets": made, "of": times, attrPwdLastSet: last}}, nil
}

// reset makes one reset: a single Replace of unicodePwd. A Delete+Add pair
// would be a password change, which needs the old password.
func (s *resetPasswordStep) reset(ctx context.Context, c *Conn, dn, sam string, length int) error {
	pw, err := s.generate(length, sam)
	if err != nil {
		return steps.Errorf(steps.Other, "reset password of %s: generate a password: %w", dn, err)
	}
	enc := unicodePwd(pw)
	clear(pw)
	defer clear(enc)
	req := ldap.NewModifyRequest(dn, nil)
	// go-ldap takes strings: that copy, and the encoded request, cannot be
	// zeroed; the buffers revoke owns are.
	req.Replace(attrUnicodePwd, []string{string(enc)})
	// Safe to resend after a lost connection: the resend is this very
	// request, the same password, so one that had landed is only set
	// again (an administrative reset checks no history) and no extra
	// password is made. A fresh Apply sends its first reset without a
	// read before it, so this is also what survives a connection the DC
	// dropped while it sat idle.
	err = c.do(ctx, true, func(lc *ldap.Conn) error {
		// Checked on the very connection the request goes out on: a
		// redial could in principle have produced another one.
		if !tlsActive(lc) {
			return errNotEncrypted
		}
		return lc.Modify(req)
	})
	if errors.Is(err, errNotEncrypted) {
		return unencrypted(c, dn)
	}
	if err != nil {
		return classify("reset password of "+dn, rightResetPassword, err)
	}
	return nil
}

var errNotEncrypted = errors.New("connection not encrypted")

// requireTLS refuses a password operation on an unencrypted connection
// before anything is sent.
func requireTLS(c *Conn, dn string) error {
	if !c.Encrypted() {
		return unencrypted(c, dn)
	}
	return nil
}

func unencrypted(c *Conn, dn string) error {
	return steps.Errorf(steps.Invalid,
		"reset password of %s refused: the connection to %s is not encrypted; use ldaps:// or start_tls: true",
		dn, c.cfg.url)
}

// resetsDone counts the resets already made for this step: those journaled
// by earlier attempts, plus one when pwdLastSet has moved since the last
// one journaled (or since the subject was resolved, before any). That one
// is a reset whose modify reached the directory but whose progress line
// never did: the process died, or the connection dropped before the
// answer. Only one can be missing, since each is journaled before the next
// starts. When the last journaled reset has no pwdLastSet (its read-back
// failed) there is nothing to compare with, and the journal is trusted.
func resetsDone(call *steps.Call, current string) int {
	done := priorResets(call.Prior)
	baseline := call.Subject.FactString("ad", attrPwdLastSet)
	known := baseline != ""
	for _, p := range call.Prior {
		if _, ok := p.Details["reset"]; ok {
			baseline, _ = p.Details[attrPwdLastSet].(string)
			known = baseline != ""
		}
	}
	if known && newerFiletime(current, baseline) {
		done++
	}
	return done
}

// newerFiletime reports whether FILETIME a is later than b ("0", never set,
// is earlier than any time); false when either is not a FILETIME.
func newerFiletime(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	return errA == nil && errB == nil && x > y
}

// priorResets counts the resets journaled by earlier attempts: the highest
// "reset" number reported (an int, or the float64 it became in JSON).
func priorResets(prior []steps.Progress) int {
	done := 0
	for _, p := range prior {
		n, _ := intFact(p.Details["reset"])
		done = max(done, n)
	}
	return done
}

// account is what Check and Apply start from: the connection, refused
// when it is not encrypted, the subject's DN, and the account, from the
// resolved facts when resolved allows and read otherwise.
func (s *resetPasswordStep) account(ctx context.Context, call *steps.Call) (*Conn, string, *account, error) {
	c, dn, err := target(call)
	if err != nil {
		return nil, "", nil, err
	}
	if err := requireTLS(c, dn); err != nil {
		return nil, "", nil, err
	}
	a, ok := s.resolved(call)
	if !ok {
		if a, err = c.read(ctx, dn); err != nil {
			return nil, "", nil, err
		}
	}
	return c, dn, a, nil
}

// resolved returns the account as the backend resolved it (sAMAccountName
// and pwdLastSet), when this value may rely on it: not resumed, nothing
// journaled, not applied yet, and both facts present.
func (s *resetPasswordStep) resolved(call *steps.Call) (*account, bool) {
	if call.Resumed || len(call.Prior) > 0 || s.applied {
		return nil, false
	}
	sam := call.Subject.FactString("ad", attrSAM)
	pls, ok := call.Subject.Fact("ad", attrPwdLastSet).(string)
	if sam == "" || !ok {
		return nil, false
	}
	return &account{SAM: sam, PwdLastSet: pls}, true
}

// Verify checks pwdLastSet: it must be later than the run's start. It
// takes the value Apply read back right after its last reset on this step
// value, and reads it when there is none (no reset made, or the read-back
// failed).
func (s *resetPasswordStep) Verify(ctx context.Context, call *steps.Call) error {
	c, dn, err := target(call)
	if err != nil {
		return err
	}
	pls := s.readBack
	if !s.hasReadBack {
		a, err := c.read(ctx, dn)
		if err != nil {
			return err
		}
		pls = a.PwdLastSet
	}
	t, ok := filetime(pls)
	if !ok {
		return steps.Errorf(steps.Other, "%s: pwdLastSet is %s after the reset", dn, pwdLastSetText(pls))
	}
	if !call.RunStarted.IsZero() && t.Before(call.RunStarted.Add(-clockSkew)) {
		return steps.Errorf(steps.Other, "%s: pwdLastSet %s is not after the run started (%s): the password was not reset",
			dn, t.UTC().Format(time.RFC3339), call.RunStarted.UTC().Format(time.RFC3339))
	}
	return nil
}
