package ad

// The same steps end to end against the sandbox tenant's LDAP face, whose
// request log shows exactly what revoke sent.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
)

type sandboxDC struct {
	tenant *sandbox.Tenant
	caFile string
	bindDN string
	pw     string
}

func startSandbox(t *testing.T) *sandboxDC {
	t.Helper()
	return startSandboxSeed(t, sandbox.DefaultSeed())
}

// startSandboxSeed starts a sandbox tenant on seed.
func startSandboxSeed(t *testing.T, seed *sandbox.Seed) *sandboxDC {
	t.Helper()
	tenant, err := sandbox.Start(t.Context(), seed, sandbox.Options{})
	if err != nil {
		t.Fatalf("sandbox.Start: %v", err)
	}
	t.Cleanup(func() { tenant.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, tenant.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	svc := seed.AD.ServiceAccounts[0]
	return &sandboxDC{tenant: tenant, caFile: ca, bindDN: svc.DN, pw: svc.Password}
}

func (s *sandboxDC) open(t *testing.T, mod func(steps.Values)) *Conn {
	t.Helper()
	section := steps.Values{
		fieldURL: s.tenant.LDAPSURL(), fieldBaseDN: "DC=contoso,DC=test", fieldBindDN: s.bindDN,
		fieldBindPassword + "_env": "REVOKE_AD_PASSWORD", fieldCAFile: s.caFile, fieldTimeout: 5 * time.Second,
	}
	if mod != nil {
		mod(section)
	}
	env := &steps.Env{Name: "sandbox", Kind: "hybrid", Section: section,
		Secret: func(name string) (string, error) { return s.pw, nil },
		Path:   func(p string) string { return p }}
	conn, err := Backend.Open(t.Context(), env)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn.(*Conn)
}

// sent lists the log's LDAP requests as "method dn: detail".
func (s *sandboxDC) sent(method string) []string {
	var out []string
	for _, e := range s.tenant.Log().Entries() {
		if e.Protocol == "ldap" && (method == "" || e.Method == method) {
			out = append(out, fmt.Sprintf("%s %s: %s", e.Method, e.Path, e.Detail))
		}
	}
	return out
}

func TestSandboxResolve(t *testing.T) {
	s := startSandbox(t)
	c := s.open(t, nil)
	adele := "CN=Adele Vance,OU=Staff,DC=contoso,DC=test"
	for _, ref := range []string{"adele@contoso.test", "adele", `CONTOSO\adele`} {
		facts, err := c.Resolve(t.Context(), ref)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", ref, err)
		}
		delete(facts, "pwdLastSet")
		if sid, _ := facts["objectSid"].(string); !strings.HasPrefix(sid, "S-1-5-21-") {
			t.Errorf("Resolve(%q): objectSid %q", ref, sid)
		}
		if guid, _ := facts["objectGUID"].(string); len(guid) != 36 {
			t.Errorf("Resolve(%q): objectGUID %q", ref, guid)
		}
		delete(facts, "objectSid")
		delete(facts, "objectGUID")
		want := map[string]any{"distinguishedName": adele, "sAMAccountName": "adele", "userPrincipalName": "adele@contoso.test",
			"userAccountControl": 512, "disabled": false, "adminCount": 0,
			"memberOf": []any{"CN=Sales,OU=Groups,DC=contoso,DC=test", "CN=VPN Users,OU=Groups,DC=contoso,DC=test"}}
		if ref == `CONTOSO\adele` {
			// Checking the domain read the NetBIOS name from the directory.
			want["netbiosDomain"] = "CONTOSO"
		}
		if fmt.Sprintf("%#v", facts) != fmt.Sprintf("%#v", want) {
			t.Errorf("Resolve(%q) =\n%#v\nwant\n%#v", ref, facts, want)
		}
	}
	facts, err := c.Resolve(t.Context(), "adm-johanna")
	if err != nil || facts["adminCount"] != 1 {
		t.Errorf("adm-johanna: %v, %v; want adminCount 1", facts, err)
	}
	_, err = c.Resolve(t.Context(), "*)(objectClass=*@contoso.test")
	if steps.ClassOf(err) != steps.NotFound {
		t.Errorf("an injected filter: %v, want not found", err)
	}
	_, err = c.Resolve(t.Context(), `FABRIKAM\adele`)
	if want := `subject reference "FABRIKAM\\adele" names domain FABRIKAM, but this environment's domain is CONTOSO: revoke acts only in the domain it is bound to`; err == nil || err.Error() != want || steps.ClassOf(err) != steps.Invalid {
		t.Errorf("a foreign domain: %v, want %q", err, want)
	}
}

func TestSandboxResolveLinksByEveryIdentifier(t *testing.T) {
	s := startSandbox(t)
	c := s.open(t, nil)
	facts, err := c.Resolve(t.Context(), "adele")
	if err != nil {
		t.Fatal(err)
	}
	id := identify(facts)
	for _, tt := range []struct {
		name string
		ids  map[string]string
	}{
		{"by SID", map[string]string{steps.IDSID: id.IDs[steps.IDSID]}},
		{"by the sync anchor", map[string]string{steps.IDImmutableID: id.IDs[steps.IDImmutableID]}},
		{"by DN", map[string]string{steps.IDDN: id.IDs[steps.IDDN]}},
		{"by SID, as a reference", nil},
		{"by objectGUID, as a reference", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]any
			var err error
			switch tt.name {
			case "by SID, as a reference":
				got, err = c.Resolve(t.Context(), id.IDs[steps.IDSID])
			case "by objectGUID, as a reference":
				got, err = c.Resolve(t.Context(), strings.ToUpper(id.IDs[steps.IDGUID]))
			default:
				got, err = c.ResolveIDs(t.Context(), tt.ids)
			}
			if err != nil || got["distinguishedName"] != "CN=Adele Vance,OU=Staff,DC=contoso,DC=test" {
				t.Errorf("%v, %v", got, err)
			}
		})
	}
	if _, err := c.ResolveIDs(t.Context(), map[string]string{steps.IDSID: "S-1-5-21-1-2-3-99999", steps.IDUPN: "adele@contoso.test"}); steps.ClassOf(err) != steps.NotFound {
		t.Errorf("an unknown SID: %v, want not found (a UPN alone never links)", err)
	}
}

