package entra

import "github.com/revoke-dev/revoke/steps"

var resetPassword = steps.Spec{
	Name:    "entra.reset_password",
	Summary: "Reset a cloud-only user's password to random values",
	Description: "PATCHes passwordProfile with a fresh random password from crypto/rand, `times` " +
		"times, forcing a change at next sign-in. Synced and federated users refuse it: reset them " +
		"on-premises. Passwords are never shown, logged or journaled.",
	Params: []steps.Param{
		{Name: "times", Type: steps.Int, Default: 1, Min: steps.Bounds(1), Max: steps.Bounds(5),
			Description: "How many consecutive resets."},
		{Name: "length", Type: steps.Int, Default: 32, Min: steps.Bounds(16), Max: steps.Bounds(256),
			Description: "Length of each generated password."},
	},
	Permissions: steps.Permissions{
		GraphApplication: []string{"User-PasswordProfile.ReadWrite.All"},
		GraphDelegated:   []string{"User-PasswordProfile.ReadWrite.All"},
		GraphRoles:       []string{"User Administrator"},
	},
}
