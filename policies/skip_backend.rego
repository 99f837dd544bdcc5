# Where the subject exists decides which backends' steps apply.
#
# A cloud-only environment has no on-premises directory, and a subject the
# ad backend did not find (input.subject.ad absent) has nothing there to
# disable: every ad.* step is skipped, with the reason shown in the plan.
# A subject found in neither directory is a typo or someone already gone,
# and the run is refused rather than reported as a success that did nothing.
package revoke

skip[step.id] := ad_skip_reason if {
	some step in input.runbook.steps
	startswith(step.uses, "ad.")
}

ad_skip_reason := sprintf("environment %s is cloud-only: it has no on-premises Active Directory", [input.environment.name]) if {
	input.environment.kind == "cloud"
}

ad_skip_reason := sprintf("%s was not found in on-premises Active Directory", [input.subject.ref]) if {
	input.environment.kind != "cloud"
	not input.subject.ad
}

deny contains sprintf("%s was found neither in Entra ID nor in on-premises Active Directory: check the reference (UPN, object id or sAMAccountName)", [input.subject.ref]) if {
	not input.subject.entra
	not input.subject.ad
}
