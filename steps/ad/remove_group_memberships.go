package ad

import "github.com/revoke-dev/revoke/steps"

var removeGroupMemberships = steps.Spec{
	Name:    "ad.remove_group_memberships",
	Summary: "Remove the account from every group it is a member of",
	Description: "Deletes the user's DN from the member attribute of each group in its memberOf. " +
		"The primary group (usually Domain Users) is not in memberOf and stays. The groups removed " +
		"are journaled so a person can restore them.",
	Params: []steps.Param{
		{Name: "keep", Type: steps.StringList, Default: []string{},
			Description: "Distinguished names (or CNs) of groups to leave in place."},
	},
	Permissions: steps.Permissions{
		ADRights: []string{"Write member on each group"},
	},
	Idempotent: true,
}
