package entra

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// Granted fetches a Graph token from the connection's credential and
// returns what it grants: the application permissions of its roles claim
// (app-only credentials) and the delegated permissions of its scp claim
// (device code, Azure CLI), each sorted. The token is decoded, not
// verified: revoke is its holder, not its audience, and only compares the
// claims with the permissions its steps need before a run.
func (c *Conn) Granted(ctx context.Context) (roles []string, scopes []string, err error) {
	g, err := c.grants(ctx)
	if err != nil {
		return nil, nil, err
	}
	return g.roles, g.scopes, nil
}

// The engine's permission preflight asks any connection for its grants.
var _ steps.GrantReporter = (*Conn)(nil)

// MissingGrants is the permission preflight for one step and subject: the
// Graph permissions spec needs that the credential's token does not hold,
// and the Entra directory roles the caller lacks to make the step's change
// on this subject (a Global Administrator is disabled only by a Privileged
// Authentication Administrator or another Global Administrator). The token
// comes from the credential's cache after the first call, so a plan's
// steps cost one token request.
func (c *Conn) MissingGrants(ctx context.Context, spec *steps.Spec, subject *steps.Subject) (permissions, roles []string, err error) {
	g, err := c.grants(ctx)
	if err != nil {
		return nil, nil, err
	}
	perms := g.missingPermissions(spec)
	if spec.Name == entraspec.RemoveGroupMemberships.Name {
		// A permission only some subjects need: asked of Graph.
		extra, err := c.roleAssignableNeed(ctx, g, subject)
		if err != nil {
			return nil, nil, err
		}
		perms = append(perms, extra...)
	}
	return perms, g.missingRoles(spec, subject), nil
}

// grants fetches the credential's token and decodes what it grants.
func (c *Conn) grants(ctx context.Context) (*tokenGrants, error) {
	tok, err := c.token(ctx, "fetch a token for "+c.scope)
	if err != nil {
		return nil, err
	}
	g, err := decodeGrants(tok.Token)
	if err != nil {
		return nil, fmt.Errorf("entra: fetch a token for %s: %w", c.scope, err)
	}
	return g, nil
}

// tokenOptions asks for the Graph token with EnableCAE, as the SDK's auth
// provider asks: azidentity caches CAE and non-CAE tokens apart, and a
// different kind would cost a second token request right before the run.
func (c *Conn) tokenOptions() policy.TokenRequestOptions {
	return policy.TokenRequestOptions{Scopes: []string{c.scope}, EnableCAE: true}
}

// token returns the credential's Graph token, from its cache or fetched;
// a failure is classified and named op.
func (c *Conn) token(ctx context.Context, op string) (azcore.AccessToken, error) {
	if err := c.awaitWarm(ctx); err != nil {
		return azcore.AccessToken{}, classify(ctx, op, err, errorContext{})
	}
	tok, err := c.cred.GetToken(ctx, c.tokenOptions())
	if err != nil {
		return tok, classify(ctx, op, err, errorContext{})
	}
	return tok, nil
}

// tokenGrants is what an access token says its holder may do.
type tokenGrants struct {
	// roles are the application permissions (app-only tokens), scopes the
	// delegated ones; each sorted.
	roles, scopes []string
	// wids are the caller's directory roles as role template ids: the
	// service principal's in an app-only token, the signed-in user's in a
	// delegated one. hasWids tells an absent claim from an empty one.
	wids    []string
	hasWids bool
}

// delegated reports a token issued to a signed-in user.
func (g *tokenGrants) delegated() bool { return len(g.roles) == 0 && len(g.scopes) > 0 }

// missingPermissions lists the spec's Graph permissions the token does not
// hold: an app-only token's roles are compared with the application
// permissions, a delegated token's scopes with the delegated ones.
func (g *tokenGrants) missingPermissions(spec *steps.Spec) []string {
	want, have := spec.Needs(entraspec.KindApplication), g.roles
	if g.delegated() {
		want, have = spec.Needs(entraspec.KindDelegated), g.scopes
	}
	var missing []string
	for _, p := range want {
		if !holds(have, p) {
			missing = append(missing, p)
		}
	}
	return missing
}

// holds reports whether have grants p itself or a broader permission
// that covers it: User.ReadWrite.All covers User.Read.All and
// User.EnableDisableAccount.All, Directory.ReadWrite.All every User, Group
// and Device read and write.
func holds(have []string, p string) bool {
	if slices.Contains(have, p) {
		return true
	}
	return slices.ContainsFunc(impliedBy[p], func(b string) bool { return slices.Contains(have, b) })
}

// impliedBy names, for a permission, the broader ones that cover it.
var impliedBy = map[string][]string{
	"User.Read.All":                      {"User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
	"User.EnableDisableAccount.All":      {"User.ReadWrite.All", "Directory.ReadWrite.All"},
	"User.RevokeSessions.All":            {"User.ReadWrite.All", "Directory.ReadWrite.All"},
	"User-PasswordProfile.ReadWrite.All": {"User.ReadWrite.All", "Directory.ReadWrite.All"},
	"Device.ReadWrite.All":               {"Directory.ReadWrite.All"},
	"GroupMember.ReadWrite.All":          {"Group.ReadWrite.All", "Directory.ReadWrite.All"},
	"LicenseAssignment.ReadWrite.All":    {"User.ReadWrite.All", "Directory.ReadWrite.All"},
	"Application.Read.All":               {"Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
}

// callerRoles are the names of the acting roles (see privileged.go) among
// the token's wids; other roles never let a caller act on an administrator.
func (g *tokenGrants) callerRoles() []string {
	var names []string
	for _, id := range g.wids {
		if n, ok := actorTemplates[strings.ToLower(id)]; ok {
			names = append(names, n)
		}
	}
	return names
}

// missingRoles lists the directory role the caller lacks to make spec's
// change on subject, with why: empty for a step Entra does not guard by
// the target's roles and for a subject who holds none.
func (g *tokenGrants) missingRoles(spec *steps.Spec, subject *steps.Subject) []string {
	need, ok := needFor(guards[spec.Name], heldRoles(subject), g.callerRoles())
	if !ok {
		return nil
	}
	why := "the target holds " + strings.Join(need.because, ", ")
	if !g.hasWids {
		// Entra leaves a claim out when it has no value, so no wids most
		// likely means no roles; say what was seen rather than guess.
		why += "; the token lists no directory roles"
	}
	return []string{need.role + " (" + why + ")"}
}

// tokenPermissions decodes a JWT's payload without verifying it and returns
// its roles and scp claims.
func tokenPermissions(token string) (roles []string, scopes []string, err error) {
	g, err := decodeGrants(token)
	if err != nil {
		return nil, nil, err
	}
	return g.roles, g.scopes, nil
}

// decodeGrants decodes a JWT's payload without verifying it and returns
// its roles, scp and wids claims.
func decodeGrants(token string) (*tokenGrants, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("the access token is not a JWT")
	}
	// base64url without padding per RFC 7515; tolerate padding anyway.
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("the access token's payload is not base64url: %v", err)
	}
	var claims struct {
		Roles []string  `json:"roles"`
		Scp   string    `json:"scp"`
		Wids  *[]string `json:"wids"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("the access token's payload: %v", err)
	}
	g := &tokenGrants{
		roles:  append([]string{}, claims.Roles...),
		scopes: append([]string{}, strings.Fields(claims.Scp)...),
	}
	if claims.Wids != nil {
		g.wids, g.hasWids = *claims.Wids, true
	}
	sort.Strings(g.roles)
	sort.Strings(g.scopes)
	return g, nil
}
