package sandbox

import (
	"encoding/hex"
	"slices"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// The contoso test domain's SIDs, as sid.go derives them from the DNs.
const (
	testDomainSID = "S-1-5-21-868624565-3596453579-779718632"
	adeleSID      = testDomainSID + "-687368810"
	salesSID      = testDomainSID + "-854599516"
)

// objectSid's binary form is AD's: revision 1, the count of
// sub-authorities, the identifier authority (5) as 6 big-endian bytes,
// each sub-authority as a little-endian uint32; and back.
func TestSIDEncoding(t *testing.T) {
	tests := []struct {
		sid, hex string
	}{
		{"S-1-5-21-1004336348-1177238915-682003330-512", "010500000000000515000000dcf4dc3b833d2b46828ba62800020000"},
		{adeleSID, "010500000000000515000000b528c633cb865dd6e88f792e6a6af828"},
		{"S-1-5-32-544", "01020000000000052000000020020000"}, // BUILTIN\Administrators
		{"S-1-1-0", "010100000000000100000000"},              // Everyone
	}
	for _, tc := range tests {
		b, ok := sidBytes(tc.sid)
		if !ok || hex.EncodeToString([]byte(b)) != tc.hex {
			t.Errorf("sidBytes(%s) = %x, %t; want %s", tc.sid, b, ok, tc.hex)
		}
		if s, ok := sidString(b); !ok || s != tc.sid {
			t.Errorf("sidString(%x) = %q, %t; want %s", b, s, ok, tc.sid)
		}
	}
	for _, bad := range []string{"", "S-1", "X-1-5-21", "S-1-5-21-4294967296", "S-1-281474976710656-1", "S-1-5-x"} {
		if b, ok := sidBytes(bad); ok {
			t.Errorf("sidBytes(%q) = %x, want not a SID", bad, b)
		}
	}
	if s, ok := sidString("\x01\x02\x00\x00\x00\x00\x00\x05"); ok {
		t.Errorf("a SID shorter than its count decoded as %q", s)
	}
}

// Every account and group has an objectSid in the domain's SID, found by
// the escaped binary form clients send (and by the string form AD also
// takes); distinguishedName is filterable like any DN attribute.
func TestLDAPObjectSidAndDistinguishedName(t *testing.T) {
	f := newLDAPFixture(t)
	c := f.bindSvc(t, "ldaps")
	res, err := c.Search(ldap.NewSearchRequest(baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(|(sAMAccountName=adele)(cn=Sales))", []string{"objectSid"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range res.Entries {
		s, _ := sidString(string(e.GetRawAttributeValue("objectSid")))
		got[e.DN] = s
	}
	if want := map[string]string{adeleDN: adeleSID, salesDN: salesSID}; len(got) != 2 || got[adeleDN] != adeleSID || got[salesDN] != salesSID {
		t.Errorf("objectSid: %v, want %v", got, want)
	}

	adeleBytes, _ := sidBytes(adeleSID)
	people := func(dns ...string) []string { slices.Sort(dns); return dns }
	tests := []struct {
		name, filter string
		want         []string
	}{
		{"objectSid by escaped bytes", "(objectSid=" + ldap.EscapeFilter(adeleBytes) + ")", people(adeleDN)},
		{"objectSid by every byte escaped", "(objectSid=" + hexEscape(adeleBytes) + ")", people(adeleDN)},
		{"objectSid by its string form", "(objectSid=" + adeleSID + ")", people(adeleDN)},
		{"a group's objectSid", "(objectSid=" + salesSID + ")", people(salesDN)},
		{"another domain's SID", "(objectSid=S-1-5-21-1-2-3-687368810)", nil},
		{"every account and group has one", "(&(|(objectClass=user)(objectClass=group))(!(objectSid=*)))", nil},
		{"distinguishedName", "(distinguishedName=" + adeleDN + ")", people(adeleDN)},
		{"distinguishedName in another case and spacing", "(distinguishedName=cn=adele vance, ou=staff, dc=contoso, dc=test)", people(adeleDN)},
		{"distinguishedName of a group", "(&(objectClass=group)(distinguishedName=" + salesDN + "))", people(salesDN)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := searchDNs(t, c, tt.filter); !slices.Equal(got, tt.want) {
				t.Errorf("%s\n got %q\nwant %q", tt.filter, got, tt.want)
			}
		})
	}
}

// hexEscape escapes every byte, as many clients write a binary assertion
// (ldap.EscapeFilter escapes only the bytes it must).
func hexEscape(b string) string {
	out := make([]byte, 0, 3*len(b))
	for i := 0; i < len(b); i++ {
		out = append(out, '\\', "0123456789abcdef"[b[i]>>4], "0123456789abcdef"[b[i]&15])
	}
	return string(out)
}

// The root DSE names the domain's and the configuration's naming contexts,
// and the domain's crossRef under CN=Partitions gives its NetBIOS name, as a
// client that turns DOMAIN\user into a DN asks AD; the domain's naming
// context does not reach into the configuration's.
func TestLDAPRootDSEAndCrossRef(t *testing.T) {
	f := newLDAPFixture(t)
	c := f.bindSvc(t, "starttls")
	res, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"defaultNamingContext", "configurationNamingContext"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("root DSE: %v, %d entries", err, len(res.Entries))
	}
	if got := res.Entries[0]; got.GetAttributeValue("defaultNamingContext") != baseDN ||
		got.GetAttributeValue("configurationNamingContext") != "CN=Configuration,"+baseDN {
		t.Errorf("root DSE: %v", got.Attributes)
	}

	partitions := "CN=Partitions,CN=Configuration," + baseDN
	crossRef := "CN=CONTOSO," + partitions
	tests := []struct {
		name, base string
		scope      int
		filter     string
		want       []string
	}{
		{"one level under Partitions", partitions, ldap.ScopeSingleLevel, "(&(objectClass=crossRef)(nCName=" + baseDN + "))", []string{crossRef}},
		{"subtree of the configuration", "CN=Configuration," + baseDN, ldap.ScopeWholeSubtree, "(&(objectClass=crossRef)(nCName=dc=contoso,dc=test))", []string{crossRef}},
		{"by NetBIOS name", partitions, ldap.ScopeWholeSubtree, "(nETBIOSName=contoso)", []string{crossRef}},
		{"another domain's nCName", partitions, ldap.ScopeSingleLevel, "(&(objectClass=crossRef)(nCName=DC=fabrikam,DC=test))", nil},
		{"the domain's subtree holds no configuration entry", baseDN, ldap.ScopeWholeSubtree, "(|(objectClass=crossRef)(objectClass=crossRefContainer)(objectClass=configuration))", nil},
		{"the domain's one level holds no CN=Configuration", baseDN, ldap.ScopeSingleLevel, "(cn=Configuration)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Search(ldap.NewSearchRequest(tt.base, tt.scope, ldap.NeverDerefAliases, 0, 0, false,
				tt.filter, []string{"nETBIOSName", "dnsRoot", "nCName"}, nil))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range res.Entries {
				got = append(got, e.DN)
				if e.GetAttributeValue("nETBIOSName") != "CONTOSO" || e.GetAttributeValue("dnsRoot") != "contoso.test" ||
					e.GetAttributeValue("nCName") != baseDN {
					t.Errorf("%s: %v", e.DN, e.Attributes)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
