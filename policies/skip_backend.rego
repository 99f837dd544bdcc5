# Where the subject exists decides which backends' steps apply.
#
# A cloud-only environment has no on-premises directory, and a subject the
# ad backend did not find (input.subject.ad absent) has nothing there to
# disable: every ad.* step is skipped, with the reason shown in the plan.
# Likewise an on-premises account Entra ID does not know (one outside the
# sync's scope) skips every entra.* step, with a warning: a cloud account
# under another name would be left alone. A subject found in neither
# directory is a typo or someone already gone, and the run is refused
# rather than reported as a success that did nothing.
package revoke

# backend_skip holds the steps skipped because their directory does not
# know the subject (or does not exist here). Two rules giving one step
# different skip reasons conflict, so a policy of yours that skips steps
# should leave these alone: add `not backend_skip[step.id]` to its rule.
backend_skip[step.id] := ad_skip_reason if {
	some step in input.runbook.steps
	startswith(step.uses, "ad.")
}

backend_skip[step.id] := sprintf("%s was not found in Entra ID", [input.subject.ref]) if {
	only_on_premises
	some step in input.runbook.steps
	startswith(step.uses, "entra.")
}

skip[id] := reason if some id, reason in backend_skip

ad_skip_reason := sprintf("environment %s is cloud-only: it has no on-premises Active Directory", [input.environment.name]) if {
	input.environment.kind == "cloud"
}

ad_skip_reason := sprintf("%s was not found in on-premises Active Directory", [input.subject.ref]) if {
	input.environment.kind != "cloud"
	not input.subject.ad
	not synced
}

# A synced user whose AD account cannot be found: the engine reports the
# run NOT contained whatever runs (subject.gaps), since the next sync undoes
# the cloud block. The cloud steps still run: they buy the time until then.
ad_skip_reason := sprintf("%s is synced from on-premises AD, but AD has no such account: the run cannot contain it until that account is found and disabled", [input.subject.ref]) if {
	input.environment.kind != "cloud"
	not input.subject.ad
	synced
}

warn contains sprintf("%s was found only in on-premises Active Directory, so the Entra ID steps are skipped: if the person also has a cloud account under another name, run revoke for that account too", [input.subject.ref]) if {
	only_on_premises
}

only_on_premises if {
	input.environment.kind != "cloud"
	input.subject.ad
	not input.subject.entra
}

deny contains sprintf("%s was found neither in Entra ID nor in on-premises Active Directory: check the reference (UPN, object id or sAMAccountName)", [input.subject.ref]) if {
	not input.subject.entra
	not input.subject.ad
}
