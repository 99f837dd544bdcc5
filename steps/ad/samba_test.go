package ad

// Tests against a real Samba AD domain controller, started by
// scripts/samba.sh (`start DIR` writes DIR/samba.json; REVOKE_SAMBA names it).

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/steps"
)

// sambaDC is DIR/samba.json.
type sambaDC struct {
	LDAPSURL         string `json:"ldaps_url"`
	LDAPURL          string `json:"ldap_url"`
	BaseDN           string `json:"base_dn"`
	BindDN           string `json:"bind_dn"`
	BindPasswordFile string `json:"bind_password_file"`
	CAFile           string `json:"ca_file"`
	Domain           string `json:"domain"`
}

// needSamba returns the DC the test script started. Locally, without one,
// the test is skipped; in CI it fails, because there these tests must run.
func needSamba(t *testing.T) *sambaDC {
	t.Helper()
	path := os.Getenv("REVOKE_SAMBA")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("REVOKE_SAMBA not set: scripts/test must start Samba")
		}
		t.Skip("REVOKE_SAMBA not set; start a DC with scripts/samba.sh start DIR and export REVOKE_SAMBA=DIR/samba.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("REVOKE_SAMBA: %v", err)
	}
	var dc sambaDC
	if err := json.Unmarshal(b, &dc); err != nil {
		t.Fatalf("REVOKE_SAMBA %s: %v", path, err)
	}
	return &dc
}

// env is the environment a user would write for this DC, as the engine
// hands it to Open: validated section, secret by file reference.
func (dc *sambaDC) env(mod func(steps.Values)) *steps.Env {
	section := steps.Values{
		fieldURL:                    dc.LDAPSURL,
		fieldBaseDN:                 dc.BaseDN,
		fieldBindDN:                 dc.BindDN,
		fieldBindPassword + "_file": dc.BindPasswordFile,
		fieldStartTLS:               false,
		fieldCAFile:                 dc.CAFile,
		fieldInsecureSkipVerify:     false,
		fieldTimeout:                10 * time.Second,
	}
	if mod != nil {
		mod(section)
	}
	return &steps.Env{
		Name: "samba", Kind: "hybrid", Section: section,
		Secret: func(name string) (string, error) {
			ref, _ := section[name+"_file"].(string)
			if ref == "" {
				return "", steps.Errorf(steps.Invalid, "%s_file is not set", name)
			}
			b, err := os.ReadFile(ref)
			if err != nil {
				return "", steps.Classify(steps.Invalid, err)
			}
			return strings.TrimRight(string(b), "\r\n"), nil
		},
		Path: func(p string) string { return p },
	}
}

// open opens the backend the way the engine does.
func (dc *sambaDC) open(t *testing.T, mod func(steps.Values)) *Conn {
	t.Helper()
	conn, err := Backend.Open(t.Context(), dc.env(mod))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn.(*Conn)
}

