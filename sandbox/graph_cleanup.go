package sandbox

import (
	"net/http"
	"regexp"
	"strings"
	"time"
)

// What outlives a disabled account (reference/cleanup.md): inbox rules,
// delegated consents, app role assignments. The Directory embeds Cleanup;
// graph_mail.go, graph_consents.go and graph_roles_pim.go serve it.

// Cleanup is the part of the tenant beyond accounts, groups and roles.
// Callers hold the directory's lock.
type Cleanup struct {
	// ServicePrincipals are enterprise apps: the ones users consent to and
	// the resources they get access to (Microsoft Graph).
	ServicePrincipals []*ServicePrincipal
	// PermissionGrants are delegated consents (oauth2PermissionGrants).
	PermissionGrants []*PermissionGrant
	// AppRoleAssignments give a user or a group an app role of a service
	// principal (what provisioning reads).
	AppRoleAssignments []*AppRoleAssignment
	// Mailboxes by user id: the licensed users' Exchange Online mailboxes.
	Mailboxes map[string]*Mailbox
	// SyncJobs are the provisioning (SCIM) jobs of service principals,
	// and Provisioned what their target apps hold: by service principal
	// id, then user id, both lower-cased (graph_provisioning.go).
	SyncJobs    []*SyncJob
	Provisioned map[string]map[string]*ProvisionedAccount
	// ProvisionLimit is provisionOnDemand's rate per calling app (zero:
	// Graph's 5 per 10 s); provisionCalls the calls each app made in the
	// last window.
	ProvisionLimit ThrottleConfig
	provisionCalls map[string][]time.Time
}

// ServicePrincipal is an enterprise application in the tenant.
type ServicePrincipal struct {
	ID, AppID, DisplayName string
	// AppOwnerOrganizationID is the tenant the app was registered in:
	// another tenant's id for a multi-tenant app a user consented to.
	AppOwnerOrganizationID string
	PublisherName          string
}

// PermissionGrant is an oauth2PermissionGrant: ClientID (a service
// principal) may act with Scope on ResourceID (a service principal) for
// PrincipalID (ConsentType Principal) or for everyone (AllPrincipals).
type PermissionGrant struct {
	ID, ClientID, ConsentType, PrincipalID, ResourceID, Scope string
}

// AppRoleAssignment gives PrincipalID (of PrincipalType User or Group) the
// app role AppRoleID of the service principal ResourceID.
type AppRoleAssignment struct {
	ID, AppRoleID, PrincipalID, PrincipalType, PrincipalDisplayName, ResourceID string
	Created                                                                     time.Time
}

// servicePrincipal finds one by id or appId. Callers hold the lock.
func (d *Directory) servicePrincipal(ref string) *ServicePrincipal {
	for _, sp := range d.ServicePrincipals {
		if ref != "" && (strings.EqualFold(sp.ID, ref) || strings.EqualFold(sp.AppID, ref)) {
			return sp
		}
	}
	return nil
}

