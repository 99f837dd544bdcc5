package ad

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/steps"
)

// Attributes of a user account that revoke reads.
const (
	attrDN         = "distinguishedName"
	attrSAM        = "sAMAccountName"
	attrUPN        = "userPrincipalName"
	attrUAC        = "userAccountControl"
	attrAdminCount = "adminCount"
	attrMemberOf   = "memberOf"
	attrPwdLastSet = "pwdLastSet"
	attrUnicodePwd = "unicodePwd"
	attrMember     = "member"
	attrObjectSid  = "objectSid"
	attrObjectGUID = "objectGUID"
	// factNetBIOS is the fact holding the domain's NetBIOS name, when known.
	factNetBIOS = "netbiosDomain"
	// factServiceAccount is true on the account revoke binds as.
	factServiceAccount = "revokeServiceAccount"
)

var accountAttrs = []string{attrDN, attrSAM, attrUPN, attrUAC, attrAdminCount, attrMemberOf, attrPwdLastSet, attrObjectSid, attrObjectGUID}

// uacAccountDisable is userAccountControl's ACCOUNTDISABLE bit.
const uacAccountDisable = 0x2

// account is a user object as revoke reads it.
type account struct {
	DN         string
	SAM        string
	UPN        string
	UAC        int
	AdminCount int
	MemberOf   []string
	// PwdLastSet is the raw FILETIME (100 ns since 1601), "0" when the user
	// must change the password at next logon.
	PwdLastSet string
	// SID and GUID are objectSid and objectGUID in their string forms.
	SID, GUID string
}

func (a *account) disabled() bool { return a.UAC&uacAccountDisable != 0 }

// facts is the subject.ad document of the policy input, in plain JSON types
// because it goes to OPA and the journal. pwdLastSet stays a string: a
// FILETIME does not fit a float64's 53 bits.
func (a *account) facts() map[string]any {
	return map[string]any{
		attrDN:         a.DN,
		attrSAM:        a.SAM,
		attrUPN:        a.UPN,
		attrUAC:        a.UAC,
		"disabled":     a.disabled(),
		attrAdminCount: a.AdminCount,
		attrMemberOf:   anyList(a.MemberOf),
		attrPwdLastSet: a.PwdLastSet,
		attrObjectSid:  a.SID,
		attrObjectGUID: a.GUID,
	}
}

func accountFrom(e *ldap.Entry) (*account, error) {
	a := &account{
		DN:         e.DN,
		SAM:        e.GetAttributeValue(attrSAM),
		UPN:        e.GetAttributeValue(attrUPN),
		MemberOf:   e.GetAttributeValues(attrMemberOf),
		PwdLastSet: e.GetAttributeValue(attrPwdLastSet),
	}
	if dn := e.GetAttributeValue(attrDN); dn != "" {
		a.DN = dn
	}
	if a.MemberOf == nil {
		a.MemberOf = []string{}
	}
	a.SID, _ = decodeSID(e.GetRawAttributeValue(attrObjectSid))
	a.GUID = formatGUID(e.GetRawAttributeValue(attrObjectGUID))
	var err error
	if a.UAC, err = intAttr(e, attrUAC); err != nil {
		return nil, err
	}
	if a.AdminCount, err = intAttr(e, attrAdminCount); err != nil {
		return nil, err
	}
	return a, nil
}

// intAttr reads an integer attribute; absent is 0.
func intAttr(e *ldap.Entry, name string) (int, error) {
	v := e.GetAttributeValue(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, steps.Errorf(steps.Other, "%s of %s is %q, not an integer", name, e.DN, v)
	}
	return int(n), nil
}