// admin is a plain go-ldap connection for fixtures, independent of the code
// under test.
func (dc *sambaDC) admin(t *testing.T) *ldap.Conn {
	t.Helper()
	pem, err := os.ReadFile(dc.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	lc, err := ldap.DialURL(dc.LDAPSURL, ldap.DialWithTLSConfig(&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatalf("admin dial: %v", err)
	}
	pw, err := os.ReadFile(dc.BindPasswordFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := lc.Bind(dc.BindDN, strings.TrimSpace(string(pw))); err != nil {
		t.Fatalf("admin bind: %v", err)
	}
	t.Cleanup(func() { lc.Close() })
	return lc
}

type testUser struct {
	DN, SAM, UPN, Password string
}

// unique returns a short name no other test run has used: sAMAccountName
// allows 20 characters.
func unique(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// addUser creates an enabled user with a password, removed when the test ends.
func (dc *sambaDC) addUser(t *testing.T, admin *ldap.Conn, sam, upn string, uac int) testUser {
	t.Helper()
	u := testUser{DN: "CN=" + sam + ",CN=Users," + dc.BaseDN, SAM: sam, UPN: upn, Password: "Tst-" + unique("") + "-a9!Z"}
	req := ldap.NewAddRequest(u.DN, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	req.Attribute("sAMAccountName", []string{sam})
	req.Attribute("userPrincipalName", []string{upn})
	req.Attribute("unicodePwd", []string{string(unicodePwd([]byte(u.Password)))})
	req.Attribute("userAccountControl", []string{fmt.Sprint(uac)})
	if err := admin.Add(req); err != nil {
		t.Fatalf("add user %s: %v", u.DN, err)
	}
	t.Cleanup(func() { admin.Del(ldap.NewDelRequest(u.DN, nil)) })
	return u
}

func (dc *sambaDC) addGroup(t *testing.T, admin *ldap.Conn, name string, members ...string) string {
	t.Helper()
	dn := "CN=" + name + ",CN=Users," + dc.BaseDN
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "group"})
	req.Attribute("sAMAccountName", []string{name})
	if len(members) > 0 {
		req.Attribute("member", members)
	}
	if err := admin.Add(req); err != nil {
		t.Fatalf("add group %s: %v", dn, err)
	}
	t.Cleanup(func() { admin.Del(ldap.NewDelRequest(dn, nil)) })
	return dn
}

// attr reads one attribute with the admin connection.
func attr(t *testing.T, admin *ldap.Conn, dn, name string) []string {
	t.Helper()
	res, err := admin.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{name}, nil))
	if err != nil {
		t.Fatalf("read %s of %s: %v", name, dn, err)
	}
	return res.Entries[0].GetAttributeValues(name)
}

// bindAs tries a simple bind as a user on a fresh connection.
func (dc *sambaDC) bindAs(t *testing.T, dn, password string) error {
	t.Helper()
	pem, _ := os.ReadFile(dc.CAFile)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	lc, err := ldap.DialURL(dc.LDAPSURL, ldap.DialWithTLSConfig(&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer lc.Close()
	return lc.Bind(dn, password)
}

// callFor builds the Call the engine would make for the subject ref.
func callFor(t *testing.T, c *Conn, ref string, with steps.Values) (*steps.Call, *[]steps.Progress) {
	t.Helper()
	facts, err := c.Resolve(t.Context(), ref)
	if err != nil {
		t.Fatalf("Resolve(%q): %v", ref, err)
	}
	var reports []steps.Progress
	var mu sync.Mutex
	call := &steps.Call{
		StepID:     "step",
		Subject:    &steps.Subject{Ref: ref, Facts: map[string]map[string]any{"ad": facts}},
		With:       with,
		Conn:       c,
		RunStarted: time.Now(),
		Progress: func(msg string, details map[string]any) {
			mu.Lock()
			defer mu.Unlock()
			reports = append(reports, steps.Progress{Message: msg, Details: details})
		},
	}
	return call, &reports
}

func TestSambaResolve(t *testing.T) {
	dc := needSamba(t)
	admin := dc.admin(t)
	c := dc.open(t, nil)

	sam := unique("rvres")
	u := dc.addUser(t, admin, sam, sam+"@contoso.test", 512)
	// One account's UPN-less name is another's sAMAccountName: each form
	// matches only its own attribute, so neither is ambiguous.
	ambA := unique("rvamb")
	ambB := unique("rvamb")
	dc.addUser(t, admin, ambA, ambB, 512)
	b := dc.addUser(t, admin, ambB, ambB+"@contoso.test", 512)

	guid := attr(t, admin, u.DN, "objectGUID")[0]
	guidText := formatGUID([]byte(guid))
	sid, ok := decodeSID([]byte(attr(t, admin, u.DN, "objectSid")[0]))
	if !ok || !strings.HasPrefix(sid, "S-1-5-21-") {
		t.Fatalf("objectSid of %s: %q", u.DN, sid)
	}

	want := map[string]any{
		"distinguishedName":  u.DN,
		"sAMAccountName":     sam,
		"userPrincipalName":  u.UPN,
		"userAccountControl": 512,
		"disabled":           false,
		"adminCount":         0,
		"memberOf":           []any{},
		"objectSid":          sid,
		"objectGUID":         guidText,
	}
	tests := []struct {
		name, ref string
		class     steps.Class // Other: no error
		err       string
		dn        string // another account than u
	}{
		{name: "by UPN", ref: u.UPN},
		{name: "by UPN in another case", ref: strings.ToUpper(u.UPN)},
		{name: "by sAMAccountName", ref: sam},
		{name: "by DOMAIN backslash sAMAccountName", ref: `CONTOSO\` + sam},
		{name: "by DOMAIN in lower case", ref: `contoso\` + sam},
		{name: "by objectGUID", ref: guidText},
		{name: "by SID", ref: sid},
		{name: "by DN", ref: u.DN},
		{name: "a name is never matched against another's UPN", ref: ambB, dn: b.DN},
		{name: "another domain is refused", ref: `FABRIKAM\` + sam, class: steps.Invalid,
			err: `subject reference "FABRIKAM\\` + sam + `" names domain FABRIKAM, but this environment's domain is CONTOSO: revoke acts only in the domain it is bound to`},
		{name: "a filter injection finds nothing", ref: "*)(objectClass=*@contoso.test",
			class: steps.NotFound, err: `no account in DC=contoso,DC=test matches "*)(objectClass=*@contoso.test"`},
		{name: "a wildcard finds nothing", ref: "rvres*@contoso.test",
			class: steps.NotFound, err: `no account in DC=contoso,DC=test matches "rvres*@contoso.test"`},
		{name: "an unknown user is not found", ref: "nobody-" + sam,
			class: steps.NotFound, err: `no account in DC=contoso,DC=test matches "nobody-` + sam + `"`},
		{name: "a DN outside the base is not found", ref: "CN=x,DC=fabrikam,DC=test",
			class: steps.NotFound, err: `CN=x,DC=fabrikam,DC=test is not under DC=contoso,DC=test`},
		{name: "an empty reference is refused", ref: " ", class: steps.Invalid, err: "empty subject reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			facts, err := c.Resolve(t.Context(), tt.ref)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err || steps.ClassOf(err) != tt.class {
					t.Fatalf("Resolve(%q) = %v (%v), want %q (%v)", tt.ref, err, steps.ClassOf(err), tt.err, tt.class)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.ref, err)
			}
			if tt.dn != "" {
				if facts["distinguishedName"] != tt.dn {
					t.Errorf("Resolve(%q) found %v, want %s", tt.ref, facts["distinguishedName"], tt.dn)
				}
				return
			}
			pls, _ := facts["pwdLastSet"].(string)
			if !regexp.MustCompile(`^[1-9][0-9]{17}$`).MatchString(pls) {
				t.Errorf("pwdLastSet = %#v, want a FILETIME string", facts["pwdLastSet"])
			}
			delete(facts, "pwdLastSet")
			// The NetBIOS name, read from Samba's crossRef, is a fact once
			// a DOMAIN\user reference made revoke read it.
			if nb, ok := facts["netbiosDomain"]; ok && nb != "CONTOSO" {
				t.Errorf("netbiosDomain %v", nb)
			}
			delete(facts, "netbiosDomain")
			if fmt.Sprintf("%#v", facts) != fmt.Sprintf("%#v", want) {
				t.Errorf("facts =\n%#v\nwant\n%#v", facts, want)
			}
		})
	}

	// A domain controller is a user by objectClass: a DN reference to it
	// must find no account, or a run would disable it.
	res, err := admin.Search(ldap.NewSearchRequest("OU=Domain Controllers,"+dc.BaseDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=computer)", []string{"dn"}, nil))
	if err != nil || len(res.Entries) == 0 {
		t.Fatalf("find the domain controller's object: %v", err)
	}
	if _, err := c.Resolve(t.Context(), res.Entries[0].DN); steps.ClassOf(err) != steps.NotFound {
		t.Errorf("Resolve(%s) = %v, want NotFound: a computer is not a subject", res.Entries[0].DN, err)
	}

	// What an Entra user synced from this account publishes finds it.
	for name, ids := range map[string]map[string]string{
		"by onPremisesSecurityIdentifier": {steps.IDSID: sid},
		"by onPremisesImmutableId":        {steps.IDImmutableID: base64.StdEncoding.EncodeToString([]byte(guid))},
	} {
		t.Run("link "+name, func(t *testing.T) {
			facts, err := c.ResolveIDs(t.Context(), ids)
			if err != nil || facts["distinguishedName"] != u.DN {
				t.Errorf("ResolveIDs(%v) = %v, %v", ids, facts, err)
			}
		})
	}
}

func TestSambaResolveAdministratorFacts(t *testing.T) {
	dc := needSamba(t)
	c := dc.open(t, nil)
	facts, err := c.Resolve(t.Context(), "administrator@contoso.test")
	if err == nil {
		t.Fatalf("Administrator has no UPN in a fresh domain, yet %v resolved", facts)
	}
	facts, err = c.Resolve(t.Context(), `CONTOSO\Administrator`)
	if err != nil {
		t.Fatal(err)
	}
	if facts["adminCount"] != 1 || facts["disabled"] != false {
		t.Errorf("adminCount = %#v, disabled = %#v; want 1, false", facts["adminCount"], facts["disabled"])
	}
	memberOf, _ := facts["memberOf"].([]any)
	if !slices.Contains(memberOf, any("CN=Domain Admins,CN=Users,DC=contoso,DC=test")) {
		t.Errorf("memberOf = %v, want Domain Admins in it", memberOf)
	}
}

func TestSambaDisableAccount(t *testing.T) {
	dc := needSamba(t)
	admin := dc.admin(t)
	c := dc.open(t, nil)
	step := disableAccount.New()

	tests := []struct {
		name        string
		uac, after  int
		checkBefore string
	}{
		{name: "a normal account goes from 512 to 514", uac: 512, after: 514,
			checkBefore: "userAccountControl: 512 → 514 (disabled)"},
		{name: "other bits are kept (DONT_EXPIRE_PASSWORD)", uac: 66048, after: 66050,
			checkBefore: "userAccountControl: 66048 → 66050 (disabled)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sam := unique("rvdis")
			u := dc.addUser(t, admin, sam, sam+"@contoso.test", tt.uac)
			if err := dc.bindAs(t, u.DN, u.Password); err != nil {
				t.Fatalf("bind as the fresh user: %v", err)
			}
			call, _ := callFor(t, c, u.UPN, steps.Values{})

			ch, err := step.Check(t.Context(), call)
			if err != nil || ch.Satisfied || ch.Summary != tt.checkBefore {
				t.Fatalf("Check = %+v, %v; want %q", ch, err, tt.checkBefore)
			}
			ch, err = step.Apply(t.Context(), call)
			if err != nil || ch.Summary != tt.checkBefore {
				t.Fatalf("Apply = %+v, %v", ch, err)
			}
			if err := step.(steps.Verifier).Verify(t.Context(), call); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got := attr(t, admin, u.DN, "userAccountControl"); !slices.Equal(got, []string{fmt.Sprint(tt.after)}) {
				t.Errorf("userAccountControl = %v, want %d", got, tt.after)
			}
			ch, err = step.Check(t.Context(), call)
			if err != nil || !ch.Satisfied || ch.Summary != "already disabled" {
				t.Errorf("Check after Apply = %+v, %v; want satisfied, already disabled", ch, err)
			}
			ch, err = step.Apply(t.Context(), call)
			if err != nil || !ch.Satisfied {
				t.Errorf("Apply again = %+v, %v; want satisfied", ch, err)
			}
			err = dc.bindAs(t, u.DN, u.Password)
			if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) || !strings.Contains(err.Error(), "data 533") {
				t.Errorf("bind as the disabled user: %v; want LDAP 49 with data 533", err)
			}
		})
	}
}

