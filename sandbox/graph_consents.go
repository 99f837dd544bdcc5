package sandbox

import (
	"net/http"
	"strings"
)

// Delegated consents (oauth2PermissionGrants): an app a user consented to
// keeps acting as them with the refresh tokens it holds until the grant
// goes. A grant with consentType AllPrincipals is tenant-wide: it shows
// among the user's grants only when the user is its principal, which it
// never is, so a client cleaning up one user cannot delete it by mistake
// through the user's list.

var grantProps = &propSet{typeName: "microsoft.graph.oAuth2PermissionGrant",
	names: []string{"id", "clientId", "consentType", "principalId", "resourceId", "scope"}}

func grantJSON(g *PermissionGrant) map[string]any {
	var principal any
	if g.PrincipalID != "" {
		principal = g.PrincipalID
	}
	return map[string]any{"id": g.ID, "clientId": g.ClientID, "consentType": g.ConsentType, "principalId": principal, "resourceId": g.ResourceID, "scope": g.Scope}
}

// listUserGrants lists the grants whose principal is the user.
func listUserGrants(c *call) *response {
	return c.withUser(func(d *Directory, u *User) *response {
		out := []map[string]any{}
		for _, g := range d.PermissionGrants {
			if g.PrincipalID == u.ID {
				out = append(out, grantJSON(g))
			}
		}
		return c.pageSelected("oauth2PermissionGrants", grantProps, out)
	})
}

// listGrants lists every grant, or those a $filter of eq clauses joined
// by and picks (clientId, consentType, principalId, resourceId).
func listGrants(c *call) *response {
	var want map[string]string
	if f := c.query.Get("$filter"); f != "" {
		var ok bool
		want, ok = parseEqAnd(f)
		for k := range want {
			switch k {
			case "clientid", "consenttype", "principalid", "resourceid":
			default:
				ok = false
			}
		}
		if !ok {
			return c.badFilter(f, "clientId, consentType, principalId and resourceId eq 'value' joined by and")
		}
	}
	d := c.s.dir
	d.Lock()
	defer d.Unlock()
	out := []map[string]any{}
	for _, g := range d.PermissionGrants {
		have := map[string]string{"clientid": g.ClientID, "consenttype": g.ConsentType, "principalid": g.PrincipalID, "resourceid": g.ResourceID}
		match := true
		for k, v := range want {
			// Ids compare as GUIDs do; consentType as Graph's string does.
			if !strings.EqualFold(have[k], v) {
				match = false
			}
		}
		if match {
			out = append(out, grantJSON(g))
		}
	}
	return c.pageSelected("oauth2PermissionGrants", grantProps, out)
}

// withGrant runs f with the directory locked and the index of the grant
// the path names (segment 1); 404 when there is none.
func (c *call) withGrant(f func(d *Directory, i int) *response) *response {
	d := c.s.dir
	d.Lock()
	defer d.Unlock()
	for i, g := range d.PermissionGrants {
		if g.ID == c.segs[1] {
			return f(d, i)
		}
	}
	return c.notFound(c.segs[1])
}

func getGrant(c *call) *response {
	return c.withGrant(func(d *Directory, i int) *response {
		j := grantJSON(d.PermissionGrants[i])
		j["@odata.context"] = metadata + "oauth2PermissionGrants/$entity"
		return jsonResp(http.StatusOK, j)
	})
}

// deleteGrant revokes a consent; one already gone is 404.
func deleteGrant(c *call) *response {
	return c.withGrant(func(d *Directory, i int) *response {
		g := d.PermissionGrants[i]
		d.PermissionGrants = append(d.PermissionGrants[:i:i], d.PermissionGrants[i+1:]...)
		r := noContent()
		r.detail = "delete " + g.ConsentType + " grant"
		return r
	})
}

var servicePrincipalProps = &propSet{typeName: "microsoft.graph.servicePrincipal",
	names: []string{"id", "appId", "displayName", "appDisplayName", "appOwnerOrganizationId", "verifiedPublisher", "servicePrincipalType", "accountEnabled"}}

// getServicePrincipal answers by object id, as Graph's path does (by
// appId is servicePrincipals(appId='…'), not modelled).
func getServicePrincipal(c *call) *response {
	d := c.s.dir
	d.Lock()
	defer d.Unlock()
	sp := d.servicePrincipal(c.segs[1])
	if sp == nil || !strings.EqualFold(sp.ID, c.segs[1]) {
		return c.notFound(c.segs[1])
	}
	var publisher any
	if sp.PublisherName != "" {
		publisher = map[string]any{"displayName": sp.PublisherName, "verifiedPublisherId": nil, "addedDateTime": nil}
	}
	j := map[string]any{
		"id": sp.ID, "appId": sp.AppID, "displayName": sp.DisplayName, "appDisplayName": sp.DisplayName,
		"appOwnerOrganizationId": sp.AppOwnerOrganizationID, "verifiedPublisher": publisher,
		"servicePrincipalType": "Application", "accountEnabled": true,
	}
	props, explicit, r := c.selected(servicePrincipalProps)
	if r != nil {
		return r
	}
	if explicit {
		j = servicePrincipalProps.project(j, props)
	}
	j["@odata.context"] = contextURL("servicePrincipals", props, explicit, true)
	return jsonResp(http.StatusOK, j)
}
