package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
)

const metadata = "https://graph.microsoft.com/v1.0/$metadata#"

// propSet is the $select vocabulary of one resource type.
type propSet struct {
	typeName string
	names    []string // canonical names
	// defaults are returned without $select, for a type whose renderer
	// takes the property list (users, devices). A type answered through
	// pageSelected, or projected only when $select was given, renders
	// every property it models and has none.
	defaults []string
	// expanded are navigation properties an item may carry when $expand
	// asked for them; $select keeps them.
	expanded []string
}

func (p *propSet) canonical(name string) string {
	for _, n := range p.names {
		if strings.EqualFold(n, name) {
			return n
		}
	}
	return ""
}

// selected returns the properties to render: those of $select (checked
// against the type) or the type's default set. explicit says $select was given.
func (c *call) selected(p *propSet) (props []string, explicit bool, _ *response) {
	raw, ok := c.query["$select"]
	if !ok {
		return p.defaults, false, nil
	}
	for _, part := range strings.Split(strings.Join(raw, ","), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n := p.canonical(part)
		if n == "" {
			return nil, true, c.err(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Could not find a property named '%s' on type '%s'.", part, p.typeName))
		}
		if !contains(props, n) {
			props = append(props, n)
		}
	}
	if len(props) == 0 {
		return p.defaults, false, nil
	}
	return props, true, nil
}

// contextURL is @odata.context for a resource set, with the $select list
// as Graph writes it.
func contextURL(set string, props []string, explicit bool, entity bool) string {
	u := metadata + set
	if explicit {
		u += "(" + strings.Join(props, ",") + ")"
	}
	if entity {
		u += "/$entity"
	}
	return u
}

var userProps = &propSet{
	typeName: "microsoft.graph.user",
	names: []string{"id", "userPrincipalName", "displayName", "givenName", "surname", "mail", "userType",
		"accountEnabled", "onPremisesSyncEnabled", "signInSessionsValidFromDateTime", "onPremisesSamAccountName",
		"onPremisesDistinguishedName", "onPremisesDomainName", "onPremisesUserPrincipalName", "onPremisesImmutableId",
		"onPremisesSecurityIdentifier", "onPremisesLastSyncDateTime", "assignedLicenses", "licenseAssignmentStates", "lastPasswordChangeDateTime", "businessPhones", "jobTitle",
		"mobilePhone", "officeLocation", "preferredLanguage", "usageLocation", "createdDateTime", "passwordPolicies"},
	defaults: []string{"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
		"officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"},
}

func graphTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// userJSON renders a user with the given properties. Callers hold the lock.
func (d *Directory) userJSON(u *User, props []string) map[string]any {
	m := make(map[string]any, len(props)+1)
	for _, p := range props {
		var v any
		switch p {
		case "id":
			v = u.ID
		case "userPrincipalName":
			v = u.UserPrincipalName
		case "displayName":
			v = u.DisplayName
		case "givenName":
			if u.AD != nil && u.AD.GivenName != "" {
				v = u.AD.GivenName
			}
		case "surname":
			if u.AD != nil && u.AD.Surname != "" {
				v = u.AD.Surname
			}
		case "mail":
			if u.UserType != "Guest" {
				v = u.UserPrincipalName
			}
		case "userType":
			v = u.UserType
		case "accountEnabled":
			v = u.AccountEnabled
		case "onPremisesSyncEnabled":
			// null for cloud-only users, as Graph returns it.
			if u.OnPremisesSyncEnabled {
				v = true
			}
		case "signInSessionsValidFromDateTime":
			v = graphTime(u.SignInSessionsValidFrom)
		case "onPremisesSamAccountName":
			if u.OnPremisesSyncEnabled && u.AD != nil {
				v = u.AD.SAMAccountName
			}
		case "onPremisesDistinguishedName":
			if u.OnPremisesSyncEnabled && u.AD != nil {
				v = u.AD.DN
			}
		case "onPremisesDomainName":
			if u.OnPremisesSyncEnabled {
				v = dnDomain(d.BaseDN)
			}
		case "onPremisesUserPrincipalName":
			if u.OnPremisesSyncEnabled {
				v = u.UserPrincipalName
			}
		case "onPremisesImmutableId", "onPremisesSecurityIdentifier":
			v = nilIfEmpty(onPremisesID(d, u, p))
		case "onPremisesLastSyncDateTime":
			if u.OnPremisesSyncEnabled {
				v = graphTime(u.LastSyncedPasswordAt)
			}
		case "assignedLicenses":
			ls := []map[string]any{}
			for _, l := range d.licenseStates(u) {
				if !containsSku(ls, l.sku) {
					ls = append(ls, map[string]any{"disabledPlans": []string{}, "skuId": l.sku})
				}
			}
			v = ls
		case "licenseAssignmentStates":
			v = d.licenseStatesJSON(u)
		case "lastPasswordChangeDateTime":
			t := u.CloudPasswordSetAt
			if u.LastSyncedPasswordAt.After(t) {
				t = u.LastSyncedPasswordAt
			}
			v = graphTime(t)
		case "businessPhones":
			v = []string{}
		case "createdDateTime":
			v = "2024-01-15T09:00:00Z"
		}
		m[p] = v
	}
	return m
}

// dnDomain turns DC=contoso,DC=test into contoso.test.
func dnDomain(dn string) string {
	var parts []string
	for _, rdn := range strings.Split(dn, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(rdn), "="); ok && strings.EqualFold(k, "DC") {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, ".")
}

// privileged reports whether u holds a privileged directory role.
// Callers hold the lock.
func (d *Directory) privileged(u *User) bool {
	for _, r := range d.Roles(u, true) {
		if privilegedRoles[r] {
			return true
		}
	}
	return false
}

func getUser(c *call) *response {
	props, explicit, r := c.selected(userProps)
	if r != nil {
		return r
	}
	return c.withUser(func(d *Directory, u *User) *response {
		m := d.userJSON(u, props)
		m["@odata.context"] = contextURL("users", props, explicit, true)
		return jsonResp(http.StatusOK, m)
	})
}

// onPremisesID is a synced user's link to its AD account, as Entra
// Connect writes it: onPremisesImmutableId is the base64 of the
// objectGUID's 16 bytes in AD's order (its default source anchor),
// onPremisesSecurityIdentifier the objectSid as S-1-5-21-…; "" for a
// cloud-only user. Callers hold the lock.
func onPremisesID(d *Directory, u *User, prop string) string {
	if !u.OnPremisesSyncEnabled || u.AD == nil {
		return ""
	}
	if prop == "onPremisesSecurityIdentifier" {
		return u.AD.sid(d.BaseDN)
	}
	key, _ := dnKey(u.AD.DN)
	return base64.StdEncoding.EncodeToString([]byte(guidBytes(u.AD.ObjectGUID, key)))
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// advancedUserFilters are the properties Graph filters on only as an
// advanced query: with ConsistencyLevel: eventual and $count=true, else
// 400 Request_UnsupportedQuery. onPremisesDistinguishedName and
// onPremisesDomainName are not filterable at all in Graph's v1.0.
var advancedUserFilters = map[string]bool{
	"onpremisessamaccountname": true, "onpremisessecurityidentifier": true,
	"onpremisesimmutableid": true, "onpremisesuserprincipalname": true,
}

// userFilters are the properties GET /users?$filter=prop eq '…' supports.
var userFilters = map[string]func(d *Directory, u *User) string{
	"userprincipalname": func(_ *Directory, u *User) string { return u.UserPrincipalName },
	"id":                func(_ *Directory, u *User) string { return u.ID },
	"displayname":       func(_ *Directory, u *User) string { return u.DisplayName },
	"mail": func(_ *Directory, u *User) string {
		if u.UserType == "Guest" {
			return ""
		}
		return u.UserPrincipalName
	},
	"onpremisessamaccountname": func(_ *Directory, u *User) string {
		if u.OnPremisesSyncEnabled && u.AD != nil {
			return u.AD.SAMAccountName
		}
		return ""
	},
	"usertype": func(_ *Directory, u *User) string { return u.UserType },
	"onpremisessecurityidentifier": func(d *Directory, u *User) string {
		return onPremisesID(d, u, "onPremisesSecurityIdentifier")
	},
	"onpremisesimmutableid": func(d *Directory, u *User) string { return onPremisesID(d, u, "onPremisesImmutableId") },
	"onpremisesuserprincipalname": func(_ *Directory, u *User) string {
		if u.OnPremisesSyncEnabled {
			return u.UserPrincipalName
		}
		return ""
	},
}

func listUsers(c *call) *response {
	props, explicit, r := c.selected(userProps)
	if r != nil {
		return r
	}
	var match func(d *Directory, u *User) bool
	if f := c.query.Get("$filter"); f != "" {
		prop, value, ok := parseEqFilter(f)
		if !ok {
			return c.err(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid filter clause: the sandbox supports only prop eq 'value', got '%s'.", f))
		}
		get, ok := userFilters[strings.ToLower(prop)]
		if advancedUserFilters[strings.ToLower(prop)] && (!c.eventual() || !strings.EqualFold(c.query.Get("$count"), "true")) {
			ok = false
		}
		if !ok {
			return c.err(http.StatusBadRequest, "Request_UnsupportedQuery", fmt.Sprintf("Unsupported or invalid query filter clause specified for property '%s' of resource 'User'.", prop))
		}
		match = func(d *Directory, u *User) bool { return strings.EqualFold(get(d, u), value) && get(d, u) != "" }
	}
	d := c.s.dir
	d.Lock()
	defer d.Unlock()
	out := []map[string]any{}
	for _, u := range d.Users {
		if u.InCloud && (match == nil || match(d, u)) {
			out = append(out, d.userJSON(u, props))
		}
	}
	return c.page(contextURL("users", props, explicit, false), out)
}

// onPremMastered is Graph's refusal to change what AD owns on a synced user.
const onPremMastered = "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration."

// userWritable are the plain string properties PATCH /users accepts; on a
// synced user AD masters them.
var userWritable = map[string]bool{"displayName": true, "givenName": true, "surname": true, "jobTitle": true,
	"mobilePhone": true, "officeLocation": true, "usageLocation": true, "preferredLanguage": true}

type passwordProfile struct {
	Password                             *string `json:"password"`
	ForceChangePasswordNextSignIn        *bool   `json:"forceChangePasswordNextSignIn"`
	ForceChangePasswordNextSignInWithMfa *bool   `json:"forceChangePasswordNextSignInWithMfa"`
}

// patchUser updates a user. accountEnabled is accepted on synced users too,
// as Graph does (the next sync reverts it unless AD is disabled as well);
// passwordProfile and the other AD-mastered properties are refused on them
// with 400 Request_BadRequest. Disabling or resetting a user who holds a
// directory role needs the app to hold a role that may act on it
// (graph_privileged.go); resetting anyone needs a password-admin role.
func patchUser(c *call) *response {
	m, r := c.object()
	if r != nil {
		return r
	}
	var enabled *bool
	var pw *passwordProfile
	strs := map[string]string{}
	for k, raw := range m {
		switch {
		case k == "accountEnabled":
			var b bool
			if json.Unmarshal(raw, &b) != nil {
				return c.err(http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'accountEnabled' of resource 'User'.")
			}
			enabled = &b
		case k == "passwordProfile":
			var p passwordProfile
			if json.Unmarshal(raw, &p) != nil || p.Password == nil {
				return c.err(http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'passwordProfile' of resource 'User'.")
			}
			pw = &p
		case userWritable[k]:
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return c.err(http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Invalid value specified for property '%s' of resource 'User'.", k))
			}
			strs[k] = s
		case strings.HasPrefix(k, "@odata."):
			// The SDK sends @odata.type with every model.
		case userProps.canonical(k) != "":
			return c.err(http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Property '%s' is read-only and cannot be set.", k))
		default:
			return c.err(http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Property '%s' does not exist as a declared property or extension property.", k))
		}
	}
	return c.withUser(func(d *Directory, u *User) *response {
		appRoles := c.appRoles()
		switch {
		case enabled != nil && !c.claims.hasAny(permEnable),
			pw != nil && (!c.claims.hasAny(permPassword) || !hasAnyRole(appRoles, rolesPassword...)),
			len(strs) > 0 && !c.claims.hasAny(permUserOther),
			enabled != nil && !c.mayActOn(d, u, guardEnable), pw != nil && !c.mayActOn(d, u, guardPassword):
			return c.forbidden()
		}
		if u.OnPremisesSyncEnabled && (pw != nil || len(strs) > 0) {
			return c.err(http.StatusBadRequest, "Request_BadRequest", onPremMastered)
		}
		if pw != nil && !complexPassword(*pw.Password) {
			return c.err(http.StatusBadRequest, "Request_BadRequest", "The specified password does not comply with password complexity requirements. Please provide a different password.")
		}
		if enabled != nil {
			u.AccountEnabled = *enabled
		}
		if pw != nil {
			u.CloudPassword = *pw.Password
			u.CloudPasswordSetAt = c.now.UTC().Truncate(time.Second)
			u.ForceChangePassword = pw.ForceChangePasswordNextSignIn != nil && *pw.ForceChangePasswordNextSignIn
		}
		for k, v := range strs {
			if k == "displayName" {
				u.DisplayName = v
			}
		}
		resp := noContent()
		var what []string
		if enabled != nil {
			what = append(what, fmt.Sprintf("accountEnabled=%t", *enabled))
		}
		if pw != nil {
			what = append(what, "passwordProfile")
		}
		resp.detail = strings.Join(what, " ")
		return resp
	})
}

// complexPassword applies Entra's rule: 8 to 256 characters from at least
// three of lower case, upper case, digits and symbols.
func complexPassword(p string) bool {
	if n := len([]rune(p)); n < 8 || n > 256 {
		return false
	}
	return charClasses(p) >= 3
}

// charClasses counts which of lower case, upper case, digits and other
// characters p uses, the classes both Entra's and AD's complexity rules count.
func charClasses(p string) int {
	var lower, upper, digit, other int
	for _, r := range p {
		switch {
		case unicode.IsLower(r):
			lower = 1
		case unicode.IsUpper(r):
			upper = 1
		case unicode.IsDigit(r):
			digit = 1
		default:
			other = 1
		}
	}
	return lower + upper + digit + other
}

// revokeSessions moves signInSessionsValidFromDateTime to now and answers
// as Graph v1.0 does: 200 with an Edm.Boolean body.
func revokeSessions(c *call) *response {
	return c.withUser(func(d *Directory, u *User) *response {
		if !c.mayActOn(d, u, guardPassword) {
			return c.forbidden()
		}
		u.SignInSessionsValidFrom = c.now.UTC().Truncate(time.Second)
		return jsonResp(http.StatusOK, map[string]any{"@odata.context": metadata + "Edm.Boolean", "value": true})
	})
}

func assignLicense(c *call) *response {
	var body struct {
		AddLicenses []struct {
			SkuID         string   `json:"skuId"`
			DisabledPlans []string `json:"disabledPlans"`
		} `json:"addLicenses"`
		RemoveLicenses []string `json:"removeLicenses"`
	}
	if r := c.decode(&body); r != nil {
		return r
	}
	if body.AddLicenses == nil || body.RemoveLicenses == nil {
		return c.err(http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'addLicenses' or 'removeLicenses': both are required (use [] for none).")
	}
	return c.withUser(func(d *Directory, u *User) *response {
		for _, sku := range body.RemoveLicenses {
			switch l := strings.ToLower(sku); {
			case contains(u.Licenses, l):
			case d.inherits(u, l):
				return c.err(http.StatusBadRequest, "Request_BadRequest", "User license is inherited from group membership and cannot be removed directly from the user.")
			default:
				return c.err(http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("User does not have a corresponding license: '%s'.", sku))
			}
		}
		for _, sku := range body.RemoveLicenses {
			sku = strings.ToLower(sku)
			kept := u.Licenses[:0]
			for _, l := range u.Licenses {
				if l != sku {
					kept = append(kept, l)
				}
			}
			u.Licenses = kept
		}
		for _, a := range body.AddLicenses {
			if sku := strings.ToLower(a.SkuID); sku != "" && !contains(u.Licenses, sku) {
				u.Licenses = append(u.Licenses, sku)
			}
		}
		m := d.userJSON(u, userProps.defaults)
		m["@odata.context"] = metadata + "users/$entity"
		return jsonResp(http.StatusOK, m)
	})
}

// memberOf lists a user's groups and directory roles as directoryObjects;
// the microsoft.graph.directoryRole or .group cast keeps one kind.
// transitiveMemberOf adds the roles held through role-assignable groups
// (the sandbox's groups do not nest, so the groups are the same).
func memberOf(c *call) *response {
	transitive := strings.EqualFold(c.segs[2], "transitiveMemberOf")
	cast := ""
	if len(c.segs) == 4 {
		cast = "microsoft.graph.group"
		if castIs(c.segs[3], "directoryRole") {
			cast = "microsoft.graph.directoryrole"
		}
	}
	return c.withUser(func(d *Directory, u *User) *response {
		out := []map[string]any{}
		if cast != "microsoft.graph.directoryrole" {
			for _, g := range d.Groups {
				if contains(g.Members, u.ID) {
					out = append(out, groupJSON(g))
				}
			}
		}
		if cast != "microsoft.graph.group" {
			for _, name := range d.Roles(u, transitive) {
				out = append(out, map[string]any{
					"@odata.type": "#microsoft.graph.directoryRole", "id": stableID("directoryRole", d.TenantID+name),
					"displayName": name, "roleTemplateId": roleTemplateID(name), "description": name + " role",
				})
			}
		}
		switch cast {
		case "microsoft.graph.directoryrole":
			return c.pageSelected("directoryRoles", directoryRoleProps, out)
		case "microsoft.graph.group":
			return c.pageSelected("groups", groupProps, out)
		}
		return c.pageSelected("directoryObjects", memberOfProps, out)
	})
}

// listRoleAssignments serves roleManagement/directory/roleAssignments with
// the one filter clients use, principalId eq '…', and $expand=roleDefinition.
func listRoleAssignments(c *call) *response {
	return listPrincipalRoles(c, "roleAssignment", "roleManagement/directory/roleAssignments",
		func(d *Directory) map[string][]string { return d.RoleAssignments }, roleAssignmentProps, nil)
}

// listRoleEligibilities serves Privileged Identity Management's
// roleManagement/directory/roleEligibilityScheduleInstances the same way:
// roles a principal may activate. A tenant without an Entra ID P2 license
// gets Graph's 400 AadPremiumLicenseRequired.
func listRoleEligibilities(c *call) *response {
	c.s.dir.Lock()
	unlicensed := c.s.dir.WithoutP2
	c.s.dir.Unlock()
	if unlicensed {
		return c.err(http.StatusBadRequest, "AadPremiumLicenseRequired", "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license.")
	}
	return listPrincipalRoles(c, "roleEligibility", "roleManagement/directory/roleEligibilityScheduleInstances",
		func(d *Directory) map[string][]string { return d.RoleEligibilities }, roleEligibilityProps, nil)
}

// listPrincipalRoles lists one role map's entries as unifiedRole* objects,
// filtered by principalId eq '…' and with $expand=roleDefinition; more,
// when set, adds the properties of a type that has more than these.
func listPrincipalRoles(c *call, kind, set string, roles func(*Directory) map[string][]string, props *propSet, more func(a map[string]any)) *response {
	principal := ""
	if f := c.query.Get("$filter"); f != "" {
		prop, value, ok := parseEqFilter(f)
		if !ok || !strings.EqualFold(prop, "principalId") {
			return c.err(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid filter clause: the sandbox supports only principalId eq 'id', got '%s'.", f))
		}
		principal = strings.ToLower(value)
	}
	expand := strings.EqualFold(strings.TrimSpace(c.query.Get("$expand")), "roleDefinition")
	d := c.s.dir
	d.Lock()
	defer d.Unlock()
	out := []map[string]any{}
	var principals []string
	for _, u := range d.Users {
		if u.InCloud {
			principals = append(principals, u.ID)
		}
	}
	for _, g := range d.Groups {
		principals = append(principals, g.ID)
	}
	for _, id := range principals {
		if principal != "" && id != principal {
			continue
		}
		for _, name := range roles(d)[id] {
			tid := roleTemplateID(name)
			a := map[string]any{
				"id": stableID(kind, id+name), "principalId": id,
				"roleDefinitionId": tid, "directoryScopeId": "/",
			}
			if more != nil {
				more(a)
			}
			if expand {
				a["roleDefinition"] = map[string]any{"id": tid, "templateId": tid, "displayName": name, "isBuiltIn": true, "isEnabled": true}
			}
			out = append(out, a)
		}
	}
	return c.pageSelected(set, props, out)
}

// The $select vocabularies of the role listings: what the sandbox renders
// of unifiedRoleAssignment and unifiedRoleEligibilityScheduleInstance.
var (
	roleAssignmentProps = &propSet{typeName: "microsoft.graph.unifiedRoleAssignment",
		names:    []string{"id", "principalId", "roleDefinitionId", "directoryScopeId"},
		expanded: []string{"roleDefinition"}}
	roleEligibilityProps = &propSet{typeName: "microsoft.graph.unifiedRoleEligibilityScheduleInstance",
		names: roleAssignmentProps.names, expanded: []string{"roleDefinition"}}
	// directoryRoleProps and memberOfProps: memberOf lists groups and
	// directory roles; a directoryObject collection's $select takes the
	// properties of either, as Graph's directory does.
	directoryRoleProps = &propSet{typeName: "microsoft.graph.directoryRole",
		names: []string{"id", "displayName", "description", "roleTemplateId"}}
	memberOfProps = &propSet{typeName: "microsoft.graph.directoryObject",
		names: append(append([]string(nil), groupProps.names...), "description", "roleTemplateId")}
	// authMethodProps are the properties of every method type the sandbox
	// renders; an item shows only those its type has.
	authMethodProps = &propSet{typeName: "microsoft.graph.authenticationMethod",
		names: []string{"id", "createdDateTime", "displayName", "deviceTag", "phoneAppVersion", "model", "phoneNumber", "phoneType", "smsSignInState", "emailAddress",
			"password", "secretKey", "startDateTime", "lifetimeInMinutes", "isUsableOnce", "isUsable", "methodUsabilityReason", "temporaryAccessPass"}}
)

// confirmCompromised marks users confirmed compromised, as many as the
// request names. Identity Protection allows about one request a second per
// tenant (identityProtectionRate); past that it answers 429 without
// Retry-After, so clients must back off on their own.
func confirmCompromised(c *call) *response {
	var body struct {
		UserIDs []string `json:"userIds"`
	}
	if r := c.decode(&body); r != nil {
		return r
	}
	if len(body.UserIDs) == 0 {
		return c.err(http.StatusBadRequest, "BadRequest", "The userIds parameter is required.")
	}
	if r := identityProtectionRate(c); r != nil {
		return r
	}
	d := c.s.dir
	d.Lock()
	defer d.Unlock()
	var users []*User
	for _, id := range body.UserIDs {
		u := d.UserByRef(id)
		if u == nil || !strings.EqualFold(u.ID, id) {
			return c.err(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid user id '%s'.", id))
		}
		users = append(users, u)
	}
	for _, u := range users {
		u.RiskState, u.RiskLevel, u.RiskDetail = "confirmedCompromised", "high", "adminConfirmedUserCompromised"
		u.RiskUpdatedAt = c.now.UTC().Truncate(time.Second)
	}
	return noContent()
}

// identityProtectionRate answers 429 without Retry-After when the tenant
// served an Identity Protection request less than a second ago, and
// otherwise counts this one. Graph's limit is one request a second per
// tenant for all apps together, of any kind: reading a riskyUser counts as
// much as confirming one compromised.
func identityProtectionRate(c *call) *response {
	s := c.s
	s.riskMu.Lock()
	defer s.riskMu.Unlock()
	if !s.riskLast.IsZero() && c.now.Sub(s.riskLast) < time.Second {
		r := c.err(http.StatusTooManyRequests, "TooManyRequests", "Too many requests.")
		r.detail = "identity protection rate"
		return r
	}
	s.riskLast = c.now
	return nil
}

// getRiskyUser returns a user's Identity Protection record; a user that was
// never risky has none (404).
func getRiskyUser(c *call) *response {
	if r := identityProtectionRate(c); r != nil {
		return r
	}
	d := c.s.dir
	d.Lock()
	defer d.Unlock()
	u := d.UserByRef(c.segs[2])
	if u == nil || u.RiskState == "" || !strings.EqualFold(u.ID, c.segs[2]) {
		return c.notFound(c.segs[2])
	}
	level := u.RiskLevel
	if level == "" {
		level = "none"
	}
	detail := u.RiskDetail
	if detail == "" {
		detail = "none"
	}
	return jsonResp(http.StatusOK, map[string]any{
		"@odata.context": metadata + "identityProtection/riskyUsers/$entity",
		"id":             u.ID, "isDeleted": false, "isProcessing": false,
		"riskLastUpdatedDateTime": graphTime(u.RiskUpdatedAt), "riskLevel": level, "riskState": u.RiskState,
		"riskDetail": detail, "userDisplayName": u.DisplayName, "userPrincipalName": u.UserPrincipalName,
	})
}

// withUser runs f with the directory locked and the user the path's second
// segment names (Graph matches ids and UPNs case-insensitively), or answers
// 404 as Graph does.
func (c *call) withUser(f func(d *Directory, u *User) *response) *response {
	return withObject(c, 1, (*Directory).UserByRef, f)
}

// withObject runs f with the directory locked and the object find returns
// for path segment i, or answers 404 naming that segment as Graph does.
func withObject[T any](c *call, i int, find func(d *Directory, ref string) *T, f func(d *Directory, o *T) *response) *response {
	d := c.s.dir
	d.Lock()
	defer d.Unlock()
	o := find(d, c.segs[i])
	if o == nil {
		return c.notFound(c.segs[i])
	}
	return f(d, o)
}
