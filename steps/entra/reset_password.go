package entra

import (
	"context"
	"fmt"

	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// progressReset is the Details key of the progress record each reset
// leaves; a resumed Apply counts them.
const progressReset = "reset"

var resetPassword = implement(entraspec.ResetPassword, func() steps.Step { return resetPasswordStep{} })

// resetPasswordStep implements entra.reset_password. It has no Verify:
// Graph never reads a password back.
type resetPasswordStep struct{}

var _ steps.Step = resetPasswordStep{}

var resetPasswordErrors = errorContext{permission: resetPassword.Needs(entraspec.KindApplication)[0], guard: guards[resetPassword.Name]}

func (resetPasswordStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	if _, _, err := cloudOnlyUser(ctx, call); err != nil {
		return steps.Change{}, err
	}
	times, done := call.With.Int(entraspec.ParamTimes), priorResets(call)
	if done >= times {
		return steps.Change{Satisfied: true, Summary: fmt.Sprintf("%s already done", count(times, "password reset"))}, nil
	}
	s := count(times, "password reset") + ", change forced at next sign-in"
	if done > 0 {
		s = fmt.Sprintf("%d of %s left, change forced at next sign-in", times-done, count(times, "password reset"))
	}
	return steps.Change{Summary: s, Details: map[string]any{"times": times, "done": done}}, nil
}

// Apply resets the password the times not yet journaled, reporting after
// each so that a crash between two resets does not repeat the first.
func (resetPasswordStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	c, id, err := cloudOnlyUser(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	times, length := call.With.Int(entraspec.ParamTimes), call.With.Int(entraspec.ParamLength)
	done := priorResets(call)
	for n := done + 1; n <= times; n++ {
		// Apply was charged its first PATCH; the others spend their own.
		if n > done+1 {
			if err := call.Charge(ctx, 1); err != nil {
				return steps.Change{}, err
			}
		}
		pw, err := generatePassword(length)
		if err != nil {
			return steps.Change{}, fmt.Errorf("entra: reset password of %s: %w", id, err)
		}
		body := &objectPatch{odataType: "#microsoft.graph.user",
			passwordProfile: &passwordProfile{password: pw, forceChangePasswordNextSignIn: true}}
		if _, err := send[graphUser](ctx, c, c.withBody(ctx, abs.PATCH, &c.graph.Users().ByUserId(id).BaseRequestBuilder, body)); err != nil {
			return steps.Change{}, classify(ctx, fmt.Sprintf("reset password of %s (%d of %d)", id, n, times), err, c.onTarget(ctx, call, resetPasswordErrors))
		}
		call.Report(fmt.Sprintf("password reset %d of %d", n, times), map[string]any{progressReset: n, "of": times})
	}
	return steps.Change{
		Summary: fmt.Sprintf("%s, change forced at next sign-in", count(times, "password reset")),
		Details: map[string]any{"times": times, "resumed_after": done},
	}, nil
}

// cloudOnlyUser returns the call's connection and the subject's id after
// checking the user is not synced: a synced user's password is mastered
// on-premises and Graph refuses it.
func cloudOnlyUser(ctx context.Context, call *steps.Call) (*Conn, string, error) {
	c, id, err := target(call)
	if err != nil {
		return nil, "", err
	}
	u, err := c.getUser(ctx, "read onPremisesSyncEnabled of "+id, id, errorContext{permission: permUserRead}, "id", "onPremisesSyncEnabled")
	if err != nil {
		return nil, "", err
	}
	if deref(u.onPremisesSyncEnabled) {
		return nil, "", steps.Errorf(steps.Invalid, "entra: %s is a synced user: reset the password on-premises", id)
	}
	return c, id, nil
}

// priorResets counts the resets earlier attempts of this step journaled.
// The engine fills Prior for a resumed step (and for any retry), so the
// count is taken whenever it holds records.
func priorResets(call *steps.Call) int {
	n := 0
	for _, p := range call.Prior {
		if _, ok := p.Details[progressReset]; ok {
			n++
		}
	}
	return n
}
