package revoke.lint_test

import data.revoke.lint

lint_runbook(scenario, steps) := {"runbook": {"name": "rb", "scenario": scenario, "steps": steps}}

step(id, uses, params, needs) := {"id": id, "uses": uses, "with": params, "needs": needs, "tags": []}

good_compromised := [
	step("disable-entra-user", "entra.disable_user", {}, []),
	step("disable-ad-account", "ad.disable_account", {}, []),
	step("reset-ad-password", "ad.reset_password", {"times": 2, "length": 32}, ["disable-ad-account"]),
	step("revoke-sessions", "entra.revoke_sessions", {}, ["reset-ad-password", "disable-entra-user"]),
]

test_good_compromised_runbook_passes if {
	count(lint.violation) == 0 with input as lint_runbook("compromised", good_compromised)
	count(lint.advice) == 0 with input as lint_runbook("compromised", good_compromised)
}

test_compromised_single_reset_is_a_violation if {
	steps := [step("reset-ad-password", "ad.reset_password", {"times": 1, "length": 32}, [])]
	v := lint.violation with input as lint_runbook("compromised", steps)
	v == {{"runbook": "rb", "step": "reset-ad-password", "message": "step reset-ad-password resets the on-premises password 1 time(s); a compromised account needs times: 2 or more, so that neither a stolen hash nor the previous password stays valid"}}
}

test_compromised_reset_without_times_counts_as_once if {
	steps := [step("reset-ad-password", "ad.reset_password", {}, [])]
	count(lint.violation) == 1 with input as lint_runbook("compromised", steps)
}

test_termination_single_reset_is_fine if {
	steps := [step("reset-ad-password", "ad.reset_password", {"times": 1}, [])]
	count(lint.violation) == 0 with input as lint_runbook("termination", steps)
}

test_compromised_without_ad_reset_is_advice if {
	steps := [step("disable-entra-user", "entra.disable_user", {}, [])]
	count(lint.violation) == 0 with input as lint_runbook("compromised", steps)
	a := lint.advice with input as lint_runbook("compromised", steps)
	a == {{"runbook": "rb", "step": "", "message": "runbook rb is for compromised accounts but never resets the on-premises password (ad.reset_password); fine for cloud-only tenants only"}}
}

test_termination_without_ad_reset_is_fine if {
	steps := [step("disable-entra-user", "entra.disable_user", {}, [])]
	count(lint.advice) == 0 with input as lint_runbook("termination", steps)
}

revoke_message := "step revoke-sessions (entra.revoke_sessions) must need disable-entra-user (entra.disable_user), directly or through other steps: until the account is disabled a fresh sign-in re-opens a revoked session"

test_revoke_not_needing_disable_is_a_violation if {
	steps := [
		step("disable-entra-user", "entra.disable_user", {}, []),
		step("revoke-sessions", "entra.revoke_sessions", {}, []),
	]
	v := lint.violation with input as lint_runbook("termination", steps)
	v == {{"runbook": "rb", "step": "revoke-sessions", "message": revoke_message}}
}

test_revoke_needing_disable_transitively_passes if {
	steps := [
		step("disable-entra-user", "entra.disable_user", {}, []),
		step("disable-devices", "entra.disable_devices", {}, ["disable-entra-user"]),
		step("revoke-sessions", "entra.revoke_sessions", {}, ["disable-devices"]),
	]
	count(lint.violation) == 0 with input as lint_runbook("termination", steps)
}

test_revoke_needing_an_unrelated_step_is_a_violation if {
	steps := [
		step("disable-entra-user", "entra.disable_user", {}, []),
		step("disable-devices", "entra.disable_devices", {}, []),
		step("revoke-sessions", "entra.revoke_sessions", {}, ["disable-devices"]),
	]
	count(lint.violation) == 1 with input as lint_runbook("termination", steps)
}

test_revoke_without_disable_step_is_fine if {
	steps := [step("revoke-sessions", "entra.revoke_sessions", {}, [])]
	count(lint.violation) == 0 with input as lint_runbook("termination", steps)
}
