package entra

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/oauth2permissiongrants"
	"github.com/microsoftgraph/msgraph-sdk-go/rolemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// The entra backend reads what a subject still holds for `revoke
// inventory` and the report after a run.
var _ steps.Inventorier = (*Conn)(nil)

// The read permissions the inventory's listings need, named in an unchecked
// item when Graph refuses one: the inventory reads, so it names the read
// permission even where a step's write permission would also do.
const (
	permMethodsRead  = "UserAuthenticationMethod.Read.All"
	permMailboxRead  = "MailboxSettings.Read"
	permGrantsRead   = "DelegatedPermissionGrant.Read.All"
	permAppsRead     = "Application.Read.All"
	permSyncRead     = "Synchronization.Read.All"
	permGroupsRead   = "GroupMember.Read.All"
	permDevicesRead  = "Device.Read.All"
	permAssignRead   = "Directory.Read.All"
	inventoryBackend = "entra"
)

// How long each kind of item lasts, as the report says it.
const (
	untilRemoved      = "until removed"
	untilTokenExpiry  = "until they expire (about an hour; sooner in apps with continuous access evaluation)"
	untilProvisioned  = "until the app's next provisioning cycle (20–40 min)"
	untilSomeoneActs  = "until someone acts: the app keeps its own account and sessions"
	untilEitherOrActs = "until someone acts, or the app's next provisioning cycle"
	untilUnknown      = "unknown: check by hand"
	untilDisabled     = "until disabled"
	untilRuleRemoved  = "until removed: the rule runs in the mailbox whether or not the account is enabled"
	untilWiped        = "until retired or wiped"
)

// exchangeUnchecked is the item every inventory ends with: Graph cannot
// read a mailbox's Exchange forwarding nor rules hidden at the MAPI level,
// and saying nothing would read as "no forwarding".
var exchangeUnchecked = steps.Residual{Backend: inventoryBackend, Kind: steps.ResidualUnchecked,
	What:  "mail forwarding set on the mailbox in Exchange (ForwardingSmtpAddress) and rules hidden at the MAPI level",
	Until: untilUnknown,
	Why:   "cannot be read through Graph: check them in Exchange"}

// inventoryUserSelect is what the inventory reads of the user: the state
// of the account, its sessions and its licences.
var inventoryUserSelect = []string{"id", "userPrincipalName", "accountEnabled", "signInSessionsValidFromDateTime", "assignedLicenses"}

// Inventory lists what the subject still holds in Entra ID and outlives a
// disabled account: tokens already issued, the account if still enabled,
// sign-in methods, inbox rules, consents (the tenant-wide ones too, which
// no run removes for one user), app role assignments, group memberships,
// licences, directory roles (held, through a group, eligible) and devices
// still enabled or managed and not wiped. Every listing is read at once.
// A listing Graph refuses (403, 404, 400, a throttled or failed request)
// is a ResidualUnchecked item saying what and why, and one such item is
// always there for what Graph cannot read at all (Exchange forwarding,
// MAPI-hidden rules). Only failing to read the user is an error. A
// subject Entra ID did not resolve holds nothing here.
func (c *Conn) Inventory(ctx context.Context, subject *steps.Subject) ([]steps.Residual, error) {
	id := subject.FactString("entra", "id")
	if id == "" {
		return nil, nil
	}
	op := "inventory of " + id
	// Every read needs the token: fetched by several at once, it would be
	// fetched several times.
	if _, err := c.token(ctx, op); err != nil {
		return nil, err
	}
	reads := []func(context.Context, string) []steps.Residual{
		c.signInMethodItems, c.inboxRuleItems, c.consentItems, c.appAssignmentItems,
		c.roleItems, c.deviceItems,
	}
	found := make([][]steps.Residual, len(reads))
	var (
		wg     sync.WaitGroup
		groups []groupRef
		gerr   error
		states []*graphLicense
		serr   error
		skus   map[string]string
	)
	for i, read := range reads {
		wg.Go(func() { found[i] = read(ctx, id) })
	}
	var groupApps []steps.Residual
	wg.Go(func() {
		groups, gerr = c.memberGroups(ctx, id)
		if gerr == nil {
			groupApps = c.groupAppItems(ctx, groups)
		}
	})
	wg.Go(func() { states, serr = c.licenseStates(ctx, id) })
	// The licences' part numbers, for a person to read; nil when the
	// subscriptions cannot be read, and the sku ids stand in.
	wg.Go(func() { skus, _ = c.skuNames(ctx) })
	u, err := c.getUser(ctx, op, id, errorContext{permission: permUserRead}, inventoryUserSelect...)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		// A read cut short is not something the subject lacks.
		return nil, fmt.Errorf("entra: %s: %w", op, ctx.Err())
	}
	items := accountItems(u)
	for _, f := range found {
		items = append(items, f...)
	}
	items = append(items, groupItems(groups, gerr)...)
	items = append(items, groupApps...)
	items = append(items, licenseItems(u, states, serr, groups, skus)...)
	items = append(items, exchangeUnchecked)
	sortResiduals(items)
	return items, nil
}

