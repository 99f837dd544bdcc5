package sandbox

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needLDAPTools stops a test that needs OpenLDAP's clients when they are
// missing: skipped locally, failed in CI, where scripts/test installs
// ldap-utils (scripts/samba.sh install) and these tests must run.
func needLDAPTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ldapsearch", "ldapmodify", "ldapmodrdn"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not on PATH: scripts/test must install ldap-utils", tool)
			}
			t.Skipf("%s not on PATH (apt-get install ldap-utils)", tool)
		}
	}
}

// TestLDAPToolsScript runs scripts/ldap-tools-test.sh (OpenLDAP's
// ldapsearch and ldapmodify over StartTLS) against the server, so the
// sandbox is known to speak LDAP to a client other than go-ldap.
func TestLDAPToolsScript(t *testing.T) {
	needLDAPTools(t)
	f := newLDAPFixture(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, f.ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", filepath.Join("..", "scripts", "ldap-tools-test.sh"))
	cmd.Env = append(os.Environ(),
		"LDAP_URL="+f.srv.URL(), "CA_FILE="+caFile, "BIND_DN="+svcDN, "BIND_PW="+testSvcPassword,
		"BASE_DN="+baseDN, "USER=adele",
		"LDAPRC=/nonexistent", "LDAPCONF=/nonexistent", // no local ldap.conf may change the test
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script: %v\n%s", err, out)
	}
	want := "found: " + adeleDN + " (userAccountControl: 512)\n" +
		"modifying entry \"" + adeleDN + "\"\n\n" +
		"after: " + adeleDN + " (userAccountControl: 514)\n" +
		"ok: adele disabled\n"
	if string(out) != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	if strings.Contains(string(out), testSvcPassword) {
		t.Error("the script printed the bind password")
	}
	f.dir.Lock()
	uac := f.dir.Users[0].AD.UserAccountControl
	f.dir.Unlock()
	if uac != 514 {
		t.Errorf("userAccountControl = %d, want 514", uac)
	}
	var startTLS, modifies int
	for _, e := range f.log.Entries() {
		switch {
		case e.Method == "extended" && e.Detail == "StartTLS "+oidStartTLS && e.Status == 0:
			startTLS++
		case e.Method == "modify" && e.Detail == "replace userAccountControl" && e.Status == 0:
			modifies++
		}
	}
	if startTLS != 3 || modifies != 1 {
		t.Errorf("log has %d StartTLS and %d modifies, want 3 (one per tool run) and 1", startTLS, modifies)
	}

	// A second run finds the account already at 514 and fails, as it must.
	cmd = exec.CommandContext(ctx, "sh", filepath.Join("..", "scripts", "ldap-tools-test.sh"))
	cmd.Env = append(os.Environ(), "LDAP_URL="+f.srv.URL(), "CA_FILE="+caFile, "BIND_DN="+svcDN,
		"BIND_PW="+testSvcPassword, "BASE_DN="+baseDN, "USER=adele")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("second run succeeded:\n%s", out)
	}
}

// The script takes the password as a file, as `revoke sandbox --write-env`
// writes it: ldapsearch -y sends every byte, so the file must hold the
// password without a trailing newline, and one with a newline fails to bind.
func TestLDAPToolsScriptPasswordFile(t *testing.T) {
	needLDAPTools(t)
	tests := []struct {
		name    string
		content string
		wantOK  bool
	}{
		{"the password alone", testSvcPassword, true},
		{"the password and a newline", testSvcPassword + "\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newLDAPFixture(t)
			tmp := t.TempDir()
			caFile, pwFile := filepath.Join(tmp, "ca.pem"), filepath.Join(tmp, "ad-bind-password")
			if err := os.WriteFile(caFile, f.ca.pem, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(pwFile, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "sh", filepath.Join("..", "scripts", "ldap-tools-test.sh"))
			cmd.Env = append(os.Environ(), "LDAP_URL="+f.srv.URL(), "CA_FILE="+caFile, "BIND_DN="+svcDN,
				"BIND_PW=", "BIND_PW_FILE="+pwFile, "BASE_DN="+baseDN, "USER=adele",
				"LDAPRC=/nonexistent", "LDAPCONF=/nonexistent")
			out, err := cmd.CombinedOutput()
			if ok := err == nil && strings.HasSuffix(string(out), "ok: adele disabled\n"); ok != tc.wantOK {
				t.Errorf("succeeded %t, want %t: %v\n%s", ok, tc.wantOK, err, out)
			}
			if !tc.wantOK && !strings.Contains(string(out), "Invalid credentials (49)") {
				t.Errorf("want a failed bind (49):\n%s", out)
			}
		})
	}
}

