package entra

import (
	"context"

	"github.com/revoke-dev/revoke/steps"
)

// groupAppItems lists the apps the user reaches through the groups they
// are a direct member of: the groups' app role assignments, which are not
// the user's (entra.remove_app_assignments leaves them, and Graph does not
// list them under the user) and go when the membership does. The groups'
// listings are read at once; one that cannot be read is an unchecked
// item naming the group.
func (c *Conn) groupAppItems(ctx context.Context, groups []groupRef) []steps.Residual {
	found := make([][]steps.Residual, len(groups))
	actions := make([]func(context.Context) error, len(groups))
	for i, g := range groups {
		actions[i] = func(ctx context.Context) error {
			found[i] = c.groupApps(ctx, g)
			return nil
		}
	}
	runBounded(ctx, actions, maxDeviceActions, func(int, error) {})
	var out []steps.Residual
	for _, f := range found {
		out = append(out, f...)
	}
	return out
}

// groupApps lists one group's app role assignments as the member's.
func (c *Conn) groupApps(ctx context.Context, g groupRef) []steps.Residual {
	b := c.graph.Groups().ByGroupId(g.id).AppRoleAssignments()
	var found []*graphAppRoleAssignment
	err := eachPage(ctx, "list app role assignments of group "+g.id, errorContext{permission: permAssignRead},
		func(next string) (*collection[graphAppRoleAssignment, *graphAppRoleAssignment], error) {
			if next != "" {
				return sendPage[graphAppRoleAssignment](ctx, c, req(b.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphAppRoleAssignment](ctx, c, req(b.ToGetRequestInformation(ctx, nil)))
		},
		func(p *collection[graphAppRoleAssignment, *graphAppRoleAssignment]) {
			found = append(found, p.value...)
		})
	if err != nil {
		return []steps.Residual{unchecked("app assignments of group "+quoteName(g.name), permAssignRead, err)}
	}
	why := "through a group: removing the membership removes it"
	if fixed := g.fixed(); fixed != "" {
		why = "through a group, " + fixed
	}
	var out []steps.Residual
	for _, a := range found {
		app := deref(a.resourceDisplayName)
		if app == "" {
			if r := a.resourceId; r != nil {
				app = r.String()
			}
		}
		out = append(out, residual(steps.ResidualAppAssignment,
			"assigned to app "+quoteName(app)+" through group "+quoteName(g.name), untilRemoved, why, deref(a.id)))
	}
	return out
}