// kindOrder is the order the report lists kinds in (docs/execution.md):
// what acts now first, what could not be checked last.
var kindOrder = []string{steps.ResidualAccount, steps.ResidualToken, steps.ResidualSignInMethod,
	steps.ResidualInboxRule, steps.ResidualConsent, steps.ResidualRole, steps.ResidualAppAssignment,
	steps.ResidualGroup, steps.ResidualLicense, steps.ResidualDevice, steps.ResidualUnchecked}

// sortResiduals orders items by kind, then by what they say, so a report
// reads the same whichever listing answered first.
func sortResiduals(items []steps.Residual) {
	rank := func(kind string) int {
		if i := slices.Index(kindOrder, kind); i >= 0 {
			return i
		}
		return len(kindOrder)
	}
	slices.SortStableFunc(items, func(a, b steps.Residual) int {
		if d := rank(a.Kind) - rank(b.Kind); d != 0 {
			return d
		}
		return strings.Compare(a.What, b.What)
	})
}

// residual is one item the entra backend read.
func residual(kind, what, until, why, id string) steps.Residual {
	return steps.Residual{Backend: inventoryBackend, Kind: kind, What: what, Until: until, Why: why, ID: id}
}

// unchecked is the item for a listing that could not be read: what it was
// and why, naming the permission a 403 means is missing.
func unchecked(what, permission string, err error) steps.Residual {
	return residual(steps.ResidualUnchecked, what, untilUnknown, uncheckedWhy(permission, err), "")
}

// uncheckedWhy is Graph's answer without the "entra: op: " every message
// starts with: the item already says what was read.
func uncheckedWhy(permission string, err error) string {
	var ge *graphError
	if !errors.As(err, &ge) {
		return strings.TrimPrefix(err.Error(), "entra: ")
	}
	s := strings.TrimPrefix(ge.Error(), "entra: "+ge.op+": ")
	if ge.status == 403 && permission != "" {
		return "needs " + permission + " (" + s + ")"
	}
	return s
}

