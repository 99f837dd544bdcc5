package sandbox

import "sort"

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

// skuPartNumbers are the part numbers of the skus the sandbox names:
// Microsoft's own ids, so a seed written with them reads as a real
// tenant's. A sku not here is listed without a part number.
var skuPartNumbers = map[string]string{
	"6fd2c87f-b296-42f0-b197-1e91e994b900": "ENTERPRISEPACK", // Office 365 E3
	"f8a1db68-be16-40ed-86d5-cb42ce701560": "POWER_BI_PRO",
	"b05e124f-c7cc-45a0-a6aa-8cf78c946968": "EMSPREMIUM", // Enterprise Mobility + Security E5
}

// permSkuRead reads the tenant's subscriptions, least privileged first.
var permSkuRead = []string{"LicenseAssignment.Read.All", "LicenseAssignment.ReadWrite.All", "Organization.Read.All",
	"Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}

// subscribedSkuProps are the subscribedSku properties the sandbox renders.
var subscribedSkuProps = &propSet{typeName: "microsoft.graph.subscribedSku",
	names: []string{"id", "accountId", "accountName", "appliesTo", "capabilityStatus", "consumedUnits", "prepaidUnits",
		"servicePlans", "skuId", "skuPartNumber", "subscriptionIds"}}

// listSubscribedSkus is GET /subscribedSkus: every sku a user or group
// of the seed holds, in sku id order, its consumedUnits the users holding
// it (directly or through groups, each once) and as many units prepaid.
func listSubscribedSkus(c *call) *response {
	d := c.s.dir
	d.Lock()
	defer d.Unlock()
	users := map[string]map[string]bool{}
	for _, u := range d.Users {
		if !u.InCloud {
			continue
		}
		for _, l := range d.licenseStates(u) {
			if users[l.sku] == nil {
				users[l.sku] = map[string]bool{}
			}
			users[l.sku][u.ID] = true
		}
	}
	for _, g := range d.Groups {
		for _, l := range g.Licenses {
			if users[l] == nil {
				users[l] = map[string]bool{}
			}
		}
	}
	skus := make([]string, 0, len(users))
	for s := range users {
		skus = append(skus, s)
	}
	sort.Strings(skus)
	out := []map[string]any{}
	for _, s := range skus {
		var part any
		if p, ok := skuPartNumbers[s]; ok {
			part = p
		}
		n := len(users[s])
		out = append(out, map[string]any{
			"id": d.TenantID + "_" + s, "accountId": d.TenantID, "accountName": d.NetBIOS, "appliesTo": "User",
			"capabilityStatus": "Enabled", "consumedUnits": n, "skuId": s, "skuPartNumber": part,
			"prepaidUnits":    map[string]any{"enabled": n, "suspended": 0, "warning": 0, "lockedOut": 0},
			"servicePlans":    []map[string]any{},
			"subscriptionIds": []string{stableID("subscription", d.TenantID+s)},
		})
	}
	return c.pageSelected("subscribedSkus", subscribedSkuProps, out)
}