func TestSambaDisableAccountOfADeletedUserIsNotFound(t *testing.T) {
	dc := needSamba(t)
	admin := dc.admin(t)
	c := dc.open(t, nil)
	sam := unique("rvgone")
	u := dc.addUser(t, admin, sam, sam+"@contoso.test", 512)
	call, _ := callFor(t, c, sam, steps.Values{})
	if err := admin.Del(ldap.NewDelRequest(u.DN, nil)); err != nil {
		t.Fatal(err)
	}
	_, err := disableAccount.New().Apply(t.Context(), call)
	if steps.ClassOf(err) != steps.NotFound || !strings.HasPrefix(err.Error(), "read "+u.DN+": no such object (LDAP 32)") {
		t.Errorf("Apply on a deleted user = %v (%v), want not found", err, steps.ClassOf(err))
	}
}

// recordingGenerator wraps newPassword and keeps what it made, so a test
// can tell how many resets were sent and that no value leaked.
type recordingGenerator struct {
	mu   sync.Mutex
	made []string
}

func (g *recordingGenerator) generate(length int, avoid string) ([]byte, error) {
	pw, err := newPassword(length, avoid)
	if err == nil {
		g.mu.Lock()
		g.made = append(g.made, string(pw))
		g.mu.Unlock()
	}
	return pw, err
}

