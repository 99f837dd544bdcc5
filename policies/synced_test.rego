package revoke_test

import data.revoke

# synced_input has a cloud password reset and both disables.
synced_input := json.patch(hybrid_input, [{"op": "add", "path": "/runbook/steps/-", "value": {
	"id": "reset-entra-password", "uses": "entra.reset_password",
	"with": {"times": 1, "length": 32}, "needs": [], "tags": [],
}}])

synced_skip_reason := "synced from on-premises AD: the password is mastered there, so the on-premises reset is the one that counts"

test_synced_subject_skips_cloud_password_reset if {
	skips := revoke.skip with input as synced_input
	skips == {"reset-entra-password": synced_skip_reason}
}

test_cloud_only_subject_keeps_cloud_password_reset if {
	inp := json.patch(synced_input, [{"op": "replace", "path": "/subject/entra/onPremisesSyncEnabled", "value": false}])
	skips := revoke.skip with input as inp
	not skips["reset-entra-password"]
}

test_sync_flag_absent_keeps_cloud_password_reset if {
	skips := revoke.skip with input as json.remove(synced_input, ["subject/entra/onPremisesSyncEnabled"])
	not skips["reset-entra-password"]
}

test_synced_subject_with_ad_disable_gets_no_warning if {
	count(revoke.warn) == 0 with input as synced_input
}

sync_warning := "adele@contoso.com is synced from on-premises AD and no ad.disable_account step applies: the next directory sync will undo the cloud sign-in block of step disable-entra-user unless the AD account is disabled too"

test_synced_subject_without_ad_disable_step_warns if {
	# The runbook lacks ad.disable_account: keep only the entra steps.
	entra_steps := [s | some s in synced_input.runbook.steps; startswith(s.uses, "entra.")]
	inp := json.patch(synced_input, [{"op": "replace", "path": "/runbook/steps", "value": entra_steps}])
	warnings := revoke.warn with input as inp
	warnings == {sync_warning}
}

test_synced_subject_with_skipped_ad_disable_warns if {
	# Not found on-premises: the AD disable is skipped, so it does not apply.
	warnings := revoke.warn with input as json.remove(synced_input, ["subject/ad"])
	warnings == {sync_warning}
}

test_cloud_only_subject_without_ad_disable_gets_no_warning if {
	inp := json.patch(synced_input, [
		{"op": "replace", "path": "/subject/entra/onPremisesSyncEnabled", "value": false},
		{"op": "remove", "path": "/subject/ad"},
	])
	count(revoke.warn) == 0 with input as inp
}

test_synced_subject_without_entra_disable_gets_no_warning if {
	reset_only := [s | some s in synced_input.runbook.steps; s.uses == "entra.reset_password"]
	inp := json.patch(synced_input, [{"op": "replace", "path": "/runbook/steps", "value": reset_only}])
	count(revoke.warn) == 0 with input as inp
}
