// Package entraspec declares the entra backend and its steps: names,
// parameters, permissions and the environment section's fields, without
// their implementation.
//
// It exists apart from steps/entra because the implementation links the
// Microsoft Graph SDK, which takes minutes to compile: validation, the
// engine's tests and the docs need only the specs. steps/entra registers
// these same specs with their implementations attached, so there is one
// source for each.
package entraspec

import (
	"context"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// Register adds the entra specs to r with no implementation: Open refuses
// and the steps have no New. For tests and tools that validate only.
func Register(r *steps.Registry) {
	b := Backend
	b.Open = func(context.Context, *steps.Env) (steps.Conn, error) {
		return nil, steps.Errorf(steps.Invalid, "entra: specs only, no implementation linked")
	}
	r.RegisterBackend(b)
	for _, s := range Steps {
		r.Register(s)
	}
}

// Steps are the entra steps, in catalog order, without implementations.
var Steps = []steps.Spec{DisableUser, RevokeSessions, DisableDevices, ResetPassword, ConfirmCompromised,
	RemoveAuthMethods, RemoveInboxRules, RevokeConsents, RemoveRoles, RemoveAppAssignments, RemoveGroupMemberships, RemoveLicenses}

// Kinds of permission entra steps need: Microsoft Graph application
// permissions (app roles, for app-only credentials), delegated ones
// (scopes, for a signed-in user) and Entra ID directory roles.
const (
	KindApplication = "application"
	KindDelegated   = "delegated"
	KindRole        = "role"
)

// Graph returns the Graph permissions a step needs, the same names as
// application and as delegated permissions.
func Graph(names ...string) []steps.Permission {
	return []steps.Permission{{Kind: KindApplication, Names: names}, {Kind: KindDelegated, Names: names}}
}

// Role is the Entra ID roles a step needs besides permissions.
func Role(names ...string) steps.Permission {
	return steps.Permission{Kind: KindRole, Names: names}
}

// Field names of the environment file's entra section.
const (
	FieldTenantID           = "tenant_id"
	FieldClientID           = "client_id"
	FieldCredential         = "credential"
	FieldCertificateFile    = "certificate_file"
	FieldClientSecret       = "client_secret"
	FieldGraphURL           = "graph_url"
	FieldAuthorityHost      = "authority_host"
	FieldCAFile             = steps.FieldCAFile
	FieldInsecureSkipVerify = steps.FieldInsecureSkipVerify
	FieldTimeout            = steps.FieldTimeout
)

// Credential types of the credential field.
const (
	CredClientSecret      = "client_secret"
	CredClientCertificate = "client_certificate"
	CredManagedIdentity   = "managed_identity"
	CredWorkloadIdentity  = "workload_identity"
	CredAzureCLI          = "azure_cli"
	CredDeviceCode        = "device_code"
	CredDefault           = "default"
)

// Parameter names and values of entra.disable_devices.
const (
	ParamManagedAction = "managed_action"
	ManagedNone        = "none"
	ManagedRetire      = "retire"
	ManagedWipe        = "wipe"
)

// Permissions of the Intune managed device calls, which only
// managed_action retire or wipe makes.
const (
	PermManagedRead   = "DeviceManagementManagedDevices.Read.All"
	PermManagedAction = "DeviceManagementManagedDevices.PrivilegedOperations.All"
)

// Parameter names of entra.reset_password.
const (
	ParamTimes  = "times"
	ParamLength = "length"
)

// Backend is the entra backend's spec, without Open.
var Backend = steps.BackendSpec{
	Name:    "entra",
	Summary: "Microsoft Entra ID through Microsoft Graph v1.0",
	Kinds:   []string{"hybrid", "cloud"},
	PermissionKinds: []steps.PermissionKind{
		{Name: KindApplication, Title: "Graph application permissions"},
		{Name: KindDelegated, Title: "Graph delegated permissions"},
		{Name: KindRole, Title: "Entra ID roles"},
	},
	Fields: append([]steps.Param{
		{Name: FieldTenantID, Type: steps.String, Required: true, Identity: true,
			Description: "Directory (tenant) id."},
		{Name: FieldClientID, Type: steps.String,
			Description: "Application (client) id of revoke's app registration; required for client_secret, client_certificate, workload_identity and device_code."},
		{Name: FieldCredential, Type: steps.Enum, Default: CredClientCertificate,
			Enum: []string{CredClientSecret, CredClientCertificate, CredManagedIdentity,
				CredWorkloadIdentity, CredAzureCLI, CredDeviceCode, CredDefault},
			Description: "How revoke authenticates to Entra ID."},
		{Name: FieldCertificateFile, Type: steps.String, Format: "file",
			Description: "PEM file with the certificate and its private key, for client_certificate."},
		{Name: FieldClientSecret, Type: steps.String, Secret: true,
			Description: "The client secret, by reference (client_secret_env or client_secret_file), for client_secret."},
		{Name: FieldGraphURL, Type: steps.String, Format: "url", Default: "https://graph.microsoft.com/v1.0", Identity: true,
			Description: "Graph endpoint: national clouds, or a sandbox. Tokens are asked for this host's " +
				"audience when it is a national cloud's Graph (graph.microsoft.us, dod-graph.microsoft.us, " +
				"microsoftgraph.chinacloudapi.cn) and for https://graph.microsoft.com otherwise (a sandbox " +
				"or a proxy in front of the worldwide service)."},
		{Name: FieldAuthorityHost, Type: steps.String, Format: "url", Default: "https://login.microsoftonline.com/",
			Description: "Where tokens come from: national clouds, or a sandbox."},
	}, steps.TLSFields("Graph and the token authority", 30*time.Second, "Timeout of one Graph request.")...),
	Validate: validate,
	Identify: Identify,
}

func validate(s steps.Values) []string {
	var problems []string
	cred := s.String(FieldCredential)
	switch cred {
	case CredClientSecret, CredClientCertificate, CredWorkloadIdentity, CredDeviceCode:
		if s.String(FieldClientID) == "" {
			problems = append(problems, "credential "+cred+" needs client_id")
		}
	}
	switch cred {
	case CredClientSecret:
		if s.String(FieldClientSecret+"_env") == "" && s.String(FieldClientSecret+"_file") == "" {
			problems = append(problems, "credential client_secret needs client_secret_env or client_secret_file")
		}
	case CredClientCertificate:
		if s.String(FieldCertificateFile) == "" {
			problems = append(problems, "credential client_certificate needs certificate_file")
		}
	}
	return problems
}

// RoleOverAdmins is the directory role note of the steps Entra guards by the
// subject's roles: an app changing an administrator needs a role that
// outranks theirs, which the permission preflight checks and a refusal
// names.
const RoleOverAdmins = "a role that may act on the subject's directory roles, if they hold any " +
	"(Privileged Authentication Administrator for a Global Administrator)"

// DirectoryWrites is Graph's directory write budget of one app in one
// tenant: 3,000 requests per 150 s, a token bucket
// (../shared/reference/graph.md). The steps whose Apply writes the
// directory draw on it, so a bulk run paces them to it: each Apply is
// charged one request, and a step that sends more (reset_password's
// times, a PATCH per device, a deletion per group, consent, role or
// sign-in method) spends the others before sending them (steps.Call's
// Charge), so the bulk is paced by the writes really made.
//
// Identity Protection's ~1 request a second is not declared here:
// entra.confirm_compromised spaces its calls itself, across processes, and
// carries several users in one request, which a per-Apply budget would
// forbid. Provisioning on demand (5 per 10 s, remove_app_assignments)
// is waited out on its 429s, and disable_devices's Intune actions (100
// writes per 20 s) are optional extras of a step whose budget is the
// directory's. Mailbox writes (inbox rules) are Exchange's, not the
// directory's.
var DirectoryWrites = steps.Budget{Scope: "directory_writes", Requests: 3000, Per: 150 * time.Second}

// DisableUser is the spec of entra.disable_user.
var DisableUser = steps.Spec{
	Name:    "entra.disable_user",
	Summary: "Block cloud sign-in (accountEnabled false)",
	Description: "PATCHes the user's accountEnabled to false. For a synced user the next directory " +
		"sync reverts it unless the on-premises account is disabled too. The PATCH goes in a $batch " +
		"with the listings of the user's registered and owned devices, which Graph runs after it, " +
		"so that entra.disable_devices starts from devices listed after the disable, one round " +
		"trip sooner; a runbook without that step pays two reads for nothing.",
	Permissions: append(Graph("User.EnableDisableAccount.All", "User.Read.All"), Role(RoleOverAdmins)),
	Idempotent:  true,
	Containment: true,
	Budget:      &DirectoryWrites,
}

// RevokeSessions is the spec of entra.revoke_sessions.
var RevokeSessions = steps.Spec{
	Name:    "entra.revoke_sessions",
	Summary: "Revoke refresh tokens and session cookies (revokeSignInSessions)",
	Description: "Invalidates every refresh token and browser session cookie issued to the user by " +
		"moving signInSessionsValidFromDateTime to now; verified by reading that back. Access " +
		"tokens already issued stay valid until they expire (about an hour).",
	Permissions: append(Graph("User.RevokeSessions.All", "User.Read.All"), Role(RoleOverAdmins)),
	Idempotent:  true,
	Containment: true,
	Budget:      &DirectoryWrites,
}

// DisableDevices is the spec of entra.disable_devices.
var DisableDevices = steps.Spec{
	Name:    "entra.disable_devices",
	Summary: "Disable the user's registered and owned devices",
	Description: "Sets accountEnabled false on every device the user registered or owns, so their " +
		"primary refresh tokens stop working; up to eight at once, and one that fails does not stop " +
		"the others. Managed devices can also be retired or wiped " +
		"(managed_action), which needs " + PermManagedRead + " and " + PermManagedAction + " as well.",
	Params: []steps.Param{
		{Name: ParamManagedAction, Type: steps.Enum, Default: ManagedNone, Enum: []string{ManagedNone, ManagedRetire, ManagedWipe},
			Description: "What to do to the user's Intune managed devices as well."},
	},
	Permissions: append(Graph("Device.ReadWrite.All", "User.Read.All"), Role("Cloud Device Administrator (delegated callers)")),
	Idempotent:  true,
	Containment: true,
	Budget:      &DirectoryWrites,
}

// ResetPassword is the spec of entra.reset_password.
var ResetPassword = steps.Spec{
	Name:    "entra.reset_password",
	Summary: "Reset a cloud-only user's password to random values",
	Description: "PATCHes passwordProfile with a fresh random password from crypto/rand, `times` " +
		"times, forcing a change at next sign-in. Synced and federated users refuse it: reset them " +
		"on-premises. Passwords are never shown, logged or journaled. A resumed run does only the " +
		"resets its journal does not record.",
	Params: []steps.Param{
		{Name: ParamTimes, Type: steps.Int, Default: 1, Min: steps.Bounds(1), Max: steps.Bounds(5),
			Description: "How many consecutive resets."},
		{Name: ParamLength, Type: steps.Int, Default: 32, Min: steps.Bounds(16), Max: steps.Bounds(256),
			Description: "Length of each generated password."},
	},
	Permissions: append(Graph("User-PasswordProfile.ReadWrite.All", "User.Read.All"), Role("User Administrator", RoleOverAdmins)),
	Budget:      &DirectoryWrites,
}

// ConfirmCompromised is the spec of entra.confirm_compromised.
var ConfirmCompromised = steps.Spec{
	Name:    "entra.confirm_compromised",
	Summary: "Mark the user confirmed compromised in Identity Protection",
	Description: "Sets the user's risk to high, so risk-based Conditional Access policies apply. " +
		"Needs Entra ID P2. Identity Protection allows about one request a second per tenant, reads " +
		"included, and its throttling answers carry no Retry-After: revoke starts each of its calls " +
		"a second after the last one ended, shared by every revoke process using the same state " +
		"directory, waits a second after a 429, and sends the users several runs confirm at once " +
		"in one request.",
	Permissions: Graph("IdentityRiskyUser.ReadWrite.All"),
	Idempotent:  true,
}
