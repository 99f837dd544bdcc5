package ad

import "github.com/revoke-dev/revoke/steps"

var resetPassword = steps.Spec{
	Name:    "ad.reset_password",
	Summary: "Reset the on-premises password to random values, once or several times",
	Description: "Replaces unicodePwd with a fresh random password from crypto/rand, `times` times. " +
		"Twice when the account is compromised: the first reset makes a stolen hash useless, the " +
		"second one the password history a lagging replica could still accept. Passwords are never " +
		"shown, logged or journaled. Refused over an unencrypted connection.",
	Params: []steps.Param{
		{Name: "times", Type: steps.Int, Default: 1, Min: steps.Bounds(1), Max: steps.Bounds(5),
			Description: "How many consecutive resets."},
		{Name: "length", Type: steps.Int, Default: 32, Min: steps.Bounds(16), Max: steps.Bounds(256),
			Description: "Length of each generated password."},
	},
	Permissions: steps.Permissions{
		ADRights: []string{"Reset Password on the user object", "an encrypted connection (LDAPS or StartTLS)"},
	},
	Idempotent:  false,
	Containment: false,
}
