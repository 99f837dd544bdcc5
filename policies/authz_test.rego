package authz_test

import data.revoke.authz

playbook := {"id": "88888888-8888-8888-8888-888888888801", "name": "sentinel-playbook", "app": true, "roles": ["Revoke.Run"], "tenant": "t"}

approver := {"id": "88888888-8888-8888-8888-888888888802", "name": "soc-approver", "app": true, "roles": ["Revoke.Approve"], "tenant": "t"}

nobody := {"id": "88888888-8888-8888-8888-888888888804", "name": "helpdesk-tool", "app": true, "roles": [], "tenant": "t"}

request := {"runbook": "compromised-account", "user": "adele@contoso.test", "reason": "incident 42"}

subject := {"ref": "adele@contoso.test", "protected": [], "gaps": [], "entra": {"userPrincipalName": "adele@contoso.test"}}

protected_subject := json.patch(subject, [{"op": "replace", "path": "/protected", "value": ["entra role Global Administrator"]}])

decide(caller, action, subj) := d if {
	d := authz.decision with input as {"caller": caller, "action": action, "request": request, "subject": subj}
}

test_run_with_revoke_run if {
	decide(playbook, "run", subject) == {"allow": true, "needs_approval": false, "reasons": []}
}

test_run_without_revoke_run if {
	decide(approver, "run", subject) == {"allow": false, "needs_approval": false, "reasons": ["run needs the app role Revoke.Run, which caller 88888888-8888-8888-8888-888888888802 does not have"]}
}

test_approve_needs_revoke_approve if {
	decide(approver, "approve", subject).allow
	decide(playbook, "approve", subject) == {"allow": false, "needs_approval": false, "reasons": ["approve needs the app role Revoke.Approve, which caller 88888888-8888-8888-8888-888888888801 does not have"]}
}

test_read_and_cancel_take_either_role if {
	decide(playbook, "read", null).allow
	decide(approver, "cancel", subject).allow
	decide(nobody, "read", null) == {"allow": false, "needs_approval": false, "reasons": ["read needs one of the app roles Revoke.Approve, Revoke.Run, which caller 88888888-8888-8888-8888-888888888804 does not have"]}
}

test_a_caller_without_roles_claim_is_refused if {
	not authz.allow with input as {"caller": {"id": "x", "app": true}, "action": "run", "request": request, "subject": subject}
}

test_protected_subject_waits_for_approval if {
	decide(playbook, "run", protected_subject) == {"allow": true, "needs_approval": true, "reasons": ["the subject is protected (entra role Global Administrator): a second person with Revoke.Approve must approve"]}
}

test_approving_a_protected_subject_needs_no_second_approval if {
	decide(approver, "approve", protected_subject) == {"allow": true, "needs_approval": false, "reasons": []}
}

test_refusal_wins_over_approval if {
	d := decide(nobody, "run", protected_subject)
	not d.allow
	d.reasons == ["run needs the app role Revoke.Run, which caller 88888888-8888-8888-8888-888888888804 does not have"]
}

test_unknown_action if {
	decide(playbook, "wipe", subject) == {"allow": false, "needs_approval": false, "reasons": ["unknown action \"wipe\""]}
}
