package entra

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/rolemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/revoke-dev/revoke/steps"
)

// Permissions the backend's own reads need.
const (
	permUserRead  = "User.Read.All"
	permRolesRead = "RoleManagement.Read.Directory"
)

// userSelect names the user properties revoke reads. accountEnabled,
// onPremisesSyncEnabled and signInSessionsValidFromDateTime come back only
// when named in $select.
var userSelect = []string{"id", "userPrincipalName", "displayName", "accountEnabled",
	"onPremisesSyncEnabled", "signInSessionsValidFromDateTime", "userType",
	"onPremisesSecurityIdentifier", "onPremisesImmutableId", "onPremisesSamAccountName",
	"onPremisesDomainName", "onPremisesDistinguishedName"}

// maxPages bounds how many @odata.nextLink pages one listing follows.
const maxPages = 100

// Resolve finds the user ref names — a UPN, an object id, a SID or the
// sAMAccountName of a synced account — and returns the subject.entra facts:
// id, userPrincipalName, displayName, userType, accountEnabled,
// onPremisesSyncEnabled, signInSessionsValidFromDateTime (RFC 3339), the
// on-premises identifiers of a synced user (onPremisesSecurityIdentifier,
// onPremisesImmutableId, onPremisesSamAccountName, onPremisesDomainName,
// onPremisesDistinguishedName), privilegedRoles (the display names of the
// directory roles the user holds, directly or through a group) and
// eligibleRoles (those Privileged Identity Management lets them activate)
// and app_assignments (steps.FactAppAssignments: the display names of the
// apps the user is assigned to directly, read alongside and left out when
// they cannot be read). Values are plain JSON types: string, bool, []any.
//
// DOMAIN\user and a DN are on-premises names Entra ID cannot check (it
// keeps no NetBIOS name): in a hybrid environment they are NotFound here and
// the engine links the user through the AD account's SID; in a cloud-only
// one they are Invalid.
//
// A user Graph does not know is NotFound; a sAMAccountName shared by
// several users is Invalid. Reading the roles needs RoleManagement.Read.Directory:
// without it Resolve fails (Forbidden) rather than report an administrator
// as unprivileged.
func (c *Conn) Resolve(ctx context.Context, ref string) (map[string]any, error) {
	r, err := steps.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	switch r.Kind {
	case steps.RefUPN, steps.RefGUID:
		// The apps are read beside the user and roles, off the critical
		// path: the reference names the user in their path too. The
		// token first, so that it is fetched once.
		if _, err := c.token(ctx, "resolve "+quote(r.Name)); err != nil {
			return nil, err
		}
		var apps appFact
		var wg sync.WaitGroup
		wg.Go(func() { apps = c.appAssignmentsFact(ctx, r.Name) })
		u, roles, eligible, err := c.userAndRoles(ctx, r.Name, r.Kind == steps.RefGUID)
		wg.Wait()
		if err != nil {
			return nil, err
		}
		return c.facts(u, roles, eligible, apps, r.Text)
	case steps.RefSAM:
		return c.resolveBy(ctx, r.Text, "onPremisesSamAccountName", r.Name)
	case steps.RefSID:
		return c.resolveBy(ctx, r.Text, "onPremisesSecurityIdentifier", r.Name)
	}
	if c.cloudOnly {
		return nil, steps.Errorf(steps.Invalid, "entra: %s is an on-premises name, which a cloud-only environment cannot check: name the user by UPN or object id", quote(r.Text))
	}
	return nil, steps.Errorf(steps.NotFound, "entra: %s is an on-premises name: the user is found through their AD account", quote(r.Text))
}

