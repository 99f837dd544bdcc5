package sandbox

import (
	"strings"
	"time"
)

// Seed is a tenant's initial state, read from YAML by ParseSeed. Start
// builds a fresh Directory from it, so one Seed can start many independent
// tenants.
type Seed struct {
	// File is where the seed was read from, for messages.
	File            string
	Tenant          SeedTenant
	AD              SeedAD
	Apps            []SeedApp
	Users           []SeedUser
	Devices         []SeedDevice
	ManagedDevices  []SeedManagedDevice
	Groups          []SeedGroup
	ADGroups        []SeedADGroup
	RoleAssignments []SeedRoleAssignment
	// RoleEligibilities are Privileged Identity Management eligibilities:
	// roles a principal may activate, which it does not hold until then.
	RoleEligibilities []SeedRoleAssignment
	Options           SeedOptions

	// ServicePrincipals, PermissionGrants and AppRoleAssignments are
	// enterprise apps, delegated consents and app role assignments
	// (seed_cleanup.go).
	ServicePrincipals  []SeedServicePrincipal
	PermissionGrants   []SeedPermissionGrant
	AppRoleAssignments []SeedAppRoleAssignment

	// ManagedIdentities are the identities of the compute resource revoke
	// runs on, served by the managed identity endpoint.
	ManagedIdentities []SeedManagedIdentity

	// ServiceNow is the ServiceNow instance served beside the tenant
	// (seed_servicenow.go), or nil for none.
	ServiceNow *SeedServiceNow
}

// SeedTenant names the Entra tenant.
type SeedTenant struct {
	ID      string
	Domains []string
	// WithoutP2 is a tenant with no Entra ID P2 (or Governance) license:
	// Privileged Identity Management's endpoints answer 400
	// AadPremiumLicenseRequired, as Graph does. Seed key entra_id_p2: false.
	WithoutP2 bool
}

// SeedAD describes the on-premises domain.
type SeedAD struct {
	BaseDN          string
	NetBIOS         string
	ServiceAccounts []SeedADAccount
}

// SeedApp is an app registration. Secret, Certificate (PEM) and
// FederatedCredentials are its credentials, at least one; Permissions its
// granted application permissions (the roles claim of its tokens);
// DirectoryRoles the roles of its service principal.
type SeedApp struct {
	Name                 string
	ClientID             string
	Secret               string
	Certificate          string
	FederatedCredentials []SeedFederatedCredential
	Permissions          []string
	DirectoryRoles       []string
	// IdentifierURIs (app id URIs such as api://revoke-api) and AppRoles
	// make the app an API that others get tokens for; APIRoles are the app
	// roles granted to this app on such APIs, keyed by the API's client id
	// or identifier URI (oidc_seed.go). An app that only exposes an API
	// needs no credential.
	IdentifierURIs []string
	AppRoles       []string
	APIRoles       map[string][]string
}

// SeedFederatedCredential is a federated identity credential: a token
// issued by Issuer for Subject, with one of Audiences (default
// api://AzureADTokenExchange), buys the app's token. IssuerKey (PEM: public
// keys, certificates or private keys, RSA or ECDSA) stands in for the
// issuer's JWKS, which Entra would fetch and the sandbox cannot.
type SeedFederatedCredential struct {
	Name      string
	Issuer    string
	Subject   string
	Audiences []string
	IssuerKey string
}

// SeedManagedIdentity is a managed identity: Type ManagedSystemAssigned
// (at most one, the resource's own) or ManagedUserAssigned; Permissions and
// DirectoryRoles as an app's.
type SeedManagedIdentity struct {
	Name           string
	ClientID       string
	Type           string
	Permissions    []string
	DirectoryRoles []string
	// APIRoles are app roles on an API of the seed, as an app's
	// (oidc_seed.go): a Logic App's identity calling revoke serve.
	APIRoles map[string][]string
}

// SeedUser is a person. Cloud false makes an AD-only account; AD nil a
// cloud-only one.
type SeedUser struct {
	ID                    string
	UserPrincipalName     string
	DisplayName           string
	UserType              string
	AccountEnabled        bool
	OnPremisesSyncEnabled bool
	Cloud                 bool
	Licenses              []string
	AuthMethods           []AuthMethod
	// InboxRules are the rules of the user's inbox (a licensed user's:
	// only they have a mailbox).
	InboxRules           []MessageRule
	RiskState, RiskLevel string
	AD                   *SeedADAccount
}

// SeedADAccount is an AD account (a person's or a service account).
type SeedADAccount struct {
	DN                 string
	SAMAccountName     string
	GivenName, Surname string
	UserAccountControl int
	AdminCount         int
	Password           string
	// ObjectSID replaces the SID the sandbox derives from the DN: a seed
	// that mirrors accounts of a real domain controller (a test linking
	// the sandbox's Entra ID to Samba) gives the DC's SID, which synced
	// users then publish as onPremisesSecurityIdentifier.
	ObjectSID string
}

// SeedDevice is an Entra ID device; Owners and Users are user references
// (id or UPN).
type SeedDevice struct {
	ID, DeviceID, DisplayName, OperatingSystem string
	AccountEnabled                             bool
	Owners, Users                              []string
}

// SeedManagedDevice is an Intune managed device of User (id or UPN).
type SeedManagedDevice struct {
	ID, DeviceName, User, OperatingSystem, State string
}

// SeedGroup is an Entra ID group; Members are user references.
type SeedGroup struct {
	ID, DisplayName         string
	Members                 []string
	Dynamic, RoleAssignable bool
	// Licenses are sku ids assigned to the group (group-based licensing).
	Licenses []string
	// GroupKind: synced from AD, mail-enabled, Microsoft 365 (seed keys
	// synced, mail, unified, security_enabled).
	GroupKind
}

// SeedADGroup is an AD group; Members are sAMAccountNames, UPNs or DNs (of
// accounts or other groups).
type SeedADGroup struct {
	DN      string
	Members []string
}

// SeedRoleAssignment gives User (id or UPN) directory roles by name.
type SeedRoleAssignment struct {
	// User or Group (a role-assignable group, by displayName or id) is the
	// principal: exactly one is set. A group's members hold its roles
	// transitively, as in Entra ID.
	User, Group string
	Roles       []string
}

// SeedOptions are the tenant's defaults for behaviour that Options can
// override at Start.
type SeedOptions struct {
	Latency, Jitter time.Duration
	Throttle        *ThrottleConfig
	SyncEvery       time.Duration
	Faults          []FaultRule
	// PageSize is Graph's page size without $top (0: 100).
	PageSize int
	// DeletionDelay is how long a deleted sign-in method keeps showing in
	// listings (0: it leaves them at once).
	DeletionDelay time.Duration
}

// authMethodTypes are the method types Graph exposes under
// /users/{id}/authentication/{type}Methods.
var authMethodTypes = []string{"password", "microsoftAuthenticator", "phone", "fido2", "email", "softwareOath", "temporaryAccessPass", "windowsHelloForBusiness"}

// SeedError is every problem found in a seed file, each as FILE:LINE:COL: message.
type SeedError struct{ Problems []string }

func (e *SeedError) Error() string { return strings.Join(e.Problems, "\n") }
