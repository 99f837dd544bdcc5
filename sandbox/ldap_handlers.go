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
	"github.com/go-ldap/ldap/v3"
	"github.com/jimlambrt/gldap"
)

// The operations, with AD's result codes and diagnostic messages, so a
// client's error handling is exercised by the same text a domain
// controller sends.

// AD diagnostic messages.
const (
	diagStrongAuthRequired = `00002028: LdapErr: DSID-0C090259, comment: The server requires binds to turn on integrity checking if SSL\TLS are not already active on the connection, data 0, v4563`
	diagBindRequired       = "000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563"
	diagWillNotPerform     = "0000001F: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM), data 0"
	diagComplexity         = "0000052D: Constraint violation - check_password_restrictions: the password does not meet the complexity criteria!"
	diagPasswordValue      = "00000056: AtrErr: DSID-03190F80, #1:\n\t0: 00000056: DSID-03190F80, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)\n"
	diagInsufficientAccess = "00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0"
	diagAttrConversion     = "00000057: LdapErr: DSID-0C090D8A, comment: Error in attribute conversion operation, data 0, v4563"
	diagObjectClass        = "00002012: UpdErr: DSID-030F0E9A, problem 6002 (OBJ_CLASS_VIOLATION), data 0"
	diagMemberExists       = "00000562: UpdErr: DSID-031A1262, problem 6005 (ENTRY_EXISTS), data 0"
	diagNotMember          = "00000561: SvcErr: DSID-031A1242, problem 5003 (WILL_NOT_PERFORM), data 0"
	diagTLSActive          = "00000000: LdapErr: DSID-0C0911E4, comment: Error initializing SSL/TLS, data 0, v4563"
	diagUnknownExtended    = "0000203D: LdapErr: DSID-0C090C7D, comment: Unknown extended request OID, data 0, v4563"
	diagUnauthenticated    = "00000057: LdapErr: DSID-0C090A0E, comment: Unauthenticated binds are not allowed, data 0, v4563"
	// AD's answers to value-level changes of userAccountControl that do
	// not fit the value the account has.
	diagNoUACValue     = "00002080: AtrErr: DSID-03151818, #1:\n\t0: 00002080: DSID-03151818, problem 1001 (NO_ATTRIBUTE_OR_VAL), data 0, Att 9 (userAccountControl)\n"
	diagUACValueExists = "00002083: AtrErr: DSID-03151818, #1:\n\t0: 00002083: DSID-03151818, problem 1006 (ATT_OR_VALUE_EXISTS), data 0, Att 9 (userAccountControl)\n"
	diagUACSingleValue = "00002081: AtrErr: DSID-03151818, #1:\n\t0: 00002081: DSID-03151818, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9 (userAccountControl)\n"
)

// diagInvalidCredentials is AD's bind failure; data says why: 52e bad
// user or password, 533 account disabled.
func diagInvalidCredentials(data string) string {
	return "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data " + data + ", v4563"
}

func diagNoSuchObject(bestMatch string) string {
	return "0000208D: NameErr: DSID-03100288, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'" + bestMatch + "'\n"
}

func diagInvalidDN(dn string) string {
	return "0000208F: NameErr: DSID-03100225, problem 2006 (BAD_NAME), data 8350, best match of:\n\t'" + dn + "'\n"
}

// adMaxPageSize is AD's MaxPageSize: a search without paging returns at
// most this many entries, then sizeLimitExceeded.
const adMaxPageSize = 1000

func (s *ldapServer) handleBind(b *ldapBackend, w *gldap.ResponseWriter, r *gldap.Request) {
	s.delay()
	sess := b.session(r)
	m, err := r.GetSimpleBindMessage()
	if err != nil {
		s.logEntry(sess, "bind", "", gldap.ResultProtocolError, "not a simple bind")
		_ = w.Write(r.NewBindResponse(gldap.WithResponseCode(gldap.ResultProtocolError)))
		return
	}
	code, diag := s.bind(sess, m.UserName, string(m.Password))
	resp := r.NewBindResponse(gldap.WithResponseCode(code))
	resp.SetDiagnosticMessage(diag)
	s.logEntry(sess, "bind", m.UserName, code, "")
	_ = w.Write(resp)
}

