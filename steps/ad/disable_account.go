package ad

import (
	"context"
	"encoding/json"
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
	Permissions: steps.Permissions{
		ADRights: []string{rightWriteUAC},
	},
	Idempotent:  true,
	Containment: true,
	New:         func() steps.Step { return &disableAccountStep{} },
}

const rightWriteUAC = "Write userAccountControl on the user object"

// disableAccountStep is one execution of ad.disable_account: the engine
// calls Check, Apply (again on a retry) and Verify on the same value.
type disableAccountStep struct {
	// applied is set once Apply has run on this value: from then on the
	// subject's facts predate a change this step may have made, and Check
	// decides on a fresh read.
	applied bool
}

var (
	_ steps.Step     = (*disableAccountStep)(nil)
	_ steps.Verifier = (*disableAccountStep)(nil)
)

// Check says what disabling would make of userAccountControl. A step that
// starts afresh takes the value the backend resolved moments before the
// run instead of searching again, but only to say that there is work to
// do: Apply reads the value again before it writes. "Already disabled" is
// only ever decided on a fresh read, because the facts may be old (a
// resumed run journaled them when it first started, and a step it never
// started runs unresumed on them) and a stale "disabled" would leave an
// enabled account alone.
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

// Apply sets ACCOUNTDISABLE, keeping every other bit. It reads the value
// again first, so a repeated Apply after a crash changes nothing, and a
// bit changed since the subject was resolved is kept.
func (s *disableAccountStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	s.applied = true
	c, dn, err := target(call)
	if err != nil {
		return steps.Change{}, err
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

// resolvedUAC returns the userAccountControl the backend resolved, when
// Check may take it: the step is neither resumed (an earlier process may
// have changed the account) nor applied already on this value, and the
// resolved account was not disabled.
func (s *disableAccountStep) resolvedUAC(call *steps.Call) (int, bool) {
	if call.Resumed || s.applied || call.Subject == nil {
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

// Verify reads userAccountControl back.
func (*disableAccountStep) Verify(ctx context.Context, call *steps.Call) error {
	c, dn, err := target(call)
	if err != nil {
		return err
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
