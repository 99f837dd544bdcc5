package serve

import (
	"context"
	"net/http"

	"github.com/revoke-dev/revoke/steps"
)

// Caller is who made a request, as authentication established it: the
// journal records it as the run's requester (and approver), the rate limit
// counts per ID, and the Authorizer decides on it.
type Caller struct {
	// ID is stable and unique: an Entra object id (oid) or app id, or
	// "webhook:<name>" for a signed webhook.
	ID string `json:"id"`
	// Name is for people reading the journal (a display name, an app's
	// name, the webhook's name); never a secret.
	Name string `json:"name,omitempty"`
	// App is true for an application (a managed identity, a client
	// credential, a webhook), false for a person.
	App bool `json:"app,omitempty"`
	// Roles are the caller's app roles (Revoke.Run, Revoke.Approve).
	Roles []string `json:"roles,omitempty"`
	// Tenant is the caller's tenant id (tid), "" for a webhook.
	Tenant string `json:"tenant,omitempty"`
}

// Authenticator checks a request's credentials. A nil Caller with an error
// is answered 401 with the error's text (which must hold no secret and no
// token).
type Authenticator interface {
	Authenticate(r *http.Request) (*Caller, error)
}

// Actions an Authorizer is asked about.
const (
	ActionRun     = "run"
	ActionApprove = "approve"
	ActionRead    = "read"
	ActionCancel  = "cancel"
)

// Authorizer decides whether caller may do action (ActionRun,
// ActionApprove, ActionRead, ActionCancel) on a request and its resolved
// subject (nil for ActionRead on the list of runs). When allowed is false
// the reasons are sent in the 403; needsApproval (only meaningful for
// ActionRun) holds the run in awaiting_approval until a different caller
// approves it. A protected subject waits for approval whatever the
// Authorizer says. An error is answered 500 and nothing is run.
type Authorizer interface {
	Authorize(ctx context.Context, caller *Caller, action string, req *RunRequest, subject *steps.Subject) (allowed bool, needsApproval bool, reasons []string, err error)
}

// WebhookVerifier checks a signed webhook's request (POST
// /v1/hooks/{name}) over the exact body received: a nil error means the
// signature is good, fresh and not a replay. Its error is answered 401.
type WebhookVerifier interface {
	Verify(name string, r *http.Request, body []byte) error
}
