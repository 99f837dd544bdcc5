package entra

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

var revokeSessions = implement(entraspec.RevokeSessions, func() steps.Step { return &revokeSessionsStep{} })

// revokeSessionsStep implements entra.revoke_sessions: one value per step
// execution, on which the engine calls Check, Apply and Verify.
type revokeSessionsStep struct {
	// applied is set once Apply has run on this value: a later Check must
	// read, since the revocation may have been made.
	applied bool
}

var (
	_ steps.Step     = (*revokeSessionsStep)(nil)
	_ steps.Verifier = (*revokeSessionsStep)(nil)
)

var revokeSessionsErrors = errorContext{permission: revokeSessions.Needs(entraspec.KindApplication)[0], guard: guards[revokeSessions.Name]}

// Check is satisfied only when the sessions were already revoked during
// this run: a revocation from before the run may predate the sign-ins the
// run is about. A step that is neither resumed (no earlier process started
// it) nor applied has revoked nothing yet, so it is not satisfied: it says
// what it will do from the resolved signInSessionsValidFromDateTime
// without asking Graph. (Should something else have revoked the sessions
// since the run started, revoking them again is redundant, never wrong.)
// Otherwise, or when the facts do not hold the time, it reads: a resumed
// step's revocation may have landed before the crash.
func (s *revokeSessionsStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	if from, ok := resolvedValidFrom(call); ok && !call.Resumed && !s.applied {
		if _, _, err := target(call); err != nil {
			return steps.Change{}, err
		}
		return sessionsChange(from), nil
	}
	from, err := sessionsValidFrom(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	if since, ok := runStart(call); ok && !from.IsZero() && !from.Before(since) {
		return steps.Change{Satisfied: true,
			Summary: "sign-in sessions already revoked at " + stamp(from)}, nil
	}
	return sessionsChange(from), nil
}

// sessionsChange is what revoking sessions valid from from changes.
func sessionsChange(from time.Time) steps.Change {
	was := "never"
	if !from.IsZero() {
		was = stamp(from)
	}
	return steps.Change{Summary: "sign-in sessions valid from " + was + " → now"}
}

// resolvedValidFrom is the signInSessionsValidFromDateTime the backend
// resolved (RFC 3339), and whether the facts hold one.
func resolvedValidFrom(call *steps.Call) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, call.Subject.FactString("entra", "signInSessionsValidFromDateTime"))
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// Apply revokes every refresh token and session cookie of the subject.
func (s *revokeSessionsStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	s.applied = true
	c, id, err := target(call)
	if err != nil {
		return steps.Change{}, err
	}
	// Graph answers 200 {"value": true}, or sometimes 204 (a nil response).
	resp, err := c.graph.Users().ByUserId(id).RevokeSignInSessions().PostAsRevokeSignInSessionsPostResponse(ctx, nil)
	if err != nil {
		return steps.Change{}, classify(ctx, "revoke sign-in sessions of "+id, err, c.onTarget(ctx, call, revokeSessionsErrors))
	}
	if resp != nil {
		if v := resp.GetValue(); v != nil && !*v {
			return steps.Change{}, errors.New("entra: revoke sign-in sessions of " + id + ": Graph answered false")
		}
	}
	return steps.Change{Summary: "sign-in sessions revoked: valid from now"}, nil
}

// Verify reads signInSessionsValidFromDateTime back: it must not be before
// the run started (to the second: Graph's timestamps have no fraction).
func (*revokeSessionsStep) Verify(ctx context.Context, call *steps.Call) error {
	from, err := sessionsValidFrom(ctx, call)
	if err != nil {
		return err
	}
	if from.IsZero() {
		return errors.New("entra: Graph returned no signInSessionsValidFromDateTime after the revocation")
	}
	if since, ok := runStart(call); ok && from.Before(since) {
		return fmt.Errorf("entra: signInSessionsValidFromDateTime is %s, before the run started (%s)", stamp(from), stamp(since))
	}
	return nil
}

// sessionsValidFrom reads the subject's signInSessionsValidFromDateTime;
// zero when Graph returns none.
func sessionsValidFrom(ctx context.Context, call *steps.Call) (time.Time, error) {
	c, id, err := target(call)
	if err != nil {
		return time.Time{}, err
	}
	u, err := c.getUser(ctx, "read signInSessionsValidFromDateTime of "+id, id,
		errorContext{permission: permUserRead}, "id", "signInSessionsValidFromDateTime")
	if err != nil {
		return time.Time{}, err
	}
	return deref(u.signInSessionsValidFromDateTime), nil
}

// runStart is the run's start truncated to the second, and whether the
// engine said when the run started.
func runStart(call *steps.Call) (time.Time, bool) {
	if call.RunStarted.IsZero() {
		return time.Time{}, false
	}
	return call.RunStarted.Truncate(time.Second), true
}

// stamp renders a time as Graph does.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
