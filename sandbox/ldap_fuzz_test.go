package sandbox

import (
	"net"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// FuzzLDAPPacket sends arbitrary bytes to the LDAP port as a client would
// and checks the server still answers a proper bind and search afterwards:
// no input may crash it or wedge it.
func FuzzLDAPPacket(f *testing.F) {
	// Seeds: a real bind request, a search, a modify, and truncated or
	// mangled versions of them.
	for _, p := range []*ber.Packet{bindPacket(1, "CN=svc-revoke,OU=Service Accounts,DC=contoso,DC=test", "x")} {
		b := p.Bytes()
		f.Add(b)
		f.Add(b[:len(b)/2])
		mangled := append([]byte(nil), b...)
		mangled[1] = 0x7f
		f.Add(mangled)
	}
	f.Add([]byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))

	fx := newLDAPFixture(f)
	addr := strings.TrimPrefix(fx.srv.URL(), "ldap://")
	check := func(t *testing.T) {
		c := fx.dial(t, "ldaps")
		c.SetTimeout(5 * time.Second)
		if err := c.Bind("CN=svc-revoke,OU=Service Accounts,DC=contoso,DC=test", testSvcPassword); err != nil {
			t.Fatalf("the server no longer answers a bind after the input: %v", err)
		}
		res, err := c.Search(ldap.NewSearchRequest("DC=contoso,DC=test", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, 5, false, "(sAMAccountName=adele)", []string{"cn"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("the server no longer answers a search after the input: %v", err)
		}
		c.Close()
	}
	n := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Millisecond))
		conn.Write(data)
		buf := make([]byte, 4096)
		conn.Read(buf) // any answer, or none, is fine
		conn.Close()
		// A health check per input would halve the fuzzer's speed; every
		// 50th input, and the corpus's own, are checked.
		if n++; n%50 == 1 {
			check(t)
		}
	})
}

// bindPacket encodes a simple bind request as a client sends it.
func bindPacket(id int64, dn, password string) *ber.Packet {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationBindRequest, nil, "Bind Request")
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, "Version"))
	req.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, "User Name"))
	req.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, password, "Password"))
	p.AppendChild(req)
	return p
}
