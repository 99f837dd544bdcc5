package ad

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/steps"
)

func TestRegisterAddsTheBackendAndItsSteps(t *testing.T) {
	r := steps.NewRegistry()
	Register(r)
	if got := fmt.Sprint(r.StepNames()); got != "[ad.annotate ad.disable_account ad.move_to_ou ad.remove_group_memberships ad.reset_password]" {
		t.Errorf("steps %s", got)
	}
	for _, s := range r.Steps() {
		if s.New == nil {
			t.Errorf("%s has no implementation", s.Name)
		}
	}
}

func TestNewPasswordMeetsComplexity(t *testing.T) {
	tests := []struct {
		length int
		avoid  string
	}{
		{length: 16}, {length: 32, avoid: "adele"}, {length: 64, avoid: "ab"}, {length: 256, avoid: "Administrator"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.length), func(t *testing.T) {
			seen := map[string]bool{}
			for range 300 {
				pw, err := newPassword(tt.length, tt.avoid)
				if err != nil {
					t.Fatal(err)
				}
				if len(pw) != tt.length {
					t.Fatalf("length %d, want %d", len(pw), tt.length)
				}
				for _, class := range []string{pwUpper, pwLower, pwDigit, pwSymbol} {
					if !bytes.ContainsAny(pw, class) {
						t.Fatalf("%d-character password lacks one of %q", tt.length, class)
					}
				}
				for _, c := range pw {
					if !strings.ContainsRune(pwAll, rune(c)) {
						t.Fatalf("character %q is outside the alphabet", c)
					}
				}
				if len(tt.avoid) >= 3 && bytes.Contains(bytes.ToLower(pw), bytes.ToLower([]byte(tt.avoid))) {
					t.Fatalf("password contains the account name %q", tt.avoid)
				}
				if seen[string(pw)] {
					t.Fatalf("the same password twice")
				}
				seen[string(pw)] = true
			}
		})
	}
	if _, err := newPassword(3, ""); err == nil {
		t.Error("a 3-character password was made")
	}
}

func TestUnicodePwd(t *testing.T) {
	got := unicodePwd([]byte("Ab1!é"))
	want := []byte{'"', 0, 'A', 0, 'b', 0, '1', 0, '!', 0, 0xe9, 0, '"', 0}
	if !bytes.Equal(got, want) {
		t.Errorf("unicodePwd = % x, want % x", got, want)
	}
}