func TestSambaResetPassword(t *testing.T) {
	dc := needSamba(t)
	admin := dc.admin(t)
	c := dc.open(t, nil)

	tests := []struct {
		name    string
		times   int
		prior   []steps.Progress
		check   string // Check's summary without the pwdLastSet part
		resets  int    // unicodePwd replaces sent
		reports []string
		summary string
	}{
		{name: "twice", times: 2, check: "2 resets of the password", resets: 2,
			reports: []string{"password reset 1 of 2", "password reset 2 of 2"}, summary: "password reset 2 times"},
		{name: "once", times: 1, check: "1 reset of the password", resets: 1,
			reports: []string{"password reset 1 of 1"}, summary: "password reset once"},
		{name: "resumed after one of two was journaled", times: 2,
			prior: []steps.Progress{{Message: "password reset 1 of 2", Details: map[string]any{"reset": float64(1), "of": float64(2)}}},
			check: "1 reset of the password", resets: 1,
			reports: []string{"password reset 2 of 2"}, summary: "password reset once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sam := unique("rvpwd")
			u := dc.addUser(t, admin, sam, sam+"@contoso.test", 512)
			gen := &recordingGenerator{}
			step := &resetPasswordStep{generate: gen.generate}
			call, reports := callFor(t, c, u.UPN, steps.Values{"times": tt.times, "length": 32})
			before := attr(t, admin, u.DN, "pwdLastSet")[0]
			// A journaled reset records the pwdLastSet it left: the
			// account's current one.
			for _, p := range tt.prior {
				p.Details["pwdLastSet"] = before
			}
			call.Prior, call.Resumed = tt.prior, tt.prior != nil

			ch, err := step.Check(t.Context(), call)
			wantCheck := fmt.Sprintf("%s (pwdLastSet %s)", tt.check, pwdLastSetText(before))
			if err != nil || ch.Satisfied || ch.Summary != wantCheck {
				t.Fatalf("Check = %+v, %v; want %q", ch, err, wantCheck)
			}
			ch, err = step.Apply(t.Context(), call)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if len(gen.made) != tt.resets {
				t.Errorf("%d passwords sent, want %d", len(gen.made), tt.resets)
			}
			var msgs []string
			last := before
			for _, r := range *reports {
				msgs = append(msgs, r.Message)
				keys := slices.Sorted(func(yield func(string) bool) {
					for k := range r.Details {
						if !yield(k) {
							return
						}
					}
				})
				if !slices.Equal(keys, []string{"of", "pwdLastSet", "reset"}) {
					t.Errorf("report %q details keys %v", r.Message, keys)
				}
				pls, _ := r.Details["pwdLastSet"].(string)
				if pls <= last || len(pls) != len(last) {
					t.Errorf("report %q: pwdLastSet %q did not move past %q", r.Message, pls, last)
				}
				last = pls
			}
			if !slices.Equal(msgs, tt.reports) {
				t.Errorf("reports %q, want %q", msgs, tt.reports)
			}
			wantSummary := fmt.Sprintf("%s (pwdLastSet %s)", tt.summary, pwdLastSetText(last))
			if tt.prior != nil {
				wantSummary += "; 1 done before the interruption"
			}
			if ch.Summary != wantSummary {
				t.Errorf("Apply summary %q, want %q", ch.Summary, wantSummary)
			}
			if got := attr(t, admin, u.DN, "pwdLastSet")[0]; got != last {
				t.Errorf("pwdLastSet = %s, last reported %s", got, last)
			}
			// Nothing a person or the journal sees holds a password.
			seen := fmt.Sprintf("%v %v %v", *reports, ch.Summary, ch.Details)
			for _, pw := range gen.made {
				if strings.Contains(seen, pw) {
					t.Fatalf("a generated password appears in the reports or the change")
				}
			}
			if err := step.Verify(t.Context(), call); err != nil {
				t.Errorf("Verify: %v", err)
			}
			// The last password set is the account's. The one before it
			// still binds for a while (Samba and Windows accept the previous
			// password for the "old password allowed period"): that is why
			// a compromised account is reset twice. After two resets the
			// password an attacker may hold is dead.
			if err := dc.bindAs(t, u.DN, gen.made[len(gen.made)-1]); err != nil {
				t.Errorf("bind with the last password set: %v", err)
			}
			if len(gen.made) == 2 {
				if err := dc.bindAs(t, u.DN, u.Password); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
					t.Errorf("bind with the password from before two resets: %v, want invalid credentials", err)
				}
			}
		})
	}
}