// Resolve finds the account ref names and returns its facts (the subject.ad
// document). ref is a UPN, DOMAIN\user (the domain must be this one's
// NetBIOS name), a sAMAccountName, an objectGUID, a SID or a distinguished
// name under the base DN. No match is NotFound; more than one is Invalid,
// naming them, because acting on the wrong person is worse than acting on
// nobody.
func (c *Conn) Resolve(ctx context.Context, ref string) (map[string]any, error) {
	r, err := steps.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	switch r.Kind {
	case steps.RefDN:
		return c.resolveDN(ctx, r.Name)
	case steps.RefDomainUser:
		nb, err := c.netbios(ctx)
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(nb, r.Domain) {
			return nil, steps.Errorf(steps.Invalid, `subject reference %q names domain %s, but this environment's domain is %s: revoke acts only in the domain it is bound to`, r.Text, r.Domain, nb)
		}
	}
	filter, err := refFilter(r)
	if err != nil {
		return nil, err
	}
	a, err := c.search(ctx, fmt.Sprintf("%q", r.Text), filter)
	if err != nil {
		return nil, err
	}
	return c.factsOf(ctx, a, r.Kind == steps.RefDomainUser)
}

// factsOf is an account's facts, with the domain's NetBIOS name when it is
// known without another round trip (configured, or read already).
func (c *Conn) factsOf(ctx context.Context, a *account, readNetBIOS bool) (map[string]any, error) {
	f := a.facts()
	nb := c.cfg.netbios
	if nb == "" && readNetBIOS {
		var err error
		if nb, err = c.netbios(ctx); err != nil {
			return nil, err
		}
	}
	if nb != "" {
		f[factNetBIOS] = nb
	}
	if a.DN != "" && steps.EqualID(steps.IDDN, a.DN, c.cfg.bindDN) {
		// revoke's own service account: disabling it stops every run and
		// resume from then on, in the middle of an incident.
		f[factServiceAccount] = true
	}
	return f, nil
}

// resolveDN reads the account at a distinguished name under the base DN.
func (c *Conn) resolveDN(ctx context.Context, dn string) (map[string]any, error) {
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return nil, steps.Errorf(steps.Invalid, "subject reference %q is not a distinguished name: %v", dn, err)
	}
	base, err := ldap.ParseDN(c.cfg.baseDN)
	if err != nil {
		return nil, steps.Errorf(steps.Invalid, "ad base_dn %q is not a distinguished name: %v", c.cfg.baseDN, err)
	}
	if !base.AncestorOfFold(parsed) && !base.EqualFold(parsed) {
		return nil, steps.Errorf(steps.NotFound, "%s is not under %s", dn, c.cfg.baseDN)
	}
	a, err := c.read(ctx, dn)
	if err != nil {
		return nil, err
	}
	return c.factsOf(ctx, a, false)
}

// search finds the one account a filter matches; what names the search in
// messages.
func (c *Conn) search(ctx context.Context, what, filter string) (*account, error) {
	req := ldap.NewSearchRequest(c.cfg.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, 0, false, filter, accountAttrs, nil)
	var res *ldap.SearchResult
	err := c.do(ctx, true, func(lc *ldap.Conn) error {
		var err error
		res, err = lc.Search(req)
		return err
	})
	if err != nil {
		return nil, classify(fmt.Sprintf("find %s in %s", what, c.cfg.baseDN), "Read on the user objects", err)
	}
	switch len(res.Entries) {
	case 0:
		return nil, steps.Errorf(steps.NotFound, "no account in %s matches %s", c.cfg.baseDN, what)
	case 1:
		return accountFrom(res.Entries[0])
	}
	dns := make([]string, len(res.Entries))
	for i, e := range res.Entries {
		dns[i] = e.DN
	}
	slices.Sort(dns)
	return nil, steps.Errorf(steps.Invalid, "ambiguous: %s matches %d accounts: %s", what, len(dns), strings.Join(dns, ", "))
}

// refFilter builds the search filter for a parsed reference of any kind
// but a DN (read directly): each kind matches the one attribute it names, so
// a logon name never matches someone else's UPN.
func refFilter(r steps.Ref) (string, error) {
	switch r.Kind {
	case steps.RefGUID:
		guid, _ := parseGUID(r.Name)
		return userFilter("(objectGUID=" + escapeBytes(guid) + ")"), nil
	case steps.RefSID:
		sid, err := encodeSID(r.Name)
		if err != nil {
			return "", err
		}
		return userFilter("(objectSid=" + escapeBytes(sid) + ")"), nil
	case steps.RefDomainUser, steps.RefSAM:
		return userFilter("(sAMAccountName=" + ldap.EscapeFilter(r.Name) + ")"), nil
	}
	return userFilter("(userPrincipalName=" + ldap.EscapeFilter(r.Name) + ")"), nil
}

