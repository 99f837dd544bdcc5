package revoke_test

import data.revoke

# cleanup_input is a cloud-only member with the clean-up steps in the
# runbook.
cleanup_input := json.patch(synced_input, [
	{"op": "replace", "path": "/subject/entra/onPremisesSyncEnabled", "value": false},
	{"op": "add", "path": "/subject/entra/userType", "value": "Member"},
	{"op": "add", "path": "/runbook/steps/-", "value": {
		"id": "remove-auth-methods", "uses": "entra.remove_auth_methods",
		"with": {"keep": []}, "needs": ["revoke-sessions"], "tags": [],
	}},
	{"op": "add", "path": "/runbook/steps/-", "value": {
		"id": "remove-roles", "uses": "entra.remove_roles",
		"with": {}, "needs": ["revoke-sessions"], "tags": [],
	}},
])

guest_skip_reason := "a guest's sign-in methods are registered in their home organization: this tenant has none to delete"

roles_skip_reason := "directory roles are removed only with approval: run with --approved-by"

test_member_keeps_method_removal if {
	skips := revoke.skip with input as cleanup_input
	not skips["remove-auth-methods"]
}

test_guest_skips_method_removal if {
	inp := json.patch(cleanup_input, [{"op": "replace", "path": "/subject/entra/userType", "value": "Guest"}])
	skips := revoke.skip with input as inp
	skips["remove-auth-methods"] == guest_skip_reason
}

test_roles_skipped_without_approval if {
	skips := revoke.skip with input as cleanup_input
	skips["remove-roles"] == roles_skip_reason
}

test_roles_removed_with_approval if {
	inp := json.patch(cleanup_input, [
		{"op": "add", "path": "/request/allow_protected", "value": true},
		{"op": "add", "path": "/request/approved_by", "value": "ciso@contoso.com"},
	])
	skips := revoke.skip with input as inp
	not skips["remove-roles"]
}

# A subject only on-premises keeps the backend's one reason.
test_on_premises_only_subject_is_skipped_once_for_the_backend if {
	inp := json.remove(cleanup_input, ["subject/entra"])
	skips := revoke.skip with input as inp
	skips["remove-roles"] == "adele@contoso.com was not found in Entra ID"
	skips["remove-auth-methods"] == "adele@contoso.com was not found in Entra ID"
}
