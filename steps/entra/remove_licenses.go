package entra

import (
	"context"
	"slices"
	"strings"

	"github.com/google/uuid"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/subscribedskus"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

var removeLicenses = implement(entraspec.RemoveLicenses, func() steps.Step { return removeLicensesStep{} })

// removeLicensesStep implements entra.remove_licenses.
type removeLicensesStep struct{}

var (
	_ steps.Step     = removeLicensesStep{}
	_ steps.Verifier = removeLicensesStep{}
)

var licensesErrors = errorContext{permission: entraspec.PermLicenses}

// inheritedLicense is a sku the user holds through groups: the groups'
// ids and, where they could be read, names.
type inheritedLicense struct {
	sku    string
	groups []string // names, or ids where the name could not be read
	ids    []string
	// alsoDirect: assigned directly as well, so removing the direct
	// assignment does not take it away while the membership stays.
	alsoDirect bool
}

// licensePlan is the user's direct licences, which the step removes, and
// those that come through a group, which it reports.
type licensePlan struct {
	direct    []string
	inherited []inheritedLicense
	// names are the tenant's sku part numbers (ENTERPRISEPACK) by sku id,
	// where they could be read.
	names map[string]string
}

// label is how a person reads a sku: its part number, or its id when the
// tenant's subscriptions could not be read.
func (p licensePlan) label(sku string) string {
	if n := p.names[sku]; n != "" {
		return n
	}
	return sku
}

func (p licensePlan) labels(skus []string) string {
	out := make([]string, len(skus))
	for i, s := range skus {
		out[i] = p.label(s)
	}
	return strings.Join(out, ", ")
}

func (p licensePlan) details() map[string]any {
	d := map[string]any{"licenses": append([]string{}, p.direct...)}
	if len(p.inherited) > 0 {
		list := make([]map[string]any, len(p.inherited))
		for i, l := range p.inherited {
			list[i] = map[string]any{"skuId": l.sku, "groups": l.ids, "group_names": l.groups}
			if l.alsoDirect {
				list[i]["also_direct"] = true
			}
		}
		d["inherited"] = list
	}
	if len(p.names) > 0 {
		d["sku_part_numbers"] = p.names
	}
	return d
}

// summary: "removed 1 direct licence: ENTERPRISEPACK; inherited through a
// group, not removed (they go with the membership): POWER_BI_PRO from
// 'Marketing (everyone)'".
func (p licensePlan) summary(verb string) string {
	s := "no licence assigned to the user directly"
	if len(p.direct) > 0 {
		s = verb + count(len(p.direct), "direct licence") + ": " + p.labels(p.direct)
	}
	if len(p.inherited) > 0 {
		names := make([]string, len(p.inherited))
		for i, l := range p.inherited {
			quoted := make([]string, len(l.groups))
			for j, g := range l.groups {
				quoted[j] = quoteName(g)
			}
			names[i] = p.label(l.sku) + " from " + strings.Join(quoted, ", ")
		}
		s += "; inherited through a group, not removed (they go with the membership): " + strings.Join(names, ", ")
	}
	return s
}

func (removeLicensesStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	p, err := readLicenses(ctx, call, true)
	if err != nil {
		return steps.Change{}, err
	}
	return steps.Change{Satisfied: len(p.direct) == 0, Summary: p.summary(""), Details: p.details()}, nil
}

// Apply removes every direct licence in one assignLicense call, then
// journals it. A resumed run reads the licences afresh: those already
// removed are no longer listed, so nothing is asked twice.
func (removeLicensesStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	c, id, err := target(call)
	if err != nil {
		return steps.Change{}, err
	}
	p, err := readLicenses(ctx, call, true)
	if err != nil {
		return steps.Change{}, err
	}
	if len(p.direct) == 0 {
		return steps.Change{Summary: p.summary(""), Details: p.details()}, nil
	}
	remove := make([]uuid.UUID, 0, len(p.direct))
	for _, sku := range p.direct {
		u, err := uuid.Parse(sku)
		if err != nil {
			return steps.Change{}, steps.Errorf(steps.Invalid, "entra: licence of %s: sku id %q is not a GUID", id, sku)
		}
		remove = append(remove, u)
	}
	_, err = send[graphUser](ctx, c, c.withBody(ctx, abs.POST, &c.graph.Users().ByUserId(id).AssignLicense().BaseRequestBuilder,
		&assignLicense{removeLicenses: remove}))
	if err := classify(ctx, "remove the licences "+strings.Join(p.direct, ", ")+" of "+id, err, licensesErrors); err != nil {
		return steps.Change{}, err
	}
	call.Report("removed "+count(len(p.direct), "direct licence")+": "+p.labels(p.direct), map[string]any{"licenses": append([]string{}, p.direct...)})
	return steps.Change{Summary: p.summary("removed "), Details: p.details()}, nil
}

// Verify reads the licence assignment states back: no direct one may
// remain.
func (removeLicensesStep) Verify(ctx context.Context, call *steps.Call) error {
	return verifyGone(ctx, func(ctx context.Context) (string, error) {
		p, err := readLicenses(ctx, call, false)
		if err != nil || len(p.direct) == 0 {
			return "", err
		}
		return count(len(p.direct), "direct licence") + ": " + strings.Join(p.direct, ", "), nil
	})
}

// readLicenses reads the user's licenceAssignmentStates: a state with no
// assignedByGroup is a direct assignment, one with a group comes through
// it. named reads the groups' and the skus' names for the change (Verify
// needs none).
func readLicenses(ctx context.Context, call *steps.Call, named bool) (licensePlan, error) {
	c, id, err := target(call)
	if err != nil {
		return licensePlan{}, err
	}
	u, err := c.getUser(ctx, "read the licences of "+id, id, errorContext{permission: entraspec.PermUserRead},
		"id", "assignedLicenses", "licenseAssignmentStates")
	if err != nil {
		return licensePlan{}, err
	}
	var p licensePlan
	byGroup := map[string]*inheritedLicense{}
	var order []string
	for _, s := range u.licenseAssignmentStates {
		if s.skuId == nil {
			continue
		}
		sku := s.skuId.String()
		g := deref(s.assignedByGroup)
		if g == "" {
			if !slices.Contains(p.direct, sku) {
				p.direct = append(p.direct, sku)
			}
			continue
		}
		l := byGroup[sku]
		if l == nil {
			l = &inheritedLicense{sku: sku}
			byGroup[sku] = l
			order = append(order, sku)
		}
		if !slices.Contains(l.ids, g) {
			l.ids = append(l.ids, g)
		}
	}
	if named && (len(p.direct) > 0 || len(order) > 0) {
		if p.names, err = c.skuNames(ctx); err != nil {
			return licensePlan{}, err
		}
	}
	names := map[string]string{}
	for _, sku := range order {
		l := byGroup[sku]
		l.alsoDirect = slices.Contains(p.direct, sku)
		for _, g := range l.ids {
			name := g
			if named {
				if name, err = c.groupName(ctx, g, names); err != nil {
					return licensePlan{}, err
				}
			}
			l.groups = append(l.groups, name)
		}
		p.inherited = append(p.inherited, *l)
	}
	return p, nil
}

// groupName is a group's display name, read once per group; the id
// stands in when it cannot be read (no permission to read groups).
func (c *Conn) groupName(ctx context.Context, id string, cache map[string]string) (string, error) {
	return nameOnce(ctx, id, cache, "read group "+id, errorContext{permission: permGroupsRead}, func() (string, error) {
		g, err := send[graphObject](ctx, c, req(c.graph.Groups().ByGroupId(id).ToGetRequestInformation(ctx, &groups.GroupItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &groups.GroupItemRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}},
		})))
		if err != nil || g == nil {
			return "", err
		}
		return deref(g.displayName), nil
	})
}