// bind authenticates a simple bind; it never echoes the password.
func (s *ldapServer) bind(sess *ldapSession, name, password string) (int, string) {
	// Any bind, failed or not, first drops the connection's identity.
	sess.setBound(nil, false)
	if name == "" && password == "" {
		return gldap.ResultSuccess, "" // anonymous: allowed, but only the root DSE is readable
	}
	tlsOn, _, _ := sess.state()
	if !tlsOn {
		return gldap.ResultStrongAuthRequired, diagStrongAuthRequired
	}
	if password == "" {
		// An "unauthenticated" bind (name, no password) is refused, as
		// RFC 4513 §5.1.2 recommends, rather than silently anonymous.
		return gldap.ResultUnwillingToPerform, diagUnauthenticated
	}
	s.dir.Lock()
	defer s.dir.Unlock()
	acct, service := s.bindAccount(name)
	if acct == nil || subtle.ConstantTimeCompare([]byte(acct.Password), []byte(password)) != 1 {
		return gldap.ResultInvalidCredentials, diagInvalidCredentials("52e")
	}
	if acct.Disabled() {
		// AD only says "disabled" once the password was right.
		return gldap.ResultInvalidCredentials, diagInvalidCredentials("533")
	}
	sess.setBound(acct, service)
	return gldap.ResultSuccess, ""
}

