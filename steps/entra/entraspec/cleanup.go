package entraspec

import "github.com/revoke-dev/revoke/steps"

// The clean-up steps remove what outlives a disabled account and revoked
// sessions: sign-in methods, inbox rules, delegated consents, directory
// roles. None is a containment step (Containment false): the account is
// already shut when they run, so they do not count towards the time to
// containment, and a failure among them leaves the run contained (exit
// code 4).

// Parameter names and values of entra.remove_auth_methods.
const (
	ParamKeep = "keep"
)

// MethodTypes are the sign-in method types entra.remove_auth_methods
// knows, as its keep parameter names them: Graph's type name without
// "AuthenticationMethod" (#microsoft.graph.fido2AuthenticationMethod is
// fido2), which is also the collection a method is deleted from
// (/authentication/fido2Methods). The password is not among them: it is
// never deleted.
var MethodTypes = []string{"email", "fido2", "microsoftAuthenticator", "phone", "platformCredential",
	"softwareOath", "temporaryAccessPass", "windowsHelloForBusiness"}

// Parameter names and values of entra.remove_inbox_rules.
const (
	ParamMatch      = "match"
	MatchSuspicious = "suspicious"
	MatchAll        = "all"
)

// Graph permissions of the clean-up steps.
const (
	PermAuthMethods = "UserAuthenticationMethod.ReadWrite.All"
	PermMailbox     = "MailboxSettings.ReadWrite"
	PermConsents    = "DelegatedPermissionGrant.ReadWrite.All"
	PermAppRead     = "Application.Read.All"
	PermRoles       = "RoleManagement.ReadWrite.Directory"
)

// RemoveAuthMethods is the spec of entra.remove_auth_methods.
var RemoveAuthMethods = steps.Spec{
	Name:    "entra.remove_auth_methods",
	Summary: "Delete the user's sign-in methods but the password",
	Description: "Deletes every registered sign-in method (Authenticator, phone, FIDO2 key, " +
		"Windows Hello, OATH token, email, Temporary Access Pass, platform credential) except the " +
		"password and the types listed in keep, so a method an attacker registered does not let them " +
		"back in when the account is re-enabled. Graph refuses the default method while others " +
		"remain and v1.0 cannot say which one is default: every method is deleted in turn (mobile " +
		"phones after the others, since a mobile number cannot go while an alternate one remains), " +
		"and those Graph refuses with 400 are tried again once the others are gone. A method " +
		"already gone counts as deleted. Verify lists again, waiting up to about 3 s for deletions " +
		"to show.",
	Params: []steps.Param{
		{Name: ParamKeep, Type: steps.StringList, Default: []string{},
			Description: "Method types to leave in place: " + typesText() + " (for example fido2 for a " +
				"leaver whose key is company property). An unknown type is refused, so a typo never " +
				"deletes what was meant to stay.",
			Examples: []any{[]string{"fido2"}}},
	},
	Permissions: append(Graph(PermAuthMethods), Role("Authentication Administrator (Privileged Authentication Administrator for an administrator; delegated callers)")),
	Idempotent:  true,
	Budget:      &DirectoryWrites,
}

func typesText() string {
	s := ""
	for i, t := range MethodTypes {
		if i > 0 {
			s += ", "
		}
		s += t
	}
	return s
}

// RemoveInboxRules is the spec of entra.remove_inbox_rules.
var RemoveInboxRules = steps.Spec{
	Name:    "entra.remove_inbox_rules",
	Summary: "Delete inbox rules that forward, redirect, delete or hide mail",
	Description: "Lists the rules of the user's inbox and deletes those that forward, forward as " +
		"attachment or redirect mail, delete or permanently delete it, or move it to a folder " +
		"people do not look at (RSS Feeds, RSS Subscriptions, Archive, Deleted Items, Junk Email, " +
		"Conversation History; the folder is read to know its name), or every rule with match all, " +
		"all at once in Graph's $batch (20 to a request). " +
		"Mail flow is not sign-in: these rules keep working on a disabled account. The change " +
		"lists each rule deleted with its conditions and actions (where the mail went), which the " +
		"responder needs. Rules hidden at the MAPI level do not show in Graph and are not seen; " +
		"mailbox-level forwarding (ForwardingSmtpAddress) is not in Graph either.",
	Params: []steps.Param{
		{Name: ParamMatch, Type: steps.Enum, Default: MatchSuspicious, Enum: []string{MatchSuspicious, MatchAll},
			Description: "Which rules to delete: the suspicious ones, or all."},
	},
	Permissions: Graph(PermMailbox),
	Idempotent:  true,
}

// RevokeConsents is the spec of entra.revoke_consents.
var RevokeConsents = steps.Spec{
	Name:    "entra.revoke_consents",
	Summary: "Delete the delegated permissions the user consented to for apps",
	Description: "Deletes the user's own delegated permission grants (oauth2PermissionGrants with " +
		"consentType Principal), so an app the user (or an attacker as the user) consented to " +
		"cannot go on acting as them with a refresh token it holds. A grant an administrator made " +
		"for everyone (consentType AllPrincipals) is tenant-wide and is never touched: it is " +
		"listed in the change instead, for a person to judge. Each grant is named by its app. The " +
		"grants go at once in Graph's $batch (20 to a request), each journaled.",
	Permissions: Graph(PermConsents, PermAppRead),
	Budget:      &DirectoryWrites,
	Idempotent:  true,
}

// RemoveRoles is the spec of entra.remove_roles.
var RemoveRoles = steps.Spec{
	Name:    "entra.remove_roles",
	Summary: "Remove the user's directory roles: standing, and PIM eligible and active",
	Description: "Deletes the user's standing directory role assignments and removes their " +
		"Privileged Identity Management eligible and active assignments (adminRemove requests), " +
		"so a role does not come back with the account. Roles held through a group are listed, " +
		"not removed: the group is not the user's. A tenant without Entra ID P2 has no PIM " +
		"assignments. A subject holding or eligible for a built-in directory role across the " +
		"tenant is protected, and the engine refuses to run on it without --allow-protected and " +
		"--approved-by; one holding only a custom role or one scoped to an administrative unit " +
		"is not seen as privileged at resolution, so the default policy skips this step unless " +
		"the request names who approved it.",
	Permissions: append(Graph(PermRoles), Role("Privileged Role Administrator (delegated callers)")),
	Budget:      &DirectoryWrites,
	Idempotent:  true,
}
