package revoke_test

import data.revoke

hold_input := {
	"scenario": "termination",
	"runbook": {"name": "leaver", "scenario": "termination", "steps": [{"id": "disable-devices", "uses": "entra.disable_devices", "with": {}, "needs": [], "tags": []}]},
	"environment": {"name": "contoso", "kind": "hybrid", "protected": []},
	"subject": {"ref": "megan@contoso.test", "ad": {"memberOf": ["CN=Legal Hold,OU=Groups,DC=contoso,DC=test"], "adminCount": 0}},
	"request": {"requestedBy": "hr", "reason": "x", "allowProtected": false},
}

test_legal_hold_skips_devices if {
	revoke.skip["disable-devices"] == "subject is on legal hold: devices are evidence and stay enabled" with input as hold_input
}

test_no_hold_no_skip if {
	not revoke.skip["disable-devices"] with input as object.union(hold_input, {"subject": {"ref": "x", "ad": {"memberOf": [], "adminCount": 0}}})
}
