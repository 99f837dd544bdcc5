# Validation rules for CI, evaluated with {"runbook": …} against every
# loaded runbook (not against a subject).
#
# violation holds errors and advice holds warnings; both are sets of
# {"runbook": name, "step": id, "message": msg}. "step" may be "" when the
# problem is the runbook as a whole.
package revoke.lint

compromised if input.runbook.scenario == "compromised"

uses(name) if {
	some step in input.runbook.steps
	step.uses == name
}

violation contains {"runbook": input.runbook.name, "step": step.id, "message": msg} if {
	compromised
	some step in input.runbook.steps
	step.uses == "ad.reset_password"
	times := object.get(step, ["with", "times"], 1)
	times < 2
	msg := sprintf("step %s resets the on-premises password %v time(s); a compromised account needs times: 2 or more, so that neither a stolen hash nor the previous password stays valid", [step.id, times])
}

advice contains {"runbook": input.runbook.name, "step": "", "message": msg} if {
	compromised
	not uses("ad.reset_password")
	msg := sprintf("runbook %s is for compromised accounts but never resets the on-premises password (ad.reset_password); fine for cloud-only tenants only", [input.runbook.name])
}

# needs_graph maps each step id to the ids it needs, for graph.reachable.
needs_graph[id] := [n | some s in input.runbook.steps; s.id == id; some n in object.get(s, "needs", [])] if {
	some step in input.runbook.steps
	id := step.id
}

disable_user_steps := {s.id | some s in input.runbook.steps; s.uses == "entra.disable_user"}

violation contains {"runbook": input.runbook.name, "step": step.id, "message": msg} if {
	count(disable_user_steps) > 0
	some step in input.runbook.steps
	step.uses == "entra.revoke_sessions"
	count(graph.reachable(needs_graph, {step.id}) & disable_user_steps) == 0
	msg := sprintf("step %s (entra.revoke_sessions) must need %s (entra.disable_user), directly or through other steps: until the account is disabled a fresh sign-in re-opens a revoked session", [step.id, concat(" or ", sort(disable_user_steps))])
}
