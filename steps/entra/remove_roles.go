package entra

import (
	"context"
	"fmt"
	"slices"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/rolemanagement"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

var removeRoles = implement(entraspec.RemoveRoles, func() steps.Step { return removeRolesStep{} })

// removeRolesStep implements entra.remove_roles. It has no guard of its
// own: a subject holding a built-in role is protected (the engine runs on
// one only with --allow-protected and --approved-by), and the default
// policy skips the step for anyone unless the request names an approver,
// which covers the custom and administrative-unit roles resolution does
// not read.
type removeRolesStep struct{}

var (
	_ steps.Step     = removeRolesStep{}
	_ steps.Verifier = removeRolesStep{}
)

var rolesErrors = errorContext{permission: entraspec.PermRoles}

// How a role is held, as the change names it.
const (
	roleStanding = "standing"
	roleEligible = "eligible"
	roleActive   = "active"
)

// heldRole is one role the user holds directly.
type heldRole struct {
	// how is roleStanding, roleEligible or roleActive.
	how string
	// id is the standing assignment's id (the one a DELETE takes).
	id                string
	definition, scope string
	name              string
}

// key identifies the role across listings, for the journal: a PIM
// instance's id may change, its role and scope do not.
func (r heldRole) key() string {
	if r.how == roleStanding {
		return r.id
	}
	return r.how + "/" + r.definition + "/" + r.scope
}

func (r heldRole) label() string {
	s := r.name
	if r.scope != "" && r.scope != "/" {
		s += " at " + r.scope
	}
	switch r.how {
	case roleEligible:
		return s + " (eligible in PIM)"
	case roleActive:
		return s + " (active in PIM)"
	}
	return s + " (standing)"
}

// rolePlan is what the step removes, and the roles held through a group,
// which it only reports.
type rolePlan struct {
	remove    []heldRole
	viaGroups []string
}

func (p rolePlan) details() map[string]any {
	roles := make([]map[string]any, len(p.remove))
	for i, r := range p.remove {
		roles[i] = map[string]any{"role": r.name, "roleDefinitionId": r.definition, "directoryScopeId": r.scope, "how": r.how}
		if r.id != "" {
			roles[i]["id"] = r.id
		}
	}
	d := map[string]any{"roles": roles}
	if len(p.viaGroups) > 0 {
		d["throughGroups"] = p.viaGroups
	}
	return d
}

func (p rolePlan) summary(verb string) string {
	s := "no directory role held directly"
	if len(p.remove) > 0 {
		labels := make([]string, len(p.remove))
		for i, r := range p.remove {
			labels[i] = r.label()
		}
		s = verb + count(len(p.remove), "directory role") + ": " + strings.Join(labels, ", ")
	}
	if len(p.viaGroups) > 0 {
		s += "; held through a group, not removed (remove the user from the group): " + strings.Join(p.viaGroups, ", ")
	}
	return s
}

func (removeRolesStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	p, err := planRoles(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	return steps.Change{Satisfied: len(p.remove) == 0, Summary: p.summary(""), Details: p.details()}, nil
}

// Apply removes the eligible roles first (so none can be activated while
// the rest go), then the active PIM assignments, then the standing ones,
// each journaled. A role already gone (404, or PIM's 400
// RoleAssignmentDoesNotExist) counts as removed.
func (removeRolesStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	c, id, err := target(call)
	if err != nil {
		return steps.Change{}, err
	}
	p, err := planRoles(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	prior := priorRemoved(call)
	order := map[string]int{roleEligible: 0, roleActive: 1, roleStanding: 2}
	todo := slices.Clone(p.remove)
	slices.SortStableFunc(todo, func(a, b heldRole) int { return order[a.how] - order[b.how] })
	done := rolePlan{viaGroups: p.viaGroups}
	sent := 0
	for _, r := range todo {
		if prior[r.key()] {
			continue
		}
		// Apply was charged its first write; the others spend their own.
		if sent++; sent > 1 {
			if err := call.Charge(ctx, 1); err != nil {
				return steps.Change{Summary: done.summary("removed "), Details: done.details()}, err
			}
		}
		err := c.removeRole(ctx, id, r)
		switch {
		case err == nil:
			call.Report("removed "+r.label(), map[string]any{progressRemoved: r.key(), "role": r.name})
		case gone(err) || graphCode(err) == "RoleAssignmentDoesNotExist":
			call.Report(r.label()+" was already gone", map[string]any{progressRemoved: r.key(), "role": r.name})
		default:
			return steps.Change{Summary: done.summary("removed "), Details: done.details()}, err
		}
		done.remove = append(done.remove, r)
	}
	return steps.Change{Summary: done.summary("removed "), Details: done.details()}, nil
}

// Verify lists the roles again: none held directly may remain.
func (removeRolesStep) Verify(ctx context.Context, call *steps.Call) error {
	return verifyGone(ctx, func(ctx context.Context) (string, error) {
		p, err := planRoles(ctx, call)
		if err != nil || len(p.remove) == 0 {
			return "", err
		}
		return rolePlan{remove: p.remove}.summary(""), nil
	})
}

// removeRole deletes a standing assignment, or asks PIM to remove an
// eligible or active one (adminRemove).
func (c *Conn) removeRole(ctx context.Context, user string, r heldRole) error {
	op := "remove " + r.label() + " of " + user
	rm := c.graph.RoleManagement().Directory()
	justification := "revoke: access removed"
	body := &roleScheduleRequest{action: "adminRemove", principalId: user, roleDefinitionId: r.definition,
		directoryScopeId: r.scope, justification: justification}
	var err error
	switch r.how {
	case roleStanding:
		err = rm.RoleAssignments().ByUnifiedRoleAssignmentId(r.id).Delete(ctx, nil)
	case roleEligible:
		_, err = send[graphObject](ctx, c, c.withBody(ctx, abs.POST, &rm.RoleEligibilityScheduleRequests().BaseRequestBuilder, body))
	case roleActive:
		_, err = send[graphObject](ctx, c, c.withBody(ctx, abs.POST, &rm.RoleAssignmentScheduleRequests().BaseRequestBuilder, body))
	default:
		return fmt.Errorf("entra: %s: unknown kind %q", op, r.how)
	}
	return classify(ctx, op, err, rolesErrors)
}

// planRoles lists the user's standing assignments and PIM eligible and
// active ones. An active PIM assignment that is also a standing one is
// removed once, as the standing one. Roles held through a group (PIM's
// memberType Group or Inherited, or a role among the resolved
// privilegedRoles that no direct assignment explains) are reported.
func planRoles(ctx context.Context, call *steps.Call) (rolePlan, error) {
	c, id, err := target(call)
	if err != nil {
		return rolePlan{}, err
	}
	filter := "principalId eq " + odataString(id)
	expand := []string{"roleDefinition"}
	var p rolePlan
	standing := map[string]bool{} // definition/scope of standing ones
	direct := map[string]bool{}   // names held directly
	group := map[string]bool{}
	nameOf := func(def *graphObject, defID *string) string {
		if def != nil && deref(def.displayName) != "" {
			return deref(def.displayName)
		}
		return deref(defID)
	}

	sb := rm(c).RoleAssignments()
	err = eachPage(ctx, "list directory role assignments of "+id, rolesErrors,
		func(next string) (*collection[graphRoleAssignment, *graphRoleAssignment], error) {
			if next != "" {
				return sendPage[graphRoleAssignment](ctx, c, req(sb.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphRoleAssignment](ctx, c, req(sb.ToGetRequestInformation(ctx, &rolemanagement.DirectoryRoleAssignmentsRequestBuilderGetRequestConfiguration{
				QueryParameters: &rolemanagement.DirectoryRoleAssignmentsRequestBuilderGetQueryParameters{Filter: &filter, Expand: expand}})))
		},
		func(page *collection[graphRoleAssignment, *graphRoleAssignment]) {
			for _, a := range page.value {
				r := heldRole{how: roleStanding, id: deref(a.id), definition: deref(a.roleDefinitionId),
					scope: deref(a.directoryScopeId), name: nameOf(a.roleDefinition, a.roleDefinitionId)}
				if r.id == "" || !strings.EqualFold(deref(a.principalId), id) {
					continue // another principal's (a group's): not the user's to lose
				}
				p.remove = append(p.remove, r)
				standing[r.definition+"/"+r.scope] = true
				direct[r.name] = true
			}
		})
	if err != nil {
		return rolePlan{}, err
	}

	// PIM: a tenant without Entra ID P2 has none, which its 400 says.
	eb := rm(c).RoleEligibilityScheduleInstances()
	err = eachPage(ctx, "list eligible roles of "+id, rolesErrors,
		func(next string) (*collection[graphRoleAssignment, *graphRoleAssignment], error) {
			if next != "" {
				return sendPage[graphRoleAssignment](ctx, c, req(eb.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphRoleAssignment](ctx, c, req(eb.ToGetRequestInformation(ctx, &rolemanagement.DirectoryRoleEligibilityScheduleInstancesRequestBuilderGetRequestConfiguration{
				QueryParameters: &rolemanagement.DirectoryRoleEligibilityScheduleInstancesRequestBuilderGetQueryParameters{Filter: &filter, Expand: expand}})))
		},
		func(page *collection[graphRoleAssignment, *graphRoleAssignment]) {
			for _, e := range page.value {
				name := nameOf(e.roleDefinition, e.roleDefinitionId)
				if !directMember(e.memberType) {
					group[name] = true
					continue
				}
				p.remove = append(p.remove, heldRole{how: roleEligible, definition: deref(e.roleDefinitionId),
					scope: deref(e.directoryScopeId), name: name})
				direct[name] = true
			}
		})
	if graphCode(err) == "AadPremiumLicenseRequired" {
		return finishRolePlan(p, call, direct, group), nil
	}
	if err != nil {
		return rolePlan{}, err
	}
	ab := rm(c).RoleAssignmentScheduleInstances()
	err = eachPage(ctx, "list active roles of "+id, rolesErrors,
		func(next string) (*collection[graphRoleAssignment, *graphRoleAssignment], error) {
			if next != "" {
				return sendPage[graphRoleAssignment](ctx, c, req(ab.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphRoleAssignment](ctx, c, req(ab.ToGetRequestInformation(ctx, &rolemanagement.DirectoryRoleAssignmentScheduleInstancesRequestBuilderGetRequestConfiguration{
				QueryParameters: &rolemanagement.DirectoryRoleAssignmentScheduleInstancesRequestBuilderGetQueryParameters{Filter: &filter, Expand: expand}})))
		},
		func(page *collection[graphRoleAssignment, *graphRoleAssignment]) {
			for _, a := range page.value {
				name := nameOf(a.roleDefinition, a.roleDefinitionId)
				if !directMember(a.memberType) {
					group[name] = true
					continue
				}
				def, scope := deref(a.roleDefinitionId), deref(a.directoryScopeId)
				if standing[def+"/"+scope] {
					continue // the standing assignment's DELETE removes it
				}
				p.remove = append(p.remove, heldRole{how: roleActive, definition: def, scope: scope, name: name})
				direct[name] = true
			}
		})
	if graphCode(err) == "AadPremiumLicenseRequired" {
		err = nil
	}
	if err != nil {
		return rolePlan{}, err
	}
	return finishRolePlan(p, call, direct, group), nil
}

// finishRolePlan adds to the plan's report the roles held through a group:
// those PIM says so of, and those resolution found (privilegedRoles is
// transitive) that no direct assignment explains.
func finishRolePlan(p rolePlan, call *steps.Call, direct, group map[string]bool) rolePlan {
	for _, name := range heldRoles(call.Subject) {
		if !direct[name] {
			group[name] = true
		}
	}
	for name := range group {
		if !direct[name] {
			p.viaGroups = append(p.viaGroups, name)
		}
	}
	slices.Sort(p.viaGroups)
	return p
}

// directMember reports whether a PIM instance's memberType says the user
// holds it themselves; an unknown one counts as direct (removing it is
// what the step is for; PIM refuses what is not the user's).
func directMember(t *string) bool {
	return t == nil || *t == "" || strings.EqualFold(*t, "Direct")
}

func rm(c *Conn) *rolemanagement.DirectoryRequestBuilder {
	return c.graph.RoleManagement().Directory()
}