func TestRefFilter(t *testing.T) {
	const p = "(&(objectCategory=person)(objectClass=user)"
	tests := []struct{ ref, filter string }{
		{ref: "adele@contoso.com", filter: p + "(userPrincipalName=adele@contoso.com))"},
		{ref: "adele", filter: p + "(sAMAccountName=adele))"},
		{ref: `CONTOSO\adele`, filter: p + "(sAMAccountName=adele))"},
		{ref: " adele ", filter: p + "(sAMAccountName=adele))"},
		{ref: "*)(objectClass=*@x", filter: p + `(userPrincipalName=\2a\29\28objectClass=\2a@x))`},
		{ref: "4926ab37-ab27-4caa-b486-667ac7898510", filter: p + `(objectGUID=\37\ab\26\49\27\ab\aa\4c\b4\86\66\7a\c7\89\85\10))`},
		{ref: "{4926AB37-AB27-4CAA-B486-667AC7898510}", filter: p + `(objectGUID=\37\ab\26\49\27\ab\aa\4c\b4\86\66\7a\c7\89\85\10))`},
		{ref: "4926ab37-ab27-4caa-b486-667ac789851z", filter: p + "(sAMAccountName=4926ab37-ab27-4caa-b486-667ac789851z))"},
		{ref: "S-1-5-21-1-2-3-1104", filter: p + `(objectSid=\01\05\00\00\00\00\00\05\15\00\00\00\01\00\00\00\02\00\00\00\03\00\00\00\50\04\00\00))`},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			r, err := steps.ParseRef(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			f, err := refFilter(r)
			if err != nil || f != tt.filter {
				t.Fatalf("refFilter(%q) =\n%s, %v\nwant\n%s", tt.ref, f, err, tt.filter)
			}
			if _, err := ldap.CompileFilter(f); err != nil {
				t.Errorf("filter does not compile: %v", err)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	ldapErr := func(code uint16, diag string) error { return ldap.NewError(code, errors.New(diag)) }
	tests := []struct {
		name  string
		err   error
		class steps.Class
		perm  string
		msg   string
	}{
		{"no such object", ldapErr(32, "0000208D: NameErr: DSID-03100213, problem 2001 (NO_OBJECT)"), steps.NotFound, "",
			"op: no such object (LDAP 32): 0000208D: NameErr: DSID-03100213, problem 2001 (NO_OBJECT)"},
		{"insufficient access", ldapErr(50, "00002098: SecErr"), steps.Forbidden, "Write member on each group",
			"op: insufficient access rights (LDAP 50): 00002098: SecErr (needs Write member on each group)"},
		{"busy", ldapErr(51, ""), steps.Retryable, "", "op: busy (LDAP 51)"},
		{"unavailable", ldapErr(52, "x"), steps.Retryable, "", "op: unavailable (LDAP 52): x"},
		{"network", ldapErr(ldap.ErrorNetwork, "ldap: connection closed"), steps.Retryable, "", "op: network error (LDAP 200): ldap: connection closed"},
		{"invalid credentials", ldapErr(49, "bad"), steps.Invalid, "", "op: invalid credentials (LDAP 49): bad"},
		{"constraint", ldapErr(19, "0000052D: Constraint violation"), steps.Invalid, "", "op: constraint violation (LDAP 19): 0000052D: Constraint violation"},
		{"unwilling", ldapErr(53, "0000001F: WILL_NOT_PERFORM"), steps.Invalid, "", "op: unwilling to perform (LDAP 53): 0000001F: WILL_NOT_PERFORM"},
		{"other", ldapErr(80, "something"), steps.Other, "", "op: other (LDAP 80): something"},
		{"already classified keeps its class", steps.Errorf(steps.Retryable, "connection lost"), steps.Retryable, "", "op: connection lost"},
		{"a plain error", errors.New("boom"), steps.Other, "", "op: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify("op", tt.perm, tt.err)
			if steps.ClassOf(err) != tt.class || err.Error() != tt.msg || steps.PermissionOf(err) != tt.perm {
				t.Errorf("classify = %q (%v, %q), want %q (%v, %q)", err, steps.ClassOf(err), steps.PermissionOf(err), tt.msg, tt.class, tt.perm)
			}
		})
	}
	if classify("op", "", nil) != nil {
		t.Error("classify(nil) is not nil")
	}
}

func TestADBindReason(t *testing.T) {
	tests := map[string]string{
		"80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 533, v1db1": "data 533: account disabled",
		"80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1": "data 52e: wrong password",
		"… data 9999, v1": "data 9999",
		"no code here":    "",
	}
	for diag, want := range tests {
		if got := adBindReason(diag); got != want {
			t.Errorf("adBindReason(%q) = %q, want %q", diag, got, want)
		}
	}
}

func TestFiletime(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"116444736000000000", "1970-01-01T00:00:00Z", true},
		{"134405888235861580", "2026-12-01T08:53:43.586158Z", true},
		{"0", "", false},
		{"", "", false},
		{"x", "", false},
	}
	for _, tt := range tests {
		got, ok := filetime(tt.in)
		if ok != tt.ok || (ok && got.Format(time.RFC3339Nano) != tt.want) {
			t.Errorf("filetime(%q) = %v, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if got := pwdLastSetText("0"); got != "0, must change at next logon" {
		t.Errorf("pwdLastSetText(0) = %q", got)
	}
}

func TestPriorResets(t *testing.T) {
	tests := []struct {
		name  string
		prior []steps.Progress
		want  int
	}{
		{"none", nil, 0},
		{"one journaled, from JSON", []steps.Progress{{Message: "password reset 1 of 2", Details: map[string]any{"reset": float64(1)}}}, 1},
		{"two in memory", []steps.Progress{{Details: map[string]any{"reset": 1}}, {Details: map[string]any{"reset": 2}}}, 2},
		{"other progress ignored", []steps.Progress{{Message: "something else"}}, 0},
	}
	for _, tt := range tests {
		if got := priorResets(tt.prior); got != tt.want {
			t.Errorf("%s: priorResets = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestSplitGroups(t *testing.T) {
	memberOf := []string{"CN=Sales,OU=Groups,DC=contoso,DC=com", "CN=Staff,OU=Groups,DC=contoso,DC=com", `CN=R\2CD,OU=Groups,DC=contoso,DC=com`}
	tests := []struct {
		name   string
		keep   []string
		remove string
	}{
		{"keep nothing", nil, "[CN=Sales,OU=Groups,DC=contoso,DC=com CN=Staff,OU=Groups,DC=contoso,DC=com CN=R\\2CD,OU=Groups,DC=contoso,DC=com]"},
		{"keep by CN, any case", []string{"staff"}, "[CN=Sales,OU=Groups,DC=contoso,DC=com CN=R\\2CD,OU=Groups,DC=contoso,DC=com]"},
		{"keep by DN, other case and spacing", []string{"cn=sales, ou=groups, dc=contoso, dc=com"}, "[CN=Staff,OU=Groups,DC=contoso,DC=com CN=R\\2CD,OU=Groups,DC=contoso,DC=com]"},
		{"keep a CN with an escaped comma", []string{"R,D"}, "[CN=Sales,OU=Groups,DC=contoso,DC=com CN=Staff,OU=Groups,DC=contoso,DC=com]"},
		{"keep an OU is not a group", []string{"Groups"}, "[CN=Sales,OU=Groups,DC=contoso,DC=com CN=Staff,OU=Groups,DC=contoso,DC=com CN=R\\2CD,OU=Groups,DC=contoso,DC=com]"},
	}
	for _, tt := range tests {
		remove, _ := splitGroups(memberOf, tt.keep)
		if got := fmt.Sprint(remove); got != tt.remove {
			t.Errorf("%s: remove %s, want %s", tt.name, got, tt.remove)
		}
	}
}

func TestDisableChange(t *testing.T) {
	tests := []struct {
		uac     int
		summary string
		sat     bool
	}{
		{512, "userAccountControl: 512 → 514 (disabled)", false},
		{66048, "userAccountControl: 66048 → 66050 (disabled)", false},
		{514, "already disabled", true},
	}
	for _, tt := range tests {
		ch := disableChange(&account{UAC: tt.uac})
		if ch.Summary != tt.summary || ch.Satisfied != tt.sat {
			t.Errorf("disableChange(%d) = %+v", tt.uac, ch)
		}
	}
}

func TestOpenRefusesBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := func() steps.Values {
		return steps.Values{fieldURL: "ldaps://127.0.0.1:1", fieldBaseDN: "DC=contoso,DC=test",
			fieldBindDN: "CN=svc,DC=contoso,DC=test", fieldTimeout: time.Second}
	}
	secret := func(name string) (string, error) { return "pw", nil }
	tests := []struct {
		name   string
		mod    func(steps.Values)
		secret func(string) (string, error)
		err    string
	}{
		{"an http URL", func(s steps.Values) { s[fieldURL] = "https://dc01" }, secret,
			`ad url https://dc01: scheme must be ldaps or ldap, not "https"`},
		{"no host", func(s steps.Values) { s[fieldURL] = "dc01.contoso.com" }, secret,
			`ad url "dc01.contoso.com" is not an LDAP URL such as ldaps://dc01.contoso.com:636`},
		{"StartTLS on LDAPS", func(s steps.Values) { s[fieldStartTLS] = true }, secret,
			"ad url ldaps://127.0.0.1:1 is already TLS: start_tls applies to ldap:// URLs only"},
		{"an unreadable secret", nil, func(string) (string, error) { return "", errors.New("REVOKE_AD_PASSWORD is not set") },
			"ad bind_password: REVOKE_AD_PASSWORD is not set"},
		{"an empty password", nil, func(string) (string, error) { return "", nil },
			"ad bind_password is empty: an empty simple bind is anonymous in AD"},
		{"a ca_file without certificates", func(s steps.Values) { s[fieldCAFile] = "ca.pem" }, secret,
			"ad ca_file " + notPEM + " holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			if tt.mod != nil {
				tt.mod(s)
			}
			env := &steps.Env{Section: s, Secret: tt.secret, Path: func(p string) string { return filepath.Join(dir, p) }}
			_, err := Backend.Open(t.Context(), env)
			if err == nil || err.Error() != tt.err || steps.ClassOf(err) != steps.Invalid {
				t.Errorf("Open = %v (%v), want %q (invalid)", err, steps.ClassOf(err), tt.err)
			}
		})
	}
}

func TestStepsRefuseWithoutTheirConnectionOrSubject(t *testing.T) {
	c := &Conn{}
	tests := []struct {
		name string
		call *steps.Call
		want string
	}{
		{"another backend's connection", &steps.Call{StepID: "x", Conn: nil}, "ad step x got a <nil>, not the ad backend's connection"},
		{"a subject not found on premises", &steps.Call{Conn: c, Subject: &steps.Subject{Ref: "adele"}},
			`subject "adele" was not found in Active Directory`},
	}
	for _, tt := range tests {
		for _, spec := range Steps {
			_, err := spec.New().Check(t.Context(), tt.call)
			if err == nil || err.Error() != tt.want {
				t.Errorf("%s %s: %v, want %q", spec.Name, tt.name, err, tt.want)
			}
		}
	}
}