// parseGUID parses the string form of a GUID (01234567-89ab-cdef-0123-456789abcdef)
// into objectGUID's byte order: the first three groups little-endian.
func parseGUID(s string) ([]byte, bool) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return nil, false
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		return nil, false
	}
	slices.Reverse(b[0:4])
	slices.Reverse(b[4:6])
	slices.Reverse(b[6:8])
	return b, true
}

// escapeBytes renders a binary value for a filter: every byte as \xx.
func escapeBytes(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		fmt.Fprintf(&sb, `\%02x`, c)
	}
	return sb.String()
}

// read fetches the account at dn, fresh from the server: steps decide on
// current state, not on the facts resolved when the run started. Only a
// person's account: a computer object is a user too (objectClass), and a DN
// reference must never make revoke disable a domain controller.
func (c *Conn) read(ctx context.Context, dn string) (*account, error) {
	e, err := c.readUser(ctx, dn, "read "+dn, accountAttrs)
	if err != nil {
		return nil, err
	}
	return accountFrom(e)
}

// readUser reads attrs of the user entry at dn (a person's, as read
// says); op names the read in an error.
func (c *Conn) readUser(ctx context.Context, dn, op string, attrs []string) (*ldap.Entry, error) {
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, userFilter(""), attrs, nil)
	var res *ldap.SearchResult
	err := c.do(ctx, true, func(lc *ldap.Conn) error {
		var err error
		res, err = lc.Search(req)
		return err
	})
	if err != nil {
		return nil, classify(op, "Read on the user object", err)
	}
	if len(res.Entries) != 1 {
		return nil, steps.Errorf(steps.NotFound, "read %s: no such user", dn)
	}
	return res.Entries[0], nil
}

// modify sends one Modify request. retrySafe says whether sending it twice
// after a lost connection is harmless.
func (c *Conn) modify(ctx context.Context, req *ldap.ModifyRequest, retrySafe bool) error {
	return c.do(ctx, retrySafe, func(lc *ldap.Conn) error { return lc.Modify(req) })
}

// filetimeUnixEpoch is the Unix epoch as a FILETIME (100 ns since 1601).
const filetimeUnixEpoch = 116444736000000000

// filetime converts a FILETIME string (pwdLastSet) to a time; ok is false
// for 0 (must change at next logon), absent or malformed values.
func filetime(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	// Through the Unix epoch: 400 years of 100 ns overflow a Duration.
	n -= filetimeUnixEpoch
	return time.Unix(n/10_000_000, n%10_000_000*100).UTC(), true
}

// pwdLastSetText renders pwdLastSet for a human.
func pwdLastSetText(s string) string {
	if t, ok := filetime(s); ok {
		return t.UTC().Format(time.RFC3339)
	}
	if s == "0" {
		return "0, must change at next logon"
	}
	if s == "" {
		return "never set"
	}
	return s
}

// target is what every ad step starts from: its connection and the
// subject's DN.
func target(call *steps.Call) (*Conn, string, error) {
	c, ok := call.Conn.(*Conn)
	if !ok {
		return nil, "", steps.Errorf(steps.Invalid, "ad step %s got a %T, not the ad backend's connection", call.StepID, call.Conn)
	}
	if !call.Subject.Found("ad") {
		ref := ""
		if call.Subject != nil {
			ref = call.Subject.Ref
		}
		return nil, "", steps.Errorf(steps.NotFound, "subject %q was not found in Active Directory", ref)
	}
	dn := call.Subject.FactString("ad", attrDN)
	if dn == "" {
		return nil, "", steps.Errorf(steps.Invalid, "subject %q has no AD distinguishedName fact", call.Subject.Ref)
	}
	return c, dn, nil
}