// ResolveIDs finds the user another backend's record points at: by
// onPremisesSecurityIdentifier (an AD account's objectSid), else by
// onPremisesImmutableId (the sync anchor).
func (c *Conn) ResolveIDs(ctx context.Context, ids map[string]string) (map[string]any, error) {
	switch {
	case ids[steps.IDSID] != "":
		return c.resolveBy(ctx, ids[steps.IDSID], "onPremisesSecurityIdentifier", ids[steps.IDSID])
	case ids[steps.IDImmutableID] != "":
		return c.resolveBy(ctx, ids[steps.IDImmutableID], "onPremisesImmutableId", ids[steps.IDImmutableID])
	}
	return nil, steps.Errorf(steps.NotFound, "entra: no identifier Graph can search by")
}

// resolveBy finds the one user whose property equals value, then their
// roles (which need the id).
func (c *Conn) resolveBy(ctx context.Context, ref, property, value string) (map[string]any, error) {
	u, err := c.userWhere(ctx, ref, property, value)
	if err != nil {
		return nil, err
	}
	if deref(u.id) == "" {
		return nil, errors.New("entra: resolve " + quote(ref) + ": Graph returned a user without an id")
	}
	var apps appFact
	var wg sync.WaitGroup
	wg.Go(func() { apps = c.appAssignmentsFact(ctx, *u.id) })
	roles, eligible, err := c.allRoles(ctx, *u.id)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	return c.facts(u, roles, eligible, apps, ref)
}

// facts renders a resolved user, refusing one without an id.
func (c *Conn) facts(u *graphUser, roles, eligible []any, apps appFact, ref string) (map[string]any, error) {
	if deref(u.id) == "" {
		return nil, errors.New("entra: resolve " + quote(ref) + ": Graph returned a user without an id")
	}
	f := userFacts(u, roles)
	f["eligibleRoles"] = eligible
	if apps.read {
		f[steps.FactAppAssignments] = apps.names
	}
	return f, nil
}

// appFact is the display names of the apps the user is assigned to
// directly, and whether they could be read.
type appFact struct {
	names []any
	read  bool
}

// appAssignmentsFact reads the apps the user named by idOrUPN holds an
// app role of directly (a ticketing backend lists them for a person to
// deprovision), sorted, each once. It never fails resolution: when the
// assignments cannot be read the fact is not published (nobody looked),
// which differs from an empty list (none), and the run goes on.
func (c *Conn) appAssignmentsFact(ctx context.Context, idOrUPN string) appFact {
	var names []string
	err := c.eachAppRoleAssignment(ctx, idOrUPN, appAssignErrors, func(a *graphAppRoleAssignment) {
		if n := deref(a.resourceDisplayName); n != "" && strings.EqualFold(deref(a.principalType), "User") {
			names = append(names, n)
		}
	})
	if err != nil {
		return appFact{}
	}
	return appFact{names: sortedNames(names), read: true}
}

// userAndRoles reads a user named by UPN or object id and their roles at
// once: the reference names the user in the roles' path too, so the roles
// need not wait for the id, a round trip less before anything runs. PIM's
// eligibilities are filtered by object id, which a UPN does not give: for
// one, the tenant's eligibilities are listed beside the user
// (tenantEligibilities) and kept by the id the user's read returns, and
// only when they take more than one page are they asked for by id after
// it (at once, when the reference is an id: isID, as steps.ParseRef
// found).
func (c *Conn) userAndRoles(ctx context.Context, ref string, isID bool) (u *graphUser, roles, eligible []any, err error) {
	// All the requests need the token: fetched by several at once, it
	// would be fetched several times.
	if _, err := c.token(ctx, "resolve "+quote(ref)); err != nil {
		return nil, nil, nil, err
	}
	if isID {
		var uerr error
		var wg sync.WaitGroup
		wg.Go(func() {
			u, uerr = c.getUser(ctx, "resolve "+quote(ref), ref, errorContext{permission: permUserRead}, userSelect...)
		})
		roles, eligible, err = c.allRoles(ctx, ref)
		wg.Wait()
		if uerr != nil {
			// A user Graph does not know is not found, whatever the roles
			// listings said.
			return nil, nil, nil, uerr
		}
		return u, roles, eligible, err
	}
	var (
		rolesErr error
		all      tenantEligibilities
		wg       sync.WaitGroup
	)
	wg.Go(func() { roles, rolesErr = c.directoryRoles(ctx, ref) })
	wg.Go(func() { all = c.tenantEligibilities(ctx) })
	u, err = c.getUser(ctx, "resolve "+quote(ref), ref, errorContext{permission: permUserRead}, userSelect...)
	if err != nil {
		wg.Wait()
		return nil, nil, nil, err
	}
	wg.Wait()
	var eligErr error
	if id := deref(u.id); id != "" {
		if all.complete {
			eligible = all.of(id)
		} else {
			// More than one page, or the listing failed: ask by id,
			// which says why in its own words when it fails again.
			eligible, eligErr = c.eligibleRoles(ctx, id)
		}
	}
	// Both fail alike without the roles permission: say it once.
	return u, roles, eligible, cmp.Or(rolesErr, eligErr)
}

