# Who may do what through revoke serve (docs/serve.md, docs/policies.md
# "Authorization for revoke serve"): the service asks data.revoke.authz.decision
# for every request, with the authenticated caller, the action (run,
# approve, read, cancel), the run request and, for run and approve, the
# resolved subject. By default a caller needs an app role of the API for
# each action (Revoke.Run to run, Revoke.Approve to approve or reject,
# either to read or cancel), and a run on a protected subject waits for a
# second person's approval. A team adds `deny` rules (refusals, with their
# reason) and `approval` rules (runs that must wait for an approver) in
# package revoke.authz; it cannot take the defaults away.
package revoke.authz

# action_roles are the app roles that allow each action: any one of them.
action_roles := {
	"run": {"Revoke.Run"},
	"approve": {"Revoke.Approve"},
	"read": {"Revoke.Run", "Revoke.Approve"},
	"cancel": {"Revoke.Run", "Revoke.Approve"},
}

caller_roles := {r | some r in object.get(input, ["caller", "roles"], [])}

deny contains msg if {
	not action_roles[input.action]
	msg := sprintf("unknown action %q", [input.action])
}

deny contains msg if {
	wanted := action_roles[input.action]
	count(wanted & caller_roles) == 0
	count(wanted) == 1
	msg := sprintf("%s needs the app role %s, which caller %s does not have", [input.action, concat("", wanted), input.caller.id])
}

deny contains msg if {
	wanted := action_roles[input.action]
	count(wanted & caller_roles) == 0
	count(wanted) > 1
	msg := sprintf("%s needs one of the app roles %s, which caller %s does not have", [input.action, concat(", ", sort(wanted)), input.caller.id])
}

# A protected subject (an admin, a break-glass account, one the
# environment lists: subject.protected says why) is never contained on one
# word: the run waits for a second person with Revoke.Approve.
approval contains msg if {
	input.action == "run"
	some why in object.get(input, ["subject", "protected"], [])
	msg := sprintf("the subject is protected (%s): a second person with Revoke.Approve must approve", [why])
}

allow := count(deny) == 0

needs_approval := count(approval) > 0

# reasons are why the request is refused, or else why it waits for an
# approver; sorted, so that the answer is the same every time.
reasons := sort(deny) if not allow

reasons := sort(approval) if allow

decision := {"allow": allow, "needs_approval": needs_approval, "reasons": reasons}
