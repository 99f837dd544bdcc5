package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/jimlambrt/gldap"
)

// testLDAPCA is a throwaway CA and the server certificate it signed for
// 127.0.0.1 and localhost, made per test so the tests do not lean on the
// tenant's certs.go.
type testLDAPCA struct {
	pem    []byte
	pool   *x509.CertPool
	server *tls.Config
}

func newTestLDAPCA(t testing.TB) *testLDAPCA {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ldap test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &testLDAPCA{
		pem:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pool: pool,
		server: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		},
	}
}

// Passwords of the test directory's accounts.
const (
	testSvcPassword   = "Svc-Pa55word-1"
	testAdelePassword = "Adele-Pa55word-1"
	testMeganPassword = "Megan-Pa55word-1"
)

var testPwdLastSet = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// newTestLDAPDirectory builds, by hand, a small domain: staff in OU=Staff
// (one disabled, in a nested OU), a protected admin under CN=Users, the
// service account revoke binds as, and nested groups.
func newTestLDAPDirectory() *Directory {
	adele := &ADAccount{DN: "CN=Adele Vance,OU=Staff,DC=contoso,DC=test", SAMAccountName: "adele",
		UserPrincipalName: "adele@contoso.com", DisplayName: "Adele Vance", GivenName: "Adele", Surname: "Vance",
		UserAccountControl: 512, Password: testAdelePassword, PwdLastSet: testPwdLastSet,
		ObjectGUID: "00112233-4455-6677-8899-aabbccddeeff"}
	alex := &ADAccount{DN: "CN=Alex Wilber,OU=Staff,DC=contoso,DC=test", SAMAccountName: "alexw",
		UserPrincipalName: "alexw@contoso.com", DisplayName: "Alex Wilber", GivenName: "Alex", Surname: "Wilber",
		UserAccountControl: 66048, Password: "Alex-Pa55word-1"}
	megan := &ADAccount{DN: "CN=Megan Bowen,OU=Former,OU=Staff,DC=contoso,DC=test", SAMAccountName: "meganb",
		UserPrincipalName: "meganb@contoso.com", DisplayName: "Megan Bowen", GivenName: "Megan", Surname: "Bowen",
		UserAccountControl: 514, Password: testMeganPassword, PwdLastSet: testPwdLastSet}
	admin := &ADAccount{DN: "CN=Break Glass,CN=Users,DC=contoso,DC=test", SAMAccountName: "breakglass",
		UserPrincipalName: "breakglass@contoso.com", DisplayName: "Break Glass",
		UserAccountControl: 512, AdminCount: 1, Password: "Break-Gla55-Pw"}
	svc := &ADAccount{DN: "CN=svc-revoke,OU=Service Accounts,DC=contoso,DC=test", SAMAccountName: "svc-revoke",
		UserPrincipalName: "svc-revoke@contoso.test", DisplayName: "revoke service", UserAccountControl: 66048,
		Password: testSvcPassword}
	return &Directory{
		BaseDN:  "DC=contoso,DC=test",
		NetBIOS: "CONTOSO",
		Users: []*User{
			{ID: "u-adele", UserPrincipalName: "adele@contoso.com", InCloud: true, AD: adele},
			{ID: "u-alex", UserPrincipalName: "alexw@contoso.com", InCloud: true, AD: alex},
			{ID: "u-megan", UserPrincipalName: "meganb@contoso.com", AD: megan},
			{ID: "u-admin", UserPrincipalName: "breakglass@contoso.com", InCloud: true, AD: admin},
			{ID: "u-cloud", UserPrincipalName: "cloudonly@contoso.com", InCloud: true},
		},
		ServiceAccounts: []*ADAccount{svc},
		ADGroups: []*ADGroup{
			{DN: "CN=Sales,OU=Groups,DC=contoso,DC=test", CN: "Sales", Members: []string{adele.DN, alex.DN}},
			{DN: "CN=All Staff,OU=Groups,DC=contoso,DC=test", CN: "All Staff",
				Members: []string{"CN=Sales,OU=Groups,DC=contoso,DC=test"}},
			{DN: "CN=Domain Admins,CN=Users,DC=contoso,DC=test", CN: "Domain Admins", Members: []string{admin.DN}},
		},
	}
}

// ldapFixture is a running server on the test directory.
type ldapFixture struct {
	dir *Directory
	log *RequestLog
	srv *ldapServer
	ca  *testLDAPCA
}

func newLDAPFixture(t testing.TB) *ldapFixture {
	t.Helper()
	f := &ldapFixture{dir: newTestLDAPDirectory(), log: NewRequestLog(nil), ca: newTestLDAPCA(t)}
	srv, err := startLDAP(f.dir, f.ca.server, f.log)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return f
}

// clientTLS is what a careful client sets: our CA, verified. StartTLS
// needs ServerName too, since go-ldap's StartTLS does not fill it in.
func (f *ldapFixture) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: f.ca.pool, ServerName: "127.0.0.1"}
}

// dial opens a client connection: mode "ldaps", "starttls" or "plain".
func (f *ldapFixture) dial(t testing.TB, mode string) *ldap.Conn {
	t.Helper()
	var c *ldap.Conn
	var err error
	switch mode {
	case "ldaps":
		c, err = ldap.DialURL(f.srv.LDAPSURL(), ldap.DialWithTLSConfig(&tls.Config{RootCAs: f.ca.pool}))
	case "starttls":
		c, err = ldap.DialURL(f.srv.URL())
		if err == nil {
			err = c.StartTLS(f.clientTLS())
		}
	case "plain":
		c, err = ldap.DialURL(f.srv.URL())
	default:
		t.Fatalf("unknown dial mode %q", mode)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", mode, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// bindSvc dials and binds as the service account.
func (f *ldapFixture) bindSvc(t testing.TB, mode string) *ldap.Conn {
	t.Helper()
	c := f.dial(t, mode)
	if err := c.Bind("CN=svc-revoke,OU=Service Accounts,DC=contoso,DC=test", testSvcPassword); err != nil {
		t.Fatalf("bind svc: %v", err)
	}
	return c
}

// ldapCode is the LDAP result code of err (0 for nil, -1 for a non-LDAP error).
func ldapCode(err error) int {
	if err == nil {
		return 0
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		return int(le.ResultCode)
	}
	return -1
}

// ldapDiag is the server's diagnostic message in err.
func ldapDiag(err error) string {
	var le *ldap.Error
	if errors.As(err, &le) && le.Err != nil {
		return le.Err.Error()
	}
	return ""
}

// encodePwd is how clients send unicodePwd: quoted, UTF-16LE.
func encodePwd(pw string) string {
	q := `"` + pw + `"`
	b := make([]byte, 0, 2*len(q))
	for _, r := range q {
		b = append(b, byte(r), byte(r>>8))
	}
	return string(b)
}

// modifyMessage is a one-change modify request as gldap decodes it: the
// values still BER-encoded, concatenated in one string.
func modifyMessage(dn string, op int64, attr string, vals ...string) *gldap.ModifyMessage {
	var enc []byte
	for _, v := range vals {
		enc = append(enc, ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, "").Bytes()...)
	}
	return &gldap.ModifyMessage{DN: dn, Changes: []gldap.Change{
		{Operation: op, Modification: gldap.PartialAttribute{Type: attr, Vals: []string{string(enc)}}},
	}}
}
