package sandbox

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// modifyDNOp builds a ModifyDNRequest as RFC 4511 §4.9 has it (and as
// go-ldap encodes it), then sends it through the wire format and back.
func modifyDNOp(t testing.TB, entry, newRDN string, deleteOld any, superior *string, extra ...*ber.Packet) *ber.Packet {
	t.Helper()
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationModifyDNRequest, nil, "Modify DN Request")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, entry, "DN"))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, newRDN, "New RDN"))
	switch v := deleteOld.(type) {
	case bool:
		op.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, v, "Delete old RDN"))
	case string:
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, "not a boolean"))
	}
	if superior != nil {
		op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, *superior, "New Superior"))
	}
	for _, e := range extra {
		op.AppendChild(e)
	}
	back, err := ber.ReadPacket(bytes.NewReader(op.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return back
}

func TestDecodeModifyDN(t *testing.T) {
	ou := "OU=Leavers,DC=contoso,DC=test"
	junk := ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "x", "junk")
	wrongTag := ber.NewString(ber.ClassContext, ber.TypePrimitive, 1, ou, "New Superior as [1]")
	tests := []struct {
		name string
		op   *ber.Packet
		want modifyDNRequest
		ok   bool
	}{
		{"a move: entry, RDN, delete the old one, new superior", modifyDNOp(t, adeleDN, "CN=Adele Vance", true, &ou),
			modifyDNRequest{entry: adeleDN, newRDN: "CN=Adele Vance", deleteOldRDN: true, newSuperior: ou, hasSuperior: true}, true},
		{"a rename: no new superior", modifyDNOp(t, adeleDN, "CN=Adele Smith", false, nil),
			modifyDNRequest{entry: adeleDN, newRDN: "CN=Adele Smith"}, true},
		{"an empty new superior is still given", modifyDNOp(t, adeleDN, "CN=A", true, new(string)),
			modifyDNRequest{entry: adeleDN, newRDN: "CN=A", deleteOldRDN: true, hasSuperior: true}, true},
		{"deleteoldrdn is not a boolean", modifyDNOp(t, adeleDN, "CN=A", "TRUE", nil), modifyDNRequest{}, false},
		{"no deleteoldrdn", modifyDNOp(t, adeleDN, "CN=A", nil, nil), modifyDNRequest{}, false},
		{"the new superior under another tag", modifyDNOp(t, adeleDN, "CN=A", true, nil, wrongTag), modifyDNRequest{}, false},
		{"a fifth element", modifyDNOp(t, adeleDN, "CN=A", true, &ou, junk), modifyDNRequest{}, false},
		{"another operation", ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationModifyRequest, nil, ""),
			modifyDNRequest{}, false},
		{"nothing", nil, modifyDNRequest{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeModifyDN(tt.op)
			if (err == nil) != tt.ok {
				t.Fatalf("decodeModifyDN: %v, want ok %t", err, tt.ok)
			}
			if tt.ok && got != tt.want {
				t.Errorf("decodeModifyDN = %+v, want %+v", got, tt.want)
			}
			if !tt.ok && err != errMalformedModifyDN {
				t.Errorf("error %v, want %v", err, errMalformedModifyDN)
			}
		})
	}
}

// FuzzDecodeModifyDN: whatever a client sends where a ModifyDN request
// goes, the door's decoding returns rather than panicking.
func FuzzDecodeModifyDN(f *testing.F) {
	ou := "OU=Leavers,DC=contoso,DC=test"
	f.Add(modifyDNOp(f, adeleDN, "CN=Adele Vance", true, &ou).Bytes())
	f.Add(modifyDNOp(f, adeleDN, "CN=x", "no", nil).Bytes())
	f.Add([]byte{0x6c, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ber.ReadPacket(bytes.NewReader(b))
		if err != nil {
			return
		}
		_, _ = decodeModifyDN(p)
	})
}

// dnEntry reads attrs of the entry at dn (nil when it does not exist).
func dnEntry(t *testing.T, c *ldap.Conn, dn string, attrs ...string) *ldap.Entry {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", attrs, nil))
	if ldapCode(err) == ldap.LDAPResultNoSuchObject {
		return nil
	}
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s: %v", dn, err)
	}
	return res.Entries[0]
}