// skuNames reads the tenant's subscriptions for their part numbers by sku
// id. Like groupName it only helps a person read the change: when the
// subscriptions cannot be read (the credential lacks a licence or
// organization read permission) the ids stand in. Only a cancelled call
// is an error.
func (c *Conn) skuNames(ctx context.Context) (map[string]string, error) {
	b := c.graph.SubscribedSkus()
	cfg := &subscribedskus.SubscribedSkusRequestBuilderGetRequestConfiguration{
		QueryParameters: &subscribedskus.SubscribedSkusRequestBuilderGetQueryParameters{Select: []string{"skuId", "skuPartNumber"}},
	}
	names := map[string]string{}
	err := eachPage(ctx, "list the tenant's subscriptions", errorContext{permission: entraspec.PermLicenses},
		func(next string) (*collection[graphSku, *graphSku], error) {
			if next != "" {
				return sendPage[graphSku](ctx, c, req(b.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphSku](ctx, c, req(b.ToGetRequestInformation(ctx, cfg)))
		},
		func(page *collection[graphSku, *graphSku]) {
			for _, s := range page.value {
				if s.skuId != nil && deref(s.skuPartNumber) != "" {
					names[s.skuId.String()] = deref(s.skuPartNumber)
				}
			}
		})
	if ctx.Err() != nil {
		return nil, err
	}
	if err != nil {
		return nil, nil
	}
	return names, nil
}
