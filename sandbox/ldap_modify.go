package sandbox

import (
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/jimlambrt/gldap"
)

func (s *ldapServer) handleModify(b *ldapBackend, w *gldap.ResponseWriter, r *gldap.Request) {
	s.delay()
	sess := b.session(r)
	m, err := r.GetModifyMessage()
	if err != nil {
		s.logEntry(sess, "modify", "", gldap.ResultProtocolError, "malformed modify")
		_ = w.Write(r.NewModifyResponse(gldap.WithResponseCode(gldap.ResultProtocolError)))
		return
	}
	code, diag := s.modify(sess, m)
	s.logEntry(sess, "modify", m.DN, code, modifyDetail(m))
	_ = w.Write(r.NewModifyResponse(gldap.WithResponseCode(code), gldap.WithDiagnosticMessage(diag)))
}

// modifyDetail lists the operations ("replace unicodePwd, delete member"):
// names only, never values.
func modifyDetail(m *gldap.ModifyMessage) string {
	ops := make([]string, 0, len(m.Changes))
	for _, c := range m.Changes {
		op := "op" + strconv.FormatInt(c.Operation, 10)
		switch c.Operation {
		case gldap.AddAttribute:
			op = "add"
		case gldap.DeleteAttribute:
			op = "delete"
		case gldap.ReplaceAttribute:
			op = "replace"
		case gldap.IncrementAttribute:
			op = "increment"
		}
		ops = append(ops, op+" "+c.Modification.Type)
	}
	return strings.Join(ops, ", ")
}

// decodeChanges finishes gldap's decoding of a modify: v0.1.14 hands each
// attribute's values over still BER-encoded, all of them in one string.
func decodeChanges(in []gldap.Change) ([]gldap.Change, error) {
	out := make([]gldap.Change, len(in))
	for i, c := range in {
		out[i] = c
		out[i].Modification.Vals = nil
		for _, raw := range c.Modification.Vals {
			rd := strings.NewReader(raw)
			for rd.Len() > 0 {
				p, err := ber.ReadPacket(rd)
				if err != nil {
					return nil, fmt.Errorf("value of %s: %w", c.Modification.Type, err)
				}
				if p.ClassType != ber.ClassUniversal || p.TagType != ber.TypePrimitive || p.Tag != ber.TagOctetString {
					return nil, fmt.Errorf("value of %s is not an octet string", c.Modification.Type)
				}
				out[i].Modification.Vals = append(out[i].Modification.Vals, p.Data.String())
			}
		}
	}
	return out, nil
}

// modifyPlan is a modify's effect, staged so a failing change leaves the
// entry untouched (LDAP modifies are atomic).
type modifyPlan struct {
	uac *int
	// uacGone is set while the changes so far deleted userAccountControl's
	// value and added none: the state between the halves of a conditional
	// write (Delete the old value, Add the new one).
	uacGone  bool
	password *string
	members  []string // the group's new member list
	// notes are the account's new description and info, by lower-cased name.
	notes   map[string]string
	touched bool
}