func TestLDAPModifyDNMovesAnAccountKeepingWhatADKeeps(t *testing.T) {
	for _, mode := range secureModes {
		t.Run(mode, func(t *testing.T) {
			f := newLDAPFixture(t)
			c := f.bindSvc(t, mode)
			attrs := []string{"objectGUID", "objectSid", "memberOf", "cn", "name", "sAMAccountName", "userAccountControl"}
			before := dnEntry(t, c, adeleDN, attrs...)
			leavers := "OU=Former,OU=Staff,DC=contoso,DC=test"
			moved := "CN=Adele Vance," + leavers
			// The RDN and OU as a client may spell them: the DN comes out
			// as the directory spells its OU.
			if err := c.ModifyDN(ldap.NewModifyDNRequest(adeleDN, "cn=Adele Vance", true, "ou=former,ou=staff,dc=contoso,dc=test")); err != nil {
				t.Fatalf("ModifyDN: %v", err)
			}
			if e := dnEntry(t, c, adeleDN); e != nil {
				t.Errorf("%s still exists", adeleDN)
			}
			after := dnEntry(t, c, moved, append(attrs, "distinguishedName")...)
			if after == nil {
				t.Fatalf("%s does not exist after the move", moved)
			}
			if got := after.GetAttributeValue("distinguishedName"); got != moved || after.DN != moved {
				t.Errorf("distinguishedName = %q (entry %q), want %q", got, after.DN, moved)
			}
			for _, a := range attrs {
				if b, g := before.GetRawAttributeValues(a), after.GetRawAttributeValues(a); fmt.Sprint(b) != fmt.Sprint(g) {
					t.Errorf("%s changed: %q → %q", a, b, g)
				}
			}
			if got := dnEntry(t, c, salesDN, "member").GetAttributeValues("member"); !slices.Contains(got, moved) || slices.Contains(got, adeleDN) {
				t.Errorf("Sales members = %q, want %s instead of %s", got, moved, adeleDN)
			}
			// A search by the GUID (how ad.move_to_ou finds a moved account) finds it.
			res, err := c.Search(ldap.NewSearchRequest(baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
				"(objectGUID="+ldap.EscapeFilter(before.GetAttributeValue("objectGUID"))+")", []string{"1.1"}, nil))
			if err != nil || len(res.Entries) != 1 || res.Entries[0].DN != moved {
				t.Errorf("search by objectGUID: %v, %v; want %s", err, res, moved)
			}
			want := "modifydn " + adeleDN + " 0 newrdn=cn=Adele Vance deleteoldrdn=true newsuperior=ou=former,ou=staff,dc=contoso,dc=test"
			if got := logLines(f, "modifydn"); !slices.Equal(got, []string{want}) {
				t.Errorf("log = %q, want %q", got, want)
			}

			// A rename in place: cn and name follow, the rest stays.
			renamed := "CN=Adele Smith," + leavers
			if err := c.ModifyDN(ldap.NewModifyDNRequest(moved, "CN=Adele Smith", true, "")); err != nil {
				t.Fatalf("rename: %v", err)
			}
			e := dnEntry(t, c, renamed, "cn", "name", "objectGUID", "sAMAccountName")
			if e == nil || e.GetAttributeValue("cn") != "Adele Smith" || e.GetAttributeValue("name") != "Adele Smith" ||
				e.GetAttributeValue("sAMAccountName") != "adele" || e.GetAttributeValue("objectGUID") != before.GetAttributeValue("objectGUID") {
				t.Errorf("after the rename: %+v", e)
			}
			// The account still binds by its new DN.
			u := f.dial(t, mode)
			if err := u.Bind(renamed, testAdelePassword); err != nil {
				t.Errorf("bind at the new DN: %v", err)
			}
		})
	}
}

// logLines lists the log's entries of one method as "method path status detail".
func logLines(f *ldapFixture, method string) []string {
	var out []string
	for _, e := range f.log.Entries() {
		if e.Method == method {
			out = append(out, fmt.Sprintf("%s %s %d %s", e.Method, e.Path, e.Status, e.Detail))
		}
	}
	return out
}