var (
	permGrantRead   = []string{"DelegatedPermissionGrant.Read.All", "DelegatedPermissionGrant.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permGrantWrite  = []string{"DelegatedPermissionGrant.ReadWrite.All"}
	permSPRead      = []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permMailRead    = []string{"MailboxSettings.Read", "MailboxSettings.ReadWrite"}
	permMailWrite   = []string{"MailboxSettings.ReadWrite"}
	permAppRoleRead = append(append([]string(nil), permUserRead...), "AppRoleAssignment.ReadWrite.All")
	permAppRoleDel  = []string{"AppRoleAssignment.ReadWrite.All"}
	// PIM's writes: their own least-privileged permission or role
	// management's.
	permEligibilityWrite = []string{"RoleEligibilitySchedule.ReadWrite.Directory", "RoleManagement.ReadWrite.Directory"}
	permAssignmentRead   = []string{"RoleAssignmentSchedule.Read.Directory", "RoleAssignmentSchedule.ReadWrite.Directory",
		"RoleManagement.Read.Directory", "RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory"}
	permAssignmentWrite = []string{"RoleAssignmentSchedule.ReadWrite.Directory", "RoleManagement.ReadWrite.Directory"}
)

// cleanupUserRoute serves the user's sub-resources of this file's kind;
// nil, nil when the path is none of them.
func cleanupUserRoute(c *call) (*route, *response) {
	s := c.segs
	switch strings.ToLower(s[2]) {
	case "mailfolders":
		switch {
		case len(s) == 4:
			return pick(c, map[string]*route{"GET": {perms: permMailRead, handle: getMailFolder}})
		case len(s) == 5 && strings.EqualFold(s[4], "messageRules"):
			return pick(c, map[string]*route{"GET": {perms: permMailRead, list: true, handle: listMessageRules}})
		case len(s) == 6 && strings.EqualFold(s[4], "messageRules"):
			return pick(c, map[string]*route{"GET": {perms: permMailRead, handle: getMessageRule}, "DELETE": {perms: permMailWrite, handle: deleteMessageRule}})
		}
	case "oauth2permissiongrants":
		if len(s) == 3 {
			return pick(c, map[string]*route{"GET": {perms: permGrantRead, list: true, handle: listUserGrants}})
		}
	case "approleassignments":
		switch len(s) {
		case 3:
			return pick(c, map[string]*route{"GET": {perms: permAppRoleRead, list: true, handle: listUserAppRoleAssignments}})
		case 4:
			return pick(c, map[string]*route{"DELETE": {perms: permAppRoleDel, handle: deleteUserAppRoleAssignment}})
		}
	}
	return nil, nil
}

// cleanupRoute serves the top-level collections of this file's kind; nil,
// nil when the path is none of them.
func cleanupRoute(c *call) (*route, *response) {
	s := c.segs
	switch strings.ToLower(s[0]) {
	case "oauth2permissiongrants":
		switch len(s) {
		case 1:
			return pick(c, map[string]*route{"GET": {perms: permGrantRead, list: true, handle: listGrants}})
		case 2:
			return pick(c, map[string]*route{"GET": {perms: permGrantRead, handle: getGrant}, "DELETE": {perms: permGrantWrite, handle: deleteGrant}})
		}
		return nil, c.unknownSegment(s[len(s)-1])
	case "serviceprincipals":
		switch {
		case len(s) == 2:
			return pick(c, map[string]*route{"GET": {perms: permSPRead, handle: getServicePrincipal}})
		case len(s) == 3 && strings.EqualFold(s[2], "appRoleAssignedTo"):
			return pick(c, map[string]*route{"GET": {perms: permAppRoleRead, list: true, handle: listAppRoleAssignedTo}})
		case len(s) == 4 && strings.EqualFold(s[2], "appRoleAssignedTo"):
			return pick(c, map[string]*route{"DELETE": {perms: permAppRoleDel, handle: deleteAppRoleAssignedTo}})
		}
		if rt, r := provisioningRoute(c); rt != nil || r != nil {
			return rt, r
		}
		return nil, c.unknownSegment(s[len(s)-1])
	}
	if strings.EqualFold(s[0], "roleManagement") && segIs(s, 1, "directory") && len(s) >= 3 {
		switch strings.ToLower(s[2]) {
		case "roleassignments":
			if len(s) == 4 {
				return pick(c, map[string]*route{"DELETE": {perms: permRoleWrite, handle: deleteRoleAssignment}})
			}
		case "roleassignmentscheduleinstances":
			if len(s) == 3 {
				return pick(c, map[string]*route{"GET": {perms: permAssignmentRead, list: true, handle: listRoleAssignmentInstances}})
			}
		case "roleeligibilityschedulerequests":
			if len(s) == 3 {
				return pick(c, map[string]*route{"POST": {perms: permEligibilityWrite, handle: postEligibilityRequest}})
			}
		case "roleassignmentschedulerequests":
			if len(s) == 3 {
				return pick(c, map[string]*route{"POST": {perms: permAssignmentWrite, handle: postAssignmentRequest}})
			}
		}
	}
	return nil, nil
}

// eqClause is one prop eq 'literal' of a conjunction, the rest after and.
var eqClause = regexp.MustCompile(`(?i)^\s*([A-Za-z]+)\s+eq\s+'((?:[^']|'')*)'\s*(?:and\s+(.+))?$`)

// parseEqAnd reads $filter clauses prop eq 'v' joined by and into a map
// (property names lower-cased), or false for anything else.
func parseEqAnd(f string) (map[string]string, bool) {
	out := map[string]string{}
	for rest := f; rest != ""; {
		m := eqClause.FindStringSubmatch(rest)
		if m == nil {
			return nil, false
		}
		out[strings.ToLower(m[1])] = strings.ReplaceAll(m[2], "''", "'")
		rest = m[3]
	}
	return out, len(out) > 0
}

// badFilter is the sandbox's 400 for a $filter it does not model.
func (c *call) badFilter(f, supported string) *response {
	return c.err(http.StatusBadRequest, "BadRequest", "Invalid filter clause: the sandbox supports only "+supported+", got '"+f+"'.")
}

// appRoleAssignmentJSON renders an assignment. Callers hold the lock.
func (d *Directory) appRoleAssignmentJSON(a *AppRoleAssignment) map[string]any {
	name := ""
	if sp := d.servicePrincipal(a.ResourceID); sp != nil {
		name = sp.DisplayName
	}
	return map[string]any{
		"id": a.ID, "appRoleId": a.AppRoleID, "principalId": a.PrincipalID, "principalType": a.PrincipalType,
		"principalDisplayName": a.PrincipalDisplayName, "resourceId": a.ResourceID, "resourceDisplayName": name,
		"createdDateTime": graphTime(a.Created), "deletedDateTime": nil,
	}
}

var appRoleAssignmentProps = &propSet{typeName: "microsoft.graph.appRoleAssignment",
	names: []string{"id", "appRoleId", "principalId", "principalType", "principalDisplayName", "resourceId", "resourceDisplayName", "createdDateTime", "deletedDateTime"}}

// listUserAppRoleAssignments lists the user's own assignments; those it
// has through a group are the group's (principalType Group) and show on
// /groups/{id}/appRoleAssignments, as in Graph.
func listUserAppRoleAssignments(c *call) *response {
	return c.withUser(func(d *Directory, u *User) *response {
		return c.pageSelected("users('"+u.ID+"')/appRoleAssignments", appRoleAssignmentProps, d.appRoleAssignmentsOf(u.ID))
	})
}

func listGroupAppRoleAssignments(c *call) *response {
	return withObject(c, 1, (*Directory).groupByID, func(d *Directory, g *Group) *response {
		return c.pageSelected("groups('"+g.ID+"')/appRoleAssignments", appRoleAssignmentProps, d.appRoleAssignmentsOf(g.ID))
	})
}

func (d *Directory) appRoleAssignmentsOf(principal string) []map[string]any {
	out := []map[string]any{}
	for _, a := range d.AppRoleAssignments {
		if strings.EqualFold(a.PrincipalID, principal) {
			out = append(out, d.appRoleAssignmentJSON(a))
		}
	}
	return out
}

// deleteUserAppRoleAssignment removes one of the user's own assignments;
// one it holds through a group is not found here.
func deleteUserAppRoleAssignment(c *call) *response {
	return c.withUser(func(d *Directory, u *User) *response {
		return d.deleteAppRoleAssignment(c, func(a *AppRoleAssignment) bool { return strings.EqualFold(a.PrincipalID, u.ID) })
	})
}

// listAppRoleAssignedTo lists who holds an app role of the service
// principal: users and groups.
func listAppRoleAssignedTo(c *call) *response {
	return c.withServicePrincipal(func(d *Directory, sp *ServicePrincipal) *response {
		out := []map[string]any{}
		for _, a := range d.AppRoleAssignments {
			if strings.EqualFold(a.ResourceID, sp.ID) {
				out = append(out, d.appRoleAssignmentJSON(a))
			}
		}
		return c.pageSelected("servicePrincipals('"+sp.ID+"')/appRoleAssignedTo", appRoleAssignmentProps, out)
	})
}

// deleteAppRoleAssignedTo removes an assignment of the service principal's
// app roles, a user's or a group's.
func deleteAppRoleAssignedTo(c *call) *response {
	return c.withServicePrincipal(func(d *Directory, sp *ServicePrincipal) *response {
		return d.deleteAppRoleAssignment(c, func(a *AppRoleAssignment) bool { return strings.EqualFold(a.ResourceID, sp.ID) })
	})
}

// deleteAppRoleAssignment removes the assignment the path's last segment
// names when it is of the path's object (of), or answers 404. Object ids
// are GUIDs, whose case does not matter; an assignment id is base64url,
// where it does, so it is matched exactly. Callers hold the lock.
func (d *Directory) deleteAppRoleAssignment(c *call, of func(a *AppRoleAssignment) bool) *response {
	id := c.segs[len(c.segs)-1]
	for i, a := range d.AppRoleAssignments {
		if a.ID == id && of(a) {
			d.AppRoleAssignments = append(d.AppRoleAssignments[:i:i], d.AppRoleAssignments[i+1:]...)
			r := noContent()
			r.detail = "delete app role assignment"
			return r
		}
	}
	return c.notFound(id)
}
