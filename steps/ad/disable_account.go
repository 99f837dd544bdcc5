package ad

import "github.com/revoke-dev/revoke/steps"

var disableAccount = steps.Spec{
	Name:    "ad.disable_account",
	Summary: "Disable the on-premises account (userAccountControl ACCOUNTDISABLE)",
	Description: "Sets the ACCOUNTDISABLE bit (0x2) of userAccountControl and keeps every other bit " +
		"(512 → 514). A disabled account cannot bind or sign in, and Entra Connect carries the state " +
		"to the cloud on its next sync.",
	Permissions: steps.Permissions{
		ADRights: []string{"Write userAccountControl on the user object"},
	},
	Idempotent:  true,
	Containment: true,
}