// timeText renders a Graph timestamp for a person, in UTC to the minute.
func timeText(t *time.Time) string {
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// accountItems are the account itself and the tokens issued to it.
func accountItems(u *graphUser) []steps.Residual {
	var out []steps.Residual
	upn := deref(u.userPrincipalName)
	switch e := u.accountEnabled; {
	case e == nil:
		out = append(out, residual(steps.ResidualUnchecked, "whether the account "+upn+" is enabled", untilUnknown,
			"Graph did not return accountEnabled", ""))
	case *e:
		out = append(out, residual(steps.ResidualAccount, "the account "+upn+" is still enabled", untilDisabled, "", deref(u.id)))
	}
	if t := u.signInSessionsValidFromDateTime; t != nil {
		out = append(out, residual(steps.ResidualToken, "access tokens issued before "+timeText(t)+" stay valid", untilTokenExpiry, "", ""))
	} else {
		out = append(out, residual(steps.ResidualToken, "access tokens already issued stay valid (sign-in sessions were never revoked)", untilTokenExpiry, "", ""))
	}
	return out
}

// signInMethodItems lists every sign-in method but the password, which a
// reset already replaced: an authenticator, a phone or a key lets whoever
// holds it pass MFA if the account is enabled again. Each is named as
// entra.remove_auth_methods names it (describeMethod), so the report and
// the plan agree; neither ever includes a secret.
func (c *Conn) signInMethodItems(ctx context.Context, id string) []steps.Residual {
	listed, err := c.listMethods(ctx, id, errorContext{permission: permMethodsRead})
	if err != nil {
		return []steps.Residual{unchecked("sign-in methods", permMethodsRead, err)}
	}
	var out []steps.Residual
	for _, m := range listed {
		what := "sign-in method of no known type (" + deref(m.id) + ")"
		if am, err := describeMethod(m); err == nil {
			if am.kind == "password" {
				continue
			}
			what = am.name
		}
		out = append(out, residual(steps.ResidualSignInMethod, what,
			"until removed: a sign-in method outlives a password reset", "", deref(m.id)))
	}
	return out
}

// inboxRuleItems lists the rules of the user's inbox, saying which are
// suspicious by the test entra.remove_inbox_rules applies (describeRule):
// they keep running in a disabled account's mailbox.
func (c *Conn) inboxRuleItems(ctx context.Context, id string) []steps.Residual {
	listed, err := c.listRules(ctx, id, errorContext{permission: permMailboxRead})
	var rules []inboxRule
	if err == nil {
		rules, err = c.describeRules(ctx, id, listed)
	}
	if err != nil {
		return []steps.Residual{unchecked("inbox rules", permMailboxRead, err)}
	}
	out := make([]steps.Residual, 0, len(rules))
	for _, r := range rules {
		out = append(out, residual(steps.ResidualInboxRule, ruleText(r), untilRuleRemoved, "", r.id))
	}
	return out
}

// ruleText describes an inbox rule for the report: "rule 'x' forwards to
// evil@example.net (suspicious)", why it is suspicious being describeRule's
// reasons. A rule that is not is named by the folder it moves mail to, or
// with "files or flags mail".
func ruleText(r inboxRule) string {
	s := "rule " + quoteName(r.name)
	if r.disabled {
		s += " (disabled)"
	}
	if len(r.why) > 0 {
		return s + " " + strings.Join(r.why, ", ") + " (suspicious)"
	}
	if f, ok := r.actions["moveToFolder"].(map[string]any); ok {
		return s + " moves mail to folder " + fmt.Sprint(f["displayName"])
	}
	return s + " files or flags mail"
}

// quoteName quotes a name from the directory for a sentence: 'Sales'.
func quoteName(s string) string { return "'" + s + "'" }

// consentItems lists the delegated grants the user consented to and the
// tenant-wide ones (which act for the user too, and which no run removes
// for one person), naming each app.
func (c *Conn) consentItems(ctx context.Context, id string) []steps.Residual {
	var (
		mine, all       []*graphGrant
		mineErr, allErr error
		wg              sync.WaitGroup
	)
	wg.Go(func() { mine, mineErr = c.listGrants(ctx, id, errorContext{permission: permGrantsRead}) })
	filter := "consentType eq " + odataString("AllPrincipals")
	tb := c.graph.Oauth2PermissionGrants()
	allErr = eachPage(ctx, "list tenant-wide consents", errorContext{permission: permGrantsRead},
		func(next string) (*collection[graphGrant, *graphGrant], error) {
			if next != "" {
				return sendPage[graphGrant](ctx, c, req(tb.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphGrant](ctx, c, req(tb.ToGetRequestInformation(ctx, &oauth2permissiongrants.Oauth2PermissionGrantsRequestBuilderGetRequestConfiguration{
				QueryParameters: &oauth2permissiongrants.Oauth2PermissionGrantsRequestBuilderGetQueryParameters{Filter: &filter},
			})))
		},
		func(p *collection[graphGrant, *graphGrant]) { all = append(all, p.value...) })
	wg.Wait()
	var clients []string
	for _, g := range append(slices.Clone(mine), all...) {
		clients = append(clients, deref(g.clientId))
	}
	names := c.appNames(ctx, clients)
	var out []steps.Residual
	add := func(g *graphGrant, why string) {
		what := "app " + names.of(deref(g.clientId)) + " may act as the user"
		if sc := strings.Join(strings.Fields(deref(g.scope)), " "); sc != "" {
			what += " with " + sc
		}
		out = append(out, residual(steps.ResidualConsent, what,
			"until revoked: the app keeps any refresh token it holds if the account is enabled again", why, deref(g.id)))
	}
	if mineErr != nil {
		out = append(out, unchecked("the user's consents", permGrantsRead, mineErr))
	}
	for _, g := range mine {
		if strings.EqualFold(deref(g.consentType), "AllPrincipals") {
			continue // listed below, from the tenant-wide listing
		}
		add(g, "")
	}
	if allErr != nil {
		out = append(out, unchecked("tenant-wide consents", permGrantsRead, allErr))
	}
	for _, g := range all {
		add(g, "tenant-wide consent: never removed for one user")
	}
	return out
}

// appNameSet names service principals by id; an id it could not name
// stands for itself.
type appNameSet map[string]string

func (n appNameSet) of(id string) string {
	if s := n[id]; s != "" {
		return quoteName(s)
	}
	return id
}

// appNames reads the display names of the service principals ids names,
// each once, several at once. A name that cannot be read is left out: the
// item then shows the id, which still says which app.
func (c *Conn) appNames(ctx context.Context, ids []string) appNameSet {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	names := make([]string, len(ids))
	actions := make([]func(context.Context) error, 0, len(ids))
	for i, sp := range ids {
		actions = append(actions, func(ctx context.Context) error {
			if sp == "" {
				return nil
			}
			p, err := send[graphObject](ctx, c, req(c.graph.ServicePrincipals().ByServicePrincipalId(sp).ToGetRequestInformation(ctx,
				&serviceprincipals.ServicePrincipalItemRequestBuilderGetRequestConfiguration{
					QueryParameters: &serviceprincipals.ServicePrincipalItemRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}},
				})))
			if err == nil && p != nil {
				names[i] = deref(p.displayName)
			}
			return nil
		})
	}
	runBounded(ctx, actions, maxDeviceActions, func(int, error) {})
	out := appNameSet{}
	for i, id := range ids {
		out[id] = names[i]
	}
	return out
}

// appAssignmentItems lists the apps the user is assigned to. How long one
// lasts depends on the app: one with a provisioning job disables the
// user's account in the app at its next cycle; one without keeps it until
// someone acts.
func (c *Conn) appAssignmentItems(ctx context.Context, id string) []steps.Residual {
	var found []*graphAppRoleAssignment
	err := c.eachAppRoleAssignment(ctx, id, errorContext{permission: permAssignRead},
		func(a *graphAppRoleAssignment) { found = append(found, a) })
	if err != nil {
		return []steps.Residual{unchecked("app role assignments", permAssignRead, err)}
	}
	var apps []string
	for _, a := range found {
		if r := a.resourceId; r != nil {
			apps = append(apps, r.String())
		}
	}
	slices.Sort(apps)
	apps = slices.Compact(apps)
	until := make([]string, len(apps))
	actions := make([]func(context.Context) error, len(apps))
	for i, sp := range apps {
		actions[i] = func(ctx context.Context) error {
			until[i] = c.provisioningUntil(ctx, sp)
			return nil
		}
	}
	runBounded(ctx, actions, maxDeviceActions, func(int, error) {})
	var out []steps.Residual
	for _, a := range found {
		app, u := "", untilEitherOrActs
		if r := a.resourceId; r != nil {
			app = r.String()
			u = until[slices.Index(apps, app)]
		}
		name := deref(a.resourceDisplayName)
		what := "assigned to app " + quoteName(name)
		if name == "" {
			what = "assigned to app " + app
		}
		out = append(out, residual(steps.ResidualAppAssignment, what, u, "", deref(a.id)))
	}
	return out
}

// provisioningUntil says how long an assignment to the app whose service
// principal is sp lasts: until the next provisioning cycle when the app
// has a provisioning job, until someone acts when it has none, and both
// when its jobs cannot be read.
func (c *Conn) provisioningUntil(ctx context.Context, sp string) string {
	jobs, err := sendPage[graphObject](ctx, c, req(c.graph.ServicePrincipals().ByServicePrincipalId(sp).Synchronization().Jobs().ToGetRequestInformation(ctx, nil)))
	switch {
	case err != nil || jobs == nil:
		return untilEitherOrActs
	case len(jobs.value) > 0:
		return untilProvisioned
	}
	return untilSomeoneActs
}

// groupRef is a group the user is a direct member of, with what says who
// owns its membership.
type groupRef struct {
	id, name                                              string
	dynamic, synced, mailEnabled, unified, roleAssignable bool
}

// groupSelect are the group properties memberGroups reads: what a
// membership's owner is told by.
const groupSelect = "id,displayName,groupTypes,mailEnabled,onPremisesSyncEnabled,isAssignableToRole"

// fixed says why Graph cannot remove a member from g and who can, or ""
// when it can: a dynamic group's rule owns its members, a group synced from
// AD is mastered on-premises (Graph answers 400 "on-premises mastered"), a
// distribution list or mail-enabled security group is mastered in
// Exchange Online (400 "originated within an external service"). A
// Microsoft 365 group (Unified) is mail-enabled but Entra ID's own.
func (g groupRef) fixed() string {
	switch {
	case g.synced:
		return "synced from AD: remove the membership on-premises"
	case g.dynamic:
		return "dynamic: its membership rule puts the user back; change the rule or the user's attributes"
	case g.mailEnabled && !g.unified:
		return "mail-enabled (a distribution list or mail-enabled security group): Exchange Online owns its members"
	}
	return ""
}

// memberGroups lists the groups the user is a direct member of.
func (c *Conn) memberGroups(ctx context.Context, id string) ([]groupRef, error) {
	// As for the directory roles: the documented cast, not the SDK's
	// namespace alias. The URL is the request's whole, so $select is in
	// it.
	b := c.graph.Users().ByUserId(id).MemberOf().GraphGroup().
		WithUrl(c.baseURL + "/users/" + pathSegment(id) + "/memberOf/microsoft.graph.group?$select=" + groupSelect)
	var out []groupRef
	err := eachPage(ctx, "list groups of "+id, errorContext{permission: permGroupsRead},
		func(next string) (*collection[graphGroup, *graphGroup], error) {
			if next != "" {
				return sendPage[graphGroup](ctx, c, req(b.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphGroup](ctx, c, req(b.ToGetRequestInformation(ctx, nil)))
		},
		func(p *collection[graphGroup, *graphGroup]) {
			for _, g := range p.value {
				types := g.groupTypes
				out = append(out, groupRef{id: deref(g.id), name: nameOr(g.displayName, g.id),
					dynamic: hasFold(types, "DynamicMembership"), unified: hasFold(types, "Unified"),
					synced: deref(g.onPremisesSyncEnabled), mailEnabled: deref(g.mailEnabled),
					roleAssignable: deref(g.isAssignableToRole)})
			}
		})
	return out, err
}

// hasFold reports whether list holds s, case-insensitively (Graph's
// groupTypes values are documented in one case, compared in any).
func hasFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(v string) bool { return strings.EqualFold(v, s) })
}

// groupItems lists the memberships; one Graph cannot remove says why, so
// the report tells who must act.
func groupItems(groups []groupRef, err error) []steps.Residual {
	if err != nil {
		return []steps.Residual{unchecked("group memberships", permGroupsRead, err)}
	}
	out := make([]steps.Residual, 0, len(groups))
	for _, g := range groups {
		out = append(out, residual(steps.ResidualGroup, "member of group "+quoteName(g.name), untilRemoved, g.fixed(), g.id))
	}
	return out
}

// licenseStates reads which group each of the user's licences comes from.
func (c *Conn) licenseStates(ctx context.Context, id string) ([]*graphLicense, error) {
	u, err := send[graphUser](ctx, c, req(c.graph.Users().ByUserId(id).ToGetRequestInformation(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: []string{"id", "licenseAssignmentStates"}},
	})))
	if err != nil {
		return nil, classify(ctx, "read licence assignments of "+id, err, errorContext{permission: permUserRead})
	}
	return u.licenseAssignmentStates, nil
}

