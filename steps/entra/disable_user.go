package entra

import "github.com/revoke-dev/revoke/steps"

var disableUser = steps.Spec{
	Name:    "entra.disable_user",
	Summary: "Block cloud sign-in (accountEnabled false)",
	Description: "PATCHes the user's accountEnabled to false. For a synced user the next directory " +
		"sync reverts it unless the on-premises account is disabled too.",
	Permissions: steps.Permissions{
		GraphApplication: []string{"User.EnableDisableAccount.All", "User.Read.All"},
		GraphDelegated:   []string{"User.EnableDisableAccount.All", "User.Read.All"},
	},
	Idempotent:  true,
	Containment: true,
}
