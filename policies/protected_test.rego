package revoke_test

import data.revoke

listed_input := json.patch(hybrid_input, [{"op": "replace", "path": "/environment/protected", "value": ["BreakGlass1@Contoso.com", "svc-backup"]}])

test_unprotected_subject_is_not_denied if {
	count(revoke.deny) == 0 with input as listed_input
	count(revoke.warn) == 0 with input as listed_input
}

test_listed_ref_is_denied_case_insensitively if {
	inp := json.patch(listed_input, [{"op": "replace", "path": "/subject/ref", "value": "breakglass1@contoso.com"}])
	denies := revoke.deny with input as inp
	denies == {"breakglass1@contoso.com is protected: environment contoso lists BreakGlass1@Contoso.com as protected; to proceed anyway, pass --allow-protected and name who approved it with --approved-by"}
}

test_listed_user_principal_name_is_denied if {
	inp := json.patch(listed_input, [{"op": "replace", "path": "/subject/entra/userPrincipalName", "value": "breakglass1@contoso.com"}])
	count(revoke.deny) == 1 with input as inp
}

test_listed_sam_account_name_is_denied if {
	inp := json.patch(listed_input, [{"op": "replace", "path": "/subject/ad/sAMAccountName", "value": "SVC-Backup"}])
	denies := revoke.deny with input as inp
	denies == {"adele@contoso.com is protected: environment contoso lists svc-backup as protected; to proceed anyway, pass --allow-protected and name who approved it with --approved-by"}
}

test_ad_admin_count_is_denied if {
	inp := json.patch(hybrid_input, [{"op": "replace", "path": "/subject/ad/adminCount", "value": 1}])
	denies := revoke.deny with input as inp
	denies == {"adele@contoso.com is protected: its on-premises account has adminCount=1 (it is or was in a protected AD group); to proceed anyway, pass --allow-protected and name who approved it with --approved-by"}
}

test_privileged_entra_role_is_denied if {
	inp := json.patch(hybrid_input, [{"op": "replace", "path": "/subject/entra/privilegedRoles", "value": ["User Administrator", "Global Administrator"]}])
	denies := revoke.deny with input as inp
	denies == {"adele@contoso.com is protected: it holds privileged Entra roles (Global Administrator, User Administrator); to proceed anyway, pass --allow-protected and name who approved it with --approved-by"}
}

admin_input := json.patch(hybrid_input, [{"op": "replace", "path": "/subject/ad/adminCount", "value": 1}])

test_eligible_entra_role_is_denied if {
	inp := json.patch(hybrid_input, [{"op": "add", "path": "/subject/entra/eligibleRoles", "value": ["Global Administrator", "Exchange Administrator"]}])
	denies := revoke.deny with input as inp
	denies == {"adele@contoso.com is protected: it may activate privileged Entra roles in Privileged Identity Management (Exchange Administrator, Global Administrator); to proceed anyway, pass --allow-protected and name who approved it with --approved-by"}
}

test_no_eligible_roles_is_not_denied if {
	inp := json.patch(hybrid_input, [{"op": "add", "path": "/subject/entra/eligibleRoles", "value": []}])
	count(revoke.deny) == 0 with input as inp
}

test_allowed_and_approved_protected_run_is_not_denied_but_warns if {
	inp := json.patch(admin_input, [
		{"op": "replace", "path": "/request/allowProtected", "value": true},
		{"op": "add", "path": "/request/approvedBy", "value": "ciso@contoso.com"},
	])
	count(revoke.deny) == 0 with input as inp
	warnings := revoke.warn with input as inp
	warnings == {"adele@contoso.com is protected (its on-premises account has adminCount=1 (it is or was in a protected AD group)); proceeding because ciso@contoso.com approved it"}
}

test_allowed_without_approver_is_denied if {
	inp := json.patch(admin_input, [{"op": "replace", "path": "/request/allowProtected", "value": true}])
	count(revoke.deny) == 1 with input as inp
}

test_allowed_with_blank_approver_is_denied if {
	inp := json.patch(admin_input, [
		{"op": "replace", "path": "/request/allowProtected", "value": true},
		{"op": "add", "path": "/request/approvedBy", "value": "  "},
	])
	count(revoke.deny) == 1 with input as inp
}

test_approver_without_allow_is_denied if {
	inp := json.patch(admin_input, [{"op": "add", "path": "/request/approvedBy", "value": "ciso@contoso.com"}])
	count(revoke.deny) == 1 with input as inp
}

test_every_protection_is_reported if {
	inp := json.patch(listed_input, [
		{"op": "replace", "path": "/subject/ref", "value": "svc-backup"},
		{"op": "replace", "path": "/subject/ad/adminCount", "value": 1},
		{"op": "replace", "path": "/subject/entra/privilegedRoles", "value": ["Global Administrator"]},
	])
	count(revoke.deny) == 3 with input as inp
}