// licenseItems lists the user's licences, saying which come from a group
// (removing those means removing the membership) and which of those are
// also assigned directly (then leaving the group is not enough). When the assignment
// states cannot be read the licences are still listed, and an unchecked
// item says which ones may be inherited is unknown.
func licenseItems(u *graphUser, states []*graphLicense, err error, groups []groupRef, skus map[string]string) []steps.Residual {
	byGroup := map[string][]string{}
	direct := map[string]bool{}
	for _, s := range states {
		if s.skuId == nil {
			continue
		}
		sku := s.skuId.String()
		if g := deref(s.assignedByGroup); g != "" {
			byGroup[sku] = append(byGroup[sku], g)
		} else {
			direct[sku] = true
		}
	}
	groupName := func(id string) string {
		for _, g := range groups {
			if strings.EqualFold(g.id, id) {
				return quoteName(g.name)
			}
		}
		return id
	}
	var out []steps.Residual
	for _, l := range u.assignedLicenses {
		if l.skuId == nil {
			continue
		}
		sku := l.skuId.String()
		why := ""
		if gs := byGroup[sku]; len(gs) > 0 {
			names := make([]string, len(gs))
			for i, g := range gs {
				names[i] = groupName(g)
			}
			why = "inherited from group " + strings.Join(names, ", ")
			if direct[sku] {
				// Leaving the group would not remove it: say so.
				why = "assigned directly and " + why
			}
		}
		out = append(out, residual(steps.ResidualLicense, "licence "+licensePlan{names: skus}.label(sku),
			"until removed: a licence keeps the mailbox and files served", why, sku))
	}
	if err != nil && len(out) > 0 {
		out = append(out, unchecked("which licences are inherited from a group", permUserRead, err))
	}
	return out
}

