package sandbox

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestDefaultSeedMatchesExample(t *testing.T) {
	example, err := os.ReadFile("../examples/sandbox/contoso.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(example, defaultSeedYAML) {
		t.Fatal("sandbox/default_seed.yaml differs from examples/sandbox/contoso.yaml: cp examples/sandbox/contoso.yaml sandbox/default_seed.yaml")
	}
}

func TestDefaultSeed(t *testing.T) {
	s := DefaultSeed()
	d := s.NewDirectory(testNow)
	if d.TenantID != "7a3e9f1c-2b4d-4e8a-9c61-0d5f3b2a1e47" || d.BaseDN != "DC=contoso,DC=test" || d.NetBIOS != "CONTOSO" || len(d.Users) != 13 {
		t.Fatalf("directory: %s %s %s %d users", d.TenantID, d.BaseDN, d.NetBIOS, len(d.Users))
	}
	tests := []struct {
		ref                   string
		cloud, synced, enabed bool
		sam                   string
		uac, adminCount       int
	}{
		{"adele@contoso.test", true, true, true, "adele", 512, 0},
		{"o'brien@contoso.test", true, true, true, "obrien", 512, 0},
		{"isaiah@contoso.test", true, true, false, "isaiah", 514, 0},
		{"adm-johanna@contoso.test", true, true, true, "adm-johanna", 512, 1},
		{"breakglass@contoso.test", true, false, true, "", 0, 0},
	}
	for _, tc := range tests {
		u := d.UserByRef(tc.ref)
		if u == nil {
			t.Errorf("%s missing", tc.ref)
			continue
		}
		if u.InCloud != tc.cloud || u.OnPremisesSyncEnabled != tc.synced || u.AccountEnabled != tc.enabed {
			t.Errorf("%s: cloud %t synced %t enabled %t", tc.ref, u.InCloud, u.OnPremisesSyncEnabled, u.AccountEnabled)
		}
		if tc.sam != "" && (u.AD.SAMAccountName != tc.sam || u.AD.UserAccountControl != tc.uac || u.AD.AdminCount != tc.adminCount) {
			t.Errorf("%s: AD %+v", tc.ref, u.AD)
		}
	}
	if a, _ := d.ADAccountByDN("CN=svc-revoke,OU=Service Accounts,DC=contoso,DC=test"); a == nil || a.Password == "" {
		t.Error("service account missing")
	}
	if got := d.RoleAssignments[breakglassID]; len(got) != 1 || got[0] != "Global Administrator" {
		t.Errorf("breakglass roles %v", got)
	}
	if g := d.MemberOf("CN=Adele Vance,OU=Staff,DC=contoso,DC=test"); len(g) != 2 {
		t.Errorf("adele memberOf %v", g)
	}
	if g := d.ADGroupByDN("CN=Revoke Operators,OU=Groups,DC=contoso,DC=test"); g == nil || g.Members[0] != "CN=svc-revoke,OU=Service Accounts,DC=contoso,DC=test" {
		t.Errorf("operators %+v", g)
	}
	if s.Options.SyncEvery.String() != "30m0s" {
		t.Errorf("sync_every %v", s.Options.SyncEvery)
	}
	// Directories built from one seed are independent.
	d2 := s.NewDirectory(testNow)
	d2.UserByRef(adeleID).AccountEnabled = false
	if !d.UserByRef(adeleID).AccountEnabled {
		t.Error("directories share users")
	}
}

func TestParseSeedErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{
			name: "unknown keys and wrong types",
			yaml: `tenant:
  id: t1
  colour: blue
users:
  - userPrincipalName: a@x.test
    accountEnabled: maybe
    userType: Robot
`,
			want: []string{
				`s.yaml:3:3: unknown key "colour" in tenant`,
				`s.yaml:6:21: expected true or false, got "maybe"`,
				`s.yaml:7:15: userType must be Member or Guest, got "Robot"`,
			},
		},
		{
			name: "unknown references",
			yaml: `tenant: {id: t1}
ad: {base_dn: "DC=x,DC=test"}
users:
  - userPrincipalName: a@x.test
groups:
  - displayName: G
    members: [a@x.test, ghost@x.test]
ad_groups:
  - dn: CN=G,DC=x,DC=test
    members: [nobody]
role_assignments:
  - user: a@x.test
    roles: [Supreme Leader]
`,
			want: []string{
				`s.yaml:13:13: unknown directory role "Supreme Leader" (known: Authentication Administrator, Cloud Device Administrator, Exchange Administrator, Global Administrator, Global Reader, Helpdesk Administrator, Intune Administrator, Privileged Authentication Administrator, Privileged Role Administrator, Security Administrator, User Administrator)`,
				`s.yaml:7:25: unknown user "ghost@x.test"`,
				`s.yaml:10:15: unknown AD account or group "nobody"`,
			},
		},
		{
			name: "role assignments name one principal, a role-assignable group",
			yaml: `tenant: {id: t1}
users:
  - userPrincipalName: a@x.test
groups:
  - displayName: Plain
    members: [a@x.test]
  - displayName: Admins
    role_assignable: true
role_assignments:
  - roles: [Global Reader]
  - user: a@x.test
    group: Admins
    roles: [Global Reader]
  - group: Plain
    roles: [Global Reader]
  - group: Nowhere
    roles: [Global Reader]
  - group: admins
    roles: [Helpdesk Administrator]
role_eligibilities:
  - {user: a@x.test, group: Admins, roles: [Global Administrator]}
  - {group: Plain, roles: [Supreme Leader]}
`,
			want: []string{
				`s.yaml:10:5: role assignment: want exactly one of user and group`,
				`s.yaml:11:5: role assignment: want exactly one of user and group`,
				`s.yaml:21:5: role eligibility: want exactly one of user and group`,
				`s.yaml:22:28: unknown directory role "Supreme Leader" (known: Authentication Administrator, Cloud Device Administrator, Exchange Administrator, Global Administrator, Global Reader, Helpdesk Administrator, Intune Administrator, Privileged Authentication Administrator, Privileged Role Administrator, Security Administrator, User Administrator)`,
				`s.yaml:14:12: group "Plain" is not role_assignable: Entra ID assigns directory roles only to role-assignable groups`,
				`s.yaml:16:12: unknown group "Nowhere"`,
				`s.yaml:22:13: group "Plain" is not role_assignable: Entra ID assigns directory roles only to role-assignable groups`,
			},
		},
		{
			name: "missing requirements",
			yaml: `apps:
  - client_id: c1
users:
  - displayName: Nobody
    onPremisesSyncEnabled: true
options:
  throttle: lots
  latency: soon
  faults:
    - {path: /v1.0/, status: 200}
`,
			want: []string{
				`s.yaml:2:5: app "c1" needs a secret or a certificate`,
				`s.yaml:4:5: userPrincipalName is required`,
				`s.yaml:4:5: user "": onPremisesSyncEnabled needs an ad account`,
				`s.yaml:7:13: throttle "lots": want RU/DURATION such as 3500/10s`,
				`s.yaml:8:12: expected a duration such as 30s or 5m, got "soon"`,
				`s.yaml:10:7: fault "/v1.0/": status must be an HTTP error status (4xx or 5xx), got 200`,
				`s.yaml:1:1: tenant.id is required`,
			},
		},
		{
			name: "an objectSid that is not a SID",
			yaml: `tenant: {id: t1}
ad: {base_dn: "DC=x,DC=test"}
users:
  - userPrincipalName: a@x.test
    onPremisesSyncEnabled: true
    ad: {dn: "CN=a,DC=x,DC=test", sAMAccountName: a, password: Pw-1-long-enough!, objectSid: S-1-5-21-x}
`,
			want: []string{`s.yaml:6:94: ad: objectSid "S-1-5-21-x" is not a SID (S-1-5-21-…)`},
		},
		{name: "not YAML", yaml: "tenant: [", want: []string{"s.yaml: yaml: line 1: did not find expected node content"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSeed("s.yaml", []byte(tc.yaml))
			se, ok := err.(*SeedError)
			if !ok {
				t.Fatalf("err = %v, want *SeedError", err)
			}
			if strings.Join(se.Problems, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(se.Problems, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestParseThrottle(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  bool
	}{
		{"3500/10s", "3500/10s", false},
		{"3000/2m30s", "3000/2m30s", false},
		{"0/10s", "", true},
		{"10", "", true},
		{"10/-1s", "", true},
	} {
		c, err := ParseThrottle(tc.in)
		if (err != nil) != tc.err || (!tc.err && c.String() != tc.want) {
			t.Errorf("ParseThrottle(%q) = %v, %v", tc.in, c, err)
		}
	}
}

// A seed mirroring a real DC's account gives its SID; synced users publish
// it, and the sandbox's LDAP answers to it.
func TestSeedObjectSIDOverride(t *testing.T) {
	seed, err := ParseSeed("s.yaml", []byte(`tenant: {id: t1}
ad: {base_dn: "DC=x,DC=test"}
users:
  - userPrincipalName: a@x.test
    onPremisesSyncEnabled: true
    ad: {dn: "CN=a,DC=x,DC=test", sAMAccountName: a, password: Pw-1-long-enough!, objectSid: S-1-5-21-1-2-3-1104}
`))
	if err != nil {
		t.Fatal(err)
	}
	d := seed.NewDirectory(time.Now())
	if u := d.UserByRef("a@x.test"); u == nil || u.AD.ObjectSID != "S-1-5-21-1-2-3-1104" {
		t.Errorf("user %+v", u)
	}
}
