package sandbox

import (
	"net/http"
)

func groupJSON(g *Group) map[string]any {
	types := []string{}
	var rule any
	if g.Dynamic {
		types = append(types, "DynamicMembership")
		rule = `user.department -ne null`
	}
	return map[string]any{
		"@odata.type": "#microsoft.graph.group", "id": g.ID, "displayName": g.DisplayName,
		"groupTypes": types, "membershipRule": rule, "securityEnabled": true, "mailEnabled": false,
		"isAssignableToRole": g.RoleAssignable,
	}
}

// groupProps are the group properties the sandbox renders, every one by
// default; memberProps those of the users a group's members list shows.
var (
	groupProps = &propSet{typeName: "microsoft.graph.group",
		names: []string{"id", "displayName", "groupTypes", "membershipRule", "securityEnabled", "mailEnabled", "isAssignableToRole"}}
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
// refuse (their rule owns membership); role-assignable groups also need
// RoleManagement.ReadWrite.Directory.
func removeMember(c *call) *response {
	return c.withGroup(func(d *Directory, g *Group) *response {
		if g.RoleAssignable && !c.claims.hasAny(permRoleWrite) {
			return c.forbidden()
		}
		if g.Dynamic {
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