func TestSambaResetPasswordVerifyFailsWithoutAReset(t *testing.T) {
	dc := needSamba(t)
	admin := dc.admin(t)
	c := dc.open(t, nil)
	sam := unique("rvver")
	u := dc.addUser(t, admin, sam, sam+"@contoso.test", 512)
	call, _ := callFor(t, c, sam, steps.Values{"times": 1, "length": 32})
	call.RunStarted = time.Now().Add(2 * time.Hour)
	err := resetPassword.New().(steps.Verifier).Verify(t.Context(), call)
	pls, _ := filetime(attr(t, admin, u.DN, "pwdLastSet")[0])
	want := fmt.Sprintf("%s: pwdLastSet %s is not after the run started (%s): the password was not reset",
		u.DN, pls.UTC().Format(time.RFC3339), call.RunStarted.UTC().Format(time.RFC3339))
	if err == nil || err.Error() != want {
		t.Errorf("Verify = %v, want %q", err, want)
	}
}

func TestSambaRemoveGroupMemberships(t *testing.T) {
	dc := needSamba(t)
	admin := dc.admin(t)
	c := dc.open(t, nil)
	sam := unique("rvgrp")
	u := dc.addUser(t, admin, sam, sam+"@contoso.test", 512)
	staffName, salesName := unique("rvstaff"), unique("rvsales")
	staff := dc.addGroup(t, admin, staffName, u.DN)
	sales := dc.addGroup(t, admin, salesName, u.DN)
	step := removeGroupMemberships.New()

	// Keep one group by CN, in another case: only the other goes.
	call, reports := callFor(t, c, sam, steps.Values{"keep": []string{strings.ToUpper(staffName)}})
	ch, err := step.Check(t.Context(), call)
	if err != nil || ch.Satisfied || ch.Summary != "1 group: "+sales {
		t.Fatalf("Check = %+v, %v; want 1 group: %s", ch, err, sales)
	}
	ch, err = step.Apply(t.Context(), call)
	if err != nil || ch.Summary != "removed from 1 group: "+sales {
		t.Fatalf("Apply = %+v, %v", ch, err)
	}
	if fmt.Sprint(ch.Details) != fmt.Sprintf("map[kept:[%s] removed:[%s]]", staff, sales) {
		t.Errorf("details %v", ch.Details)
	}
	if fmt.Sprint(*reports) != fmt.Sprintf("[{removed from %s map[group:%s]}]", sales, sales) {
		t.Errorf("reports %v", *reports)
	}
	if err := step.(steps.Verifier).Verify(t.Context(), call); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if got := attr(t, admin, u.DN, "memberOf"); !slices.Equal(got, []string{staff}) {
		t.Errorf("memberOf = %v, want only %s", got, staff)
	}
	ch, err = step.Check(t.Context(), call)
	if err != nil || !ch.Satisfied || ch.Summary != "no group memberships to remove (1 group kept)" {
		t.Errorf("Check with the rest kept = %+v, %v", ch, err)
	}

	// Keep nothing: the rest goes.
	call, reports = callFor(t, c, sam, steps.Values{"keep": []string{}})
	if ch, err = step.Apply(t.Context(), call); err != nil || ch.Summary != "removed from 1 group: "+staff {
		t.Fatalf("Apply = %+v, %v", ch, err)
	}
	if fmt.Sprint(*reports) != fmt.Sprintf("[{removed from %s map[group:%s]}]", staff, staff) {
		t.Errorf("reports %v", *reports)
	}
	if got := attr(t, admin, u.DN, "memberOf"); len(got) != 0 {
		t.Errorf("memberOf = %v, want none", got)
	}
	ch, err = step.Check(t.Context(), call)
	if err != nil || !ch.Satisfied || ch.Summary != "no group memberships to remove" {
		t.Errorf("Check at the end = %+v, %v", ch, err)
	}
	if err := step.(steps.Verifier).Verify(t.Context(), call); err != nil {
		t.Errorf("Verify: %v", err)
	}

	// A group that has already lost the member counts as done.
	removed, err := c.removeMember(t.Context(), sales, u.DN)
	if err != nil || removed {
		t.Errorf("removeMember of a non-member = %v, %v; want false, nil", removed, err)
	}
	// A group that does not exist is not found.
	_, err = c.removeMember(t.Context(), "CN=nosuchgroup,CN=Users,"+dc.BaseDN, u.DN)
	if steps.ClassOf(err) != steps.NotFound {
		t.Errorf("removeMember from a missing group = %v (%v), want not found", err, steps.ClassOf(err))
	}
}

