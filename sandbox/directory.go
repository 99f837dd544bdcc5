package sandbox

import (
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Directory is the tenant's state: one set of people with two faces, the
// Entra ID objects Graph serves and the AD entries LDAP serves. A synced
// user is one User with both faces; sync copies the AD face's state to the
// Entra face, as Entra Connect does.
//
// Every field is guarded by mu; handlers lock it for the whole operation so
// each request sees and leaves a consistent tenant.
type Directory struct {
	mu sync.Mutex

	TenantID string
	Domains  []string
	// BaseDN is the AD domain's root (DC=contoso,DC=test).
	BaseDN string
	// NetBIOS is the AD domain's short name (CONTOSO), for DOMAIN\user.
	NetBIOS string

	Apps           map[string]*App // by client id
	Users          []*User
	Devices        []*Device
	ManagedDevices []*ManagedDevice
	Groups         []*Group   // Entra groups
	ADGroups       []*ADGroup // AD groups
	// ServiceAccounts are AD accounts that are not people (revoke's bind account).
	ServiceAccounts []*ADAccount
	// RoleAssignments map a principal's id (a user's, or a role-assignable
	// group's) → directory role names (Global Administrator…).
	RoleAssignments map[string][]string
	// RoleEligibilities are PIM eligibilities, by principal id like
	// RoleAssignments: roles that can be activated, not held.
	RoleEligibilities map[string][]string
	// WithoutP2: the tenant has no license for Privileged Identity
	// Management, whose endpoints then answer 400 AadPremiumLicenseRequired.
	WithoutP2 bool
	// DeletionDelay is how long a deleted authentication method keeps
	// showing in listings, as Entra's replication makes it do.
	DeletionDelay time.Duration
	// Cleanup is what an attacker or a leaver leaves behind beyond the
	// account itself: inbox rules, consents, app role assignments, PIM
	// requests (graph_cleanup.go).
	Cleanup

	// latency and jitter (nanoseconds) delay every request on both faces;
	// atomics because the LDAP face reads them without taking mu.
	latency, jitter atomic.Int64

	// lastSync is when Sync last ran (zero: never).
	lastSync time.Time
}

// LastSync is when Sync last ran; zero when it never did. Callers hold the lock.
func (d *Directory) LastSync() time.Time { return d.lastSync }

// SetLatency sets the delay every request on both faces waits before it is
// served: latency plus a uniformly random part of jitter. Safe at run time.
func (d *Directory) SetLatency(latency, jitter time.Duration) {
	d.latency.Store(int64(latency))
	d.jitter.Store(int64(jitter))
}

// Delay is how long the request being served should wait (latency plus a
// random share of jitter); zero when latency injection is off. The LDAP face
// calls it too, without holding the lock.
func (d *Directory) Delay() time.Duration {
	l, j := d.latency.Load(), d.jitter.Load()
	if j > 0 {
		l += rand.Int64N(j + 1)
	}
	return time.Duration(l)
}

// App is an app registration with its granted application permissions.
type App struct {
	// Name is the app's display name (revoke, revoke-readonly).
	Name        string
	ClientID    string
	Secret      string
	Certificate []byte // PEM certificate for client-certificate credentials
	Permissions []string
	// DirectoryRoles are the Entra roles assigned to the app's service
	// principal (User Administrator…): Graph asks for them on top of the
	// permission for password resets and device changes.
	DirectoryRoles []string
	// FederatedCredentials are the app's federated identity credentials
	// (workload identity federation); see identity.go.
	FederatedCredentials []FederatedCredential
	// ManagedIdentity is ManagedSystemAssigned or ManagedUserAssigned for a
	// managed identity's service principal, which gets tokens only from
	// the identity endpoint; "" for an app registration.
	ManagedIdentity string
	// IdentifierURIs and AppRoles make the app an API others get tokens
	// for; APIRoles are the app roles this app holds on such APIs, by the
	// API's client id (oidc.go).
	IdentifierURIs []string
	AppRoles       []string
	APIRoles       map[string][]string
}

// User is a person: an Entra ID user, with an AD account when synced (or
// when they exist only on-premises: Entra nil).
type User struct {
	ID                    string
	UserPrincipalName     string
	DisplayName           string
	UserType              string // Member or Guest
	AccountEnabled        bool
	OnPremisesSyncEnabled bool
	// SignInSessionsValidFrom moves to now on revokeSignInSessions.
	SignInSessionsValidFrom time.Time
	// CloudPassword is set by a passwordProfile PATCH; kept only so the
	// sandbox can tell a test that it changed (never logged).
	CloudPassword       string
	CloudPasswordSetAt  time.Time
	ForceChangePassword bool
	RiskState           string // none, confirmedCompromised…
	RiskLevel           string
	// RiskDetail and RiskUpdatedAt are what Identity Protection reports with
	// the risk state (adminConfirmedUserCompromised after confirmCompromised).
	RiskDetail    string
	RiskUpdatedAt time.Time
	Licenses      []string // sku ids
	AuthMethods   []AuthMethod
	// DeletedMethods are methods deleted less than the tenant's
	// DeletionDelay ago: gone (GET and DELETE of one answer 404), yet
	// still in listings until then (graph_auth_methods.go).
	DeletedMethods []deletedMethod
	// InCloud is false for an AD-only account (not synced to Entra).
	InCloud bool
	// AD is the on-premises account; nil for cloud-only users.
	AD *ADAccount
	// LastSyncedPasswordAt is the AD pwdLastSet that sync last copied.
	LastSyncedPasswordAt time.Time
}

// ADAccount is an on-premises account entry.
type ADAccount struct {
	DN                 string
	SAMAccountName     string
	UserPrincipalName  string
	DisplayName        string
	GivenName, Surname string
	UserAccountControl int
	AdminCount         int
	Password           string
	PwdLastSet         time.Time
	// ObjectGUID is stable for the entry's life.
	ObjectGUID string
	// ObjectSID is the account's SID (S-1-5-21-…), stable for its life:
	// what Entra Connect copies to onPremisesSecurityIdentifier.
	ObjectSID string
}

// Disabled reports whether the ACCOUNTDISABLE bit is set.
func (a *ADAccount) Disabled() bool { return a.UserAccountControl&0x2 != 0 }

// AuthMethod is a registered authentication method of a user.
type AuthMethod struct {
	ID   string
	Type string // microsoftAuthenticator, phone, fido2, email, softwareOath, temporaryAccessPass, windowsHelloForBusiness, password
	// Default marks the user's default sign-in method, which Entra will
	// not delete while another non-password method remains. Graph v1.0
	// cannot read it; the seed sets it.
	Default bool
	// Created is the method's createdDateTime (zero: a fixed date long
	// ago). Age is the seed's way to say it: created this long before the
	// tenant started (an Authenticator registered minutes ago).
	Created time.Time
	Age     time.Duration
	// The properties Graph shows for some types: an Authenticator's
	// displayName, deviceTag and phoneAppVersion, a FIDO2 key's
	// displayName and model, a phone's number and type (mobile,
	// alternateMobile, office).
	DisplayName, DeviceTag, PhoneAppVersion, Model string
	PhoneNumber, PhoneType                         string
}

// Device is an Entra ID device object.
type Device struct {
	ID               string
	DeviceID         string
	DisplayName      string
	OperatingSystem  string
	AccountEnabled   bool
	RegisteredOwners []string // user ids
	RegisteredUsers  []string // user ids
}

// ManagedDevice is an Intune managed device.
type ManagedDevice struct {
	ID         string
	DeviceName string
	UserID     string
	OS         string
	// State is "managed", "retirePending" or "wipePending" after an action.
	State string
}

// Group is an Entra ID group.
type Group struct {
	ID             string
	DisplayName    string
	Members        []string // user ids
	Dynamic        bool
	RoleAssignable bool
	// Licenses are sku ids the group assigns: its members hold them
	// through it (group-based licensing) and cannot lose them one by one.
	Licenses []string
	// Kind says who owns the membership and how Graph renders it (see
	// graph_groups.go): synced from AD, mail-enabled, Microsoft 365.
	GroupKind
}

// ADGroup is an on-premises group.
type ADGroup struct {
	DN      string
	CN      string
	Members []string // member DNs
}

// Lock and Unlock guard the directory for a whole operation.
func (d *Directory) Lock()   { d.mu.Lock() }
func (d *Directory) Unlock() { d.mu.Unlock() }

// UserByRef finds a user by object id or UPN (case-insensitive). Callers hold the lock.
func (d *Directory) UserByRef(ref string) *User {
	for _, u := range d.Users {
		if u.InCloud && ref != "" && (strings.EqualFold(u.ID, ref) || strings.EqualFold(u.UserPrincipalName, ref)) {
			return u
		}
	}
	return nil
}

// groupByRef finds a group by id or displayName (case-insensitive).
// Callers hold the lock.
func (d *Directory) groupByRef(ref string) *Group {
	for _, g := range d.Groups {
		if ref != "" && (strings.EqualFold(g.ID, ref) || strings.EqualFold(g.DisplayName, ref)) {
			return g
		}
	}
	return nil
}

// Roles are the directory roles u holds: its own assignments when
// transitive is false, and with those of the role-assignable groups it is
// a member of when true (Graph's memberOf and transitiveMemberOf), each
// once, in assignment order. Callers hold the lock.
func (d *Directory) Roles(u *User, transitive bool) []string {
	var out []string
	add := func(names []string) {
		for _, n := range names {
			if !contains(out, n) {
				out = append(out, n)
			}
		}
	}
	add(d.RoleAssignments[u.ID])
	if transitive {
		for _, g := range d.Groups {
			if contains(g.Members, u.ID) {
				add(d.RoleAssignments[g.ID])
			}
		}
	}
	return out
}

// ADAccountByDN finds a person's or service account by DN (case-insensitive).
// Callers hold the lock.
func (d *Directory) ADAccountByDN(dn string) (*ADAccount, *User) {
	for _, u := range d.Users {
		if u.AD != nil && strings.EqualFold(u.AD.DN, dn) {
			return u.AD, u
		}
	}
	for _, a := range d.ServiceAccounts {
		if strings.EqualFold(a.DN, dn) {
			return a, nil
		}
	}
	return nil, nil
}

// ADGroupByDN finds an AD group by DN (case-insensitive). Callers hold the lock.
func (d *Directory) ADGroupByDN(dn string) *ADGroup {
	return byID(d.ADGroups, func(g *ADGroup) string { return g.DN }, dn)
}

// MemberOf lists the DNs of the AD groups whose member holds dn. Callers hold the lock.
func (d *Directory) MemberOf(dn string) []string {
	var out []string
	for _, g := range d.ADGroups {
		for _, m := range g.Members {
			if strings.EqualFold(m, dn) {
				out = append(out, g.DN)
				break
			}
		}
	}
	return out
}
