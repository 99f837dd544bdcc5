package sandbox

import (
	"fmt"
	"net/http"
	"strings"
)

// Taking directory roles away: a standing assignment is deleted
// (DELETE roleAssignments/{id}); Privileged Identity Management's active
// and eligible assignments go through a schedule request with action
// adminRemove. A role held through a role-assignable group is the
// group's assignment (principalId the group's id), never the user's.

// roleAssignmentInstanceProps: what the sandbox renders of
// unifiedRoleAssignmentScheduleInstance.
var roleAssignmentInstanceProps = &propSet{typeName: "microsoft.graph.unifiedRoleAssignmentScheduleInstance",
	names: []string{"id", "principalId", "roleDefinitionId", "directoryScopeId", "assignmentType", "memberType",
		"startDateTime", "endDateTime", "roleAssignmentOriginId", "roleAssignmentScheduleId"},
	expanded: []string{"roleDefinition"}}

// unlicensedPIM is Graph's answer to PIM in a tenant without Entra ID P2.
func (c *call) unlicensedPIM() *response {
	c.s.dir.Lock()
	unlicensed := c.s.dir.WithoutP2
	c.s.dir.Unlock()
	if unlicensed {
		return c.err(http.StatusBadRequest, "AadPremiumLicenseRequired", "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license.")
	}
	return nil
}

// listRoleAssignmentInstances serves roleAssignmentScheduleInstances: the
// active assignments, which in Entra include the standing ones (made
// outside PIM: assignmentType Assigned, no end), each with the id of its
// roleAssignment.
func listRoleAssignmentInstances(c *call) *response {
	if r := c.unlicensedPIM(); r != nil {
		return r
	}
	return listPrincipalRoles(c, "roleAssignment", "roleManagement/directory/roleAssignmentScheduleInstances",
		func(d *Directory) map[string][]string { return d.RoleAssignments }, roleAssignmentInstanceProps,
		func(a map[string]any) {
			a["assignmentType"], a["memberType"], a["startDateTime"], a["endDateTime"] = "Assigned", "Direct", nil, nil
			a["roleAssignmentOriginId"], a["roleAssignmentScheduleId"] = a["id"], a["id"]
		})
}

// findPrincipalRole finds, in roles, the assignment id names (its
// stableID under kind). Callers hold the lock.
func findPrincipalRole(roles map[string][]string, kind, id string) (principal, role string, ok bool) {
	for p, names := range roles {
		for _, n := range names {
			if strings.EqualFold(stableID(kind, p+n), id) {
				return p, n, true
			}
		}
	}
	return "", "", false
}

// removeRole takes role from principal in roles. Callers hold the lock.
func removeRole(roles map[string][]string, principal, role string) {
	var kept []string
	for _, n := range roles[principal] {
		if n != role {
			kept = append(kept, n)
		}
	}
	if len(kept) == 0 {
		delete(roles, principal)
		return
	}
	roles[principal] = kept
}

// deleteRoleAssignment removes a standing assignment; one already gone is
// 404, as Graph answers.
func deleteRoleAssignment(c *call) *response {
	d := c.s.dir
	d.Lock()
	defer d.Unlock()
	p, role, ok := findPrincipalRole(d.RoleAssignments, "roleAssignment", c.segs[3])
	if !ok {
		return c.notFound(c.segs[3])
	}
	removeRole(d.RoleAssignments, p, role)
	r := noContent()
	r.detail = "delete role assignment " + role
	return r
}

func postEligibilityRequest(c *call) *response {
	return postScheduleRequest(c, "roleEligibilityScheduleRequests", "unifiedRoleEligibilityScheduleRequest", "roleEligibility",
		func(d *Directory) map[string][]string { return d.RoleEligibilities })
}

func postAssignmentRequest(c *call) *response {
	return postScheduleRequest(c, "roleAssignmentScheduleRequests", "unifiedRoleAssignmentScheduleRequest", "roleAssignment",
		func(d *Directory) map[string][]string { return d.RoleAssignments })
}

// postScheduleRequest serves a PIM schedule request. Only adminRemove is
// modelled: it takes the role from the principal at once and answers 201
// with the request, status Revoked; a principal that does not hold the
// role at that scope gets 400 RoleAssignmentDoesNotExist.
func postScheduleRequest(c *call, set, typ, kind string, roles func(*Directory) map[string][]string) *response {
	if r := c.unlicensedPIM(); r != nil {
		return r
	}
	var body struct {
		Action           string `json:"action"`
		PrincipalID      string `json:"principalId"`
		RoleDefinitionID string `json:"roleDefinitionId"`
		DirectoryScopeID string `json:"directoryScopeId"`
		Justification    string `json:"justification"`
	}
	if r := c.decode(&body); r != nil {
		return r
	}
	if !strings.EqualFold(body.Action, "adminRemove") {
		return c.err(http.StatusBadRequest, "BadRequest", fmt.Sprintf("The sandbox models only the action adminRemove, got '%s'.", body.Action))
	}
	if body.PrincipalID == "" || body.RoleDefinitionID == "" || body.DirectoryScopeID == "" {
		return c.err(http.StatusBadRequest, "BadRequest", "principalId, roleDefinitionId and directoryScopeId are required.")
	}
	d := c.s.dir
	d.Lock()
	defer d.Unlock()
	principal, role := strings.ToLower(body.PrincipalID), ""
	for _, n := range roles(d)[principal] {
		if strings.EqualFold(roleTemplateID(n), body.RoleDefinitionID) {
			role = n
		}
	}
	if role == "" || body.DirectoryScopeID != "/" {
		return c.err(http.StatusBadRequest, "RoleAssignmentDoesNotExist", "The Role assignment does not exist.")
	}
	removeRole(roles(d), principal, role)
	now := graphTime(c.now)
	var justification any
	if body.Justification != "" {
		justification = body.Justification
	}
	resp := jsonResp(http.StatusCreated, map[string]any{
		"@odata.context": metadata + "roleManagement/directory/" + set + "/$entity",
		"@odata.type":    "#microsoft.graph." + typ,
		"id":             newRequestID(), "status": "Revoked", "action": "adminRemove",
		"createdDateTime": now, "completedDateTime": now, "approvalId": nil, "customData": nil,
		"principalId": principal, "roleDefinitionId": roleTemplateID(role), "directoryScopeId": "/", "appScopeId": nil,
		"isValidationOnly": false, "targetScheduleId": stableID(kind, principal+role), "justification": justification,
		"scheduleInfo": nil, "ticketInfo": nil,
	})
	resp.detail = "adminRemove " + role
	return resp
}