// OpenLDAP's ldapmodrdn and ldapmodify (changetype: modrdn, and a
// description) move and annotate an account, over StartTLS and LDAPS, and
// see AD's refusals.
func TestLDAPToolsModRDN(t *testing.T) {
	needLDAPTools(t)
	f := newLDAPFixture(t)
	tmp := t.TempDir()
	caFile, pwFile := filepath.Join(tmp, "ca.pem"), filepath.Join(tmp, "pw")
	if err := os.WriteFile(caFile, f.ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pwFile, []byte(testSvcPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, stdin string, args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, args[0], append(args[1:], "-x", "-D", svcDN, "-y", pwFile)...)
		cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+caFile, "LDAPTLS_REQCERT=demand",
			"LDAPRC=/nonexistent", "LDAPCONF=/nonexistent")
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	former := "OU=Former,OU=Staff,DC=contoso,DC=test"
	tests := []struct {
		name, stdin string
		args        []string
		ok          bool
		out         []string // what the output must contain
		dn          string   // where the account is afterwards
	}{
		{"ldapmodrdn without -r keeps the old RDN: refused", "",
			[]string{"ldapmodrdn", "-ZZ", "-H", f.srv.URL(), "-s", former, adeleDN, "CN=Adele Vance"}, false,
			[]string{"Rename Result: Server is unwilling to perform (53)\nAdditional info: " + diagOldRDN + "\n"}, adeleDN},
		{"ldapmodrdn into an OU that does not exist", "",
			[]string{"ldapmodrdn", "-ZZ", "-H", f.srv.URL(), "-r", "-s", "OU=Nowhere,DC=contoso,DC=test", adeleDN, "CN=Adele Vance"}, false,
			[]string{"Rename Result: No such object (32)\nAdditional info: " + diagNoSuchObject(baseDN)}, adeleDN},
		{"ldapmodrdn -r -s over StartTLS moves", "",
			[]string{"ldapmodrdn", "-ZZ", "-H", f.srv.URL(), "-r", "-s", former, adeleDN, "CN=Adele Vance"}, true,
			nil, "CN=Adele Vance," + former},
		{"ldapmodify modrdn and a description over LDAPS",
			"dn: " + alexDN + "\nchangetype: modrdn\nnewrdn: CN=Alex Wilber\ndeleteoldrdn: 1\nnewsuperior: " + former + "\n\n" +
				"dn: CN=Alex Wilber," + former + "\nchangetype: modify\nreplace: description\ndescription: Leaver, ticket INC42\n-\n",
			[]string{"ldapmodify", "-H", f.srv.LDAPSURL()}, true,
			[]string{`modifying rdn of entry "` + alexDN + `"`, `modifying entry "CN=Alex Wilber,` + former + `"`}, "CN=Alex Wilber," + former},
		{"ldapmodify modrdn onto a taken name", "dn: " + meganDN + "\nchangetype: modrdn\nnewrdn: CN=Alex Wilber\ndeleteoldrdn: 1\n",
			[]string{"ldapmodify", "-H", f.srv.LDAPSURL()}, false,
			[]string{"Already exists (68)", diagEntryExists}, meganDN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(t, tt.stdin, tt.args...)
			if (err == nil) != tt.ok {
				t.Fatalf("%s: %v, want ok %t:\n%s", tt.args[0], err, tt.ok, out)
			}
			for _, w := range tt.out {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, testSvcPassword) {
				t.Error("the output holds the bind password")
			}
			f.dir.Lock()
			found, _ := f.dir.ADAccountByDN(tt.dn)
			f.dir.Unlock()
			if found == nil {
				t.Errorf("no account at %s afterwards", tt.dn)
			}
		})
	}
	f.dir.Lock()
	alex, _ := f.dir.ADAccountByDN("CN=Alex Wilber," + former)
	var desc string
	if alex != nil {
		desc = f.srv.note(alex, "description")
	}
	f.dir.Unlock()
	if desc != "Leaver, ticket INC42" {
		t.Errorf("Alex's description = %q", desc)
	}
}
