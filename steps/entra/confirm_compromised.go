package entra

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/identityprotection"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// riskConfirmedCompromised is the riskState the step sets.
const riskConfirmedCompromised = "confirmedCompromised"

var confirmCompromised = implement(entraspec.ConfirmCompromised, func() steps.Step { return confirmCompromisedStep{} })

// confirmCompromisedStep implements entra.confirm_compromised.
type confirmCompromisedStep struct{}

var (
	_ steps.Step     = confirmCompromisedStep{}
	_ steps.Verifier = confirmCompromisedStep{}
)

// confirmCompromisedErrors: Identity Protection's 429s name no wait, so
// one second (its budget) is asked for rather than the engine's backoff.
var confirmCompromisedErrors = errorContext{
	permission:   confirmCompromised.Needs(entraspec.KindApplication)[0],
	throttleWait: time.Second,
}

func (confirmCompromisedStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	state, err := riskState(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	if state == riskConfirmedCompromised {
		return steps.Change{Satisfied: true, Summary: "already " + riskConfirmedCompromised}, nil
	}
	return steps.Change{Summary: "riskState: " + state + " → " + riskConfirmedCompromised}, nil
}

func (confirmCompromisedStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	c, id, err := target(call)
	if err != nil {
		return steps.Change{}, err
	}
	if err := c.waitRisk(ctx); err != nil {
		return steps.Change{}, err
	}
	body := identityprotection.NewRiskyUsersConfirmCompromisedPostRequestBody()
	body.SetUserIds([]string{id})
	if err := c.graph.IdentityProtection().RiskyUsers().ConfirmCompromised().Post(ctx, body, nil); err != nil {
		return steps.Change{}, classify(ctx, "confirm "+id+" compromised", err, confirmCompromisedErrors)
	}
	return steps.Change{Summary: "confirmed compromised (riskState " + riskConfirmedCompromised + ")"}, nil
}

func (confirmCompromisedStep) Verify(ctx context.Context, call *steps.Call) error {
	state, err := riskState(ctx, call)
	if err != nil {
		return err
	}
	if state != riskConfirmedCompromised {
		return errors.New("entra: riskState is " + state + " after confirmCompromised")
	}
	return nil
}

// riskState reads the subject's Identity Protection riskState; a user
// Identity Protection has no record of is "none".
func riskState(ctx context.Context, call *steps.Call) (string, error) {
	c, id, err := target(call)
	if err != nil {
		return "", err
	}
	if err := c.waitRisk(ctx); err != nil {
		return "", err
	}
	ru, err := c.graph.IdentityProtection().RiskyUsers().ByRiskyUserId(id).Get(ctx, nil)
	if err != nil {
		err = classify(ctx, "read riskState of "+id, err, confirmCompromisedErrors)
		if steps.ClassOf(err) == steps.NotFound {
			return models.NONE_RISKSTATE.String(), nil
		}
		return "", err
	}
	if s := ru.GetRiskState(); s != nil {
		return s.String(), nil
	}
	return models.NONE_RISKSTATE.String(), nil
}

// waitRisk waits for the connection's turn to call Identity Protection.
func (c *Conn) waitRisk(ctx context.Context) error {
	if err := c.riskGate.wait(ctx); err != nil {
		return fmt.Errorf("entra: wait for Identity Protection's rate limit: %w", err)
	}
	return nil
}
