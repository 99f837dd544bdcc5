package entra

import (
	"context"
	"fmt"
	"strings"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

var removeGroupMemberships = implement(entraspec.RemoveGroupMemberships, func() steps.Step { return removeGroupMembershipsStep{} })

// removeGroupMembershipsStep implements entra.remove_group_memberships.
type removeGroupMembershipsStep struct{}

var (
	_ steps.Step     = removeGroupMembershipsStep{}
	_ steps.Verifier = removeGroupMembershipsStep{}
)

var groupsErrors = errorContext{permission: entraspec.PermGroupMembers}

// membershipPlan is the user's direct groups: those Graph can remove the
// user from, and those it cannot (groupRef.fixed), which are only
// reported.
type membershipPlan struct {
	remove, skipped []groupRef
}

// planMemberships sorts the user's groups into those to leave and those
// Graph cannot change, keeping Graph's order.
func planMemberships(groups []groupRef) membershipPlan {
	var p membershipPlan
	for _, g := range groups {
		switch {
		case g.id == "":
			// An empty id would drop the path segment from the DELETE.
			continue
		case g.fixed() != "":
			p.skipped = append(p.skipped, g)
		default:
			p.remove = append(p.remove, g)
		}
	}
	return p
}

// detail is a group as the change's details and the journal name it.
func (g groupRef) detail() map[string]any {
	d := map[string]any{"id": g.id, "name": g.name}
	if g.roleAssignable {
		d["role_assignable"] = true
	}
	if why := g.fixed(); why != "" {
		d["reason"] = why
	}
	return d
}

func (p membershipPlan) details() map[string]any {
	list := func(gs []groupRef) []map[string]any {
		out := make([]map[string]any, len(gs))
		for i, g := range gs {
			out[i] = g.detail()
		}
		return out
	}
	d := map[string]any{"groups": list(p.remove)}
	if len(p.skipped) > 0 {
		d["skipped"] = list(p.skipped)
	}
	return d
}

// summary names the groups, and each skipped one with why: "removed from
// 2 groups: 'Sales', 'Marketing'; skipped, Graph cannot change them:
// 'Marketing (everyone)' (dynamic: …)".
func (p membershipPlan) summary(verb string) string {
	s := "no cloud group membership Graph can remove"
	if len(p.remove) > 0 {
		names := make([]string, len(p.remove))
		for i, g := range p.remove {
			names[i] = quoteName(g.name)
		}
		s = verb + count(len(p.remove), "group") + ": " + strings.Join(names, ", ")
	}
	if len(p.skipped) > 0 {
		names := make([]string, len(p.skipped))
		for i, g := range p.skipped {
			names[i] = quoteName(g.name) + " (" + g.fixed() + ")"
		}
		s += "; skipped, Graph cannot change them: " + strings.Join(names, ", ")
	}
	return s
}

func (removeGroupMembershipsStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	p, err := readMemberships(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	return steps.Change{Satisfied: len(p.remove) == 0, Summary: p.summary(""), Details: p.details()}, nil
}

// Apply removes the user from each group through the membership's $ref,
// all at once (removeAll: a $batch), each journaled; a group an earlier
// attempt journaled is not asked again.
func (removeGroupMembershipsStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	c, id, err := target(call)
	if err != nil {
		return steps.Change{}, err
	}
	p, err := readMemberships(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	rs := make([]removal, len(p.remove))
	for i, g := range p.remove {
		ec := groupsErrors
		if g.roleAssignable {
			ec.permission = entraspec.PermGroupMembers + " and " + entraspec.PermRoles
		}
		// Ref() makes the URL end in /$ref: the membership, never the
		// user object itself, which DELETE /groups/{id}/members/{id}
		// would delete.
		req, err := c.graph.Groups().ByGroupId(g.id).Members().ByDirectoryObjectId(id).Ref().ToDeleteRequestInformation(ctx, nil)
		if err != nil {
			return steps.Change{}, fmt.Errorf("entra: remove %s from group %s: %w", id, g.id, err)
		}
		rs[i] = removal{id: g.id,
			call:    batchCall{op: "remove " + id + " from group " + quoteName(g.name) + " (" + g.id + ")", req: req, ec: ec},
			done:    "removed from group " + quoteName(g.name),
			gone:    "was no longer in group " + quoteName(g.name),
			details: map[string]any{"group": g.detail()}}
	}
	removed, err := c.removeAll(ctx, call, rs, directoryBatches)
	done := membershipPlan{remove: pick(p.remove, removed), skipped: p.skipped}
	return steps.Change{Summary: done.summary("removed from "), Details: done.details()}, err
}

// Verify lists the groups again: none Graph can change may remain.
func (removeGroupMembershipsStep) Verify(ctx context.Context, call *steps.Call) error {
	return verifyGone(ctx, func(ctx context.Context) (string, error) {
		p, err := readMemberships(ctx, call)
		if err != nil || len(p.remove) == 0 {
			return "", err
		}
		return p.summary(""), nil
	})
}

// readMemberships lists the subject's direct groups and plans them.
func readMemberships(ctx context.Context, call *steps.Call) (membershipPlan, error) {
	c, id, err := target(call)
	if err != nil {
		return membershipPlan{}, err
	}
	groups, err := c.memberGroups(ctx, id)
	if err != nil {
		return membershipPlan{}, err
	}
	return planMemberships(groups), nil
}

// roleAssignableNeed is the preflight's part for this step that the spec
// cannot say: removing a member from a role-assignable group also needs
// RoleManagement.ReadWrite.Directory, which only a subject in such a
// group makes necessary (so the spec does not ask every caller for it).
// When the token lacks it, the subject's groups are read and the
// permission named with the groups that need it. A listing Graph refuses
// is no reason to stop the preflight: it says the need is unknown.
func (c *Conn) roleAssignableNeed(ctx context.Context, g *tokenGrants, subject *steps.Subject) ([]string, error) {
	have := g.roles
	if g.delegated() {
		have = g.scopes
	}
	id := subject.FactString("entra", "id")
	if holds(have, entraspec.PermRoles) || id == "" {
		return nil, nil
	}
	groups, err := c.memberGroups(ctx, id)
	if ctx.Err() != nil {
		return nil, err
	}
	if err != nil {
		return []string{entraspec.PermRoles + " (if the subject is in a role-assignable group: their groups could not be read: " +
			uncheckedWhy(permGroupsRead, err) + ")"}, nil
	}
	var names []string
	for _, gr := range planMemberships(groups).remove {
		if gr.roleAssignable {
			names = append(names, quoteName(gr.name))
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	what := "group "
	if len(names) > 1 {
		what = "groups "
	}
	return []string{entraspec.PermRoles + " (the subject is in role-assignable " + what + strings.Join(names, ", ") + ")"}, nil
}
