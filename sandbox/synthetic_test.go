package sandbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Synthetic users are visible on both faces: the odd ones synced (an AD
// account under OU=Bulk, onPremisesSyncEnabled), the even ones cloud-only
// (no account in LDAP), each owning one device and with a mailbox, all
// with the fixed ids the doc comment promises.
func TestSyntheticUsersOverGraphAndLDAP(t *testing.T) {
	t.Parallel()
	seed := DefaultSeed()
	before := len(seed.Users)
	if err := seed.AddSyntheticUsers(4); err != nil {
		t.Fatal(err)
	}
	if len(seed.Users) != before+4 || len(seed.Devices) != 3+4 {
		t.Fatalf("seed has %d users and %d devices", len(seed.Users), len(seed.Devices))
	}
	tn, err := Start(context.Background(), seed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	tok := token(t, tn, revokeClientID, revokeSecret)

	tests := []struct {
		upn, id string
		synced  bool
		dn      string
	}{
		{"user00001@contoso.test", "5e000000-0000-4000-8000-000000000001", true, "CN=User 00001,OU=Bulk,DC=contoso,DC=test"},
		{"user00002@contoso.test", "5e000000-0000-4000-8000-000000000002", false, ""},
		{"user00003@contoso.test", "5e000000-0000-4000-8000-000000000003", true, "CN=User 00003,OU=Bulk,DC=contoso,DC=test"},
		{"user00004@contoso.test", "5e000000-0000-4000-8000-000000000004", false, ""},
	}
	c, err := ldap.DialURL(tn.LDAPSURL(), ldap.DialWithTLSConfig(tn.ClientTLS()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind("CN=svc-revoke,OU=Service Accounts,DC=contoso,DC=test", "Sandbox-Only-Bind-Pw-2f9c!"); err != nil {
		t.Fatal(err)
	}
	for i, tc := range tests {
		s, _, u := do(t, tn, tok, "GET", "/users/"+tc.upn+"?$select=id,userPrincipalName,accountEnabled,onPremisesSyncEnabled,onPremisesDistinguishedName", "")
		var dn any
		if tc.dn != "" {
			dn = tc.dn
		}
		sync := map[bool]any{true: true, false: nil}[tc.synced]
		if s != 200 || u["id"] != tc.id || u["userPrincipalName"] != tc.upn || u["accountEnabled"] != true ||
			u["onPremisesSyncEnabled"] != sync || u["onPremisesDistinguishedName"] != dn {
			t.Errorf("%s over Graph: %d %v", tc.upn, s, u)
		}
		s, _, devs := do(t, tn, tok, "GET", "/users/"+tc.id+"/ownedDevices", "")
		list, _ := devs["value"].([]any)
		want := fmt.Sprintf("de000000-0000-4000-8000-%012d USER%05d-PC true", i+1, i+1)
		if s != 200 || len(list) != 1 {
			t.Errorf("%s's devices: %d %v", tc.upn, s, devs)
		} else if d := list[0].(map[string]any); fmt.Sprint(d["id"], " ", d["displayName"], " ", d["accountEnabled"]) != want {
			t.Errorf("%s's device: %v, want %s", tc.upn, d, want)
		}
		if s, _, rules := do(t, tn, tok, "GET", "/users/"+tc.id+"/mailFolders/inbox/messageRules", ""); s != 200 || fmt.Sprint(rules["value"]) != "[]" {
			t.Errorf("%s's inbox rules: %d %v", tc.upn, s, rules)
		}
		res, err := c.Search(ldap.NewSearchRequest("DC=contoso,DC=test", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			fmt.Sprintf("(&(objectClass=user)(userPrincipalName=%s))", ldap.EscapeFilter(tc.upn)), []string{"sAMAccountName", "userAccountControl"}, nil))
		if err != nil {
			t.Fatalf("LDAP search for %s: %v", tc.upn, err)
		}
		var got []string
		for _, e := range res.Entries {
			got = append(got, e.DN+" "+e.GetAttributeValue("sAMAccountName")+" "+e.GetAttributeValue("userAccountControl"))
		}
		var wantAD []string
		if tc.synced {
			wantAD = []string{fmt.Sprintf("%s user%05d 512", tc.dn, i+1)}
		}
		if fmt.Sprint(got) != fmt.Sprint(wantAD) {
			t.Errorf("%s over LDAP: %q, want %q", tc.upn, got, wantAD)
		}
	}
	// The OU exists as AD shows one, so a base search of it answers.
	res, err := c.Search(ldap.NewSearchRequest("OU=Bulk,DC=contoso,DC=test", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=organizationalUnit)", []string{"ou"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Errorf("OU=Bulk: %v %v", err, res)
	}
}

func TestAddSyntheticUsersRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*Seed)
		n    int
		want string
	}{
		{name: "negative", n: -1, want: "synthetic users: want 0 to 10000, got -1"},
		{name: "too many to start quickly", n: 10001, want: "synthetic users: want 0 to 10000, got 10001"},
		{name: "no domain", n: 1, edit: func(s *Seed) { s.Tenant.Domains = nil }, want: "synthetic users: the seed's tenant has no domain for their user principal names"},
		{name: "no base DN", n: 1, edit: func(s *Seed) { s.AD.BaseDN = "" }, want: "synthetic users: the seed has no ad.base_dn for the synced half's accounts"},
		{name: "a name the seed has", n: 3, edit: func(s *Seed) { s.Users[0].UserPrincipalName = "USER00002@contoso.test" }, want: `synthetic users: the seed already has "user00002@contoso.test"`},
		{name: "an account the seed has", n: 3, edit: func(s *Seed) { s.AD.ServiceAccounts[0].SAMAccountName = "user00003" }, want: `synthetic users: the seed already has "user00003"`},
		{name: "twice", n: 2, edit: func(s *Seed) { _ = s.AddSyntheticUsers(1) }, want: `synthetic users: the seed already has "user00001@contoso.test"`},
	}
	for _, tc := range tests {
		seed := DefaultSeed()
		if tc.edit != nil {
			tc.edit(seed)
		}
		users, devices := len(seed.Users), len(seed.Devices)
		err := seed.AddSyntheticUsers(tc.n)
		if fmt.Sprint(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
		if len(seed.Users) != users || len(seed.Devices) != devices {
			t.Errorf("%s: the seed changed: %d users, %d devices", tc.name, len(seed.Users), len(seed.Devices))
		}
	}
	seed := DefaultSeed()
	if err := seed.AddSyntheticUsers(0); err != nil || len(seed.Users) != len(DefaultSeed().Users) {
		t.Errorf("zero: %v, %d users", err, len(seed.Users))
	}
}

// A thousand synthetic users start with the tenant in well under a
// second (the bound leaves room for a loaded machine; the benchmark below
// measures).
func TestThousandSyntheticUsersStartFast(t *testing.T) {
	t.Parallel()
	start := time.Now()
	seed := DefaultSeed()
	if err := seed.AddSyntheticUsers(1000); err != nil {
		t.Fatal(err)
	}
	tn, err := Start(context.Background(), seed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("1,000 synthetic users took %v to start", d)
	}
	if st := tn.Directory().State(); len(st.Users) != len(DefaultSeed().Users)+1000 || len(st.Devices) != 3+1000 {
		t.Errorf("%d users, %d devices", len(st.Users), len(st.Devices))
	}
}

func BenchmarkStartWithSyntheticUsers(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				seed := DefaultSeed()
				if err := seed.AddSyntheticUsers(n); err != nil {
					b.Fatal(err)
				}
				tn, err := Start(context.Background(), seed, Options{})
				if err != nil {
					b.Fatal(err)
				}
				tn.Close()
			}
		})
	}
}
