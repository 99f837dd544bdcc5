package entra

import (
	"slices"
	"strings"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// Entra guards some changes to a user by the directory roles the user
// holds: an app granted User.EnableDisableAccount.All still gets 403
// Authorization_RequestDenied disabling a Global Administrator unless its
// service principal holds a role that may act on one. Which role may act on
// which is Microsoft's "Who can reset passwords" table (password resets and
// invalidating refresh tokens) and its "Who can perform sensitive actions"
// table (accountEnabled among them):
// https://learn.microsoft.com/entra/identity/role-based-access-control/privileged-roles-permissions
//
// revoke reads the subject's roles at resolution (privilegedRoles), so it
// can name the role a refusal means, and the preflight can foresee it from
// the token's wids claim (the caller's roles, as role template ids).

// guardedAction is a kind of change Entra allows on an administrator only
// to a caller holding a role that may act on every role the administrator
// holds.
type guardedAction int

const (
	guardNone guardedAction = iota
	// guardEnable is accountEnabled: the sensitive-actions table.
	guardEnable
	// guardPassword is a password reset or revokeSignInSessions: the
	// who-can-reset-passwords table.
	guardPassword
)

// The roles that may act on administrators, least privileged first: the
// columns of Microsoft's tables. The first one a target's roles allow is
// the one an error or the preflight suggests.
const (
	rolePasswordAdmin = "Password Administrator"
	roleHelpdeskAdmin = "Helpdesk Administrator"
	roleAuthAdmin     = "Authentication Administrator"
	roleUserAdmin     = "User Administrator"
	rolePrivAuthAdmin = "Privileged Authentication Administrator"
	roleGlobalAdmin   = "Global Administrator"
)

// actorTemplates are the role template ids of the acting roles, the same
// in every tenant: a token's wids lists them.
var actorTemplates = map[string]string{
	"966707d0-3269-4727-9be2-8c3a10f19b9d": rolePasswordAdmin,
	"729827e3-9c14-49f7-bb1b-9608f156bbb8": roleHelpdeskAdmin,
	"c4e39bd9-1100-46d3-8c65-fb160da0071f": roleAuthAdmin,
	"fe930be7-5e62-47db-91af-98c3a49a38b1": roleUserAdmin,
	"7be44c8a-adaf-4e2a-84d6-ab2649e08a13": rolePrivAuthAdmin,
	"62e90394-69f5-4237-9190-012177145e10": roleGlobalAdmin,
}

// onlyTheHighest may act on a holder of any role the tables do not list
// (Global Administrator, Privileged Role Administrator, Security
// Administrator, Exchange Administrator, every custom role…).
var onlyTheHighest = []string{rolePrivAuthAdmin, roleGlobalAdmin}

// resetActors lists, for a role the target holds, the roles that may
// reset its holder's password and revoke their sessions.
var resetActors = map[string][]string{
	"Authentication Administrator": {roleAuthAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Directory Readers":            {rolePasswordAdmin, roleHelpdeskAdmin, roleAuthAdmin, roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Groups Administrator":         {roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Guest Inviter":                {rolePasswordAdmin, roleHelpdeskAdmin, roleAuthAdmin, roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Helpdesk Administrator":       {roleHelpdeskAdmin, roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Message Center Reader":        {roleHelpdeskAdmin, roleAuthAdmin, roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Password Administrator":       {rolePasswordAdmin, roleHelpdeskAdmin, roleAuthAdmin, roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Reports Reader":               {roleHelpdeskAdmin, roleAuthAdmin, roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Usage Summary Reports Reader": {roleHelpdeskAdmin, roleAuthAdmin, roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"User Administrator":           {roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
}

// enableActors is the same for accountEnabled (the sensitive-actions
// table, which has no Password or Helpdesk Administrator column).
var enableActors = map[string][]string{
	"Authentication Administrator": {roleAuthAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Directory Readers":            {roleAuthAdmin, roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Groups Administrator":         {roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Guest Inviter":                {roleAuthAdmin, roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Helpdesk Administrator":       {roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Message Center Reader":        {roleAuthAdmin, roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Password Administrator":       {roleAuthAdmin, roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Reports Reader":               {roleAuthAdmin, roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"Usage Summary Reports Reader": {roleAuthAdmin, roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
	"User Administrator":           {roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin},
}

// guards says which steps Entra guards by the target's roles, and how.
var guards = map[string]guardedAction{
	entraspec.DisableUser.Name:    guardEnable,
	entraspec.ResetPassword.Name:  guardPassword,
	entraspec.RevokeSessions.Name: guardPassword,
}

// roleNeed is what a guarded change on one target asks of the caller.
type roleNeed struct {
	// role is the least privileged role that may act on the target.
	role string
	// because are the target's roles the caller's roles do not cover,
	// sorted.
	because []string
}

// needFor returns what action a on a holder of held asks of a caller
// holding callerRoles (role names), and false when the caller may act
// (or held is empty: a user without a role needs no role).
func needFor(a guardedAction, held, callerRoles []string) (roleNeed, bool) {
	if a == guardNone || len(held) == 0 {
		return roleNeed{}, false
	}
	table := enableActors
	if a == guardPassword {
		table = resetActors
	}
	// The roles that may act on every held role, in the tables' order.
	allowed := []string{rolePasswordAdmin, roleHelpdeskAdmin, roleAuthAdmin, roleUserAdmin, rolePrivAuthAdmin, roleGlobalAdmin}
	var because []string
	for _, r := range held {
		actors, ok := table[r]
		if !ok {
			actors = onlyTheHighest
		}
		allowed = slices.DeleteFunc(allowed, func(a string) bool { return !slices.Contains(actors, a) })
		if !slices.ContainsFunc(callerRoles, func(c string) bool { return slices.Contains(actors, c) }) {
			because = append(because, r)
		}
	}
	if len(because) == 0 {
		return roleNeed{}, false
	}
	slices.Sort(because)
	return roleNeed{role: allowed[0], because: slices.Compact(because)}, true
}

// text renders a need as a Forbidden error names it: "the Entra role
// Privileged Authentication Administrator for the app's service principal:
// the target holds Global Administrator".
func (n roleNeed) text(delegated bool) string {
	who := "the app's service principal"
	if delegated {
		who = "the signed-in user"
	}
	return "the Entra role " + n.role + " for " + who + ": the target holds " + strings.Join(n.because, ", ")
}

// heldRoles are the directory roles the resolved subject holds (the
// privilegedRoles fact), not those PIM would let them activate: Graph
// judges a change by the roles held when it is made.
func heldRoles(s *steps.Subject) []string {
	list, _ := s.Fact("entra", "privilegedRoles").([]any)
	var out []string
	for _, v := range list {
		if r, ok := v.(string); ok && r != "" {
			out = append(out, r)
		}
	}
	return out
}