func TestSambaConnections(t *testing.T) {
	dc := needSamba(t)
	otherCA := writeOtherCA(t)
	wrongPassword := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrongPassword, []byte("Not-The-Password-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		mod       func(steps.Values)
		encrypted bool
		class     steps.Class
		err       string
	}{
		{name: "LDAPS verified with ca_file", encrypted: true},
		{name: "StartTLS on 389", encrypted: true, mod: func(s steps.Values) {
			s[fieldURL], s[fieldStartTLS] = dc.LDAPURL, true
		}},
		{name: "insecure_skip_verify connects without the CA", encrypted: true, mod: func(s steps.Values) {
			s[fieldCAFile], s[fieldInsecureSkipVerify] = "", true
		}},
		{name: "LDAPS with a CA that did not issue the certificate", mod: func(s steps.Values) {
			s[fieldCAFile] = otherCA
		}, class: steps.Invalid,
			err: "ldaps://127.0.0.1:636: certificate signed by unknown authority; set ca_file to the CA that issued it"},
		{name: "StartTLS with a CA that did not issue the certificate", mod: func(s steps.Values) {
			s[fieldURL], s[fieldStartTLS], s[fieldCAFile] = dc.LDAPURL, true, otherCA
		}, class: steps.Invalid,
			err: "ldap://127.0.0.1:389: certificate signed by unknown authority; set ca_file to the CA that issued it"},
		{name: "LDAPS by a name the certificate does not carry", mod: func(s steps.Values) {
			s[fieldURL] = "ldaps://[::1]:636"
		}, class: steps.Invalid, err: "ldaps://[::1]:636: certificate is valid for 127.0.0.1, not ::1; use a host name the certificate carries"},
		{name: "LDAPS by localhost, a DNS name in the certificate", encrypted: true, mod: func(s steps.Values) {
			s[fieldURL] = "ldaps://localhost:636"
		}},
		{name: "plain LDAP without StartTLS is refused by the DC", mod: func(s steps.Values) {
			s[fieldURL] = dc.LDAPURL
		}, class: steps.Invalid,
			err: "bind as CN=Administrator,CN=Users,DC=contoso,DC=test refused: ldap://127.0.0.1:389 requires an encrypted connection; use ldaps:// or start_tls: true"},
		{name: "a wrong bind password", mod: func(s steps.Values) {
			s[fieldBindPassword+"_file"] = wrongPassword
		}, class: steps.Invalid,
			err: "bind as CN=Administrator,CN=Users,DC=contoso,DC=test failed: invalid credentials (data 52e: wrong password)"},
		{name: "nothing listening", mod: func(s steps.Values) {
			s[fieldURL] = "ldaps://127.0.0.1:1"
		}, class: steps.Retryable, err: "connect to ldaps://127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := Backend.Open(t.Context(), dc.env(tt.mod))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err || steps.ClassOf(err) != tt.class {
					t.Fatalf("Open = %v (%v), want %q (%v)", err, steps.ClassOf(err), tt.err, tt.class)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer conn.Close()
			c := conn.(*Conn)
			if c.Encrypted() != tt.encrypted {
				t.Errorf("Encrypted() = %v, want %v", c.Encrypted(), tt.encrypted)
			}
			if _, err := c.Resolve(t.Context(), `CONTOSO\Administrator`); err != nil {
				t.Errorf("Resolve: %v", err)
			}
		})
	}
}

