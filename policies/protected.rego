# Protected subjects are never touched unless someone took responsibility:
# accounts the environment lists (break-glass accounts), on-premises
# accounts with adminCount=1 (members, or former members, of a protected AD
# group), holders of a privileged Entra role and those who may activate
# one in Privileged Identity Management. The run is denied unless the
# request sets allowProtected and names who approved it (approvedBy).
package revoke

# protected_because holds every reason the subject is protected.
protected_because contains sprintf("environment %s lists %s as protected", [input.environment.name, listed]) if {
	some listed in input.environment.protected
	lower(listed) in subject_names
}

protected_because contains "its on-premises account has adminCount=1 (it is or was in a protected AD group)" if {
	input.subject.ad.adminCount == 1
}

protected_because contains sprintf("it holds privileged Entra roles (%s)", [concat(", ", sort([sprintf("%v", [r]) | some r in input.subject.entra.privilegedRoles]))]) if {
	count(input.subject.entra.privilegedRoles) > 0
}

# Someone who can activate an administrator role in a minute is an
# administrator for this purpose.
protected_because contains sprintf("it may activate privileged Entra roles in Privileged Identity Management (%s)", [concat(", ", sort([sprintf("%v", [r]) | some r in input.subject.entra.eligibleRoles]))]) if {
	count(input.subject.entra.eligibleRoles) > 0
}

# subject_names are the names the subject is known by, lower-cased so that
# the environment's list matches however it was typed.
subject_names contains lower(input.subject.ref)

subject_names contains lower(input.subject.entra.userPrincipalName)

subject_names contains lower(input.subject.ad.sAMAccountName)

protected_run_approved if {
	input.request.allowProtected == true
	is_string(input.request.approvedBy)
	trim_space(input.request.approvedBy) != ""
}

deny contains sprintf("%s is protected: %s; to proceed anyway, pass --allow-protected and name who approved it with --approved-by", [input.subject.ref, why]) if {
	some why in protected_because
	not protected_run_approved
}

warn contains sprintf("%s is protected (%s); proceeding because %s approved it", [input.subject.ref, why, input.request.approvedBy]) if {
	some why in protected_because
	protected_run_approved
}
