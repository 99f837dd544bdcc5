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
)

var accountAttrs = []string{attrDN, attrSAM, attrUPN, attrUAC, attrAdminCount, attrMemberOf, attrPwdLastSet}

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
// document). ref is a UPN (adele@contoso.com), DOMAIN\user, a
// sAMAccountName, or an objectGUID in its string form. No match is NotFound;
// more than one is Invalid, naming them, because acting on the wrong person
// is worse than acting on nobody.
func (c *Conn) Resolve(ctx context.Context, ref string) (map[string]any, error) {
	a, err := c.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	return a.facts(), nil
}

func (c *Conn) resolve(ctx context.Context, ref string) (*account, error) {
	filter, err := refFilter(ref)
	if err != nil {
		return nil, err
	}
	req := ldap.NewSearchRequest(c.cfg.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, 0, false, filter, accountAttrs, nil)
	var res *ldap.SearchResult
	err = c.do(ctx, true, func(lc *ldap.Conn) error {
		var err error
		res, err = lc.Search(req)
		return err
	})
	if err != nil {
		return nil, classify(fmt.Sprintf("find %q in %s", ref, c.cfg.baseDN), "Read on the user objects", err)
	}
	switch len(res.Entries) {
	case 0:
		return nil, steps.Errorf(steps.NotFound, "no account in %s matches %q", c.cfg.baseDN, ref)
	case 1:
		return accountFrom(res.Entries[0])
	}
	dns := make([]string, len(res.Entries))
	for i, e := range res.Entries {
		dns[i] = e.DN
	}
	slices.Sort(dns)
	return nil, steps.Errorf(steps.Invalid, "ambiguous: %s matches %d accounts: %s", ref, len(dns), strings.Join(dns, ", "))
}

// refFilter builds the search filter for a subject reference.
func refFilter(ref string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", steps.Errorf(steps.Invalid, "empty subject reference")
	}
	if guid, ok := parseGUID(ref); ok {
		return "(&(objectCategory=person)(objectClass=user)(objectGUID=" + escapeBytes(guid) + "))", nil
	}
	if !strings.Contains(ref, "@") {
		if _, user, ok := strings.Cut(ref, `\`); ok {
			// DOMAIN\user: the NetBIOS domain is the one we are bound to;
			// the part after the backslash is the sAMAccountName.
			if user == "" {
				return "", steps.Errorf(steps.Invalid, "subject reference %q names a domain but no user", ref)
			}
			ref = user
		}
	}
	r := ldap.EscapeFilter(ref)
	return "(&(objectCategory=person)(objectClass=user)(|(userPrincipalName=" + r + ")(sAMAccountName=" + r + ")))", nil
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
// current state, not on the facts resolved when the run started.
func (c *Conn) read(ctx context.Context, dn string) (*account, error) {
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=user)", accountAttrs, nil)
	var res *ldap.SearchResult
	err := c.do(ctx, true, func(lc *ldap.Conn) error {
		var err error
		res, err = lc.Search(req)
		return err
	})
	if err != nil {
		return nil, classify("read "+dn, "Read on the user object", err)
	}
	if len(res.Entries) != 1 {
		return nil, steps.Errorf(steps.NotFound, "read %s: no such user", dn)
	}
	return accountFrom(res.Entries[0])
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
