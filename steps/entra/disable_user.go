package entra

import (
	"context"
	"errors"

	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

var disableUser = implement(entraspec.DisableUser, func() steps.Step { return &disableUserStep{} })

// disableUserStep implements entra.disable_user: one value per step
// execution, on which the engine calls Check, Apply and Verify.
type disableUserStep struct {
	// applied is set once Apply has run on this value: a later Check must
	// read, since the PATCH may have landed.
	applied bool
}

var (
	_ steps.Step     = (*disableUserStep)(nil)
	_ steps.Verifier = (*disableUserStep)(nil)
)

// errorContext of the step: a 403 means the app lacks the spec's first
// permission.
var disableUserErrors = errorContext{permission: disableUser.Needs(entraspec.KindApplication)[0], guard: guards[disableUser.Name]}

// Check decides from the resolved facts when they say the account is
// enabled and nothing in this or an earlier process has touched the step:
// a GET would say the same moments after resolution, and this step is on
// the containment path. A stale "enabled" costs at worst a redundant
// PATCH; "disabled" is only trusted from a fresh read, since the account
// may have been re-enabled (by a directory sync) since.
func (s *disableUserStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	if enabled, ok := call.Subject.Fact("entra", "accountEnabled").(bool); ok && enabled && !call.Resumed && !s.applied {
		if _, err := subjectID(call); err != nil {
			return steps.Change{}, err
		}
		return steps.Change{Summary: "accountEnabled: true → false"}, nil
	}
	enabled, err := accountEnabled(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	if !enabled {
		return steps.Change{Satisfied: true, Summary: "already disabled"}, nil
	}
	return steps.Change{Summary: "accountEnabled: true → false"}, nil
}

func (s *disableUserStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	s.applied = true
	c, id, err := target(call)
	if err != nil {
		return steps.Change{}, err
	}
	disabled := false
	body := &objectPatch{odataType: "#microsoft.graph.user", accountEnabled: &disabled}
	// The devices are listed in the same round trip, after the disable
	// (devices_listed.go), for disable_devices.
	if err := c.disableThenList(ctx, call.RunID, id, c.withBody(ctx, abs.PATCH, &c.graph.Users().ByUserId(id).BaseRequestBuilder, body)); err != nil {
		return steps.Change{}, classify(ctx, "disable user "+id, err, c.onTarget(ctx, call, disableUserErrors))
	}
	return steps.Change{Summary: "accountEnabled: true → false"}, nil
}

func (*disableUserStep) Verify(ctx context.Context, call *steps.Call) error {
	enabled, err := accountEnabled(ctx, call)
	if err != nil {
		return err
	}
	if enabled {
		return errors.New("entra: accountEnabled is still true after the PATCH")
	}
	return nil
}

// accountEnabled reads the subject's accountEnabled.
func accountEnabled(ctx context.Context, call *steps.Call) (bool, error) {
	c, id, err := target(call)
	if err != nil {
		return false, err
	}
	u, err := c.getUser(ctx, "read accountEnabled of "+id, id, errorContext{permission: permUserRead}, "id", "accountEnabled")
	if err != nil {
		return false, err
	}
	e := u.accountEnabled
	if e == nil {
		return false, errors.New("entra: Graph returned user " + id + " without accountEnabled")
	}
	return *e, nil
}
