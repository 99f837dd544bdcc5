package entra

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
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
	"onPremisesSyncEnabled", "signInSessionsValidFromDateTime", "userType"}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// maxPages bounds how many @odata.nextLink pages one listing follows.
const maxPages = 100

// Resolve finds the user ref names — a UPN, an object id, a sAMAccountName
// or DOMAIN\user of a synced account — and returns the subject.entra facts:
// id, userPrincipalName, displayName, userType, accountEnabled,
// onPremisesSyncEnabled, signInSessionsValidFromDateTime (RFC 3339) and
// privilegedRoles (the display names of the directory roles the user holds).
// Values are plain JSON types: string, bool, []any.
//
// A user Graph does not know is NotFound; a sAMAccountName shared by
// several users is Invalid. Reading the roles needs RoleManagement.Read.Directory:
// without it Resolve fails (Forbidden) rather than report an administrator
// as unprivileged.
func (c *Conn) Resolve(ctx context.Context, ref string) (map[string]any, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, steps.Errorf(steps.Invalid, "entra: empty subject reference")
	}
	var (
		u   models.Userable
		err error
	)
	if sam, ok := samAccountName(ref); ok {
		u, err = c.userBySAM(ctx, ref, sam)
	} else {
		u, err = c.getUser(ctx, "resolve "+quote(ref), ref, errorContext{permission: permUserRead}, userSelect...)
	}
	if err != nil {
		return nil, err
	}
	id := deref(u.GetId())
	if id == "" {
		return nil, errors.New("entra: resolve " + quote(ref) + ": Graph returned a user without an id")
	}
	roles, err := c.directoryRoles(ctx, id)
	if err != nil {
		return nil, err
	}
	return userFacts(u, roles), nil
}

// samAccountName reports whether ref is an on-premises logon name
// (DOMAIN\user, or a bare name that is neither a UPN nor an object id) and
// returns the sAMAccountName part. The domain part is not checked: Entra ID
// keeps the DNS domain, not the NetBIOS name.
func samAccountName(ref string) (string, bool) {
	if i := strings.LastIndexByte(ref, '\\'); i >= 0 {
		return ref[i+1:], true
	}
	if strings.Contains(ref, "@") || guidRE.MatchString(ref) {
		return "", false
	}
	return ref, true
}

// odataString quotes s as an OData string literal: single quotes doubled.
func odataString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// userBySAM finds the one user whose onPremisesSamAccountName is sam.
func (c *Conn) userBySAM(ctx context.Context, ref, sam string) (models.Userable, error) {
	op := "resolve " + quote(ref)
	if sam == "" {
		return nil, steps.Errorf(steps.Invalid, "entra: %s: no account name after the domain", op)
	}
	filter := "onPremisesSamAccountName eq " + odataString(sam)
	count := true
	headers := abs.NewRequestHeaders()
	// onPremisesSamAccountName is filterable only as an advanced query:
	// ConsistencyLevel eventual with $count.
	headers.Add("ConsistencyLevel", "eventual")
	resp, err := c.graph.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		Headers: headers,
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{
			Filter: &filter, Count: &count, Select: userSelect,
		},
	})
	if err != nil {
		return nil, classify(ctx, op, err, errorContext{permission: permUserRead})
	}
	found := resp.GetValue()
	switch {
	case len(found) == 0 && resp.GetOdataNextLink() == nil:
		return nil, steps.Errorf(steps.NotFound, "entra: %s: no user has onPremisesSamAccountName %s", op, odataString(sam))
	case len(found) == 1 && resp.GetOdataNextLink() == nil:
		return found[0], nil
	}
	upns := make([]string, 0, len(found))
	for _, u := range found {
		upns = append(upns, deref(u.GetUserPrincipalName()))
	}
	return nil, steps.Errorf(steps.Invalid, "entra: %s: onPremisesSamAccountName %s is ambiguous (%s): name the user by UPN or object id",
		op, odataString(sam), strings.Join(upns, ", "))
}

// getUser reads one user by object id or UPN, with the named properties.
// The SDK expands the id into the URL template with every reserved
// character percent-encoded (o'brien@contoso.test → o%27brien%40contoso.test),
// so a reference can never add a path segment or a query.
func (c *Conn) getUser(ctx context.Context, op, idOrUPN string, ec errorContext, fields ...string) (models.Userable, error) {
	if idOrUPN == "" {
		// ByUserId("") drops the segment: GET /users would list everyone.
		return nil, steps.Errorf(steps.Invalid, "entra: %s: empty user id", op)
	}
	u, err := c.graph.Users().ByUserId(idOrUPN).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: fields},
	})
	if err != nil {
		return nil, classify(ctx, op, err, ec)
	}
	if u == nil {
		return nil, errors.New("entra: " + op + ": Graph returned no user")
	}
	return u, nil
}

// directoryRoles lists the display names of the directory roles the user
// is a member of, sorted.
func (c *Conn) directoryRoles(ctx context.Context, id string) ([]any, error) {
	// The SDK's builder writes the cast with the namespace alias
	// (/memberOf/graph.directoryRole); Graph takes both, but the
	// documented form is the one every emulator and proxy knows.
	builder := c.graph.Users().ByUserId(id).MemberOf().GraphDirectoryRole().
		WithUrl(c.baseURL + "/users/" + url.PathEscape(id) + "/memberOf/microsoft.graph.directoryRole")
	var names []string
	err := eachPage(ctx, "list directory roles of "+id, errorContext{permission: permRolesRead},
		func(next string) (models.DirectoryRoleCollectionResponseable, error) {
			if next != "" {
				return builder.WithUrl(next).Get(ctx, nil)
			}
			return builder.Get(ctx, nil)
		},
		func(p models.DirectoryRoleCollectionResponseable) {
			for _, r := range p.GetValue() {
				if n := deref(r.GetDisplayName()); n != "" {
					names = append(names, n)
				}
			}
		})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = n
	}
	return out, nil
}

// userFacts renders a user as the subject.entra document. A property Graph
// did not return is left out rather than guessed, except
// onPremisesSyncEnabled, whose null means "never synced".
func userFacts(u models.Userable, roles []any) map[string]any {
	if roles == nil {
		roles = []any{}
	}
	f := map[string]any{
		"id":                    deref(u.GetId()),
		"userPrincipalName":     deref(u.GetUserPrincipalName()),
		"displayName":           deref(u.GetDisplayName()),
		"onPremisesSyncEnabled": deref(u.GetOnPremisesSyncEnabled()),
		"privilegedRoles":       roles,
	}
	if t := u.GetUserType(); t != nil {
		f["userType"] = *t
	}
	if e := u.GetAccountEnabled(); e != nil {
		f["accountEnabled"] = *e
	}
	if t := u.GetSignInSessionsValidFromDateTime(); t != nil {
		f["signInSessionsValidFromDateTime"] = t.UTC().Format(time.RFC3339)
	}
	return f
}

// quote renders a subject reference for a message.
func quote(s string) string { return strconv.Quote(s) }
