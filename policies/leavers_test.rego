package revoke_test

import data.revoke

# leaver_input is hybrid_input with a move into the leavers' OU, a ticket
# and an environment whose ad section names the OU and which has a
# servicenow section.
leaver_input := json.patch(hybrid_input, [
	{"op": "add", "path": "/runbook/steps/-", "value": {
		"id": "move-to-leavers-ou", "uses": "ad.move_to_ou",
		"with": {}, "needs": ["disable-ad-account"], "tags": [],
	}},
	{"op": "add", "path": "/runbook/steps/-", "value": {
		"id": "open-ticket", "uses": "servicenow.open_ticket",
		"with": {"apps": []}, "needs": [], "tags": [],
	}},
	{"op": "add", "path": "/environment/backends", "value": {
		"ad": {"base_dn": "DC=contoso,DC=com", "leavers_ou": "OU=Leavers,DC=contoso,DC=com"},
		"entra": {"tenant_id": "t"},
		"servicenow": {"instance_url": "https://contoso.service-now.com", "manual_apps": ["Expenses"]},
	}},
])

test_move_takes_the_leavers_ou if {
	ws := revoke["with"] with input as leaver_input
	ws["move-to-leavers-ou"] == {"ou": "OU=Leavers,DC=contoso,DC=com"}
	skips := revoke.skip with input as leaver_input
	count(skips) == 0
}

test_the_runbooks_own_ou_wins if {
	inp := json.patch(leaver_input, [{"op": "add", "path": "/runbook/steps/3/with/ou", "value": "OU=Gone,DC=contoso,DC=com"}])
	ws := revoke["with"] with input as inp
	not ws["move-to-leavers-ou"]
}

test_no_ou_anywhere_skips_the_move if {
	inp := json.remove(leaver_input, ["environment/backends/ad/leavers_ou"])
	skips := revoke.skip with input as inp
	skips["move-to-leavers-ou"] == "no target OU: the environment's ad section names no leavers_ou and the step no ou, so the account stays in its OU"
	ws := revoke["with"] with input as inp
	not ws["move-to-leavers-ou"]
}

test_a_blank_leavers_ou_is_none if {
	inp := json.patch(leaver_input, [{"op": "replace", "path": "/environment/backends/ad/leavers_ou", "value": "  "}])
	skips := revoke.skip with input as inp
	skips["move-to-leavers-ou"]
}

test_cloud_only_skips_the_move_for_the_cloud_reason if {
	inp := json.patch(leaver_input, [
		{"op": "replace", "path": "/environment/kind", "value": "cloud"},
		{"op": "remove", "path": "/subject/ad"},
		{"op": "remove", "path": "/environment/backends/ad"},
	])
	skips := revoke.skip with input as inp
	skips["move-to-leavers-ou"] == "environment contoso is cloud-only: it has no on-premises Active Directory"
}

test_no_ticketing_section_skips_the_ticket if {
	inp := json.remove(leaver_input, ["environment/backends/servicenow"])
	skips := revoke.skip with input as inp
	skips == {"open-ticket": "environment contoso has no servicenow section"}
}

test_a_ticketing_section_keeps_the_ticket if {
	skips := revoke.skip with input as leaver_input
	not skips["open-ticket"]
}
