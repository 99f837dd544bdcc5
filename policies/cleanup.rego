# The clean-up steps, by subject and request.
#
# A guest (B2B, userType Guest) registers their sign-in methods in their
# home organization, not here: this tenant holds none to delete, so
# entra.remove_auth_methods is skipped for them (the guests policy already
# says to tell the home organization).
#
# Directory roles come off only with approval. Only a protected subject
# holds roles, and the engine runs on one only with --allow-protected and
# --approved-by; but a role that does not make its holder protected (one
# outside the privileged list) would otherwise be removed on a request no
# one approved. entra.remove_roles is therefore skipped unless the request
# names who approved it. No built-in runbook has the step (see
# runbooks/compromised.yaml for why); a runbook of yours may.
package revoke

skip[step.id] := "a guest's sign-in methods are registered in their home organization: this tenant has none to delete" if {
	input.subject.entra.userType == "Guest"
	some step in input.runbook.steps
	step.uses == "entra.remove_auth_methods"
	not backend_skip[step.id]
}

skip[step.id] := "directory roles are removed only with approval: run with --approved-by" if {
	not input.request.approved_by
	some step in input.runbook.steps
	step.uses == "entra.remove_roles"
	not backend_skip[step.id]
}
