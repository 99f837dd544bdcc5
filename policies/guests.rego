# A guest (B2B, userType Guest) signs in with their home organisation's
# credentials, not a password this tenant holds: a cloud password reset
# here cuts nothing off, so entra.reset_password is skipped. Disabling the
# guest account and revoking its sessions are what this tenant can do; the
# home organisation is the one that can reset the password, so the plan
# says to tell it.
package revoke

guest if {
	input.subject.entra.userType == "Guest"
	not synced # a synced subject's reset is skipped already, for its own reason
}

skip[step.id] := "a guest signs in with their home organization's credentials: a password reset here cuts nothing off" if {
	guest
	some step in input.runbook.steps
	step.uses == "entra.reset_password"
}

warn contains sprintf("%s is a guest: ask their home organization to reset the password and revoke the sessions there too", [input.subject.ref]) if {
	guest
}