func TestLDAPModifyDNRefusals(t *testing.T) {
	staff := "OU=Staff,DC=contoso,DC=test"
	tests := []struct {
		name      string
		as        string // "svc", "adele", "anonymous"
		req       *ldap.ModifyDNRequest
		code      uint16
		matched   string
		diag      string
		unchanged string // a DN that must still exist
	}{
		{"the new superior does not exist", "svc", ldap.NewModifyDNRequest(adeleDN, "CN=Adele Vance", true, "OU=Nowhere,DC=contoso,DC=test"),
			32, baseDN, diagNoSuchObject(baseDN), adeleDN},
		{"the new superior's parent does not exist either", "svc", ldap.NewModifyDNRequest(adeleDN, "CN=Adele Vance", true, "OU=A,OU=B,OU=Staff,DC=contoso,DC=test"),
			32, staff, diagNoSuchObject(staff), adeleDN},
		{"the entry does not exist", "svc", ldap.NewModifyDNRequest("CN=Nobody,OU=Staff,DC=contoso,DC=test", "CN=Nobody", true, staff),
			32, staff, diagNoSuchObject(staff), adeleDN},
		{"the new DN is taken", "svc", ldap.NewModifyDNRequest(alexDN, "CN=Adele Vance", true, ""),
			68, "", diagEntryExists, alexDN},
		{"the new DN is taken, spelled otherwise", "svc", ldap.NewModifyDNRequest(meganDN, "cn=ADELE VANCE", true, "ou=staff,DC=contoso,DC=test"),
			68, "", diagEntryExists, meganDN},
		{"the old RDN kept", "svc", ldap.NewModifyDNRequest(adeleDN, "CN=Adele Vance", false, "OU=Former,"+staff),
			53, "", diagOldRDN, adeleDN},
		{"an RDN other than cn", "svc", ldap.NewModifyDNRequest(adeleDN, "OU=Adele", true, ""),
			64, "", diagNamingViolation(adeleDN), adeleDN},
		{"under a user", "svc", ldap.NewModifyDNRequest(adeleDN, "CN=Adele Vance", true, alexDN),
			64, "", diagNamingViolation(alexDN), adeleDN},
		{"into the configuration partition", "svc", ldap.NewModifyDNRequest(adeleDN, "CN=Adele Vance", true, "CN=Partitions,CN=Configuration,DC=contoso,DC=test"),
			64, "", diagNamingViolation("CN=Partitions,CN=Configuration,DC=contoso,DC=test"), adeleDN},
		{"a group", "svc", ldap.NewModifyDNRequest(salesDN, "CN=Sales", true, staff),
			53, "", diagWillNotPerform, salesDN},
		{"an OU", "svc", ldap.NewModifyDNRequest("OU=Former,"+staff, "OU=Gone", true, ""),
			53, "", diagWillNotPerform, meganDN},
		{"not a DN", "svc", ldap.NewModifyDNRequest("not a DN", "CN=x", true, staff),
			34, "", diagInvalidDN("not a DN"), adeleDN},
		{"a new RDN that is two", "svc", ldap.NewModifyDNRequest(adeleDN, "CN=a,CN=b", true, staff),
			34, "", diagInvalidDN("CN=a,CN=b"), adeleDN},
		{"a user moving itself", "adele", ldap.NewModifyDNRequest(adeleDN, "CN=Adele Vance", true, "OU=Former,"+staff),
			50, "", diagInsufficientAccess, adeleDN},
		{"an anonymous client", "anonymous", ldap.NewModifyDNRequest(adeleDN, "CN=Adele Vance", true, "OU=Former,"+staff),
			1, "", diagBindRequired, adeleDN},
	}
	f := newLDAPFixture(t)
	svc := f.bindSvc(t, "ldaps")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.dial(t, "ldaps")
			switch tt.as {
			case "svc":
				c = svc
			case "adele":
				if err := c.Bind(adeleDN, testAdelePassword); err != nil {
					t.Fatal(err)
				}
			}
			err := c.ModifyDN(tt.req)
			var le *ldap.Error
			if !errors.As(err, &le) || le.ResultCode != tt.code || ldapDiag(err) != tt.diag || le.MatchedDN != tt.matched {
				t.Fatalf("ModifyDN = %v; want %d %q matched %q", err, tt.code, tt.diag, tt.matched)
			}
			if dnEntry(t, svc, tt.unchanged) == nil {
				t.Errorf("%s is gone", tt.unchanged)
			}
		})
	}
}

