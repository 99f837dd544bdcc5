package sandbox

// Group-based licensing: a group's licenses are its members'. Graph lists
// them among the user's assignedLicenses, and licenseAssignmentStates
// says for each whether the user holds it directly (assignedByGroup null)
// or through a group (its id); the latter cannot be removed from the user
// (assignLicense answers 400), only by leaving the group.

// licenseState is one way a user holds a sku: directly (group "") or
// through a group.
type licenseState struct{ sku, group string }

// licenseStates are the user's direct licenses, then those of the groups
// they are a member of. Callers hold the lock.
func (d *Directory) licenseStates(u *User) []licenseState {
	var out []licenseState
	for _, l := range u.Licenses {
		out = append(out, licenseState{sku: l})
	}
	for _, g := range d.Groups {
		if contains(g.Members, u.ID) {
			for _, l := range g.Licenses {
				out = append(out, licenseState{sku: l, group: g.ID})
			}
		}
	}
	return out
}

// inherits reports whether u holds sku through a group. Callers hold the lock.
func (d *Directory) inherits(u *User, sku string) bool {
	for _, g := range d.Groups {
		if contains(g.Licenses, sku) && contains(g.Members, u.ID) {
			return true
		}
	}
	return false
}

// licenseStatesJSON renders licenseAssignmentStates.
func (d *Directory) licenseStatesJSON(u *User) []map[string]any {
	out := []map[string]any{}
	for _, l := range d.licenseStates(u) {
		var group any
		if l.group != "" {
			group = l.group
		}
		out = append(out, map[string]any{"skuId": l.sku, "assignedByGroup": group, "disabledPlans": []string{},
			"state": "Active", "error": "None", "lastUpdatedDateTime": nil})
	}
	return out
}

func containsSku(ls []map[string]any, sku string) bool {
	for _, l := range ls {
		if l["skuId"] == sku {
			return true
		}
	}
	return false
}
