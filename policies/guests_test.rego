package revoke_test

import data.revoke

# guest_input is a B2B guest, found only in Entra ID, with a cloud password
# reset in the runbook.
guest_input := json.patch(synced_input, [
	{"op": "remove", "path": "/subject/ad"},
	{"op": "replace", "path": "/subject/entra/onPremisesSyncEnabled", "value": false},
	{"op": "replace", "path": "/subject/entra/userPrincipalName", "value": "pat_fabrikam.com#EXT#@contoso.com"},
	{"op": "add", "path": "/subject/entra/userType", "value": "Guest"},
	{"op": "replace", "path": "/subject/ref", "value": "pat_fabrikam.com#EXT#@contoso.com"},
])

test_guest_skips_cloud_password_reset_and_warns if {
	skips := revoke.skip with input as guest_input
	skips["reset-entra-password"] == "a guest signs in with their home organization's credentials: a password reset here cuts nothing off"
	not skips["disable-entra-user"]
	warns := revoke.warn with input as guest_input
	warns == {"pat_fabrikam.com#EXT#@contoso.com is a guest: ask their home organization to reset the password and revoke the sessions there too"}
}

test_member_keeps_cloud_password_reset if {
	inp := json.patch(guest_input, [{"op": "replace", "path": "/subject/entra/userType", "value": "Member"}])
	skips := revoke.skip with input as inp
	not skips["reset-entra-password"]
	count(revoke.warn) == 0 with input as inp
}

# A synced guest keeps the synced reason: one reason a step.
test_synced_guest_is_skipped_once_for_the_sync if {
	inp := json.patch(synced_input, [{"op": "add", "path": "/subject/entra/userType", "value": "Guest"}])
	skips := revoke.skip with input as inp
	skips["reset-entra-password"] == synced_skip_reason
}
