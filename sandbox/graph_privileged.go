package sandbox

// Entra guards some changes to a user by the roles the user holds: an app
// granted User.EnableDisableAccount.All still gets 403
// Authorization_RequestDenied "Insufficient privileges to complete the
// operation." disabling a Global Administrator unless its service
// principal holds a directory role that may act on that user. The tables
// below are Microsoft's "Who can reset passwords" (which also governs
// invalidating refresh tokens, revokeSignInSessions) and "Who can perform
// sensitive actions" (accountEnabled among them), for the roles the
// sandbox knows: https://learn.microsoft.com/entra/identity/role-based-access-control/privileged-roles-permissions

// guardedAction is a kind of change Entra allows on an administrator only
// to a caller holding a role that outranks the administrator's.
type guardedAction int

const (
	// guardEnable is accountEnabled, a "sensitive action".
	guardEnable guardedAction = iota
	// guardPassword is a password reset or a session revocation: the
	// "who can reset passwords" table.
	guardPassword
)

// resetActors lists, for a role a target holds, the roles that may reset
// its holder's password and invalidate their refresh tokens. A role not
// listed (Global Administrator, Privileged Role Administrator, Security
// Administrator…) leaves only rolesPrivilegedTarget.
var resetActors = map[string][]string{
	"Authentication Administrator": {"Authentication Administrator", "Privileged Authentication Administrator", "Global Administrator"},
	"Helpdesk Administrator":       {"Helpdesk Administrator", "User Administrator", "Privileged Authentication Administrator", "Global Administrator"},
	"User Administrator":           {"User Administrator", "Privileged Authentication Administrator", "Global Administrator"},
}

// enableActors is resetActors' counterpart for accountEnabled: the
// sensitive-actions table has no Helpdesk Administrator column.
var enableActors = map[string][]string{
	"Authentication Administrator": {"Authentication Administrator", "Privileged Authentication Administrator", "Global Administrator"},
	"Helpdesk Administrator":       {"User Administrator", "Privileged Authentication Administrator", "Global Administrator"},
	"User Administrator":           {"User Administrator", "Privileged Authentication Administrator", "Global Administrator"},
}

// mayActOn reports whether the calling app's roles let it make a change of
// kind a to u: always for a user who holds no directory role (the
// permission, checked elsewhere, is then all it takes); otherwise the app
// must hold a role that may act on every role u holds, transitively (a
// role held through a role-assignable group counts). Callers hold the lock.
func (c *call) mayActOn(d *Directory, u *User, a guardedAction) bool {
	table := enableActors
	if a == guardPassword {
		table = resetActors
	}
	app := c.appRoles()
	for _, held := range d.Roles(u, true) {
		actors, ok := table[held]
		if !ok {
			actors = rolesPrivilegedTarget
		}
		if !hasAnyRole(app, actors...) {
			return false
		}
	}
	return true
}

// roleTemplateIDs are the template ids of the named roles, as Entra lists
// an app's directory roles in its access tokens' wids claim.
func roleTemplateIDs(names []string) []string {
	var ids []string
	for _, n := range names {
		if id := roleTemplateID(n); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}