// roleItems lists the directory roles the user holds now (read afresh,
// not from the facts resolved when the run started: a run may have
// removed some), saying which come through a group, and those PIM lets
// them activate.
func (c *Conn) roleItems(ctx context.Context, id string) []steps.Residual {
	var (
		held, eligible       []any
		heldErr, eligibleErr error
		direct               map[string]bool
		directErr            error
		wg                   sync.WaitGroup
	)
	wg.Go(func() { eligible, eligibleErr = c.eligibleRoles(ctx, id) })
	wg.Go(func() { direct, directErr = c.directRoles(ctx, id) })
	held, heldErr = c.directoryRoles(ctx, id)
	wg.Wait()
	var out []steps.Residual
	if heldErr != nil {
		out = append(out, unchecked("directory roles", permRolesRead, heldErr))
	}
	for _, r := range held {
		name, _ := r.(string)
		why := ""
		if directErr == nil && !direct[name] {
			why = "through a group: removing the membership removes it"
		}
		out = append(out, residual(steps.ResidualRole, "directory role "+name, untilRemoved, why, ""))
	}
	if directErr != nil && len(held) > 0 {
		out = append(out, unchecked("which directory roles are held through a group", permRolesRead, directErr))
	}
	if eligibleErr != nil {
		out = append(out, unchecked("roles eligible in Privileged Identity Management", permRolesRead, eligibleErr))
	}
	for _, r := range eligible {
		name, _ := r.(string)
		out = append(out, residual(steps.ResidualRole, "eligible for directory role "+name+" (Privileged Identity Management)",
			"until the eligibility is removed or ends", "", ""))
	}
	return out
}

