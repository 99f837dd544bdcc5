package entra

import "github.com/revoke-dev/revoke/steps"

var confirmCompromised = steps.Spec{
	Name:    "entra.confirm_compromised",
	Summary: "Mark the user confirmed compromised in Identity Protection",
	Description: "Sets the user's risk to high, so risk-based Conditional Access policies apply. " +
		"Needs Entra ID P2. Identity Protection allows about one request a second per tenant and " +
		"its throttling answers carry no Retry-After.",
	Permissions: steps.Permissions{
		GraphApplication: []string{"IdentityRiskyUser.ReadWrite.All"},
		GraphDelegated:   []string{"IdentityRiskyUser.ReadWrite.All"},
	},
	Idempotent: true,
}
