package entra

import (
	"context"
	"fmt"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

var revokeConsents = implement(entraspec.RevokeConsents, func() steps.Step { return revokeConsentsStep{} })

// revokeConsentsStep implements entra.revoke_consents.
type revokeConsentsStep struct{}

var (
	_ steps.Step     = revokeConsentsStep{}
	_ steps.Verifier = revokeConsentsStep{}
)

var consentsErrors = errorContext{permission: entraspec.PermConsents}

// consentPrincipal is the consentType of a grant one user gave; the other,
// AllPrincipals, is an administrator's for the whole tenant.
const consentPrincipal = "Principal"

// grant is one delegated permission grant, its app named.
type grant struct {
	id, clientID, app, scope, consentType string
}

func (g grant) label() string {
	s := "app " + quote(g.app)
	if sc := strings.TrimSpace(g.scope); sc != "" {
		s += " (" + sc + ")"
	}
	return s
}

func (g grant) detail() map[string]any {
	return map[string]any{"id": g.id, "clientId": g.clientID, "app": g.app, "scope": strings.TrimSpace(g.scope), "consentType": g.consentType}
}

// consentPlan is the user's own grants, which the step deletes, and the
// tenant-wide ones it never touches.
type consentPlan struct {
	remove, tenantWide []grant
}

func (p consentPlan) details() map[string]any {
	list := func(gs []grant) []map[string]any {
		out := make([]map[string]any, len(gs))
		for i, g := range gs {
			out[i] = g.detail()
		}
		return out
	}
	d := map[string]any{"grants": list(p.remove)}
	if len(p.tenantWide) > 0 {
		d["tenantWide"] = list(p.tenantWide)
	}
	return d
}

func (p consentPlan) summary(verb string) string {
	labels := func(gs []grant) string {
		s := make([]string, len(gs))
		for i, g := range gs {
			s[i] = g.label()
		}
		return strings.Join(s, ", ")
	}
	s := "no delegated consent of the user's own"
	if len(p.remove) > 0 {
		s = verb + count(len(p.remove), "delegated consent") + ": " + labels(p.remove)
	}
	if len(p.tenantWide) > 0 {
		s += "; left alone, tenant-wide (an administrator's to judge): " + labels(p.tenantWide)
	}
	return s
}

func (revokeConsentsStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	p, err := planConsents(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	return steps.Change{Satisfied: len(p.remove) == 0, Summary: p.summary(""), Details: p.details()}, nil
}

// Apply deletes the user's own grants, all at once (removeAll: a
// $batch), each journaled.
func (revokeConsentsStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	c, id, err := target(call)
	if err != nil {
		return steps.Change{}, err
	}
	p, err := planConsents(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	rs := make([]removal, len(p.remove))
	for i, g := range p.remove {
		req, err := c.graph.Oauth2PermissionGrants().ByOAuth2PermissionGrantId(g.id).ToDeleteRequestInformation(ctx, nil)
		if err != nil {
			return steps.Change{}, fmt.Errorf("entra: delete the consent %s: %w", g.id, err)
		}
		rs[i] = removal{id: g.id,
			call:    batchCall{op: "delete the consent to " + g.label() + " (" + g.id + ") of " + id, req: req, ec: consentsErrors},
			done:    "deleted the consent to " + g.label(),
			gone:    "the consent to " + g.label() + " was already gone",
			details: map[string]any{"grant": g.detail()}}
	}
	removed, err := c.removeAll(ctx, call, rs, directoryBatches)
	done := consentPlan{remove: pick(p.remove, removed), tenantWide: p.tenantWide}
	return steps.Change{Summary: done.summary("deleted "), Details: done.details()}, err
}

// Verify lists the grants again: none of the user's own may remain.
func (revokeConsentsStep) Verify(ctx context.Context, call *steps.Call) error {
	return verifyGone(ctx, func(ctx context.Context) (string, error) {
		p, err := planConsents(ctx, call)
		if err != nil || len(p.remove) == 0 {
			return "", err
		}
		return p.summary(""), nil
	})
}

// planConsents lists the user's delegated grants and names their apps.
// Only a grant of consentType Principal for this very user is theirs to
// lose; anything else is tenant-wide and only reported.
func planConsents(ctx context.Context, call *steps.Call) (consentPlan, error) {
	c, id, err := target(call)
	if err != nil {
		return consentPlan{}, err
	}
	listed, err := c.listGrants(ctx, id, consentsErrors)
	if err != nil {
		return consentPlan{}, err
	}
	apps := map[string]string{}
	var p consentPlan
	for _, m := range listed {
		g := grant{id: deref(m.id), clientID: deref(m.clientId), scope: deref(m.scope), consentType: deref(m.consentType)}
		if g.id == "" {
			// An empty id would drop the path segment and aim the DELETE
			// at the collection.
			continue
		}
		if g.app, err = c.appName(ctx, g.clientID, apps); err != nil {
			return consentPlan{}, err
		}
		if strings.EqualFold(g.consentType, consentPrincipal) && strings.EqualFold(deref(m.principalId), id) {
			p.remove = append(p.remove, g)
		} else {
			p.tenantWide = append(p.tenantWide, g)
		}
	}
	return p, nil
}

// listGrants reads every page of the delegated grants listed under the
// user, for the step and the inventory alike; ec names the permission a
// 403 lacks.
func (c *Conn) listGrants(ctx context.Context, id string, ec errorContext) ([]*graphGrant, error) {
	b := c.graph.Users().ByUserId(id).Oauth2PermissionGrants()
	var out []*graphGrant
	err := eachPage(ctx, "list delegated consents of "+id, ec,
		func(next string) (*collection[graphGrant, *graphGrant], error) {
			if next != "" {
				return sendPage[graphGrant](ctx, c, req(b.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphGrant](ctx, c, req(b.ToGetRequestInformation(ctx, nil)))
		},
		func(page *collection[graphGrant, *graphGrant]) { out = append(out, page.value...) })
	return out, err
}

// appName is the display name of the service principal a grant was made
// to, read once per app; the client id stands in when it cannot be read
// (no Application.Read.All, the app deleted), and the consent is still
// revoked.
func (c *Conn) appName(ctx context.Context, clientID string, cache map[string]string) (string, error) {
	return nameOnce(ctx, clientID, cache, "read service principal "+clientID, errorContext{permission: entraspec.PermAppRead}, func() (string, error) {
		sp, err := send[graphObject](ctx, c, req(c.graph.ServicePrincipals().ByServicePrincipalId(clientID).ToGetRequestInformation(ctx, &serviceprincipals.ServicePrincipalItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &serviceprincipals.ServicePrincipalItemRequestBuilderGetQueryParameters{Select: []string{"id", "appId", "displayName"}},
		})))
		if err != nil || sp == nil {
			return "", err
		}
		return deref(sp.displayName), nil
	})
}
