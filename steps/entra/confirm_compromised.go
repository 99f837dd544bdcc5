package entra

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/identityprotection"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// riskConfirmedCompromised is the riskState the step sets.
const riskConfirmedCompromised = "confirmedCompromised"

// riskNone is the riskState of a user Identity Protection sees no risk in.
const riskNone = "none"

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

// Apply confirms the subject compromised. Runs that want it at the same
// time (a bulk run's subjects) share one request carrying all their user
// ids, sent in Identity Protection's next free slot (gate.go); each gets
// that request's result.
func (confirmCompromisedStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	c, id, err := target(call)
	if err != nil {
		return steps.Change{}, err
	}
	n, err := c.risk.confirm(ctx, id, c.postConfirmCompromised)
	if class := steps.ClassOf(classify(ctx, "", err, confirmCompromisedErrors)); err != nil && n > 1 &&
		(class == steps.Invalid || class == steps.NotFound) {
		// Refused for the lot because of an id (one Identity Protection
		// rejects): the subject's own request, alone, says whether it
		// was this one. Throttling and a missing permission are the
		// same for every id, and are not asked again one by one.
		n, err = 1, c.postConfirmCompromisedAlone(ctx, id)
	}
	if err != nil {
		op := "confirm " + id + " compromised"
		if n > 1 {
			op += fmt.Sprintf(" (one request for %d users)", n)
		}
		return steps.Change{}, classify(ctx, op, err, confirmCompromisedErrors)
	}
	summary := "confirmed compromised (riskState " + riskConfirmedCompromised + ")"
	if n > 1 {
		summary += fmt.Sprintf(", in one request with %d other users", n-1)
	}
	return steps.Change{Summary: summary}, nil
}

// postConfirmCompromised sends one confirmCompromised request for ids; the
// caller has waited for Identity Protection's slot.
func (c *Conn) postConfirmCompromised(ctx context.Context, ids []string) error {
	body := identityprotection.NewRiskyUsersConfirmCompromisedPostRequestBody()
	body.SetUserIds(ids)
	return c.graph.IdentityProtection().RiskyUsers().ConfirmCompromised().Post(ctx, body, nil)
}

// postConfirmCompromisedAlone confirms one user in a request of its own,
// in Identity Protection's next turn.
func (c *Conn) postConfirmCompromisedAlone(ctx context.Context, id string) error {
	return c.inRiskTurn(ctx, func() error { return c.postConfirmCompromised(ctx, []string{id}) })
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
	var ru *graphRiskyUser
	err = c.inRiskTurn(ctx, func() (err error) {
		ru, err = send[graphRiskyUser](ctx, c, req(c.graph.IdentityProtection().RiskyUsers().ByRiskyUserId(id).ToGetRequestInformation(ctx, nil)))
		return err
	})
	if err != nil {
		err = classify(ctx, "read riskState of "+id, err, confirmCompromisedErrors)
		if steps.ClassOf(err) == steps.NotFound {
			return riskNone, nil
		}
		return "", err
	}
	if ru != nil && ru.riskState != nil {
		return *ru.riskState, nil
	}
	return riskNone, nil
}

// inRiskTurn runs call in the connection's turn to call Identity
// Protection (gate.go). The gate's own failure (ctx ended while waiting,
// the shared slot file unusable) comes back unclassified, for the caller
// to say what it was doing.
func (c *Conn) inRiskTurn(ctx context.Context, call func() error) error {
	return c.risk.gate.do(ctx, call)
}
