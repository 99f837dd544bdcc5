package revoke_test

import data.revoke

password_input(scenario) := json.patch(hybrid_input, [
	{"op": "replace", "path": "/scenario", "value": scenario},
	{"op": "replace", "path": "/runbook/scenario", "value": scenario},
	{"op": "replace", "path": "/runbook/steps", "value": [
		{"id": "disable-ad-account", "uses": "ad.disable_account", "with": {}, "needs": [], "tags": []},
		{"id": "reset-ad-password", "uses": "ad.reset_password", "with": {"times": 3, "length": 32}, "needs": [], "tags": []},
		{"id": "reset-entra-password", "uses": "entra.reset_password", "with": {"times": 3, "length": 32}, "needs": [], "tags": []},
	]},
])

test_termination_resets_passwords_once if {
	w := revoke.with with input as password_input("termination")
	w == {"reset-ad-password": {"times": 1}, "reset-entra-password": {"times": 1}}
}

test_compromised_resets_passwords_twice if {
	w := revoke.with with input as password_input("compromised")
	w == {"reset-ad-password": {"times": 2}, "reset-entra-password": {"times": 2}}
}

test_other_scenarios_keep_the_runbooks_times if {
	count(revoke.with) == 0 with input as password_input("mailbox-lockdown")
}
