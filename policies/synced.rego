# A subject synced from on-premises AD (onPremisesSyncEnabled) has its
# password mastered on-premises: Entra refuses a cloud reset and the next
# sync would overwrite it anyway, so entra.reset_password is skipped and the
# on-premises reset is the one that counts. For the same reason a cloud
# sign-in block (entra.disable_user) is undone by the next sync unless the
# on-premises account is disabled too: warn when no ad.disable_account step
# applies.
package revoke

synced if input.subject.entra.onPremisesSyncEnabled == true

skip[step.id] := "synced from on-premises AD: the password is mastered there, so the on-premises reset is the one that counts" if {
	synced
	some step in input.runbook.steps
	step.uses == "entra.reset_password"
}

warn contains msg if {
	synced
	some step in input.runbook.steps
	step.uses == "entra.disable_user"
	not ad_disable_applies
	msg := sprintf("%s is synced from on-premises AD and no ad.disable_account step applies: the next directory sync will undo the cloud sign-in block of step %s unless the AD account is disabled too", [input.subject.ref, step.id])
}

# ad_disable_applies: the runbook disables the on-premises account and no
# policy skips that step.
ad_disable_applies if {
	some step in input.runbook.steps
	step.uses == "ad.disable_account"
	not skip[step.id]
}
