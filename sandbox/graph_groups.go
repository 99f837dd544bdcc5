package sandbox

import (
	"net/http"
)

// GroupKind is what a group is besides dynamic or role-assignable: who
// owns its membership, and the properties Graph shows for it. Graph
// changes the members of cloud security groups and Microsoft 365 groups
// only: a group synced from AD is mastered on-premises, and a
// distribution list or mail-enabled security group is mastered in
// Exchange Online.
type GroupKind struct {
	// Synced: synced from on-premises AD (onPremisesSyncEnabled true).
	Synced bool
	// Mail is the group's SMTP address; a group with one is mail-enabled.
	Mail string
	// Unified: a Microsoft 365 group (groupTypes Unified), mail-enabled
	// but mastered in Entra ID, so Graph changes its members.
	Unified bool
	// NotSecurity: securityEnabled false (a distribution list, most
	// Microsoft 365 groups). The zero value is a security group, which is
	// what every group the sandbox had before kinds was.
	NotSecurity bool
}

// MailEnabled reports a group with an address.
func (k GroupKind) MailEnabled() bool { return k.Mail != "" }

// problem says why a kind cannot be, with these dynamic and
// role-assignable settings, as Entra ID refuses to create it; "" when it
// can.
func (k GroupKind) problem(dynamic, roleAssignable bool) string {
	switch {
	case k.Synced && dynamic:
		return "a group synced from AD cannot be dynamic: AD sets its members"
	case k.Synced && roleAssignable:
		return "a group synced from AD cannot be role_assignable (Entra ID refuses isAssignableToRole on synced groups)"
	case k.Unified && k.Mail == "":
		return "a Microsoft 365 group (unified) needs mail"
	case k.NotSecurity && k.Mail == "":
		return "a group neither security_enabled nor with a mail address is nothing Entra ID has"
	}
	return ""
}

// exchangeMastered reports a distribution list or mail-enabled security
// group: Exchange Online owns its membership and Graph refuses to change
// it. A Microsoft 365 group is mail-enabled but Entra ID's own.
func (k GroupKind) exchangeMastered() bool { return k.MailEnabled() && !k.Unified }

// Graph's answers to a membership change it cannot make, found in the
// errors people report (Graph's docs name neither message): a group
// synced from AD is "on-premises mastered" (onPremMastered, the same 400 a
// synced user's properties get), one mastered in Exchange "originated
// within an external service".
const externalServiceMastered = "Unable to update the specified properties for objects that have originated within an external service."

func groupJSON(g *Group) map[string]any {
	types := []string{}
	var rule any
	if g.Unified {
		types = append(types, "Unified")
	}
	if g.Dynamic {
		types = append(types, "DynamicMembership")
		rule = `user.department -ne null`
	}
	var synced, mail any
	if g.Synced {
		// Graph's onPremisesSyncEnabled is null for a group never synced.
		synced = true
	}
	if g.Mail != "" {
		mail = g.Mail
	}
	return map[string]any{
		"@odata.type": "#microsoft.graph.group", "id": g.ID, "displayName": g.DisplayName,
		"groupTypes": types, "membershipRule": rule, "securityEnabled": !g.NotSecurity, "mailEnabled": g.MailEnabled(),
		"mail": mail, "onPremisesSyncEnabled": synced, "isAssignableToRole": g.RoleAssignable,
	}
}

// groupProps are the group properties the sandbox renders, every one by
// default; memberProps those of the users a group's members list shows.
var (
	groupProps = &propSet{typeName: "microsoft.graph.group",
		names: []string{"id", "displayName", "groupTypes", "membershipRule", "securityEnabled", "mailEnabled", "mail",
			"onPremisesSyncEnabled", "isAssignableToRole"}}
	memberProps = &propSet{typeName: "microsoft.graph.directoryObject",
		names: []string{"id", "displayName", "userPrincipalName"}}
)

func (d *Directory) groupByID(id string) *Group {
	return byID(d.Groups, func(g *Group) string { return g.ID }, id)
}

func listGroups(c *call) *response {
	d := c.s.dir
	d.Lock()
	defer d.Unlock()
	out := []map[string]any{}
	for _, g := range d.Groups {
		out = append(out, groupJSON(g))
	}
	return c.pageSelected("groups", groupProps, out)
}

// withGroup runs f with the directory locked and the group the path's
// second segment names, or answers 404.
func (c *call) withGroup(f func(d *Directory, g *Group) *response) *response {
	return withObject(c, 1, (*Directory).groupByID, f)
}

func getGroup(c *call) *response {
	props, explicit, r := c.selected(groupProps)
	if r != nil {
		return r
	}
	return c.withGroup(func(_ *Directory, g *Group) *response {
		m := groupJSON(g)
		if explicit {
			m = groupProps.project(m, props)
		}
		m["@odata.context"] = contextURL("groups", props, explicit, true)
		return jsonResp(http.StatusOK, m)
	})
}

func listMembers(c *call) *response {
	return c.withGroup(func(d *Directory, g *Group) *response {
		out := []map[string]any{}
		for _, id := range g.Members {
			if u := d.UserByRef(id); u != nil {
				out = append(out, map[string]any{"@odata.type": "#microsoft.graph.user", "id": u.ID,
					"displayName": u.DisplayName, "userPrincipalName": u.UserPrincipalName})
			}
		}
		return c.pageSelected("directoryObjects", memberProps, out)
	})
}

// removeMember is DELETE /groups/{gid}/members/{uid}/$ref. Dynamic groups
// refuse (their rule owns membership), and so do groups synced from AD and
// those Exchange masters (GroupKind); role-assignable groups also need
// RoleManagement.ReadWrite.Directory.
func removeMember(c *call) *response {
	return c.withGroup(func(d *Directory, g *Group) *response {
		if g.RoleAssignable && !c.claims.hasAny(permRoleWrite) {
			return c.forbidden()
		}
		switch {
		case g.Synced:
			return c.err(http.StatusBadRequest, "Request_BadRequest", onPremMastered)
		case g.exchangeMastered():
			return c.err(http.StatusBadRequest, "Request_BadRequest", externalServiceMastered)
		case g.Dynamic:
			return c.err(http.StatusBadRequest, "Request_BadRequest", "Cannot add or remove members of a group with dynamic membership: its membership rule manages them.")
		}
		u := d.UserByRef(c.segs[3])
		i := -1
		if u != nil {
			for j, m := range g.Members {
				if m == u.ID {
					i = j
				}
			}
		}
		if i < 0 {
			return c.err(http.StatusNotFound, "Request_ResourceNotFound", "One or more removed object references do not exist for the following modified properties: 'members'.")
		}
		g.Members = append(g.Members[:i:i], g.Members[i+1:]...)
		r := noContent()
		r.detail = "remove member " + u.ID
		return r
	})
}

// refuseMemberObjectDelete answers DELETE /groups/{gid}/members/{uid}
// (no /$ref). Graph would delete the user object itself; the sandbox
// refuses loudly and logs it so tests catch a client that builds this URL.
func refuseMemberObjectDelete(c *call) *response {
	r := c.err(http.StatusBadRequest, "Request_BadRequest",
		"revoke sandbox: DELETE /groups/{id}/members/{id} without /$ref deletes the directory object itself in Microsoft Graph; remove a member with DELETE /groups/{id}/members/{id}/$ref.")
	r.detail = "REFUSED: member DELETE without /$ref would delete the object"
	return r
}
