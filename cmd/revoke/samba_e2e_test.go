package main

// End-to-end against a real domain controller: the sandbox serves Entra ID,
// Samba (started by scripts/test, REVOKE_SAMBA) serves AD, and revoke links
// a synced user to their Samba account through the SID alone.

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
)

// sambaConfig is what scripts/samba.sh writes to REVOKE_SAMBA.
type sambaConfig struct {
	LDAPSURL         string `json:"ldaps_url"`
	BaseDN           string `json:"base_dn"`
	BindDN           string `json:"bind_dn"`
	BindPasswordFile string `json:"bind_password_file"`
	CAFile           string `json:"ca_file"`
}

func needSambaDC(t *testing.T) (*sambaConfig, *ldap.Conn) {
	t.Helper()
	path := os.Getenv("REVOKE_SAMBA")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("REVOKE_SAMBA not set: scripts/test must start Samba")
		}
		t.Skip("REVOKE_SAMBA not set; start a DC with scripts/samba.sh start DIR and export REVOKE_SAMBA=DIR/samba.json")
	}
	var dc sambaConfig
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &dc)
	}
	if err != nil {
		t.Fatalf("REVOKE_SAMBA %s: %v", path, err)
	}
	pem, err := os.ReadFile(dc.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	lc, err := ldap.DialURL(dc.LDAPSURL, ldap.DialWithTLSConfig(&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lc.Close() })
	pw, err := os.ReadFile(dc.BindPasswordFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := lc.Bind(dc.BindDN, strings.TrimRight(string(pw), "\r\n")); err != nil {
		t.Fatal(err)
	}
	return &dc, lc
}

// sambaUser adds an enabled user to Samba and returns its DN and SID.
func sambaUser(t *testing.T, dc *sambaConfig, lc *ldap.Conn, sam string) (dn, sid string) {
	t.Helper()
	dn = "CN=" + sam + ",CN=Users," + dc.BaseDN
	pw := `"Tst-` + rand.Text()[:12] + `-a9!Z"`
	utf16 := make([]byte, 0, 2*len(pw))
	for _, r := range pw {
		utf16 = binary.LittleEndian.AppendUint16(utf16, uint16(r))
	}
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	req.Attribute("sAMAccountName", []string{sam})
	req.Attribute("userPrincipalName", []string{sam + "@contoso.test"})
	req.Attribute("unicodePwd", []string{string(utf16)})
	req.Attribute("userAccountControl", []string{"512"})
	if err := lc.Add(req); err != nil {
		t.Fatalf("add %s: %v", dn, err)
	}
	t.Cleanup(func() { lc.Del(ldap.NewDelRequest(dn, nil)) })
	raw := sambaAttr(t, lc, dn, "objectSid")
	// S-1-<authority>-<sub-authorities, little-endian uint32s>
	b := []byte(raw)
	sid = fmt.Sprintf("S-%d-%d", b[0], binary.BigEndian.Uint64(append([]byte{0, 0}, b[2:8]...)))
	for i := 0; i < int(b[1]); i++ {
		sid += fmt.Sprintf("-%d", binary.LittleEndian.Uint32(b[8+4*i:]))
	}
	return dn, sid
}

func sambaAttr(t *testing.T, lc *ldap.Conn, dn, name string) string {
	t.Helper()
	res, err := lc.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{name}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s of %s: %v", name, dn, err)
	}
	return res.Entries[0].GetAttributeValue(name)
}

// sambaE2E is a sandbox whose synced users are those given, with their
// AD side in Samba: the environment's ad section points at the DC.
func sambaE2E(t *testing.T, dc *sambaConfig, users ...sandbox.SeedUser) *e2eEnv {
	t.Helper()
	seed := sandbox.DefaultSeed()
	seed.Users = append(seed.Users, users...)
	e := newE2E(t, seed, sandbox.Options{})
	b, err := os.ReadFile(e.file)
	if err != nil {
		t.Fatal(err)
	}
	ad := regexp.MustCompile(`(?s)\nad:\n.*?\nstate_dir:`)
	section := fmt.Sprintf("\nad:\n  url: %q\n  base_dn: %q\n  bind_dn: %q\n  bind_password_file: %q\n  ca_file: %q\nstate_dir:",
		dc.LDAPSURL, dc.BaseDN, dc.BindDN, dc.BindPasswordFile, dc.CAFile)
	if !ad.Match(b) {
		t.Fatalf("no ad section in\n%s", b)
	}
	if err := os.WriteFile(e.file, ad.ReplaceAll(b, []byte(section)), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// syncedUser is a seed user synced from the Samba account dn with sid.
func syncedUser(id, sam, dn, sid string) sandbox.SeedUser {
	return sandbox.SeedUser{ID: id, UserPrincipalName: sam + "@contoso.test", DisplayName: sam, UserType: "Member",
		AccountEnabled: true, OnPremisesSyncEnabled: true, Cloud: true,
		AD: &sandbox.SeedADAccount{DN: "CN=" + sam + ",OU=Staff,DC=contoso,DC=test", SAMAccountName: sam,
			UserAccountControl: 512, Password: "Sandbox-Only-Samba-Twin-7!", ObjectSID: sid}}
}

func TestSambaE2EAnEntraObjectIDContainsTheAccountOnSamba(t *testing.T) {
	dc, lc := needSambaDC(t)
	sam := "rvlink" + strings.ToLower(rand.Text()[:6])
	dn, sid := sambaUser(t, dc, lc, sam)
	pwdBefore := sambaAttr(t, lc, dn, "pwdLastSet")
	const id = "9e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
	e := sambaE2E(t, dc, syncedUser(id, sam, dn, sid))

	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", id, "--yes")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if got := sambaAttr(t, lc, dn, "userAccountControl"); got != "514" {
		t.Errorf("Samba userAccountControl %s, want 514 (disabled)", got)
	}
	if got := sambaAttr(t, lc, dn, "pwdLastSet"); got == pwdBefore {
		t.Errorf("Samba pwdLastSet unchanged (%s): the password was not reset", got)
	}
	log := e.journal(t, e.onlyRun(t))
	if got := finished(log); got != engine.OutcomeContained {
		t.Errorf("outcome %q", got)
	}
	var resets []string
	for _, ev := range stepEvents(log, engine.EventStepProgress, "reset-ad-password") {
		resets = append(resets, ev.Message)
	}
	if strings.Join(resets, ", ") != "password reset 1 of 2, password reset 2 of 2" {
		t.Errorf("AD password resets journaled: %q, want two", resets)
	}
}

func TestSambaE2EASyncedUserMissingOnSambaIsNotContained(t *testing.T) {
	dc, _ := needSambaDC(t)
	const id = "9e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5c"
	// The cloud account says it was synced from a SID no account in the DC has.
	e := sambaE2E(t, dc, syncedUser(id, "rvghost", "", "S-1-5-21-1-2-3-987654"))
	stdout, stderr, code := e.cli(t, "run", "compromised", "--user", "rvghost@contoso.test", "--yes")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	want := "NOT CONTAINED: the subject may still have access. What did not happen:\n" +
		"  - the entra account of rvghost@contoso.test is synced from ad (sid S-1-5-21-1-2-3-987654), but ad has no such account"
	if !strings.Contains(stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
	if got := finished(e.journal(t, e.onlyRun(t))); got != engine.OutcomeNotContained {
		t.Errorf("outcome %q", got)
	}
}