func (s *ldapServer) modify(sess *ldapSession, m *gldap.ModifyMessage) (int, string) {
	tlsOn, bound, service := sess.state()
	if bound == nil {
		return gldap.ResultOperationsError, diagBindRequired
	}
	changes, err := decodeChanges(m.Changes)
	if err != nil {
		return gldap.ResultProtocolError, "malformed modify values"
	}
	key, err := dnKey(m.DN)
	if err != nil || key == "" {
		return gldap.ResultInvalidDNSyntax, diagInvalidDN(m.DN)
	}
	s.dir.Lock()
	defer s.dir.Unlock()
	acct, group := s.objectByKey(key)
	if acct == nil && group == nil {
		_, all := s.directoryEntries()
		for _, e := range all {
			if e.key == key {
				// The domain root, an OU or a container: the sandbox
				// keeps no attributes of its own for them.
				return gldap.ResultUnwillingToPerform, diagWillNotPerform
			}
		}
		return gldap.ResultNoSuchObject, diagNoSuchObject(bestMatch(all, m.DN))
	}
	self := acct != nil && acct == bound
	if !service && !self {
		return gldap.ResultInsufficientAccessRights, diagInsufficientAccess
	}
	plan := modifyPlan{}
	if group != nil {
		plan.members = append([]string(nil), group.Members...)
	}
	for i := 0; i < len(changes); i++ {
		c := changes[i]
		name := attrKey(c.Modification.Type)
		if _, known := ldapSchema[name]; !known {
			return gldap.ResultUndefinedAttributeType, diagAttrConversion
		}
		switch name {
		case "unicodepwd":
			if acct == nil {
				return gldap.ResultObjectClassViolation, diagObjectClass
			}
			if !tlsOn {
				return gldap.ResultUnwillingToPerform, diagWillNotPerform
			}
			skip, code, diag := s.planPassword(&plan, acct, service, changes[i:])
			if code != gldap.ResultSuccess {
				return code, diag
			}
			i += skip
		case "useraccountcontrol":
			if acct == nil {
				return gldap.ResultObjectClassViolation, diagObjectClass
			}
			if !service {
				return gldap.ResultInsufficientAccessRights, diagInsufficientAccess
			}
			if code, diag := planUAC(&plan, acct, c); code != gldap.ResultSuccess {
				return code, diag
			}
		case "member":
			if group == nil {
				return gldap.ResultObjectClassViolation, diagObjectClass
			}
			if !service {
				return gldap.ResultInsufficientAccessRights, diagInsufficientAccess
			}
			if code, diag := s.planMembers(&plan, c); code != gldap.ResultSuccess {
				return code, diag
			}
		case "description", "info":
			if acct == nil {
				// A group's notes: not something the sandbox keeps.
				if !service {
					return gldap.ResultInsufficientAccessRights, diagInsufficientAccess
				}
				return gldap.ResultUnwillingToPerform, diagWillNotPerform
			}
			if !service {
				return gldap.ResultInsufficientAccessRights, diagInsufficientAccess
			}
			if code, diag := s.planNote(&plan, acct, name, c); code != gldap.ResultSuccess {
				return code, diag
			}
		default:
			// Known to the schema, but not something the sandbox changes
			// (cn, objectGUID, memberOf…): AD refuses system attributes too.
			if !service {
				return gldap.ResultInsufficientAccessRights, diagInsufficientAccess
			}
			return gldap.ResultUnwillingToPerform, diagWillNotPerform
		}
	}
	if plan.uacGone {
		// A Delete of the value with no Add after it: AD keeps a user's
		// userAccountControl, whatever the request says.
		return gldap.ResultUnwillingToPerform, diagWillNotPerform
	}
	if !plan.touched {
		return gldap.ResultSuccess, ""
	}
	now := time.Now().UTC()
	if acct != nil {
		if plan.uac != nil {
			acct.UserAccountControl = *plan.uac
		}
		if plan.password != nil {
			acct.Password = *plan.password
			// pwdLastSet changes on every reset, even two within one tick.
			if !now.After(acct.PwdLastSet) {
				now = acct.PwdLastSet.Add(100 * time.Nanosecond)
			}
			acct.PwdLastSet = now
		}
		s.applyNotes(acct, plan.notes)
		s.changed[acct] = now
	}
	if group != nil {
		group.Members = plan.members
		s.changed[group] = now
	}
	return gldap.ResultSuccess, ""
}

// objectByKey finds the account or group a DN names. Callers hold the lock.
func (s *ldapServer) objectByKey(key string) (*ADAccount, *ADGroup) {
	is := func(dn string) bool { k, err := dnKey(dn); return err == nil && k == key }
	for _, u := range s.dir.Users {
		if u.AD != nil && is(u.AD.DN) {
			return u.AD, nil
		}
	}
	for _, a := range s.dir.ServiceAccounts {
		if is(a.DN) {
			return a, nil
		}
	}
	for _, g := range s.dir.ADGroups {
		if is(g.DN) {
			return nil, g
		}
	}
	return nil, nil
}

