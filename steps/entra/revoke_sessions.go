package entra

import "github.com/revoke-dev/revoke/steps"

var revokeSessions = steps.Spec{
	Name:    "entra.revoke_sessions",
	Summary: "Revoke refresh tokens and session cookies (revokeSignInSessions)",
	Description: "Invalidates every refresh token and browser session cookie issued to the user by " +
		"moving signInSessionsValidFromDateTime to now; verified by reading that back. Access " +
		"tokens already issued stay valid until they expire (about an hour).",
	Permissions: steps.Permissions{
		GraphApplication: []string{"User.RevokeSessions.All"},
		GraphDelegated:   []string{"User.RevokeSessions.All"},
	},
	Idempotent:  true,
	Containment: true,
}
