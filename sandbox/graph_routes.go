package sandbox

import (
	"net/http"
	"regexp"
	"strings"
)

// route is one Graph operation: the application permissions of which any
// one lets an app call it (reference/graph.md's table, plus the broader
// permissions that imply them), whether it reads a collection (it costs
// more), and the handler.
type route struct {
	perms  []string
	list   bool
	handle func(c *call) *response
}

// Permission sets, least privileged first.
var (
	permUserRead    = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permUserPatch   = []string{"User.EnableDisableAccount.All", "User-PasswordProfile.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
	permEnable      = []string{"User.EnableDisableAccount.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
	permPassword    = []string{"User-PasswordProfile.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
	permUserOther   = []string{"User.ReadWrite.All", "Directory.ReadWrite.All"}
	permRevoke      = []string{"User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
	permDeviceRead  = []string{"Device.Read.All", "Device.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permDeviceWrite = []string{"Device.ReadWrite.All", "Directory.ReadWrite.All"}
	permManagedRead = []string{"DeviceManagementManagedDevices.Read.All", "DeviceManagementManagedDevices.ReadWrite.All"}
	permManagedPriv = []string{"DeviceManagementManagedDevices.PrivilegedOperations.All"}
	permGroupRead   = []string{"GroupMember.Read.All", "Group.Read.All", "GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permGroupWrite  = []string{"GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"}
	permRoleRead    = []string{"RoleManagement.Read.Directory", "RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory", "Directory.Read.All", "Directory.ReadWrite.All"}
	permRoleWrite   = []string{"RoleManagement.ReadWrite.Directory"}
	permMemberRoles = append(append([]string(nil), permGroupRead...), permRoleRead...)
	// PIM's eligibilities: their own least-privileged permission, or any
	// that reads role management.
	permEligibilityRead = []string{"RoleEligibilitySchedule.Read.Directory", "RoleEligibilitySchedule.ReadWrite.Directory",
		"RoleManagement.Read.Directory", "RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory"}
	permLicense   = []string{"LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
	permAuthRead  = []string{"UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"}
	permAuthWrite = []string{"UserAuthenticationMethod.ReadWrite.All"}
	permRiskRead  = []string{"IdentityRiskyUser.Read.All", "IdentityRiskyUser.ReadWrite.All"}
	permRiskWrite = []string{"IdentityRiskyUser.ReadWrite.All"}
)

// Roles an app's service principal needs on top of a permission.
var (
	// rolesPassword may reset a non-privileged user's password.
	rolesPassword = []string{"User Administrator", "Helpdesk Administrator", "Authentication Administrator", "Privileged Authentication Administrator", "Global Administrator"}
	// rolesPrivilegedTarget may disable or reset a privileged user.
	rolesPrivilegedTarget = []string{"Privileged Authentication Administrator", "Global Administrator"}
	// rolesDevice may change a device's accountEnabled app-only.
	rolesDevice = []string{"Cloud Device Administrator", "Intune Administrator", "Global Administrator"}
)

// pick returns the route for the call's method, or 405.
func pick(c *call, byMethod map[string]*route) (*route, *response) {
	if rt, ok := byMethod[c.method]; ok {
		return rt, nil
	}
	return nil, methodNotAllowed(c.ids, c.now)
}

func segIs(segs []string, i int, name string) bool {
	return len(segs) > i && strings.EqualFold(segs[i], name)
}

// findRoute finds the operation for a call; unknown paths get Graph's 400
// "Resource not found for the segment".
func findRoute(c *call) (*route, *response) {
	s := c.segs
	if len(s) == 0 {
		return nil, c.unknownSegment("v1.0")
	}
	if rt, r := cleanupRoute(c); rt != nil || r != nil {
		return rt, r
	}
	switch strings.ToLower(s[0]) {
	case "users":
		return userRoute(c)
	case "devices":
		switch len(s) {
		case 1:
			return pick(c, map[string]*route{"GET": {perms: permDeviceRead, list: true, handle: listDevices}})
		case 2:
			return pick(c, map[string]*route{"GET": {perms: permDeviceRead, handle: getDevice}, "PATCH": {perms: permDeviceWrite, handle: patchDevice}})
		}
		return nil, c.unknownSegment(s[2])
	case "devicemanagement":
		if !segIs(s, 1, "managedDevices") {
			return nil, c.unknownSegment(at(s, 1))
		}
		switch len(s) {
		case 2:
			return pick(c, map[string]*route{"GET": {perms: permManagedRead, list: true, handle: listManagedDevices}})
		case 3:
			return pick(c, map[string]*route{"GET": {perms: permManagedRead, handle: getManagedDevice}})
		case 4:
			switch strings.ToLower(s[3]) {
			case "wipe", "retire":
				return pick(c, map[string]*route{"POST": {perms: permManagedPriv, handle: managedDeviceAction}})
			}
		}
		return nil, c.unknownSegment(s[len(s)-1])
	case "groups":
		return groupRoute(c)
	case "subscribedskus":
		if len(s) == 1 {
			return pick(c, map[string]*route{"GET": {perms: permSkuRead, list: true, handle: listSubscribedSkus}})
		}
		return nil, c.unknownSegment(s[len(s)-1])
	case "rolemanagement":
		if segIs(s, 1, "directory") && segIs(s, 2, "roleAssignments") && len(s) == 3 {
			return pick(c, map[string]*route{"GET": {perms: permRoleRead, list: true, handle: listRoleAssignments}})
		}
		if segIs(s, 1, "directory") && segIs(s, 2, "roleEligibilityScheduleInstances") && len(s) == 3 {
			return pick(c, map[string]*route{"GET": {perms: permEligibilityRead, list: true, handle: listRoleEligibilities}})
		}
		return nil, c.unknownSegment(s[len(s)-1])
	case "identityprotection":
		if !segIs(s, 1, "riskyUsers") {
			return nil, c.unknownSegment(at(s, 1))
		}
		if len(s) == 3 && strings.EqualFold(s[2], "confirmCompromised") {
			return pick(c, map[string]*route{"POST": {perms: permRiskWrite, handle: confirmCompromised}})
		}
		if len(s) == 3 {
			return pick(c, map[string]*route{"GET": {perms: permRiskRead, handle: getRiskyUser}})
		}
		return nil, c.unknownSegment(s[len(s)-1])
	case "me":
		return nil, c.err(http.StatusBadRequest, "BadRequest", "/me request is only valid with delegated authentication flow.")
	}
	return nil, c.unknownSegment(s[0])
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

func userRoute(c *call) (*route, *response) {
	s := c.segs
	switch len(s) {
	case 1:
		return pick(c, map[string]*route{"GET": {perms: permUserRead, list: true, handle: listUsers}})
	case 2:
		return pick(c, map[string]*route{"GET": {perms: permUserRead, handle: getUser}, "PATCH": {perms: permUserPatch, handle: patchUser}})
	}
	if rt, r := cleanupUserRoute(c); rt != nil || r != nil {
		return rt, r
	}
	switch strings.ToLower(s[2]) {
	case "revokesigninsessions":
		if len(s) == 3 {
			return pick(c, map[string]*route{"POST": {perms: permRevoke, handle: revokeSessions}})
		}
	case "registereddevices", "owneddevices":
		if len(s) == 3 {
			return pick(c, map[string]*route{"GET": {perms: permDeviceRead, list: true, handle: userDevices}})
		}
	case "manageddevices":
		if len(s) == 3 {
			return pick(c, map[string]*route{"GET": {perms: permManagedRead, list: true, handle: userManagedDevices}})
		}
	case "memberof", "transitivememberof":
		switch {
		case len(s) == 3:
			return pick(c, map[string]*route{"GET": {perms: permGroupRead, list: true, handle: memberOf}})
		case len(s) == 4 && castIs(s[3], "directoryRole"):
			return pick(c, map[string]*route{"GET": {perms: permMemberRoles, list: true, handle: memberOf}})
		case len(s) == 4 && castIs(s[3], "group"):
			return pick(c, map[string]*route{"GET": {perms: permGroupRead, list: true, handle: memberOf}})
		}
	case "assignlicense":
		if len(s) == 3 {
			return pick(c, map[string]*route{"POST": {perms: permLicense, handle: assignLicense}})
		}
	case "authentication":
		switch {
		case len(s) == 4 && strings.EqualFold(s[3], "methods"):
			return pick(c, map[string]*route{"GET": {perms: permAuthRead, list: true, handle: listAuthMethods}})
		case len(s) >= 4 && authMethodSegment(s[3]) != "":
			if len(s) == 4 {
				return pick(c, map[string]*route{"GET": {perms: permAuthRead, list: true, handle: listAuthMethods}})
			}
			if len(s) == 5 {
				// Graph has no DELETE for passwordMethods: 405.
				if authMethodSegment(s[3]) == "password" {
					return pick(c, map[string]*route{"GET": {perms: permAuthRead, handle: getAuthMethod}})
				}
				return pick(c, map[string]*route{"GET": {perms: permAuthRead, handle: getAuthMethod}, "DELETE": {perms: permAuthWrite, handle: deleteAuthMethod}})
			}
		}
	}
	return nil, c.unknownSegment(s[len(s)-1])
}

// castIs matches a type-cast segment, microsoft.graph.NAME or the alias
// graph.NAME that msgraph-sdk-go sends.
func castIs(seg, name string) bool {
	return strings.EqualFold(seg, "microsoft.graph."+name) || strings.EqualFold(seg, "graph."+name)
}

// authMethodSegment maps phoneMethods → phone; "" when not a method path.
func authMethodSegment(seg string) string {
	for _, t := range authMethodTypes {
		if strings.EqualFold(seg, t+"Methods") {
			return t
		}
	}
	return ""
}

func groupRoute(c *call) (*route, *response) {
	s := c.segs
	switch len(s) {
	case 1:
		return pick(c, map[string]*route{"GET": {perms: permGroupRead, list: true, handle: listGroups}})
	case 2:
		return pick(c, map[string]*route{"GET": {perms: permGroupRead, handle: getGroup}})
	}
	if strings.EqualFold(s[2], "appRoleAssignments") && len(s) == 3 {
		return pick(c, map[string]*route{"GET": {perms: permAppRoleRead, list: true, handle: listGroupAppRoleAssignments}})
	}
	if !strings.EqualFold(s[2], "members") {
		return nil, c.unknownSegment(s[2])
	}
	switch {
	case len(s) == 3:
		return pick(c, map[string]*route{"GET": {perms: permGroupRead, list: true, handle: listMembers}})
	case len(s) == 4:
		// DELETE without /$ref deletes the user object itself in Graph.
		// The sandbox refuses it loudly so a client that builds this URL
		// fails its tests instead of deleting people.
		return pick(c, map[string]*route{"DELETE": {handle: refuseMemberObjectDelete}})
	case len(s) == 5 && s[4] == "$ref":
		return pick(c, map[string]*route{"DELETE": {perms: permGroupWrite, handle: removeMember}})
	}
	return nil, c.unknownSegment(s[len(s)-1])
}

// eqFilter matches the one $filter shape clients need: prop eq 'literal'
// (a quote inside the literal doubled, as OData escapes it).
var eqFilter = regexp.MustCompile(`^\s*([A-Za-z]+)\s+eq\s+'((?:[^']|'')*)'\s*$`)

// parseEqFilter returns the property and unescaped literal of prop eq '…'.
func parseEqFilter(f string) (prop, value string, ok bool) {
	m := eqFilter.FindStringSubmatch(f)
	if m == nil {
		return "", "", false
	}
	return m[1], strings.ReplaceAll(m[2], "''", "'"), true
}
