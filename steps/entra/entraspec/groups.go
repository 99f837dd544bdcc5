package entraspec

import "github.com/revoke-dev/revoke/steps"

// The leaver steps take away what a person still holds in the cloud once
// their account is shut: group memberships and licences. Like the
// clean-up steps they are not containment steps.

// Graph permissions of the leaver steps.
const (
	PermGroupMembers = "GroupMember.ReadWrite.All"
	PermLicenses     = "LicenseAssignment.ReadWrite.All"
	PermUserRead     = "User.Read.All"
)

// RemoveGroupMemberships is the spec of entra.remove_group_memberships.
var RemoveGroupMemberships = steps.Spec{
	Name:    "entra.remove_group_memberships",
	Summary: "Remove the user from their cloud groups",
	Description: "Lists the groups the user is a direct member of and removes the user from each " +
		"(DELETE /groups/{id}/members/{user}/$ref; the reference, never the user object), all " +
		"at once in Graph's $batch (20 to a request, one round trip), each journaled so a resumed " +
		"or retried run does not repeat it: a removal Graph throttles inside the batch is the only " +
		"one sent again. Removing a membership also " +
		"takes the licences and app assignments that came with the group. Groups Graph cannot " +
		"change are skipped with the reason and stay in the inventory: dynamic groups (their rule " +
		"puts the user back: change the rule or the user's attributes), groups synced from AD " +
		"(remove the membership on-premises, ad.remove_group_memberships) and distribution lists " +
		"and mail-enabled security groups (Exchange Online owns their members: " +
		"Remove-DistributionGroupMember). A role-assignable group also needs " + PermRoles + ", " +
		"which the permission preflight asks for only when the subject is in one. Verify lists " +
		"the groups again.",
	Permissions: Graph(PermGroupMembers),
	Budget:      &DirectoryWrites,
	Idempotent:  true,
}

// RemoveLicenses is the spec of entra.remove_licenses.
var RemoveLicenses = steps.Spec{
	Name:    "entra.remove_licenses",
	Summary: "Remove the user's directly assigned licences (run it last)",
	Description: "Removes every licence assigned to the user directly, in one assignLicense call. " +
		"Licences the user holds through a group (licenseAssignmentStates with assignedByGroup) " +
		"cannot be removed from the user: they are listed with their group and left, and go " +
		"when the membership does (entra.remove_group_memberships, before this step). Put it " +
		"last in a runbook: removing the Exchange Online licence starts the mailbox's deletion " +
		"clock (about 30 days), so any mailbox hand-off comes first. The change names each " +
		"licence by its part number (ENTERPRISEPACK) from the tenant's subscribedSkus, or by its " +
		"sku id where those cannot be read. Verify reads the licence assignment states back.",
	Permissions: Graph(PermLicenses, PermUserRead),
	Budget:      &DirectoryWrites,
	Idempotent:  true,
}
