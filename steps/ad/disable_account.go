package ad

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/steps"
)

var disableAccount = steps.Spec{
	Name:    "ad.disable_account",
	Summary: "Disable the on-premises account (userAccountControl ACCOUNTDISABLE)",
	Description: "Sets the ACCOUNTDISABLE bit (0x2) of userAccountControl and keeps every other bit " +
		"(512 → 514). A disabled account cannot bind or sign in, and Entra Connect carries the state " +
		"to the cloud on its next sync.",
	Permissions: []steps.Permission{{Kind: kindRight, Names: []string{rightWriteUAC}}},
	Idempotent:  true,
	Containment: true,
	New:         func() steps.Step { return &disableAccountStep{} },
}

const rightWriteUAC = "Write userAccountControl on the user object"

// disableAccountStep is one execution of ad.disable_account: the engine
// calls Check, Apply (again on a retry) and Verify on the same value.
type disableAccountStep struct {
	// applied is set once Apply has run on this value: from then on the
	// subject's facts predate a change this step may have made, and every
	// decision is taken on a fresh read.
	applied bool
	// confirmed is set when the conditional modify went through: the
	// directory itself then answered that the account went from the value
	// read to the disabled one, in one atomic operation.
	confirmed bool
}

var (
	_ steps.Step     = (*disableAccountStep)(nil)
	_ steps.Verifier = (*disableAccountStep)(nil)
)

// Check says what disabling would make of userAccountControl. A step that
// starts afresh takes the value the backend resolved moments before the
// run instead of searching again, but only to say that there is work to
// do: Apply's conditional modify finds out if the value has moved since.
// "Already disabled" is only ever decided on a fresh read, because the
// facts may be old (a resumed run journaled them when it first started,
// and a step it never started runs unresumed on them) and a stale
// "disabled" would leave an enabled account alone.
func (s *disableAccountStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	c, dn, err := target(call)
	if err != nil {
		return steps.Change{}, err
	}
	if uac, ok := s.resolvedUAC(call); ok {
		return disableChange(&account{UAC: uac}), nil
	}
	a, err := c.read(ctx, dn)
	if err != nil {
		return steps.Change{}, err
	}
	return disableChange(a), nil
}

func disableChange(a *account) steps.Change {
	if a.disabled() {
		return steps.Change{Satisfied: true, Summary: "already disabled",
			Details: map[string]any{attrUAC: a.UAC}}
	}
	after := a.UAC | uacAccountDisable
	return steps.Change{
		Summary: fmt.Sprintf("userAccountControl: %d → %d (disabled)", a.UAC, after),
		Details: map[string]any{"before": a.UAC, "after": after},
	}
}

// Apply sets ACCOUNTDISABLE, keeping every other bit.
//
// The first Apply of a step that starts afresh makes one conditional
// modify from the resolved value: delete userAccountControl=<old>, add
// userAccountControl=<old|2>. A modify is atomic, so the directory either
// had exactly <old> and now has it disabled with every other bit kept, or
// refused and changed nothing (noSuchAttribute when the value moved; a
// server that does not take value-level changes of the attribute refuses
// too). Old facts are therefore safe to write from: at worst they cost the
// refusal. Resent after a lost connection it is refused the same way once
// the first one landed (Samba, which matches the deleted value ignoring
// ACCOUNTDISABLE, takes it again, to the same effect).
//
// Otherwise, and whenever the server refused the conditional modify for
// whatever reason, Apply reads the value again and replaces it, as a
// retried or resumed Apply must, and reports any failure the way that
// read and replace do.
func (s *disableAccountStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	c, dn, err := target(call)
	if err != nil {
		return steps.Change{}, err
	}
	uac, fresh := s.resolvedUAC(call)
	s.applied = true
	if fresh {
		err := disableIf(ctx, c, dn, uac)
		if err == nil {
			s.confirmed = true
			return disableChange(&account{UAC: uac}), nil
		}
		if !answered(err) {
			return steps.Change{}, classify("disable "+dn, rightWriteUAC, err)
		}
		if c.logger != nil {
			c.logger.Info("ad: conditional disable refused; reading userAccountControl and replacing it",
				"dn", dn, "userAccountControl", uac, "result", describe(err))
		}
	}
	a, err := c.read(ctx, dn)
	if err != nil {
		return steps.Change{}, err
	}
	ch := disableChange(a)
	if ch.Satisfied {
		return ch, nil
	}
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(attrUAC, []string{strconv.Itoa(a.UAC | uacAccountDisable)})
	// Replacing with the same value twice is harmless: safe to resend.
	if err := c.modify(ctx, req, true); err != nil {
		return steps.Change{}, classify("disable "+dn, rightWriteUAC, err)
	}
	return ch, nil
}

// disableIf sets ACCOUNTDISABLE on dn provided userAccountControl is still
// uac: one modify deleting that value and adding the disabled one.
func disableIf(ctx context.Context, c *Conn, dn string, uac int) error {
	req := ldap.NewModifyRequest(dn, nil)
	req.Delete(attrUAC, []string{strconv.Itoa(uac)})
	req.Add(attrUAC, []string{strconv.Itoa(uac | uacAccountDisable)})
	return c.modify(ctx, req, true)
}

// answered reports whether err is the server's refusal of an operation (an
// LDAP result code) rather than a lost connection, a timeout or a
// cancellation, after which nobody knows whether the modify was applied.
func answered(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode < ldap.ErrorNetwork
}

// resolvedUAC returns the userAccountControl the backend resolved, when
// this value may decide from it: the step is neither resumed (an earlier
// process may have changed the account) nor applied already, and the
// resolved account was not disabled.
func (s *disableAccountStep) resolvedUAC(call *steps.Call) (int, bool) {
	if call.Resumed || s.applied {
		return 0, false
	}
	uac, ok := intFact(call.Subject.Fact("ad", attrUAC))
	if !ok || uac&uacAccountDisable != 0 {
		return 0, false
	}
	return uac, true
}

// intFact reads an integer fact: an int as Resolve returns it, or the
// float64 (or json.Number) it becomes once journaled.
func intFact(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		if n != math.Trunc(n) || n < math.MinInt32 || n > math.MaxUint32 {
			return 0, false
		}
		return int(n), true
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	}
	return 0, false
}

// Verify reads userAccountControl back: ACCOUNTDISABLE must be set.
//
// After a conditional modify that went through, the directory's own answer
// is the read-back: a search would return what the atomic operation just
// wrote, and it would queue on the one LDAP connection in front of the
// next step's password reset. After a read and replace it searches.
func (s *disableAccountStep) Verify(ctx context.Context, call *steps.Call) error {
	c, dn, err := target(call)
	if err != nil {
		return err
	}
	if s.confirmed {
		return nil
	}
	a, err := c.read(ctx, dn)
	if err != nil {
		return err
	}
	if !a.disabled() {
		return steps.Errorf(steps.Other, "%s: userAccountControl is %d after disabling: ACCOUNTDISABLE is not set", dn, a.UAC)
	}
	return nil
}