// planPassword stages a unicodePwd change starting at changes[0] and says
// how many further changes it consumed. A Replace is a reset (needs the
// reset right: a service account); a Delete of the old value followed by
// an Add of the new one is a change, which the account itself may make.
func (s *ldapServer) planPassword(plan *modifyPlan, acct *ADAccount, service bool, changes []gldap.Change) (int, int, string) {
	c := changes[0]
	switch c.Operation {
	case gldap.ReplaceAttribute:
		if !service {
			return 0, gldap.ResultInsufficientAccessRights, diagInsufficientAccess
		}
		if len(c.Modification.Vals) != 1 {
			return 0, gldap.ResultConstraintViolation, diagPasswordValue
		}
		code, diag := setPassword(plan, c.Modification.Vals[0], acct.SAMAccountName)
		return 0, code, diag
	case gldap.DeleteAttribute:
		if len(changes) < 2 || changes[1].Operation != gldap.AddAttribute ||
			attrKey(changes[1].Modification.Type) != "unicodepwd" ||
			len(c.Modification.Vals) != 1 || len(changes[1].Modification.Vals) != 1 {
			return 0, gldap.ResultUnwillingToPerform, diagWillNotPerform
		}
		old, ok := decodeUnicodePwd(c.Modification.Vals[0])
		if !ok || subtle.ConstantTimeCompare([]byte(old), []byte(acct.Password)) != 1 {
			return 0, gldap.ResultConstraintViolation, diagPasswordValue
		}
		code, diag := setPassword(plan, changes[1].Modification.Vals[0], acct.SAMAccountName)
		return 1, code, diag
	}
	// An Add without the Delete of the old value is neither a reset nor a change.
	return 0, gldap.ResultUnwillingToPerform, diagWillNotPerform
}

// setPassword plans the new password encoded in v (unicodePwd's quoted
// UTF-16), refused when it is not one or not complex enough for sam.
func setPassword(plan *modifyPlan, v, sam string) (int, string) {
	pw, ok := decodeUnicodePwd(v)
	if !ok {
		return gldap.ResultConstraintViolation, diagPasswordValue
	}
	if !passwordComplex(pw, sam) {
		return gldap.ResultConstraintViolation, diagComplexity
	}
	plan.password, plan.touched = &pw, true
	return gldap.ResultSuccess, ""
}

// planUAC stages a change of userAccountControl the way AD takes one, in
// the order of the request's changes: a Replace with one value; or a
// Delete of the value the account has (noSuchAttribute when it has
// another: the conditional write clients build on) and then an Add of one
// value once none is left. An Add while a value is there breaks the
// attribute's single value (20 for the same value, 19 for another); a
// Delete without a value would remove the attribute and is refused, as is
// anything else.
func planUAC(plan *modifyPlan, acct *ADAccount, c gldap.Change) (int, string) {
	if plan.uac == nil {
		cur := acct.UserAccountControl
		plan.uac = &cur
	}
	vals := make([]int, 0, len(c.Modification.Vals))
	for _, v := range c.Modification.Vals {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return gldap.ResultInvalidAttributeSyntax, diagAttrConversion
		}
		vals = append(vals, int(n))
	}
	switch {
	case c.Operation == gldap.ReplaceAttribute && len(vals) == 1:
		*plan.uac, plan.uacGone = vals[0], false
	case c.Operation == gldap.DeleteAttribute && len(vals) > 0:
		for _, n := range vals {
			if plan.uacGone || n != *plan.uac {
				return gldap.ResultNoSuchAttribute, diagNoUACValue
			}
			plan.uacGone = true
		}
	case c.Operation == gldap.AddAttribute && len(vals) > 0:
		switch {
		case !plan.uacGone && len(vals) == 1 && vals[0] == *plan.uac:
			return gldap.ResultAttributeOrValueExists, diagUACValueExists
		case !plan.uacGone || len(vals) > 1:
			return gldap.ResultConstraintViolation, diagUACSingleValue
		}
		*plan.uac, plan.uacGone = vals[0], false
	default:
		return gldap.ResultUnwillingToPerform, diagWillNotPerform
	}
	plan.touched = true
	return gldap.ResultSuccess, ""
}

