# How many times passwords are reset, by scenario: once when someone leaves,
# twice when the account is compromised, so that neither a stolen hash nor
# the previous password (still accepted by a replica that has not caught up,
# or kept in history) stays usable. The runbook's `times` is the default;
# this object is merged over it. Other scenarios keep the runbook's value.
package revoke

reset_times := {"termination": 1, "compromised": 2}

password_reset_steps := {"ad.reset_password", "entra.reset_password"}

with[step.id] := {"times": reset_times[input.scenario]} if {
	some step in input.runbook.steps
	step.uses in password_reset_steps
}
