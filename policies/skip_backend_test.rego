package revoke_test

import data.revoke

# hybrid_input is a synced subject found in both directories.
hybrid_input := {
	"scenario": "termination",
	"runbook": {"name": "termination", "scenario": "termination", "steps": [
		{"id": "disable-ad-account", "uses": "ad.disable_account", "with": {}, "needs": [], "tags": []},
		{"id": "remove-ad-groups", "uses": "ad.remove_group_memberships", "with": {"keep": []}, "needs": ["disable-ad-account"], "tags": []},
		{"id": "disable-entra-user", "uses": "entra.disable_user", "with": {}, "needs": [], "tags": []},
	]},
	"environment": {"name": "contoso", "kind": "hybrid", "protected": []},
	"subject": {
		"ref": "adele@contoso.com",
		"entra": {"id": "u1", "userPrincipalName": "adele@contoso.com", "accountEnabled": true, "onPremisesSyncEnabled": true, "privilegedRoles": []},
		"ad": {"distinguishedName": "CN=Adele,DC=contoso,DC=com", "sAMAccountName": "adele", "adminCount": 0},
	},
	"request": {"requested_by": "hr", "reason": "leaver", "allow_protected": false},
}

test_hybrid_subject_found_on_premises_keeps_ad_steps if {
	skips := revoke.skip with input as hybrid_input
	count(skips) == 0
}

test_cloud_environment_skips_every_ad_step if {
	inp := json.patch(hybrid_input, [
		{"op": "replace", "path": "/environment/kind", "value": "cloud"},
		{"op": "remove", "path": "/subject/ad"},
	])
	skips := revoke.skip with input as inp
	skips == {
		"disable-ad-account": "environment contoso is cloud-only: it has no on-premises Active Directory",
		"remove-ad-groups": "environment contoso is cloud-only: it has no on-premises Active Directory",
	}
}

test_cloud_environment_skips_ad_steps_even_with_ad_facts if {
	inp := json.patch(hybrid_input, [{"op": "replace", "path": "/environment/kind", "value": "cloud"}])
	skips := revoke.skip with input as inp
	object.keys(skips) == {"disable-ad-account", "remove-ad-groups"}
}

test_synced_subject_missing_on_premises_skips_ad_steps_saying_so if {
	inp := json.remove(hybrid_input, ["subject/ad"])
	skips := revoke.skip with input as inp
	skips["disable-ad-account"] == "adele@contoso.com is synced from on-premises AD, but AD has no such account: the run cannot contain it until that account is found and disabled"
	not skips["disable-entra-user"]
}

test_subject_missing_on_premises_skips_ad_steps if {
	inp := json.patch(json.remove(hybrid_input, ["subject/ad"]), [{"op": "replace", "path": "/subject/entra/onPremisesSyncEnabled", "value": false}])
	skips := revoke.skip with input as inp
	skips["disable-ad-account"] == "adele@contoso.com was not found in on-premises Active Directory"
	skips["remove-ad-groups"] == "adele@contoso.com was not found in on-premises Active Directory"
	not skips["disable-entra-user"]
}

test_subject_found_nowhere_is_denied if {
	inp := json.remove(hybrid_input, ["subject/ad", "subject/entra"])
	denies := revoke.deny with input as inp
	denies == {"adele@contoso.com was found neither in Entra ID nor in on-premises Active Directory: check the reference (UPN, object id or sAMAccountName)"}
}

test_subject_found_in_one_directory_is_not_denied if {
	count(revoke.deny) == 0 with input as json.remove(hybrid_input, ["subject/ad"])
	count(revoke.deny) == 0 with input as json.remove(hybrid_input, ["subject/entra"])
}

test_subject_missing_in_entra_skips_entra_steps_and_warns if {
	inp := json.remove(hybrid_input, ["subject/entra"])
	skips := revoke.skip with input as inp
	skips == {"disable-entra-user": "adele@contoso.com was not found in Entra ID"}
	warns := revoke.warn with input as inp
	warns == {"adele@contoso.com was found only in on-premises Active Directory, so the Entra ID steps are skipped: if the person also has a cloud account under another name, run revoke for that account too"}
}

test_subject_in_both_directories_keeps_entra_steps if {
	skips := revoke.skip with input as hybrid_input
	not skips["disable-entra-user"]
	count(revoke.warn) == 0 with input as hybrid_input
}