// directRoles reads the names of the directory roles assigned to the user
// itself, not through a group.
func (c *Conn) directRoles(ctx context.Context, id string) (map[string]bool, error) {
	filter := "principalId eq " + odataString(id)
	b := c.graph.RoleManagement().Directory().RoleAssignments()
	cfg := &rolemanagement.DirectoryRoleAssignmentsRequestBuilderGetRequestConfiguration{
		QueryParameters: &rolemanagement.DirectoryRoleAssignmentsRequestBuilderGetQueryParameters{
			Filter: &filter, Expand: []string{"roleDefinition"},
		},
	}
	out := map[string]bool{}
	err := eachPage(ctx, "list role assignments of "+id, errorContext{permission: permRolesRead},
		func(next string) (*collection[graphRoleAssignment, *graphRoleAssignment], error) {
			if next != "" {
				return sendPage[graphRoleAssignment](ctx, c, req(b.WithUrl(next).ToGetRequestInformation(ctx, nil)))
			}
			return sendPage[graphRoleAssignment](ctx, c, req(b.ToGetRequestInformation(ctx, cfg)))
		},
		func(p *collection[graphRoleAssignment, *graphRoleAssignment]) {
			for _, a := range p.value {
				if d := a.roleDefinition; d != nil {
					out[deref(d.displayName)] = true
				}
			}
		})
	return out, err
}

// deviceItems lists the user's devices still enabled and the managed
// devices neither retired nor wiped.
func (c *Conn) deviceItems(ctx context.Context, id string) []steps.Residual {
	var (
		managed    []*graphManagedDevice
		managedErr error
		wg         sync.WaitGroup
	)
	wg.Go(func() { managed, managedErr = c.managedDevices(ctx, id) })
	devices, err := c.userDevices(ctx, id, "", false)
	wg.Wait()
	var out []steps.Residual
	if err != nil {
		out = append(out, unchecked("devices", permDevicesRead, err))
	}
	for _, d := range devices {
		if e := d.accountEnabled; e == nil || *e {
			out = append(out, residual(steps.ResidualDevice, "device "+quoteName(nameOr(d.displayName, d.id))+" is still enabled",
				"until disabled: its primary refresh token signs in without the user's password", "", deref(d.id)))
		}
	}
	if managedErr != nil {
		out = append(out, unchecked("managed devices", entraspec.PermManagedRead, managedErr))
	}
	for _, m := range managed {
		if !managedDone(entraspec.ManagedRetire, m.managementState) {
			out = append(out, residual(steps.ResidualDevice, "managed device "+quoteName(nameOr(m.deviceName, m.id))+" is neither retired nor wiped",
				untilWiped+": company data stays on it", "", deref(m.id)))
		}
	}
	return out
}
