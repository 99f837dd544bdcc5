package steps

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		in           string
		kind         RefKind
		domain, name string
		err          string
	}{
		{in: "adele@contoso.test", kind: RefUPN, name: "adele@contoso.test"},
		{in: "pat_fabrikam.com#EXT#@contoso.com", kind: RefUPN, name: "pat_fabrikam.com#EXT#@contoso.com"},
		{in: "  adele@contoso.test\t\n", kind: RefUPN, name: "adele@contoso.test"},
		{in: "4C6D2A8E-1F3B-4A5C-9D7E-0B1A2C3D4E01", kind: RefGUID, name: "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e01"},
		{in: "{4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e01}", kind: RefGUID, name: "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e01"},
		{in: `CONTOSO\adele`, kind: RefDomainUser, domain: "CONTOSO", name: "adele"},
		{in: `contoso\o'brien`, kind: RefDomainUser, domain: "contoso", name: "o'brien"},
		{in: "adele", kind: RefSAM, name: "adele"},
		{in: "CN=Adele Vance,OU=Staff,DC=contoso,DC=test", kind: RefDN, name: "CN=Adele Vance,OU=Staff,DC=contoso,DC=test"},
		{in: "cn=Vance\\, Adele,dc=contoso,dc=test", kind: RefDN, name: "cn=Vance\\, Adele,dc=contoso,dc=test"},
		{in: "s-1-5-21-1-2-3-1104", kind: RefSID, name: "S-1-5-21-1-2-3-1104"},
		{in: "", err: "empty subject reference"},
		{in: " \t ", err: "empty subject reference"},
		{in: `CONTOSO\evil\alex`, err: `subject reference "CONTOSO\\evil\\alex": a logon name (sAMAccountName) cannot contain "\\"`},
		{in: `CONTOSO\`, err: `subject reference "CONTOSO\\" names a domain but no user`},
		{in: `\alex`, err: `subject reference "\\alex": "" is not a NetBIOS domain name (DOMAIN\user takes at most 15 characters before the backslash, no dot or space)`},
		{in: `contoso.test\alex`, err: `subject reference "contoso.test\\alex": "contoso.test" is not a NetBIOS domain name (DOMAIN\user takes at most 15 characters before the backslash, no dot or space)`},
		{in: `CONTOSO\alex@contoso.test`, err: `subject reference "CONTOSO\\alex@contoso.test": DOMAIN\user takes a logon name after the backslash, not a UPN`},
		{in: "a@b@c", err: `subject reference "a@b@c" has more than one @`},
		{in: "@contoso.test", err: `subject reference "@contoso.test": a UPN needs a name before and a domain after the @`},
		{in: "adele @contoso.test", err: `subject reference "adele @contoso.test": a UPN has no white space`},
		{in: "ad\x00ele", err: `subject reference "ad\x00ele" has a control character at byte 2`},
		{in: "adele\u202e@contoso.test", err: `subject reference "adele\u202e@contoso.test" has a control character at byte 5`},
		{in: "ad\xffele", err: `subject reference "ad\xffele" is not valid UTF-8`},
		{in: "a*b", err: `subject reference "a*b": a logon name (sAMAccountName) cannot contain "*"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRef(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err || ClassOf(err) != Invalid {
					t.Fatalf("ParseRef(%q) = %+v, %v; want %q", tt.in, r, err, tt.err)
				}
				return
			}
			if err != nil || r.Kind != tt.kind || r.Domain != tt.domain || r.Name != tt.name || r.Text != strings.TrimSpace(tt.in) {
				t.Errorf("ParseRef(%q) = %+v, %v; want %s %q %q", tt.in, r, err, tt.kind, tt.domain, tt.name)
			}
		})
	}
}

func TestEqualID(t *testing.T) {
	tests := []struct {
		kind, a, b string
		want       bool
	}{
		{IDUPN, "Adele@Contoso.test", "adele@contoso.test", true},
		{IDDN, "CN=Adele Vance, OU=Staff, DC=contoso, DC=test", "cn=adele vance,ou=staff,dc=contoso,dc=test", true},
		{IDDN, `CN=Vance\, Adele,DC=x`, `CN=Vance\,Adele,DC=x`, false},
		{IDSID, "S-1-5-21-1-2-3-1104", "S-1-5-21-1-2-3-1105", false},
	}
	for _, tt := range tests {
		if got := EqualID(tt.kind, tt.a, tt.b); got != tt.want {
			t.Errorf("EqualID(%s, %q, %q) = %v", tt.kind, tt.a, tt.b, got)
		}
	}
}

// FuzzParseRef: whatever a person types, ParseRef either refuses it as
// Invalid or returns a reference with no control character, no
// surrounding space, a kind, and a name the backends can look up.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"adele@contoso.test", `CONTOSO\adele`, "adele", "CN=A,DC=b", "S-1-5-21-1-2-3-4",
		"{4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e01}", `CONTOSO\evil\alex`, " x ", "a\x1bb", "=,", `\`, "@", "S-1-", "cn=\\,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			if ClassOf(err) != Invalid {
				t.Fatalf("ParseRef(%q): %v is not Invalid", s, err)
			}
			return
		}
		if r.Kind == "" || r.Name == "" || r.Text != strings.TrimSpace(r.Text) || !utf8.ValidString(r.Text) {
			t.Fatalf("ParseRef(%q) = %+v", s, r)
		}
		if strings.ContainsFunc(r.Text, func(c rune) bool { return unicode.IsControl(c) || unicode.Is(unicode.Cf, c) }) {
			t.Fatalf("ParseRef(%q) kept a control character: %+v", s, r)
		}
		if r.Kind == RefDomainUser && (strings.Contains(r.Name, `\`) || r.Domain == "") {
			t.Fatalf("ParseRef(%q) = %+v: a second backslash or no domain", s, r)
		}
		if again, err := ParseRef(r.Text); err != nil || again != r {
			t.Fatalf("ParseRef is not stable on its own output: %q → %+v → %+v, %v", s, r, again, err)
		}
	})
}
