package ad

import (
	"context"
	"fmt"
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

type disableAccountStep struct{}

var (
	_ steps.Step     = (*disableAccountStep)(nil)
	_ steps.Verifier = (*disableAccountStep)(nil)
)

// Check reads userAccountControl and says what disabling would make of it.
func (*disableAccountStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	c, dn, err := target(call)
	if err != nil {
		return steps.Change{}, err
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
// again first, so a repeated Apply after a crash changes nothing.
func (*disableAccountStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
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
