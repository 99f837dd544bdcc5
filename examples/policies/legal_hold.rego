# A team's own policy, compiled together with the defaults: people on legal
# hold keep their devices (they are evidence), and the plan says so.
package revoke

legal_hold_group := "cn=legal hold,ou=groups,dc=contoso,dc=test"

on_legal_hold if {
	some g in input.subject.ad.memberOf
	lower(g) == legal_hold_group
}

skip[step.id] := "subject is on legal hold: devices are evidence and stay enabled" if {
	on_legal_hold
	some step in input.runbook.steps
	step.uses == "entra.disable_devices"
	not backend_skip[step.id] # skipped already, with its own reason
}

warn contains sprintf("%s is on legal hold: tell the legal team before anything else", [input.subject.ref]) if {
	on_legal_hold
}