// allRoles reads the roles the user with object id id holds and those PIM
// lets them activate, at once.
func (c *Conn) allRoles(ctx context.Context, id string) (roles, eligible []any, err error) {
	var eligErr error
	var wg sync.WaitGroup
	wg.Go(func() { eligible, eligErr = c.eligibleRoles(ctx, id) })
	roles, err = c.directoryRoles(ctx, id)
	wg.Wait()
	return roles, eligible, cmp.Or(err, eligErr)
}

// odataString quotes s as an OData string literal: single quotes doubled.
func odataString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// userWhere finds the one user whose property (onPremisesSamAccountName,
// onPremisesSecurityIdentifier, onPremisesImmutableId) equals value.
func (c *Conn) userWhere(ctx context.Context, ref, property, value string) (*graphUser, error) {
	op := "resolve " + quote(ref)
	filter := property + " eq " + odataString(value)
	count := true
	headers := abs.NewRequestHeaders()
	// The on-premises properties are filterable as advanced queries:
	// ConsistencyLevel eventual with $count.
	headers.Add("ConsistencyLevel", "eventual")
	resp, err := sendPage[graphUser](ctx, c, req(c.graph.Users().ToGetRequestInformation(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		Headers: headers,
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{
			Filter: &filter, Count: &count, Select: userSelect,
		},
	})))
	if err != nil {
		return nil, classify(ctx, op, err, errorContext{permission: permUserRead})
	}
	found := resp.value
	switch {
	case len(found) == 0 && resp.odataNextLink == nil:
		return nil, steps.Errorf(steps.NotFound, "entra: %s: no user has %s %s", op, property, odataString(value))
	case len(found) == 1 && resp.odataNextLink == nil:
		return found[0], nil
	}
	upns := make([]string, 0, len(found)+1)
	for _, u := range found {
		upns = append(upns, deref(u.userPrincipalName))
	}
	if resp.odataNextLink != nil {
		// More match than one page holds: naming them all would take
		// more requests, and one more name would change nothing.
		upns = append(upns, "…")
	}
	return nil, steps.Errorf(steps.Invalid, "entra: %s: %s %s is ambiguous (%s): name the user by UPN or object id",
		op, property, odataString(value), strings.Join(upns, ", "))
}

// getUser reads one user by object id or UPN, with the named properties.
// The SDK expands the id into the URL template with every reserved
// character percent-encoded (o'brien@contoso.test → o%27brien%40contoso.test),
// so a reference can never add a path segment or a query.
func (c *Conn) getUser(ctx context.Context, op, idOrUPN string, ec errorContext, fields ...string) (*graphUser, error) {
	if idOrUPN == "" {
		// ByUserId("") drops the segment: GET /users would list everyone.
		return nil, steps.Errorf(steps.Invalid, "entra: %s: empty user id", op)
	}
	u, err := send[graphUser](ctx, c, req(c.graph.Users().ByUserId(idOrUPN).ToGetRequestInformation(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: fields},
	})))
	if err != nil {
		return nil, classify(ctx, op, err, ec)
	}
	if u == nil {
		return nil, errors.New("entra: " + op + ": Graph returned no user")
	}
	return u, nil
}