func TestSandboxStepsEndToEnd(t *testing.T) {
	s := startSandbox(t)
	c := s.open(t, nil)
	dir := s.tenant.Directory()

	call, _ := callFor(t, c, "adele@contoso.test", steps.Values{})
	disable := disableAccount.New()
	if ch, err := disable.Apply(t.Context(), call); err != nil || ch.Summary != "userAccountControl: 512 → 514 (disabled)" {
		t.Fatalf("disable = %+v, %v", ch, err)
	}
	if err := disable.(steps.Verifier).Verify(t.Context(), call); err != nil {
		t.Errorf("Verify: %v", err)
	}
	dir.Lock()
	acc, _ := dir.ADAccountByDN("CN=Adele Vance,OU=Staff,DC=contoso,DC=test")
	uac := acc.UserAccountControl
	dir.Unlock()
	if uac != 514 {
		t.Errorf("userAccountControl in the directory = %d, want 514", uac)
	}

	// times: 2 is exactly two unicodePwd replaces, and no value is logged.
	s.tenant.Log().Reset()
	gen := &recordingGenerator{}
	reset := &resetPasswordStep{generate: gen.generate}
	call, reports := callFor(t, c, "adele", steps.Values{"times": 2, "length": 32})
	if _, err := reset.Apply(t.Context(), call); err != nil {
		t.Fatalf("reset: %v", err)
	}
	var replaces int
	for _, e := range s.tenant.Log().Entries() {
		if e.Method == "modify" && strings.Contains(e.Detail, "unicodePwd") {
			replaces++
			if e.Detail != "replace unicodePwd" || e.Status != 0 {
				t.Errorf("password modify logged as %q, status %d", e.Detail, e.Status)
			}
		}
		line := fmt.Sprintf("%+v", e)
		for _, pw := range gen.made {
			if strings.Contains(line, pw) {
				t.Fatalf("a generated password is in the request log")
			}
		}
	}
	if replaces != 2 || len(*reports) != 2 {
		t.Errorf("%d unicodePwd replaces and %d reports, want 2 and 2", replaces, len(*reports))
	}
	if err := reset.Verify(t.Context(), call); err != nil {
		t.Errorf("Verify: %v", err)
	}

	// Group removal: one delete of member per group, each journaled.
	s.tenant.Log().Reset()
	call, reports = callFor(t, c, "alex", steps.Values{"keep": []string{}})
	remove := removeGroupMemberships.New()
	ch, err := remove.Apply(t.Context(), call)
	if err != nil || ch.Summary != "removed from 2 groups: CN=Sales,OU=Groups,DC=contoso,DC=test; CN=VPN Users,OU=Groups,DC=contoso,DC=test" {
		t.Fatalf("remove = %+v, %v", ch, err)
	}
	want := []string{
		"modify CN=Sales,OU=Groups,DC=contoso,DC=test: delete member",
		"modify CN=VPN Users,OU=Groups,DC=contoso,DC=test: delete member",
	}
	if got := s.sent("modify"); !slices.Equal(got, want) {
		t.Errorf("sent %q, want %q", got, want)
	}
	if len(*reports) != 2 {
		t.Errorf("reports %v", *reports)
	}
	dir.Lock()
	left := dir.MemberOf("CN=Alex Wilber,OU=Staff,DC=contoso,DC=test")
	dir.Unlock()
	if len(left) != 0 {
		t.Errorf("alex is still in %v", left)
	}
	if ch, err := remove.Check(t.Context(), call); err != nil || !ch.Satisfied {
		t.Errorf("Check after = %+v, %v", ch, err)
	}
}