// An OU stays when a move takes its last account away, as AD's would.
func TestLDAPModifyDNLeavesTheEmptiedOU(t *testing.T) {
	f := newLDAPFixture(t)
	c := f.bindSvc(t, "starttls")
	former := "OU=Former,OU=Staff,DC=contoso,DC=test"
	if err := c.ModifyDN(ldap.NewModifyDNRequest(meganDN, "CN=Megan Bowen", true, "OU=Staff,DC=contoso,DC=test")); err != nil {
		t.Fatalf("ModifyDN: %v", err)
	}
	e := dnEntry(t, c, former, "objectClass")
	if e == nil || !slices.Equal(e.GetAttributeValues("objectClass"), []string{"top", "organizationalUnit"}) {
		t.Fatalf("%s after its last account left: %+v", former, e)
	}
	// And it takes the account back.
	if err := c.ModifyDN(ldap.NewModifyDNRequest("CN=Megan Bowen,OU=Staff,DC=contoso,DC=test", "CN=Megan Bowen", true, former)); err != nil {
		t.Fatalf("ModifyDN back: %v", err)
	}
	if dnEntry(t, c, meganDN) == nil {
		t.Errorf("%s missing after the move back", meganDN)
	}
}

// The default seed's OU for leavers is served as an organizationalUnit.
func TestLDAPDefaultSeedHasALeaversOU(t *testing.T) {
	tenant, err := Start(t.Context(), DefaultSeed(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tenant.Close()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(tenant.CAPEM())
	c, err := ldap.DialURL(tenant.LDAPSURL(), ldap.DialWithTLSConfig(&tls.Config{RootCAs: roots}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	svc := DefaultSeed().AD.ServiceAccounts[0]
	if err := c.Bind(svc.DN, svc.Password); err != nil {
		t.Fatal(err)
	}
	e := dnEntry(t, c, "OU=Leavers,DC=contoso,DC=test", "objectClass", "ou")
	if e == nil || !slices.Equal(e.GetAttributeValues("objectClass"), []string{"top", "organizationalUnit"}) || e.GetAttributeValue("ou") != "Leavers" {
		t.Fatalf("OU=Leavers: %+v", e)
	}
}

func TestLDAPModifyNotes(t *testing.T) {
	long := strings.Repeat("é", maxNoteLength)
	type change struct {
		op   string // "replace", "add", "delete"
		vals []string
	}
	tests := []struct {
		name    string
		attr    string
		start   string // the value before, written first ("" none)
		changes []change
		code    uint16
		diag    string
		want    []string
	}{
		{"replace sets description", "description", "", []change{{"replace", []string{"Leaver 2025-03-05"}}}, 0, "", []string{"Leaver 2025-03-05"}},
		{"replace sets info", "info", "", []change{{"replace", []string{"ticket INC42"}}}, 0, "", []string{"ticket INC42"}},
		{"replace overwrites", "info", "old", []change{{"replace", []string{"new"}}}, 0, "", []string{"new"}},
		{"replace with nothing removes", "description", "old", []change{{"replace", nil}}, 0, "", nil},
		{"delete removes", "info", "old", []change{{"delete", nil}}, 0, "", nil},
		{"delete of the value removes", "info", "old", []change{{"delete", []string{"old"}}}, 0, "", nil},
		{"delete then add replaces", "description", "old", []change{{"delete", []string{"old"}}, {"add", []string{"new"}}}, 0, "", []string{"new"}},
		{"add when absent sets", "description", "", []change{{"add", []string{"first"}}}, 0, "", []string{"first"}},
		{"1024 characters fit", "info", "", []change{{"replace", []string{long}}}, 0, "", []string{long}},
		{"1025 characters do not", "info", "", []change{{"replace", []string{long + "x"}}},
			19, diagAtt("00002082", "1005 (CONSTRAINT_ATT_TYPE)", "info"), nil},
		{"a description over 1024 characters", "description", "kept", []change{{"replace", []string{long + "x"}}},
			19, "00002082: AtrErr: DSID-03151818, #1:\n\t0: 00002082: DSID-03151818, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att d (description)\n", []string{"kept"}},
		{"two descriptions", "description", "", []change{{"replace", []string{"a", "b"}}},
			19, diagAtt("00002081", "1005 (CONSTRAINT_ATT_TYPE)", "description"), nil},
		{"add a second value", "info", "old", []change{{"add", []string{"new"}}},
			19, diagAtt("00002081", "1005 (CONSTRAINT_ATT_TYPE)", "info"), []string{"old"}},
		{"add the same value", "info", "old", []change{{"add", []string{"old"}}},
			20, diagAtt("00002083", "1006 (ATT_OR_VALUE_EXISTS)", "info"), []string{"old"}},
		{"delete what is not there", "description", "", []change{{"delete", nil}},
			16, diagAtt("00002080", "1001 (NO_ATTRIBUTE_OR_VAL)", "description"), nil},
		{"delete another value", "description", "old", []change{{"delete", []string{"other"}}},
			16, diagAtt("00002080", "1001 (NO_ATTRIBUTE_OR_VAL)", "description"), []string{"old"}},
		{"an empty value", "info", "", []change{{"replace", []string{""}}}, 21, diagAttrConversion, nil},
		{"a failed change leaves the first undone", "info", "old",
			[]change{{"replace", []string{"new"}}, {"add", []string{"second"}}},
			19, diagAtt("00002081", "1005 (CONSTRAINT_ATT_TYPE)", "info"), []string{"old"}},
	}
	f := newLDAPFixture(t)
	c := f.bindSvc(t, "ldaps")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reset := ldap.NewModifyRequest(adeleDN, nil)
			reset.Replace(tt.attr, nil)
			if tt.start != "" {
				reset = ldap.NewModifyRequest(adeleDN, nil)
				reset.Replace(tt.attr, []string{tt.start})
			}
			if err := c.Modify(reset); err != nil {
				t.Fatalf("set up: %v", err)
			}
			req := ldap.NewModifyRequest(adeleDN, nil)
			for _, ch := range tt.changes {
				switch ch.op {
				case "replace":
					req.Replace(tt.attr, ch.vals)
				case "add":
					req.Add(tt.attr, ch.vals)
				case "delete":
					req.Delete(tt.attr, ch.vals)
				}
			}
			err := c.Modify(req)
			if uint16(ldapCode(err)) != tt.code || ldapDiag(err) != tt.diag {
				t.Fatalf("Modify = %v; want %d %q", err, tt.code, tt.diag)
			}
			if got := dnEntry(t, c, adeleDN, tt.attr).GetAttributeValues(tt.attr); !slices.Equal(got, tt.want) {
				t.Errorf("%s = %q, want %q", tt.attr, got, tt.want)
			}
		})
	}
}

func TestLDAPModifyNotesNeedsTheServiceAccount(t *testing.T) {
	f := newLDAPFixture(t)
	adele := f.dial(t, "ldaps")
	if err := adele.Bind(adeleDN, testAdelePassword); err != nil {
		t.Fatal(err)
	}
	svc := f.bindSvc(t, "ldaps")
	tests := []struct {
		name string
		c    *ldap.Conn
		dn   string
		code int
		diag string
	}{
		{"a user on itself", adele, adeleDN, 50, diagInsufficientAccess},
		{"a user on another", adele, alexDN, 50, diagInsufficientAccess},
		{"the service account on a group", svc, salesDN, 53, diagWillNotPerform},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := ldap.NewModifyRequest(tt.dn, nil)
			req.Replace("info", []string{"note"})
			if err := tt.c.Modify(req); ldapCode(err) != tt.code || ldapDiag(err) != tt.diag {
				t.Errorf("Modify = %v; want %d %q", err, tt.code, tt.diag)
			}
		})
	}
	// A note is searchable and listed with "*".
	req := ldap.NewModifyRequest(alexDN, nil)
	req.Replace("description", []string{"Leaver (ticket INC7)"})
	if err := svc.Modify(req); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Search(ldap.NewSearchRequest(baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(description=Leaver*)", []string{"*"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].DN != alexDN ||
		res.Entries[0].GetAttributeValue("description") != "Leaver (ticket INC7)" {
		t.Errorf("search by description: %v %+v", err, res)
	}
}
