package ad

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/steps"
)

var moveToOU = steps.Spec{
	Name:    "ad.move_to_ou",
	Summary: "Move the account into an organizational unit, keeping its name",
	Description: "Moves the user object under the given OU (LDAP ModifyDN with a new superior; the RDN, " +
		"objectGUID, objectSid and group memberships stay). Typically a \"Disabled Users\" OU that Entra " +
		"Connect does not sync or that a GPO locks down. The new DN is journaled as soon as the move is " +
		"made; a resumed step that no longer finds the account at its old DN looks it up by objectGUID, " +
		"then objectSid. Steps that act on the account's DN belong before this one.",
	Params: []steps.Param{
		{Name: paramOU, Type: steps.String,
			Description: "Distinguished name of the target OU, under the environment's base_dn. The built-in leavers policy fills it from the ad section's leavers_ou, and skips the step when neither is set.",
			Examples:    []any{"OU=Disabled Users,DC=contoso,DC=com"}},
	},
	Permissions: []steps.Permission{{Kind: kindRight, Names: []string{rightMoveSource, rightMoveTarget}}},
	Idempotent:  true,
	New:         func() steps.Step { return &moveToOUStep{} },
}

const (
	paramOU         = "ou"
	rightMoveSource = "Move: Delete child (user objects) on the source OU"
	rightMoveTarget = "Move: Create child (user objects) on the target OU"
)

// moveToOUStep is one execution of ad.move_to_ou.
type moveToOUStep struct {
	// moved is the DN Apply moved the account to (or found it at): Verify
	// reads there.
	moved string
}

var (
	_ steps.Step     = (*moveToOUStep)(nil)
	_ steps.Verifier = (*moveToOUStep)(nil)
)

// movePlan is where the account is and where it goes.
type movePlan struct {
	conn  *Conn
	acct  *account
	ou    string
	ouDN  *ldap.DN
	rdn   string // the account's RDN, kept by the move
	newDN string
	done  bool // already a child of ou
}

// planMove reads the account now (wherever it is: a resumed run may have
// moved it already) and compares its parent with the target OU.
func planMove(ctx context.Context, call *steps.Call) (*movePlan, error) {
	c, _, err := target(call)
	if err != nil {
		return nil, err
	}
	ouText := strings.TrimSpace(call.With.String(paramOU))
	ou, err := targetOU(c, ouText)
	if err != nil {
		return nil, err
	}
	a, err := locate(ctx, c, call)
	if err != nil {
		return nil, err
	}
	p, err := newMovePlan(c, a, ouText, ou)
	if err != nil || p.done {
		return p, err
	}
	return p, c.checkOU(ctx, p.ou)
}

// checkOU reads the target OU, so that a typo is found by the plan rather
// than by the move.
func (c *Conn) checkOU(ctx context.Context, ou string) error {
	req := ldap.NewSearchRequest(ou, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 0, false, "(objectClass=*)", []string{"objectClass"}, nil)
	err := c.do(ctx, true, func(lc *ldap.Conn) error { _, err := lc.Search(req); return err })
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return steps.Errorf(steps.Invalid, "ou %s does not exist", ou)
	}
	return classify("read "+ou, "Read on the target OU", err)
}

func newMovePlan(c *Conn, a *account, ouText string, ou *ldap.DN) (*movePlan, error) {
	dn, err := ldap.ParseDN(a.DN)
	if err != nil || len(dn.RDNs) < 2 {
		return nil, steps.Errorf(steps.Other, "the account's distinguished name %q cannot be parsed: %v", a.DN, err)
	}
	parent := &ldap.DN{RDNs: dn.RDNs[1:]}
	// The RDN and the OU as the directory and the runbook spell them:
	// go-ldap's DN.String lower-cases attribute types.
	p := &movePlan{conn: c, acct: a, ou: ouText, ouDN: ou, rdn: firstRDN(a.DN)}
	p.newDN = p.rdn + "," + p.ou
	p.done = parent.EqualFold(ou)
	if p.done {
		p.newDN = a.DN
	}
	return p, nil
}

// firstRDN is a DN's first RDN as written: up to the first comma that is
// not escaped.
func firstRDN(dn string) string {
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			return dn[:i]
		}
	}
	return dn
}

// targetOU checks the ou parameter: a distinguished name under the base DN
// (revoke acts only inside the part of the directory it was given).
func targetOU(c *Conn, ou string) (*ldap.DN, error) {
	if ou == "" {
		return nil, steps.Errorf(steps.Invalid, "no target OU: give the step's with.ou, or the ad section's leavers_ou")
	}
	return underBase(ou, c.cfg.baseDN)
}

// underBase parses ou and checks that it lies under the base DN.
func underBase(ou, baseDN string) (*ldap.DN, error) {
	parsed, err := ldap.ParseDN(ou)
	if err != nil || len(parsed.RDNs) == 0 {
		return nil, steps.Errorf(steps.Invalid, "ou %q is not a distinguished name", ou)
	}
	base, err := ldap.ParseDN(baseDN)
	if err != nil {
		return nil, steps.Errorf(steps.Invalid, "ad base_dn %q is not a distinguished name: %v", baseDN, err)
	}
	if !base.AncestorOfFold(parsed) && !base.EqualFold(parsed) {
		return nil, steps.Errorf(steps.Invalid, "ou %q is not under the base DN %s", ou, baseDN)
	}
	return parsed, nil
}