// bindAccount resolves a bind name the ways AD accepts: a DN, a UPN (or
// the implicit sam@dns-domain), or DOMAIN\sam. Callers hold the lock.
func (s *ldapServer) bindAccount(name string) (*ADAccount, bool) {
	match := func(ok func(a *ADAccount) bool) (*ADAccount, bool) {
		for _, u := range s.dir.Users {
			if u.AD != nil && ok(u.AD) {
				return u.AD, false
			}
		}
		for _, a := range s.dir.ServiceAccounts {
			if ok(a) {
				return a, true
			}
		}
		return nil, false
	}
	if domain, sam, ok := strings.Cut(name, `\`); ok {
		if !strings.EqualFold(domain, s.dir.NetBIOS) || sam == "" {
			return nil, false
		}
		return match(func(a *ADAccount) bool { return strings.EqualFold(a.SAMAccountName, sam) })
	}
	if !strings.Contains(name, "=") && strings.Contains(name, "@") {
		if a, service := match(func(a *ADAccount) bool { return strings.EqualFold(a.UserPrincipalName, name) }); a != nil {
			return a, service
		}
		sam, domain, _ := strings.Cut(name, "@")
		if strings.EqualFold(domain, dnsDomain(s.dir.BaseDN)) && sam != "" {
			return match(func(a *ADAccount) bool { return strings.EqualFold(a.SAMAccountName, sam) })
		}
		return nil, false
	}
	key, err := dnKey(name)
	if err != nil || key == "" {
		return nil, false
	}
	return match(func(a *ADAccount) bool { k, err := dnKey(a.DN); return err == nil && k == key })
}

// dnsDomain turns DC=contoso,DC=test into contoso.test.
func dnsDomain(baseDN string) string {
	parsed, err := ldap.ParseDN(baseDN)
	if err != nil {
		return ""
	}
	var labels []string
	for _, r := range parsed.RDNs {
		for _, a := range r.Attributes {
			if strings.EqualFold(a.Type, "dc") {
				labels = append(labels, a.Value)
			}
		}
	}
	return strings.Join(labels, ".")
}

// searchResult is what a search sends back.
type searchResult struct {
	code    int
	diag    string
	matched string
	entries []renderedEntry
	paging  *gldap.ControlPaging
}

type renderedEntry struct {
	dn    string
	attrs []renderedAttr
}

func (s *ldapServer) handleSearch(b *ldapBackend, w *gldap.ResponseWriter, r *gldap.Request) {
	m, err := r.GetSearchMessage()
	if err != nil {
		_ = w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultProtocolError)))
		return
	}
	if r.ID == 1 && strings.EqualFold(m.BaseDN, helloBaseDN) {
		code := gldap.ResultSuccess
		if !s.registerHello(b, r, m.Attributes) {
			code = gldap.ResultProtocolError
		}
		_ = w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(code)))
		return
	}
	s.delay()
	sess := b.session(r)
	res := s.search(sess, m)
	for _, e := range res.entries {
		resp := r.NewSearchResponseEntry(e.dn)
		for _, a := range e.attrs {
			resp.AddAttribute(a.name, a.vals)
		}
		if err := w.Write(resp); err != nil {
			return // the client is gone
		}
	}
	done := r.NewSearchDoneResponse(gldap.WithResponseCode(res.code))
	done.SetDiagnosticMessage(res.diag)
	done.SetMatchedDN(res.matched)
	if res.paging != nil {
		done.SetControls(res.paging)
	}
	s.logEntry(sess, "search", m.BaseDN, res.code, searchDetail(m, len(res.entries)))
	_ = w.Write(done)
}

var scopeNames = map[gldap.Scope]string{gldap.BaseObject: "base", gldap.SingleLevel: "one", gldap.WholeSubtree: "sub"}

// searchDetail summarizes a search for the log. A filter that names a
// password attribute is not logged: its value would be a password.
func searchDetail(m *gldap.SearchMessage, n int) string {
	filter := m.Filter
	if f := strings.ToLower(filter); strings.Contains(f, "unicodepwd") || strings.Contains(f, "userpassword") {
		filter = "(redacted)"
	}
	return "scope=" + scopeNames[m.Scope] + " filter=" + filter + " entries=" + strconv.Itoa(n)
}

func (s *ldapServer) search(sess *ldapSession, m *gldap.SearchMessage) searchResult {
	_, bound, _ := sess.state()
	rootDSE := strings.TrimSpace(m.BaseDN) == "" && m.Scope == gldap.BaseObject
	if bound == nil && !rootDSE {
		return searchResult{code: gldap.ResultOperationsError, diag: diagBindRequired}
	}
	if _, ok := scopeNames[m.Scope]; !ok {
		return searchResult{code: gldap.ResultProtocolError, diag: "unknown scope"}
	}
	// gldap hands over the filter decompiled (values re-escaped), so
	// compiling it again restores the exact bytes the client asserted.
	packet, err := ldap.CompileFilter(m.Filter)
	if err != nil {
		return searchResult{code: gldap.ResultProtocolError, diag: "bad search filter"}
	}
	filter := compileLDAPFilter(packet)
	sel := newAttrSelection(m.Attributes)
	var paging *gldap.ControlPaging
	for _, c := range m.Controls {
		if p, ok := c.(*gldap.ControlPaging); ok {
			paging = p
		}
	}

	s.dir.Lock()
	defer s.dir.Unlock()
	v, all := s.directoryEntries()
	render := func(e *dirEntry) renderedEntry {
		out := renderedEntry{dn: e.dn, attrs: e.render(sel)}
		if m.TypesOnly {
			for i := range out.attrs {
				out.attrs[i].vals = nil
			}
		}
		return out
	}
	if rootDSE {
		res := searchResult{code: gldap.ResultSuccess}
		if e := v.rootDSE(); filter.matches(e) {
			res.entries = append(res.entries, render(e))
		}
		return res
	}
	baseKey, err := dnKey(m.BaseDN)
	if err != nil {
		return searchResult{code: gldap.ResultInvalidDNSyntax, diag: diagInvalidDN(m.BaseDN)}
	}
	var base *dirEntry
	for _, e := range all {
		if e.key == baseKey {
			base = e
			break
		}
	}
	if base == nil {
		best := bestMatch(all, m.BaseDN)
		return searchResult{code: gldap.ResultNoSuchObject, diag: diagNoSuchObject(best), matched: best}
	}
	var matched []*dirEntry
	for _, e := range all {
		inScope := false
		switch m.Scope {
		case gldap.BaseObject:
			inScope = e.key == baseKey
		case gldap.SingleLevel:
			inScope = e.parentKey == baseKey
		case gldap.WholeSubtree:
			inScope = e.key == baseKey || strings.HasSuffix(e.key, ","+baseKey)
		}
		// A search stays in its base's naming context: the domain's does
		// not reach into CN=Configuration, though its DN ends with the
		// domain's, as on AD.
		inScope = inScope && e.config == base.config
		if inScope && filter.matches(e) {
			matched = append(matched, e)
		}
	}

	res := searchResult{code: gldap.ResultSuccess}
	page := matched
	if paging != nil {
		// The cookie is the offset of the next page: the entry order is
		// stable while the Directory is.
		start := 0
		if len(paging.Cookie) > 0 {
			n, err := strconv.Atoi(string(paging.Cookie))
			if err != nil || n < 0 || n > len(matched) {
				return searchResult{code: gldap.ResultUnwillingToPerform, diag: diagWillNotPerform}
			}
			start = n
		}
		size := int(min(paging.PagingSize, adMaxPageSize))
		end := min(start+size, len(matched))
		page = matched[start:end]
		next := ""
		if end < len(matched) && size > 0 {
			next = strconv.Itoa(end)
		}
		res.paging = &gldap.ControlPaging{Cookie: []byte(next)}
	} else if len(page) > adMaxPageSize {
		page, res.code = page[:adMaxPageSize], gldap.ResultSizeLimitExceeded
	}
	if m.SizeLimit > 0 && int64(len(page)) > m.SizeLimit {
		page, res.code = page[:m.SizeLimit], gldap.ResultSizeLimitExceeded
	}
	for _, e := range page {
		res.entries = append(res.entries, render(e))
	}
	return res
}

// bestMatch is the deepest existing ancestor of dn, for noSuchObject.
func bestMatch(all []*dirEntry, dn string) string {
	info, err := parseDNInfo(dn)
	for err == nil && info.parentKey != "" {
		for _, e := range all {
			if e.key == info.parentKey {
				return e.dn
			}
		}
		info, err = parseDNInfo(info.parentDN)
	}
	return ""
}

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
		pw, ok := decodeUnicodePwd(c.Modification.Vals[0])
		if !ok {
			return 0, gldap.ResultConstraintViolation, diagPasswordValue
		}
		if !passwordComplex(pw, acct.SAMAccountName) {
			return 0, gldap.ResultConstraintViolation, diagComplexity
		}
		plan.password, plan.touched = &pw, true
		return 0, gldap.ResultSuccess, ""
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
		pw, ok := decodeUnicodePwd(changes[1].Modification.Vals[0])
		if !ok {
			return 0, gldap.ResultConstraintViolation, diagPasswordValue
		}
		if !passwordComplex(pw, acct.SAMAccountName) {
			return 0, gldap.ResultConstraintViolation, diagComplexity
		}
		plan.password, plan.touched = &pw, true
		return 1, gldap.ResultSuccess, ""
	}
	// An Add without the Delete of the old value is neither a reset nor a change.
	return 0, gldap.ResultUnwillingToPerform, diagWillNotPerform
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

func (s *ldapServer) handleStartTLS(b *ldapBackend, w *gldap.ResponseWriter, r *gldap.Request) {
	s.delay()
	sess := b.session(r)
	tlsOn, _, _ := sess.state()
	if tlsOn {
		resp := r.NewExtendedResponse(gldap.WithResponseCode(gldap.ResultOperationsError))
		resp.SetDiagnosticMessage(diagTLSActive)
		s.logEntry(sess, "extended", "", gldap.ResultOperationsError, "StartTLS "+oidStartTLS)
		_ = w.Write(resp)
		return
	}
	resp := r.NewExtendedResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	resp.SetResponseName(gldap.ExtendedOperationStartTLS)
	s.logEntry(sess, "extended", "", gldap.ResultSuccess, "StartTLS "+oidStartTLS)
	if err := w.Write(resp); err != nil {
		return
	}
	// The door makes the handshake with the client once it has relayed
	// this answer (see ldapDoor.toClient). gldap reads no further request
	// until this returns, and the door relays none before the handshake,
	// as RFC 4511 §4.14.1 requires, so nothing slips through in the clear.
	if sess.door == nil || !sess.door.awaitTLS() {
		s.logEntry(sess, "extended", "", gldap.ResultProtocolError, "StartTLS "+oidStartTLS+" handshake failed")
		if sess.door != nil {
			sess.door.close() // the stream is unusable after a failed handshake
		}
		return
	}
	sess.mu.Lock()
	sess.tls = true
	sess.mu.Unlock()
}

func (s *ldapServer) handleUnbind(b *ldapBackend, _ *gldap.ResponseWriter, r *gldap.Request) {
	sess := b.session(r)
	_, bound, _ := sess.state()
	dn := ""
	if bound != nil {
		s.dir.Lock()
		dn = bound.DN
		s.dir.Unlock()
	}
	s.logEntry(sess, "unbind", dn, gldap.ResultSuccess, "")
}

// handleAdd and handleDelete refuse: the sandbox's objects come from its
// seed, and revoke never creates or deletes directory objects.
func (s *ldapServer) handleAdd(b *ldapBackend, w *gldap.ResponseWriter, r *gldap.Request) {
	dn := ""
	if m, err := r.GetAddMessage(); err == nil {
		dn = m.DN
	}
	s.refuseWrite(b, w, r, "add", dn, gldap.ApplicationAddResponse)
}

func (s *ldapServer) handleDelete(b *ldapBackend, w *gldap.ResponseWriter, r *gldap.Request) {
	dn := ""
	if m, err := r.GetDeleteMessage(); err == nil {
		dn = m.DN
	}
	s.refuseWrite(b, w, r, "delete", dn, gldap.ApplicationDelResponse)
}

// refuseWrite logs op on dn and answers it with response type app: an
// unbound session must bind, a non-service one lacks the rights, and a
// service account is told the sandbox will not perform it.
func (s *ldapServer) refuseWrite(b *ldapBackend, w *gldap.ResponseWriter, r *gldap.Request, op, dn string, app int) {
	s.delay()
	sess := b.session(r)
	_, bound, service := sess.state()
	code, diag := gldap.ResultUnwillingToPerform, diagWillNotPerform
	switch {
	case bound == nil:
		code, diag = gldap.ResultOperationsError, diagBindRequired
	case !service:
		code, diag = gldap.ResultInsufficientAccessRights, diagInsufficientAccess
	}
	s.logEntry(sess, op, dn, code, "")
	_ = w.Write(r.NewResponse(gldap.WithApplicationCode(app),
		gldap.WithResponseCode(code), gldap.WithDiagnosticMessage(diag)))
}

// handleUnsupported answers what no route took: extended operations other
// than StartTLS (Who am I? included: gldap's extended response cannot
// carry the responseValue it needs).
func (s *ldapServer) handleUnsupported(b *ldapBackend, w *gldap.ResponseWriter, r *gldap.Request) {
	s.delay()
	sess := b.session(r)
	s.logEntry(sess, "extended", "", gldap.ResultProtocolError, "unsupported operation")
	_ = w.Write(r.NewResponse(gldap.WithApplicationCode(gldap.ApplicationExtendedResponse),
		gldap.WithResponseCode(gldap.ResultProtocolError), gldap.WithDiagnosticMessage(diagUnknownExtended)))
}