// directoryRoles lists the display names of the directory roles the user
// holds, directly or through a role-assignable group, sorted. memberOf
// would miss the second kind: an administrator by group membership would
// pass for an unprivileged user, and the protected-account policy would
// let the run go ahead.
func (c *Conn) directoryRoles(ctx context.Context, id string) ([]any, error) {
	// The SDK's builder writes the cast with the namespace alias
	// (/transitiveMemberOf/graph.directoryRole); Graph takes both, but the
	// documented form is the one every emulator and proxy knows.
	builder := c.graph.Users().ByUserId(id).TransitiveMemberOf().GraphDirectoryRole().
		WithUrl(c.baseURL + "/users/" + pathSegment(id) + "/transitiveMemberOf/microsoft.graph.directoryRole")
	var names []string
	err := eachPage(ctx, "list directory roles of "+id, errorContext{permission: permRolesRead},
		func(next string) (*collection[graphObject, *graphObject], error) {
			if next != "" {
				return sendPage[graphObject](ctx, c, req(builder.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphObject](ctx, c, req(builder.ToGetRequestInformation(ctx, nil)))
		},
		func(p *collection[graphObject, *graphObject]) {
			for _, r := range p.value {
				if n := deref(r.displayName); n != "" {
					names = append(names, n)
				}
			}
		})
	if err != nil {
		return nil, err
	}
	return sortedNames(names), nil
}

// sortedNames sorts names, each once, as facts ([]any, never nil).
func sortedNames(names []string) []any {
	sort.Strings(names)
	names = slices.Compact(names)
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = n
	}
	return out
}

// eligibleRoles lists the display names of the directory roles the user
// may activate in Privileged Identity Management, sorted: someone who can
// make themselves an administrator in a minute is one for the
// protected-account policy. A tenant without the license PIM needs has no
// eligibilities, which its 400 AadPremiumLicenseRequired says; any other
// failure fails resolution, as for the roles held.
func (c *Conn) eligibleRoles(ctx context.Context, id string) ([]any, error) {
	filter := "principalId eq " + odataString(id)
	b := c.graph.RoleManagement().Directory().RoleEligibilityScheduleInstances()
	cfg := &rolemanagement.DirectoryRoleEligibilityScheduleInstancesRequestBuilderGetRequestConfiguration{
		QueryParameters: &rolemanagement.DirectoryRoleEligibilityScheduleInstancesRequestBuilderGetQueryParameters{
			Filter: &filter, Expand: []string{"roleDefinition"},
		},
	}
	var names []string
	err := eachPage(ctx, "list eligible roles of "+id, errorContext{permission: permRolesRead},
		func(next string) (*collection[graphRoleAssignment, *graphRoleAssignment], error) {
			if next != "" {
				return sendPage[graphRoleAssignment](ctx, c, req(b.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphRoleAssignment](ctx, c, req(b.ToGetRequestInformation(ctx, cfg)))
		},
		func(p *collection[graphRoleAssignment, *graphRoleAssignment]) {
			for _, e := range p.value {
				if def := e.roleDefinition; def != nil && deref(def.displayName) != "" {
					names = append(names, deref(def.displayName))
				} else if rid := deref(e.roleDefinitionId); rid != "" {
					names = append(names, rid) // still a role; its id says which
				}
			}
		})
	if graphCode(err) == "AadPremiumLicenseRequired" {
		return []any{}, nil
	}
	if err != nil {
		return nil, err
	}
	return sortedNames(names), nil
}

// tenantEligibilities is the first page of every PIM eligibility in the
// tenant, by principal id (lower case): complete when it was the only page
// and was read. Eligibilities are few (administrators', by design), so one
// page usually holds them all.
type tenantEligibilities struct {
	byPrincipal map[string][]string
	complete    bool
}

// of returns the display names of the roles principal id may activate,
// sorted, as facts.
func (e tenantEligibilities) of(id string) []any {
	return sortedNames(append([]string(nil), e.byPrincipal[strings.ToLower(id)]...))
}

// tenantEligibilities reads the first page of the tenant's PIM
// eligibilities, unfiltered, so that it needs no user id and goes beside
// the user's read instead of after it: a round trip less before the first
// write for a subject named by UPN. A tenant without PIM's license has
// none (complete and empty, as eligibleRoles says). Any failure, or a
// second page, leaves it incomplete: the caller then asks by id as
// before, so the fact is never read from a part of the listing.
func (c *Conn) tenantEligibilities(ctx context.Context) tenantEligibilities {
	b := c.graph.RoleManagement().Directory().RoleEligibilityScheduleInstances()
	p, err := sendPage[graphRoleAssignment](ctx, c, req(b.ToGetRequestInformation(ctx, &rolemanagement.DirectoryRoleEligibilityScheduleInstancesRequestBuilderGetRequestConfiguration{
		QueryParameters: &rolemanagement.DirectoryRoleEligibilityScheduleInstancesRequestBuilderGetQueryParameters{
			Expand: []string{"roleDefinition"},
		},
	})))
	if err != nil {
		if graphCode(classify(ctx, "list eligible roles", err, errorContext{permission: permRolesRead})) == "AadPremiumLicenseRequired" {
			return tenantEligibilities{complete: true}
		}
		return tenantEligibilities{}
	}
	if p == nil || (p.odataNextLink != nil && *p.odataNextLink != "") {
		return tenantEligibilities{}
	}
	out := tenantEligibilities{byPrincipal: map[string][]string{}, complete: true}
	for _, e := range p.value {
		principal := strings.ToLower(deref(e.principalId))
		if principal == "" {
			// An eligibility whose principal is not said cannot be
			// attributed: ask by id rather than guess.
			return tenantEligibilities{}
		}
		name := deref(e.roleDefinitionId) // still a role; its id says which
		if def := e.roleDefinition; def != nil && deref(def.displayName) != "" {
			name = deref(def.displayName)
		}
		if name != "" {
			out.byPrincipal[principal] = append(out.byPrincipal[principal], name)
		}
	}
	return out
}

// pathSegment escapes s as one URL path segment the way the SDK's URL
// templates expand a key: every byte but RFC 3986's unreserved characters
// percent-encoded (o'brien@contoso.test → o%27brien%40contoso.test), so
// a reference can add neither a segment nor a query, and a request reads
// the same in the log whichever builder made it.
func pathSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// userFacts renders a user as the subject.entra document. A property Graph
// did not return is left out rather than guessed, except
// onPremisesSyncEnabled, whose null means "never synced".
func userFacts(u *graphUser, roles []any) map[string]any {
	if roles == nil {
		roles = []any{}
	}
	f := map[string]any{
		"id":                    deref(u.id),
		"userPrincipalName":     deref(u.userPrincipalName),
		"displayName":           deref(u.displayName),
		"onPremisesSyncEnabled": deref(u.onPremisesSyncEnabled),
		"privilegedRoles":       roles,
	}
	if t := u.userType; t != nil {
		f["userType"] = *t
	}
	if e := u.accountEnabled; e != nil {
		f["accountEnabled"] = *e
	}
	if t := u.signInSessionsValidFromDateTime; t != nil {
		f["signInSessionsValidFromDateTime"] = t.UTC().Format(time.RFC3339)
	}
	for k, v := range map[string]*string{
		"onPremisesSecurityIdentifier": u.onPremisesSecurityIdentifier,
		"onPremisesImmutableId":        u.onPremisesImmutableId,
		"onPremisesSamAccountName":     u.onPremisesSamAccountName,
		"onPremisesDomainName":         u.onPremisesDomainName,
		"onPremisesDistinguishedName":  u.onPremisesDistinguishedName,
	} {
		if v != nil && *v != "" {
			f[k] = *v
		}
	}
	return f
}

// quote renders a subject reference for a message.
func quote(s string) string { return strconv.Quote(s) }