// writeOtherCA writes a CA certificate that issued nothing Samba has.
func writeOtherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "some other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// proxy forwards TCP connections to a target and can cut them all, the way
// a restarting DC or a load balancer does.
type proxy struct {
	ln       net.Listener
	target   string
	mu       sync.Mutex
	conns    []net.Conn
	accepted int
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.accepted++
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.drop() })
	return p
}

func (p *proxy) url() string { return "ldaps://" + p.ln.Addr().String() }

func (p *proxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

func TestSambaReconnectsAfterADroppedConnection(t *testing.T) {
	dc := needSamba(t)
	admin := dc.admin(t)
	p := startProxy(t, strings.TrimPrefix(dc.LDAPSURL, "ldaps://"))
	c := dc.open(t, func(s steps.Values) { s[fieldURL] = p.url() })
	sam := unique("rvrec")
	u := dc.addUser(t, admin, sam, sam+"@contoso.test", 512)

	call, _ := callFor(t, c, sam, steps.Values{})
	for i := 1; i <= 3; i++ {
		p.drop()
		if _, err := c.Resolve(t.Context(), sam); err != nil {
			t.Fatalf("Resolve after drop %d: %v", i, err)
		}
		if got := p.count(); got != i+1 {
			t.Errorf("after drop %d: %d connections, want %d", i, got, i+1)
		}
	}
	// A drop right before a step: the step's first read redials, and the
	// password reset still goes out only over TLS and only once.
	p.drop()
	gen := &recordingGenerator{}
	call.With = steps.Values{"times": 1, "length": 20}
	if _, err := (&resetPasswordStep{generate: gen.generate}).Apply(t.Context(), call); err != nil {
		t.Fatalf("reset after a drop: %v", err)
	}
	if len(gen.made) != 1 {
		t.Errorf("%d resets sent, want 1", len(gen.made))
	}
	if err := dc.bindAs(t, u.DN, gen.made[0]); err != nil {
		t.Errorf("bind with the new password: %v", err)
	}

	// With the DC gone, the failure is Retryable, and it recovers after.
	p.ln.Close()
	p.drop()
	_, err := c.Resolve(t.Context(), sam)
	if steps.ClassOf(err) != steps.Retryable || !strings.HasPrefix(err.Error(), "find \""+sam+"\" in DC=contoso,DC=test: connect to "+p.url()+": ") {
		t.Errorf("Resolve with the DC unreachable = %v (%v), want retryable", err, steps.ClassOf(err))
	}
}

func TestSambaClosedConnRefusesWork(t *testing.T) {
	dc := needSamba(t)
	c := dc.open(t, nil)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := c.Resolve(t.Context(), "Administrator")
	if err == nil || err.Error() != `find "Administrator" in DC=contoso,DC=test: ad: connection to ldaps://127.0.0.1:636 is closed` {
		t.Errorf("Resolve after Close = %v", err)
	}
}

func TestSambaCancelledContextStopsAnOperation(t *testing.T) {
	dc := needSamba(t)
	c := dc.open(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Resolve(ctx, "Administrator"); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("Resolve with a cancelled context = %v", err)
	}
	// The connection is usable again afterwards.
	if _, err := c.Resolve(t.Context(), "Administrator"); err != nil {
		t.Errorf("Resolve after: %v", err)
	}
}
