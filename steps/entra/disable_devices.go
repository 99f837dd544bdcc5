package entra

import "github.com/revoke-dev/revoke/steps"

var disableDevices = steps.Spec{
	Name:    "entra.disable_devices",
	Summary: "Disable the user's registered and owned devices",
	Description: "Sets accountEnabled false on every device the user registered or owns, so their " +
		"primary refresh tokens stop working. Managed devices can also be retired or wiped.",
	Params: []steps.Param{
		{Name: "managed_action", Type: steps.Enum, Default: "none", Enum: []string{"none", "retire", "wipe"},
			Description: "What to do to the user's Intune managed devices as well."},
	},
	Permissions: steps.Permissions{
		GraphApplication: []string{"Device.ReadWrite.All", "User.Read.All"},
		GraphDelegated:   []string{"Device.ReadWrite.All", "User.Read.All"},
		GraphRoles:       []string{"Cloud Device Administrator (delegated callers)"},
	},
	Idempotent:  true,
	Containment: true,
}
