package sandbox

import (
	"fmt"
	"strings"
)

// MaxSyntheticUsers bounds AddSyntheticUsers. The tenant finds a user by
// reference with a linear scan, and building it resolves every device's
// owner that way, so its start grows with the square of its users: 1,000
// start in about a tenth of a second, 10,000 in several seconds, and more
// would keep a benchmark waiting for its tenant.
const MaxSyntheticUsers = 10000

// SyntheticOU is the organizational unit, under the seed's base DN, that
// holds the synthetic users' AD accounts.
const SyntheticOU = "OU=Bulk"

// AddSyntheticUsers adds n people to the seed for benchmarks, the same on
// every call: userNNNNN@DOMAIN (the seed's first domain, five digits, so
// they sort as they count), numbered from 1.
// Odd numbers are synced from AD (an account CN=User NNNNN,OU=Bulk,BASE_DN
// with sAMAccountName userNNNNN), even ones cloud-only, so any prefix of
// them holds both kinds. Each has Office 365 E3 (so a mailbox, with no
// inbox rule), a password and an Authenticator method, and one Windows
// device it owns (USERNNNNN-PC). Ids are fixed GUIDs that
// carry the number (user 7 is 5e000000-0000-4000-8000-000000000007), so a
// benchmark can name anyone without asking the tenant.
//
// It adds objects to the seed and builds nothing: Start then builds them
// with the rest, which for n = 1,000 takes milliseconds. A name or id the
// seed already uses is an error, and the seed is left as it was.
func (s *Seed) AddSyntheticUsers(n int) error {
	if n < 0 || n > MaxSyntheticUsers {
		return fmt.Errorf("synthetic users: want 0 to %d, got %d", MaxSyntheticUsers, n)
	}
	if n == 0 {
		return nil
	}
	if len(s.Tenant.Domains) == 0 {
		return fmt.Errorf("synthetic users: the seed's tenant has no domain for their user principal names")
	}
	if s.AD.BaseDN == "" {
		return fmt.Errorf("synthetic users: the seed has no ad.base_dn for the synced half's accounts")
	}
	domain := s.Tenant.Domains[0]
	taken := map[string]bool{}
	for _, u := range s.Users {
		taken[strings.ToLower(u.UserPrincipalName)] = true
		taken[strings.ToLower(u.ID)] = true
		if u.AD != nil {
			taken[strings.ToLower(u.AD.SAMAccountName)] = true
			taken[strings.ToLower(u.AD.DN)] = true
		}
	}
	for _, a := range s.AD.ServiceAccounts {
		taken[strings.ToLower(a.SAMAccountName)] = true
		taken[strings.ToLower(a.DN)] = true
	}
	for _, d := range s.Devices {
		taken[strings.ToLower(d.ID)] = true
		taken[strings.ToLower(d.DeviceID)] = true
		taken["device:"+strings.ToLower(d.DisplayName)] = true
	}
	users := make([]SeedUser, 0, n)
	devices := make([]SeedDevice, 0, n)
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("user%05d", i)
		u := SeedUser{
			ID:                syntheticID(0x5e, i),
			UserPrincipalName: name + "@" + domain,
			DisplayName:       fmt.Sprintf("User %05d", i),
			UserType:          "Member",
			AccountEnabled:    true,
			Cloud:             true,
			Licenses:          []string{syntheticLicense},
			AuthMethods: []AuthMethod{
				{ID: syntheticID(0xa1, i), Type: "password"},
				{ID: syntheticID(0xa2, i), Type: "microsoftAuthenticator", Default: true},
			},
		}
		v := SeedDevice{
			ID: syntheticID(0xde, i), DeviceID: syntheticID(0xdf, i), DisplayName: strings.ToUpper(name) + "-PC",
			OperatingSystem: "Windows", AccountEnabled: true, Owners: []string{u.UserPrincipalName},
		}
		keys := []string{strings.ToLower(u.UserPrincipalName), u.ID, v.ID, v.DeviceID, "device:" + strings.ToLower(v.DisplayName)}
		if i%2 == 1 {
			u.OnPremisesSyncEnabled = true
			u.AD = &SeedADAccount{
				DN:             fmt.Sprintf("CN=User %05d,%s,%s", i, SyntheticOU, s.AD.BaseDN),
				SAMAccountName: name, GivenName: "User", Surname: fmt.Sprintf("%05d", i), UserAccountControl: 512,
			}
			keys = append(keys, name, strings.ToLower(u.AD.DN))
		}
		for _, k := range keys {
			if taken[strings.ToLower(k)] {
				return fmt.Errorf("synthetic users: the seed already has %q", k)
			}
		}
		users = append(users, u)
		devices = append(devices, v)
	}
	s.Users = append(s.Users, users...)
	s.Devices = append(s.Devices, devices...)
	return nil
}

// syntheticLicense is Office 365 E3 (ENTERPRISEPACK): the licence of a
// typical employee, which gives each synthetic user a mailbox, so a
// runbook's inbox-rule step reads one as it would for a real person.
const syntheticLicense = "6fd2c87f-b296-42f0-b197-1e91e994b900"

// syntheticID is a GUID-shaped id whose first byte says what it is (5e a
// user, de a device, a1/a2 sign-in methods) and whose last group is i in
// decimal digits, so the id reads as the number it belongs to.
func syntheticID(kind byte, i int) string {
	return fmt.Sprintf("%02x000000-0000-4000-8000-%012d", kind, i)
}
