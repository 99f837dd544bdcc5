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

// TestLDAPToolsScript runs scripts/ldap-tools-test.sh (OpenLDAP's
// ldapsearch and ldapmodify over StartTLS) against the server, so the
// sandbox is known to speak LDAP to a client other than go-ldap.
func TestLDAPToolsScript(t *testing.T) {
	if _, err := exec.LookPath("ldapsearch"); err != nil {
		t.Skip("ldapsearch not on PATH (apt-get install ldap-utils)")
	}
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
	if _, err := exec.LookPath("ldapsearch"); err != nil {
		t.Skip("ldapsearch not on PATH (apt-get install ldap-utils)")
	}
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
