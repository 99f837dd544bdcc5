package entraspec

import "github.com/revoke-dev/revoke/steps"

// Enterprise apps a leaver is assigned to: the assignment is what app
// provisioning (SCIM) reads, so it goes first, and then each app that
// provisions is asked to act on the user now rather than at its next
// cycle.

// Graph permissions of entra.remove_app_assignments.
const (
	PermAppAssignments  = "AppRoleAssignment.ReadWrite.All"
	PermSynchronization = "Synchronization.ReadWrite.All"
)

// RemoveAppAssignments is the spec of entra.remove_app_assignments.
var RemoveAppAssignments = steps.Spec{
	Name:    "entra.remove_app_assignments",
	Summary: "Remove the user's app assignments and have provisioned apps deprovision them now",
	Description: "Deletes the user's own app role assignments (DELETE " +
		"/users/{id}/appRoleAssignments/{id}), all at once in Graph's $batch (20 to a request), " +
		"each journaled so a resumed run does not repeat it; once an app's assignments are all " +
		"gone, never before, an app that Entra provisions " +
		"(a service principal with a synchronization job) is asked to provision the user on " +
		"demand, so it disables or deletes the user's account in the app now instead of at its " +
		"next cycle (20 to 40 minutes later). Unassigning comes first: a user who is only " +
		"disabled and stays assigned may not be picked up. Graph allows 5 provisionOnDemand " +
		"requests per 10 seconds; a refusal (429) carries Retry-After and the engine waits that " +
		"long before it tries again. Assignments the user holds through a group are the group's: " +
		"they are left alone and stay in the inventory, and an app that still reaches the user " +
		"through one keeps their account (the change says so). Apps without provisioning keep " +
		"their accounts until a person removes them (servicenow.open_ticket). The change lists " +
		"each app removed and each provisioning result. Verify lists the assignments again and " +
		"provisions each app on demand once more, which must find no account left to act on; each " +
		"app read so is journaled, so a Verify retried after a 429 does not ask it again. That read " +
		"changes nothing for a user who is no longer assigned; one assigned again meanwhile (directly, " +
		"which Verify's listing reports first, or through a group) would be provisioned, as the next " +
		"cycle would do anyway.",
	Permissions: Graph(PermAppAssignments, PermSynchronization, PermAppRead),
	Budget:      &DirectoryWrites,
	Idempotent:  true,
}