func TestSandboxConnections(t *testing.T) {
	s := startSandbox(t)
	t.Run("StartTLS", func(t *testing.T) {
		c := s.open(t, func(v steps.Values) { v[fieldURL], v[fieldStartTLS] = s.tenant.LDAPURL(), true })
		if !c.Encrypted() {
			t.Error("not encrypted after StartTLS")
		}
		if _, err := c.Resolve(t.Context(), "megan"); err != nil {
			t.Error(err)
		}
	})
	t.Run("plain LDAP is refused at bind", func(t *testing.T) {
		section := steps.Values{fieldURL: s.tenant.LDAPURL(), fieldBaseDN: "DC=contoso,DC=test", fieldBindDN: s.bindDN}
		_, err := Backend.Open(t.Context(), &steps.Env{Section: section, Secret: func(string) (string, error) { return s.pw, nil }})
		want := "bind as " + s.bindDN + " refused: " + s.tenant.LDAPURL() + " requires an encrypted connection; use ldaps:// or start_tls: true"
		if err == nil || err.Error() != want {
			t.Errorf("Open = %v, want %q", err, want)
		}
	})
	t.Run("a CA that did not issue the certificate", func(t *testing.T) {
		section := steps.Values{fieldURL: s.tenant.LDAPSURL(), fieldBaseDN: "DC=contoso,DC=test", fieldBindDN: s.bindDN, fieldCAFile: writeOtherCA(t)}
		_, err := Backend.Open(t.Context(), &steps.Env{Section: section, Secret: func(string) (string, error) { return s.pw, nil }})
		want := s.tenant.LDAPSURL() + ": certificate signed by unknown authority; set ca_file to the CA that issued it"
		if err == nil || err.Error() != want || steps.ClassOf(err) != steps.Invalid {
			t.Errorf("Open = %v, want %q", err, want)
		}
	})
}

func TestSandboxReconnects(t *testing.T) {
	s := startSandbox(t)
	c := s.open(t, nil)
	for i, cut := range []struct {
		name string
		do   func() error
	}{
		{"dropped connections", func() error { s.tenant.DropLDAPConnections(); return nil }},
		{"an LDAP restart", s.tenant.RestartLDAP},
		{"dropped again", func() error { s.tenant.DropLDAPConnections(); return nil }},
	} {
		if err := cut.do(); err != nil {
			t.Fatalf("%s: %v", cut.name, err)
		}
		s.tenant.Log().Reset()
		if _, err := c.Resolve(t.Context(), "megan"); err != nil {
			t.Fatalf("Resolve after %s (%d): %v", cut.name, i, err)
		}
		if binds := s.sent("bind"); len(binds) != 1 {
			t.Errorf("after %s: binds %q, want one rebind", cut.name, binds)
		}
	}

	// A reset after a drop is still one replace: the drop is found by the
	// read before it, not by resending the password.
	s.tenant.DropLDAPConnections()
	s.tenant.Log().Reset()
	call, _ := callFor(t, c, "megan", steps.Values{"times": 1, "length": 32})
	if _, err := resetPassword.New().Apply(t.Context(), call); err != nil {
		t.Fatalf("reset: %v", err)
	}
	var replaces int
	for _, e := range s.tenant.Log().Entries() {
		if e.Method == "modify" && e.Detail == "replace unicodePwd" {
			replaces++
		}
	}
	if replaces != 1 {
		t.Errorf("%d unicodePwd replaces, want 1", replaces)
	}
}
