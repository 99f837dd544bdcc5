package revoke_test

import data.revoke

hold_input := {
	"scenario": "termination",
	"runbook": {"name": "leaver", "scenario": "termination", "steps": [{"id": "disable-devices", "uses": "entra.disable_devices", "with": {}, "needs": [], "tags": []}]},
	"environment": {"name": "contoso", "kind": "hybrid", "protected": []},
	"subject": {
		"ref": "megan@contoso.test",
		"entra": {"userPrincipalName": "megan@contoso.test", "onPremisesSyncEnabled": true, "privilegedRoles": []},
		"ad": {"memberOf": ["CN=Legal Hold,OU=Groups,DC=contoso,DC=test"], "adminCount": 0},
	},
	"request": {"requested_by": "hr", "reason": "x", "allow_protected": false},
}

test_legal_hold_skips_devices if {
	revoke.skip["disable-devices"] == "subject is on legal hold: devices are evidence and stay enabled" with input as hold_input
}

test_no_hold_no_skip if {
	not revoke.skip["disable-devices"] with input as json.patch(hold_input, [{"op": "replace", "path": "/subject/ad/memberOf", "value": []}])
}

# An on-premises-only account on legal hold: the default policies skip its
# Entra steps already, and the hold's rule stands aside instead of giving
# the device step a second, conflicting reason.
test_legal_hold_stands_aside_for_backend_skips if {
	revoke.skip["disable-devices"] == "megan@contoso.test was not found in Entra ID" with input as json.remove(hold_input, ["subject/entra"])
}