// planMembers stages a change to a group's member list.
func (s *ldapServer) planMembers(plan *modifyPlan, c gldap.Change) (int, string) {
	indexOf := func(key string) int {
		for i, m := range plan.members {
			if k, err := dnKey(m); err == nil && k == key {
				return i
			}
		}
		return -1
	}
	// resolve maps a value to the canonical DN of an existing object.
	resolve := func(dn string) (string, string, int, string) {
		key, err := dnKey(dn)
		if err != nil || key == "" {
			return "", "", gldap.ResultInvalidDNSyntax, diagInvalidDN(dn)
		}
		a, g := s.objectByKey(key)
		switch {
		case a != nil:
			return a.DN, key, gldap.ResultSuccess, ""
		case g != nil:
			return g.DN, key, gldap.ResultSuccess, ""
		}
		return "", "", gldap.ResultNoSuchObject, diagNoSuchObject(s.dir.BaseDN)
	}
	switch c.Operation {
	case gldap.AddAttribute:
		for _, v := range c.Modification.Vals {
			dn, key, code, diag := resolve(v)
			if code != gldap.ResultSuccess {
				return code, diag
			}
			if indexOf(key) >= 0 {
				return gldap.ResultEntryAlreadyExists, diagMemberExists
			}
			plan.members = append(plan.members, dn)
		}
	case gldap.DeleteAttribute:
		if len(c.Modification.Vals) == 0 {
			plan.members = nil
		}
		for _, v := range c.Modification.Vals {
			key, err := dnKey(v)
			if err != nil {
				return gldap.ResultInvalidDNSyntax, diagInvalidDN(v)
			}
			i := indexOf(key)
			if i < 0 {
				return gldap.ResultUnwillingToPerform, diagNotMember
			}
			plan.members = append(plan.members[:i:i], plan.members[i+1:]...)
		}
	case gldap.ReplaceAttribute:
		plan.members = nil
		for _, v := range c.Modification.Vals {
			dn, key, code, diag := resolve(v)
			if code != gldap.ResultSuccess {
				return code, diag
			}
			if indexOf(key) < 0 {
				plan.members = append(plan.members, dn)
			}
		}
	default:
		return gldap.ResultUnwillingToPerform, diagWillNotPerform
	}
	plan.touched = true
	return gldap.ResultSuccess, ""
}

// decodeUnicodePwd decodes AD's unicodePwd value: the password in double
// quotes, encoded UTF-16LE.
func decodeUnicodePwd(v string) (string, bool) {
	if len(v) < 4 || len(v)%2 != 0 {
		return "", false
	}
	u := make([]uint16, len(v)/2)
	for i := range u {
		u[i] = uint16(v[2*i]) | uint16(v[2*i+1])<<8
	}
	s := string(utf16.Decode(u))
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	return s[1 : len(s)-1], true
}

// passwordComplex applies AD's "password must meet complexity
// requirements": at least 7 characters from 3 of the 4 classes (upper,
// lower, digit, other), and not containing the sAMAccountName.
func passwordComplex(pw, sam string) bool {
	if utf8.RuneCountInString(pw) < 7 || charClasses(pw) < 3 {
		return false
	}
	return len(sam) < 3 || !strings.Contains(strings.ToLower(pw), strings.ToLower(sam))
}
