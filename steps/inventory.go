package steps

import "context"

// Residual kinds: what a subject can still hold after their accounts are
// disabled. A backend may add its own; these are the ones revoke's report
// groups and explains.
const (
	ResidualToken         = "token"          // access tokens already issued
	ResidualSignInMethod  = "sign_in_method" // an authenticator, phone, key…
	ResidualInboxRule     = "inbox_rule"     // mail still forwarded, redirected or deleted
	ResidualConsent       = "consent"        // an app still allowed to act as the user
	ResidualAppAssignment = "app_assignment" // an app (provisioned or not) the user is still assigned to
	ResidualGroup         = "group"          // a group membership
	ResidualLicense       = "license"        // a licence
	ResidualRole          = "role"           // a directory role: held, eligible, or through a group
	ResidualDevice        = "device"         // a device still enabled, or managed and not wiped
	ResidualAccount       = "account"        // the account itself still enabled
	ResidualUnchecked     = "unchecked"      // something that could not be read: never stay silent
)

// Residual is one thing a subject still holds that outlives a disabled
// account, as an inventory reads it. It never holds a secret.
type Residual struct {
	// Backend is the backend that read it (entra, ad).
	Backend string `json:"backend"`
	// Kind is one of the Residual* kinds, or a backend's own.
	Kind string `json:"kind"`
	// What says what it is, for a person: "Microsoft Authenticator
	// (SM-A515F, added 2026-12-07)", "rule \"x\" (forwards to
	// evil@example.net)".
	What string `json:"what"`
	// Until says how long it lasts: "until it expires (about an hour)",
	// "until the next provisioning cycle (20–40 min)", "until removed".
	Until string `json:"until"`
	// Why says why it was left, when a run left it on purpose or could not
	// act on it: "tenant-wide consent: never removed for one user",
	// "inherited from group Sales".
	Why string `json:"why,omitempty"`
	// ID is the directory's id of the object, when it has one.
	ID string `json:"id,omitempty"`
}

// Inventorier is implemented by connections that can read what a subject
// still holds: read-only, safe to call before or after a run. The engine
// asks every connection that implements it after a run and for `revoke
// inventory`; a backend adds its own items without touching the engine.
type Inventorier interface {
	// Inventory lists what the subject still holds in this backend. What
	// cannot be read is a ResidualUnchecked item saying why, not an error;
	// an error means the inventory as a whole failed.
	Inventory(ctx context.Context, subject *Subject) ([]Residual, error)
}
