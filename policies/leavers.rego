# Leaver steps that depend on how the environment is set up.
#
# ad.move_to_ou moves the account into the OU the environment's ad section
# names as leavers_ou, unless the runbook gives the step its own ou; with
# neither, the step is skipped and says so (the account stays where it
# is, disabled). A step of a backend the environment has no section for (a
# ticketing system such as servicenow, which environments may leave out)
# is skipped with the reason, rather than failing for want of a
# connection: the plan says plainly that no ticket is opened.
package revoke

with[step.id] := {"ou": input.environment.backends.ad.leavers_ou} if {
	some step in input.runbook.steps
	step.uses == "ad.move_to_ou"
	not step_ou(step)
	leavers_ou
}

skip[step.id] := "no target OU: the environment's ad section names no leavers_ou and the step no ou, so the account stays in its OU" if {
	some step in input.runbook.steps
	step.uses == "ad.move_to_ou"
	not step_ou(step)
	not leavers_ou
	not backend_skip[step.id]
}

backend_skip[step.id] := sprintf("environment %s has no %s section", [input.environment.name, backend]) if {
	some step in input.runbook.steps
	backend := split(step.uses, ".")[0]
	not backend in {"ad", "entra"}
	not input.environment.backends[backend]
}

step_ou(step) if trim_space(step["with"].ou) != ""

leavers_ou if trim_space(input.environment.backends.ad.leavers_ou) != ""