// locate reads the subject's account fresh: at the DN resolved when the run
// started, or, when nothing is there any more (ad.move_to_ou moved it,
// perhaps in a run that crashed before journaling it), by its objectGUID,
// then its objectSid, which a move keeps.
func locate(ctx context.Context, c *Conn, call *steps.Call) (*account, error) {
	dn := call.Subject.FactString("ad", attrDN)
	a, err := c.read(ctx, dn)
	if err == nil || steps.ClassOf(err) != steps.NotFound {
		return a, err
	}
	return relocate(ctx, c, call, err)
}

// relocate finds the subject's account by its objectGUID, then its
// objectSid, once it is not at the DN resolved when the run started
// (notFound, the error of that read, is returned when neither finds it).
func relocate(ctx context.Context, c *Conn, call *steps.Call, notFound error) (*account, error) {
	for _, r := range []steps.Ref{
		{Kind: steps.RefGUID, Name: call.Subject.FactString("ad", attrObjectGUID)},
		{Kind: steps.RefSID, Name: call.Subject.FactString("ad", attrObjectSid)},
	} {
		if r.Name == "" {
			continue
		}
		filter, ferr := refFilter(r)
		if ferr != nil {
			continue
		}
		found, serr := c.search(ctx, string(r.Kind)+" "+r.Name, filter)
		if serr == nil || steps.ClassOf(serr) != steps.NotFound {
			return found, serr
		}
	}
	return nil, notFound
}

// Check says where the account would move, or that it is in the OU already.
func (s *moveToOUStep) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	p, err := planMove(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	return p.change(false), nil
}

// change is the plan as a Change; applied words it as done.
func (p *movePlan) change(applied bool) steps.Change {
	if p.done {
		return steps.Change{Satisfied: true, Summary: "already in " + p.ou,
			Details: map[string]any{"dn": p.acct.DN}}
	}
	verb := "move"
	if applied {
		verb = "moved"
	}
	return steps.Change{
		Summary: fmt.Sprintf("%s %s to %s", verb, p.acct.DN, p.ou),
		Details: map[string]any{"from": p.acct.DN, "to": p.newDN},
	}
}

// Apply moves the account with one ModifyDN (new superior, same RDN) and
// journals the new DN at once. A lost connection, or a resend after one,
// can leave it unknown whether the move landed: any refusal is therefore
// followed by a fresh look-up, and an account found in the OU is done.
func (s *moveToOUStep) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	p, err := planMove(ctx, call)
	if err != nil {
		return steps.Change{}, err
	}
	if p.done {
		s.moved = p.acct.DN
		return p.change(true), nil
	}
	c := p.conn
	req := ldap.NewModifyDNRequest(p.acct.DN, p.rdn, true, p.ou)
	// Resent after a lost connection, a move that landed is refused (the
	// old DN is gone); the look-up below tells that from a real refusal.
	err = c.do(ctx, true, func(lc *ldap.Conn) error { return lc.ModifyDN(req) })
	if err != nil {
		if a, lerr := locate(ctx, c, call); lerr == nil {
			if again, perr := newMovePlan(c, a, p.ou, p.ouDN); perr == nil && again.done {
				err = nil
				p.newDN = a.DN
			}
		}
	}
	if err != nil {
		op := fmt.Sprintf("move %s to %s", p.acct.DN, p.ou)
		if ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			return steps.Change{}, steps.Errorf(steps.Invalid, "%s: %s already exists there: %s", op, p.newDN, describe(err))
		}
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return steps.Change{}, steps.Errorf(steps.Invalid, "%s: the OU does not exist: %s", op, describe(err))
		}
		return steps.Change{}, classify(op, rightMoveSource+"; "+rightMoveTarget, err)
	}
	s.moved = p.newDN
	call.Report("moved to "+p.ou, map[string]any{"from": p.acct.DN, "dn": p.newDN})
	return p.change(true), nil
}

// Verify reads the account at its new DN: it must be there, the same
// object (objectGUID) as the subject.
func (s *moveToOUStep) Verify(ctx context.Context, call *steps.Call) error {
	c, _, err := target(call)
	if err != nil {
		return err
	}
	dn := s.moved
	if dn == "" {
		p, err := planMove(ctx, call)
		if err != nil {
			return err
		}
		if !p.done {
			return steps.Errorf(steps.Other, "%s is not in %s after the move", p.acct.DN, p.ou)
		}
		dn = p.acct.DN
	}
	a, err := c.read(ctx, dn)
	if err != nil {
		return fmt.Errorf("verify the move: %w", err)
	}
	if guid := call.Subject.FactString("ad", attrObjectGUID); guid != "" && a.GUID != guid {
		return steps.Errorf(steps.Other, "%s is objectGUID %s, not the subject's %s", dn, a.GUID, guid)
	}
	return nil
}
