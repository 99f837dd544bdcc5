package sandbox

import (
	"cmp"
	"crypto/sha1"
	"fmt"
	"strings"
	"time"
)

// stableID derives a GUID-shaped id from a key, so objects the seed gives
// no id keep the same one on every start.
func stableID(kind, key string) string {
	h := sha1.Sum([]byte(kind + "\x00" + strings.ToLower(key)))
	h[6] = h[6]&0x0f | 0x50 // version 5
	h[8] = h[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// NewDirectory builds a fresh tenant state from the seed. Every call returns
// an independent Directory; the seed is not modified. PwdLastSet starts at
// now and counts as already synced.
func (s *Seed) NewDirectory(now time.Time) *Directory {
	d := &Directory{
		TenantID:          s.Tenant.ID,
		Domains:           append([]string(nil), s.Tenant.Domains...),
		BaseDN:            s.AD.BaseDN,
		NetBIOS:           s.AD.NetBIOS,
		Apps:              map[string]*App{},
		RoleAssignments:   map[string][]string{},
		RoleEligibilities: map[string][]string{},
		WithoutP2:         s.Tenant.WithoutP2,
	}
	for _, a := range s.Apps {
		app := &App{
			Name: a.Name, ClientID: a.ClientID, Secret: a.Secret, Certificate: []byte(a.Certificate),
			Permissions: append([]string(nil), a.Permissions...), DirectoryRoles: append([]string(nil), a.DirectoryRoles...),
			IdentifierURIs: append([]string(nil), a.IdentifierURIs...), AppRoles: append([]string(nil), a.AppRoles...),
			APIRoles: resolveAPIRoles(s.Apps, a.APIRoles),
		}
		for _, f := range a.FederatedCredentials {
			// A seed ParseSeed accepted has keys that parse; one built in
			// code with a bad key gets a credential nothing verifies.
			keys, _ := parseIssuerKeys([]byte(f.IssuerKey))
			app.FederatedCredentials = append(app.FederatedCredentials, FederatedCredential{
				Name: f.Name, Issuer: f.Issuer, Subject: f.Subject, Audiences: append([]string(nil), f.Audiences...), Keys: keys,
			})
		}
		d.Apps[a.ClientID] = app
	}
	for _, m := range s.ManagedIdentities {
		d.Apps[m.ClientID] = &App{
			Name: m.Name, ClientID: m.ClientID, ManagedIdentity: m.Type,
			Permissions: append([]string(nil), m.Permissions...), DirectoryRoles: append([]string(nil), m.DirectoryRoles...),
			APIRoles: resolveAPIRoles(s.Apps, m.APIRoles),
		}
	}
	for _, a := range s.AD.ServiceAccounts {
		acc := newADAccount(a, "", "", s.AD.BaseDN, now)
		d.ServiceAccounts = append(d.ServiceAccounts, acc)
	}
	for _, su := range s.Users {
		id := su.ID
		if id == "" {
			id = stableID("user", su.UserPrincipalName)
		}
		u := &User{
			ID: id, UserPrincipalName: su.UserPrincipalName, DisplayName: su.DisplayName, UserType: su.UserType,
			AccountEnabled: su.AccountEnabled, OnPremisesSyncEnabled: su.OnPremisesSyncEnabled,
			SignInSessionsValidFrom: now.Add(-24 * time.Hour).UTC().Truncate(time.Second),
			RiskState:               su.RiskState, RiskLevel: su.RiskLevel,
			Licenses:    append([]string(nil), su.Licenses...),
			AuthMethods: append([]AuthMethod(nil), su.AuthMethods...),
			InCloud:     su.Cloud,
		}
		if su.AD != nil {
			u.AD = newADAccount(*su.AD, su.UserPrincipalName, su.DisplayName, s.AD.BaseDN, now)
			u.LastSyncedPasswordAt = u.AD.PwdLastSet
		}
		d.Users = append(d.Users, u)
	}
	for _, sd := range s.Devices {
		v := &Device{
			ID: sd.ID, DeviceID: sd.DeviceID, DisplayName: sd.DisplayName, OperatingSystem: sd.OperatingSystem,
			AccountEnabled: sd.AccountEnabled, RegisteredOwners: d.userIDs(sd.Owners), RegisteredUsers: d.userIDs(sd.Users),
		}
		if len(sd.Users) == 0 {
			// A device a user registers has them as owner and registered user.
			v.RegisteredUsers = append([]string(nil), v.RegisteredOwners...)
		}
		if v.ID == "" {
			v.ID = stableID("device", sd.DisplayName)
		}
		if v.DeviceID == "" {
			v.DeviceID = stableID("deviceId", sd.DisplayName)
		}
		d.Devices = append(d.Devices, v)
	}
	for _, sm := range s.ManagedDevices {
		m := &ManagedDevice{ID: sm.ID, DeviceName: sm.DeviceName, OS: sm.OperatingSystem, State: sm.State}
		if m.ID == "" {
			m.ID = stableID("managedDevice", sm.DeviceName)
		}
		if u := d.UserByRef(sm.User); u != nil {
			m.UserID = u.ID
		}
		d.ManagedDevices = append(d.ManagedDevices, m)
	}
	for _, sg := range s.Groups {
		g := &Group{ID: sg.ID, DisplayName: sg.DisplayName, Members: d.userIDs(sg.Members), Dynamic: sg.Dynamic, RoleAssignable: sg.RoleAssignable,
			Licenses: append([]string(nil), sg.Licenses...), GroupKind: sg.GroupKind}
		if g.ID == "" {
			g.ID = stableID("group", sg.DisplayName)
		}
		d.Groups = append(d.Groups, g)
	}
	for _, sg := range s.ADGroups {
		g := &ADGroup{DN: sg.DN, CN: dnCN(sg.DN)}
		for _, m := range sg.Members {
			g.Members = append(g.Members, d.adMemberDN(m, s))
		}
		d.ADGroups = append(d.ADGroups, g)
	}
	for _, set := range []struct {
		from []SeedRoleAssignment
		to   map[string][]string
	}{{s.RoleAssignments, d.RoleAssignments}, {s.RoleEligibilities, d.RoleEligibilities}} {
		for _, ra := range set.from {
			if u := d.UserByRef(ra.User); u != nil {
				set.to[u.ID] = append(set.to[u.ID], ra.Roles...)
			}
			if g := d.groupByRef(ra.Group); g != nil {
				set.to[g.ID] = append(set.to[g.ID], ra.Roles...)
			}
		}
	}
	s.newCleanup(d, now)
	d.SetLatency(s.Options.Latency, s.Options.Jitter)
	return d
}

func newADAccount(a SeedADAccount, upn, displayName, baseDN string, now time.Time) *ADAccount {
	if displayName == "" {
		displayName = dnCN(a.DN)
	}
	return &ADAccount{
		DN: a.DN, SAMAccountName: a.SAMAccountName, UserPrincipalName: upn, DisplayName: displayName,
		GivenName: a.GivenName, Surname: a.Surname, UserAccountControl: a.UserAccountControl,
		AdminCount: a.AdminCount, Password: a.Password, PwdLastSet: now.UTC().Truncate(time.Second),
		ObjectGUID: stableID("objectGUID", a.DN), ObjectSID: cmp.Or(a.ObjectSID, objectSID(baseDN, a.DN)),
	}
}

func (d *Directory) userIDs(refs []string) []string {
	var out []string
	for _, r := range refs {
		if u := d.UserByRef(r); u != nil {
			out = append(out, u.ID)
		}
	}
	return out
}

// adMemberDN resolves an AD group member reference (DN, sAMAccountName or
// UPN) to a DN; the seed was checked, so an unknown one is kept as given.
func (d *Directory) adMemberDN(ref string, s *Seed) string {
	for _, u := range d.Users {
		if u.AD != nil && (strings.EqualFold(u.AD.DN, ref) || strings.EqualFold(u.AD.SAMAccountName, ref) || strings.EqualFold(u.UserPrincipalName, ref)) {
			return u.AD.DN
		}
	}
	for _, a := range d.ServiceAccounts {
		if strings.EqualFold(a.DN, ref) || strings.EqualFold(a.SAMAccountName, ref) {
			return a.DN
		}
	}
	for _, g := range s.ADGroups {
		if strings.EqualFold(g.DN, ref) {
			return g.DN
		}
	}
	return ref
}

// dnCN is the value of a DN's first RDN (CN=Sales,OU=… → Sales), honouring
// backslash escapes.
func dnCN(dn string) string {
	var b strings.Builder
	for i := 0; i < len(dn); i++ {
		c := dn[i]
		if c == '\\' && i+1 < len(dn) {
			i++
			b.WriteByte(dn[i])
			continue
		}
		if c == ',' {
			break
		}
		b.WriteByte(c)
	}
	v := b.String()
	if i := strings.IndexByte(v, '='); i >= 0 {
		v = v[i+1:]
	}
	return v
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
