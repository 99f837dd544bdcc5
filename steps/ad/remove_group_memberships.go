package ad

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/steps"
)

var removeGroupMemberships = steps.Spec{
	Name:    "ad.remove_group_memberships",
	Summary: "Remove the account from every group it is a member of",
	Description: "Deletes the user's DN from the member attribute of each group in its memberOf, " +
		"one group at a time. The primary group (usually Domain Users) is not in memberOf and stays. " +
		"Each group removed is journaled as it goes so a person can restore them.",
	Params: []steps.Param{
		{Name: paramKeep, Type: steps.StringList, Default: []string{},
			Description: "Distinguished names or CNs of groups to leave in place (case-insensitive).",
			Examples:    []any{[]any{"CN=Staff,OU=Groups,DC=contoso,DC=com", "All Employees"}}},
	},
	Permissions: []steps.Permission{{Kind: kindRight, Names: []string{rightWriteMember}}},
	Idempotent:  true,
	New:         func() steps.Step { return &removeGroupMembershipsStep{} },
}

const (
	paramKeep        = "keep"
	rightWriteMember = "Write member on each group"
)

type removeGroupMembershipsStep struct{}

var (
	_ steps.Step     = (*removeGroupMembershipsStep)(nil)
	_ steps.Verifier = (*removeGroupMembershipsStep)(nil)
)

// groupPlan is what a fresh read of memberOf leaves to do.
type groupPlan struct {
	conn         *Conn
	dn           string
	remove, kept []string
}

// planGroups reads the account's memberOf now and splits it into the
// groups to leave and those kept.
func planGroups(ctx context.Context, call *steps.Call) (*groupPlan, error) {
	c, dn, err := target(call)
	if err != nil {
		return nil, err
	}
	a, err := c.read(ctx, dn)
	if err != nil {
		return nil, err
	}
	p := &groupPlan{conn: c, dn: dn}
	p.remove, p.kept = splitGroups(a.MemberOf, call.With.Strings(paramKeep))
	return p, nil
}

// nothingToDo is the satisfied Change when no group is left to remove.
func (p *groupPlan) nothingToDo() (steps.Change, bool) {
	if len(p.remove) > 0 {
		return steps.Change{}, false
	}
	return steps.Change{Satisfied: true, Summary: noGroupsText(p.kept),
		Details: map[string]any{"kept": anyList(p.kept)}}, true
}

// Check lists the groups Apply would remove the account from.
func (*removeGroupMembershipsStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	p, err := planGroups(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	if ch, ok := p.nothingToDo(); ok {
		return ch, nil
	}
	remove, kept := p.remove, p.kept
	return steps.Change{
		Summary: fmt.Sprintf("%s: %s", steps.Count(len(remove), "group"), strings.Join(remove, "; ")),
		Details: map[string]any{"groups": anyList(remove), "kept": anyList(kept)},
	}, nil
}

// Apply removes the account from each group, one Modify per group,
// journaling each removal. It works from a fresh memberOf, so after a crash
// the groups already left are not in it.
func (*removeGroupMembershipsStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	p, err := planGroups(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	if ch, ok := p.nothingToDo(); ok {
		return ch, nil
	}
	c, dn, remove, kept := p.conn, p.dn, p.remove, p.kept
	removed := []string{}
	for _, g := range remove {
		did, err := c.removeMember(ctx, g, dn)
		if err != nil {
			return steps.Change{}, err
		}
		if did {
			removed = append(removed, g)
			call.Report("removed from "+g, map[string]any{"group": g})
		}
	}
	summary := "no group memberships left to remove: the account had already left them"
	if len(removed) > 0 {
		summary = fmt.Sprintf("removed from %s: %s", steps.Count(len(removed), "group"), strings.Join(removed, "; "))
	}
	return steps.Change{
		Summary: summary,
		Details: map[string]any{"removed": anyList(removed), "kept": anyList(kept)},
	}, nil
}

// removeMember deletes member from group's member attribute. removed is
// false when it was not a member (any more): that counts as done.
func (c *Conn) removeMember(ctx context.Context, group, member string) (removed bool, err error) {
	req := ldap.NewModifyRequest(group, nil)
	req.Delete(attrMember, []string{member})
	// Deleting a value twice is harmless (the second says "no such
	// attribute", which counts as done): safe to resend.
	err = c.modify(ctx, req, true)
	switch {
	case err == nil:
		return true, nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute):
		return false, nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform):
		// Windows answers 53 for a value that is not there, but also for a
		// removal it refuses: only a fresh memberOf tells them apart.
		a, rerr := c.read(ctx, member)
		if rerr == nil && !containsFold(a.MemberOf, group) {
			return false, nil
		}
	}
	return false, classify(fmt.Sprintf("remove %s from %s", member, group), rightWriteMember, err)
}

// Verify reads memberOf back: only the kept groups may remain.
func (*removeGroupMembershipsStep) Verify(ctx context.Context, call *steps.Call) error {
	c, dn, err := target(call)
	if err != nil {
		return err
	}
	a, err := c.read(ctx, dn)
	if err != nil {
		return err
	}
	if remove, _ := splitGroups(a.MemberOf, call.With.Strings(paramKeep)); len(remove) > 0 {
		return steps.Errorf(steps.Other, "%s is still a member of %s", dn, strings.Join(remove, "; "))
	}
	return nil
}

// splitGroups separates memberOf into the groups to remove and those keep
// names, by DN or by CN, case-insensitively.
func splitGroups(memberOf, keep []string) (remove, kept []string) {
	remove, kept = []string{}, []string{}
	for _, g := range memberOf {
		if keeps(keep, g) {
			kept = append(kept, g)
		} else {
			remove = append(remove, g)
		}
	}
	return remove, kept
}

func keeps(keep []string, group string) bool {
	gdn, err := ldap.ParseDN(group)
	cn := ""
	if err == nil && len(gdn.RDNs) > 0 && len(gdn.RDNs[0].Attributes) > 0 {
		cn = gdn.RDNs[0].Attributes[0].Value
	}
	for _, k := range keep {
		k = strings.TrimSpace(k)
		if strings.EqualFold(k, group) || (cn != "" && strings.EqualFold(k, cn)) {
			return true
		}
		if strings.Contains(k, "=") && err == nil {
			if kdn, kerr := ldap.ParseDN(k); kerr == nil && kdn.EqualFold(gdn) {
				return true
			}
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func noGroupsText(kept []string) string {
	if len(kept) == 0 {
		return "no group memberships to remove"
	}
	return fmt.Sprintf("no group memberships to remove (%s kept)", steps.Count(len(kept), "group"))
}

// anyList converts to []any, the type facts and details use once they have
// been through JSON, so what a step returns and what the journal holds look
// the same.
func anyList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
