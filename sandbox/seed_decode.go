package sandbox

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ParseSeed reads a seed from YAML. Unknown keys, wrong types, duplicate
// objects and references to unknown users, groups or roles are errors; the
// returned *SeedError lists every one.
func ParseSeed(file string, data []byte) (*Seed, error) {
	d := &seedDecoder{file: file}
	s := &Seed{File: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &SeedError{Problems: []string{fmt.Sprintf("%s: %v", file, err)}}
	}
	if len(doc.Content) == 0 {
		return nil, &SeedError{Problems: []string{fmt.Sprintf("%s:1:1: empty seed", file)}}
	}
	root := doc.Content[0]
	d.fields(root, "seed", map[string]func(*yaml.Node){
		"tenant": func(n *yaml.Node) {
			d.fields(n, "tenant", map[string]func(*yaml.Node){
				"id":          func(n *yaml.Node) { s.Tenant.ID = strings.ToLower(d.str(n)) },
				"domains":     func(n *yaml.Node) { s.Tenant.Domains = d.strs(n) },
				"entra_id_p2": func(n *yaml.Node) { s.Tenant.WithoutP2 = !d.boolean(n) },
			})
		},
		"ad": func(n *yaml.Node) {
			d.fields(n, "ad", map[string]func(*yaml.Node){
				"base_dn": func(n *yaml.Node) { s.AD.BaseDN = d.str(n) },
				"netbios": func(n *yaml.Node) { s.AD.NetBIOS = d.str(n) },
				"service_accounts": func(n *yaml.Node) {
					d.each(n, func(n *yaml.Node) {
						a := d.adAccount(n, "service account")
						d.need(n, a.DN, "dn")
						s.AD.ServiceAccounts = append(s.AD.ServiceAccounts, a)
					})
				},
			})
		},
		"apps": func(n *yaml.Node) { d.each(n, func(n *yaml.Node) { s.Apps = append(s.Apps, d.app(n)) }) },
		"managed_identities": func(n *yaml.Node) {
			d.each(n, func(n *yaml.Node) { s.ManagedIdentities = append(s.ManagedIdentities, d.managedIdentity(n)) })
		},
		"users":   func(n *yaml.Node) { d.each(n, func(n *yaml.Node) { s.Users = append(s.Users, d.user(n)) }) },
		"devices": func(n *yaml.Node) { d.each(n, func(n *yaml.Node) { s.Devices = append(s.Devices, d.device(n)) }) },
		"managed_devices": func(n *yaml.Node) {
			d.each(n, func(n *yaml.Node) { s.ManagedDevices = append(s.ManagedDevices, d.managedDevice(n)) })
		},
		"groups":    func(n *yaml.Node) { d.each(n, func(n *yaml.Node) { s.Groups = append(s.Groups, d.group(n)) }) },
		"ad_groups": func(n *yaml.Node) { d.each(n, func(n *yaml.Node) { s.ADGroups = append(s.ADGroups, d.adGroup(n)) }) },
		"role_assignments": func(n *yaml.Node) {
			d.each(n, func(n *yaml.Node) {
				s.RoleAssignments = append(s.RoleAssignments, d.roleAssignment(n, "role assignment"))
			})
		},
		"role_eligibilities": func(n *yaml.Node) {
			d.each(n, func(n *yaml.Node) {
				s.RoleEligibilities = append(s.RoleEligibilities, d.roleAssignment(n, "role eligibility"))
			})
		},
		"options": func(n *yaml.Node) { s.Options = d.options(n) },
		"service_principals": func(n *yaml.Node) {
			d.each(n, func(n *yaml.Node) { s.ServicePrincipals = append(s.ServicePrincipals, d.servicePrincipal(n)) })
		},
		"oauth2_permission_grants": func(n *yaml.Node) {
			d.each(n, func(n *yaml.Node) { s.PermissionGrants = append(s.PermissionGrants, d.permissionGrant(n)) })
		},
		"servicenow": func(n *yaml.Node) { s.ServiceNow = d.serviceNow(n) },
		"app_role_assignments": func(n *yaml.Node) {
			d.each(n, func(n *yaml.Node) { s.AppRoleAssignments = append(s.AppRoleAssignments, d.appRoleAssignment(n)) })
		},
	})
	d.need(root, s.Tenant.ID, "tenant.id")
	d.check(s)
	if len(d.problems) > 0 {
		return nil, &SeedError{Problems: d.problems}
	}
	return s, nil
}

// seedDecoder walks yaml.Node trees so every problem carries its position.
type seedDecoder struct {
	file     string
	problems []string
	// refs are user or AD references checked once every object is known.
	refs []seedRef
	// appNodes and identityNodes are where each app and managed identity
	// was written, for problems found once the whole file is read.
	appNodes, identityNodes []*yaml.Node
}

type seedRef struct {
	node *yaml.Node
	kind string // "user", "ad" or "role group"
}

func (d *seedDecoder) errorf(n *yaml.Node, format string, args ...any) {
	d.problems = append(d.problems, fmt.Sprintf("%s:%d:%d: %s", d.file, n.Line, n.Column, fmt.Sprintf(format, args...)))
}

// fields decodes a mapping, calling the handler of each known key; unknown
// and repeated keys are errors.
func (d *seedDecoder) fields(n *yaml.Node, what string, handlers map[string]func(*yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := handlers[k.Value]
		if !ok {
			d.errorf(k, "unknown key %q in %s", k.Value, what)
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "%s: %q given twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		h(v)
	}
}

func (d *seedDecoder) need(n *yaml.Node, v, key string) {
	if v == "" {
		d.errorf(n, "%s is required", key)
	}
}

func (d *seedDecoder) each(n *yaml.Node, f func(*yaml.Node)) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "expected a list")
		return
	}
	for _, c := range n.Content {
		f(c)
	}
}

func (d *seedDecoder) str(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, "expected a string")
		return ""
	}
	return n.Value
}

func (d *seedDecoder) boolean(n *yaml.Node) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		d.errorf(n, "expected true or false, got %q", n.Value)
	}
	return b
}

func (d *seedDecoder) integer(n *yaml.Node) int {
	i, err := strconv.ParseInt(n.Value, 0, 64)
	if n.Kind != yaml.ScalarNode || err != nil {
		d.errorf(n, "expected an integer, got %q", n.Value)
	}
	return int(i)
}

func (d *seedDecoder) float(n *yaml.Node) float64 {
	f, err := strconv.ParseFloat(n.Value, 64)
	if n.Kind != yaml.ScalarNode || err != nil {
		d.errorf(n, "expected a number, got %q", n.Value)
	}
	return f
}

func (d *seedDecoder) duration(n *yaml.Node) time.Duration {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < 0 {
		d.errorf(n, "expected a duration such as 30s or 5m, got %q", n.Value)
	}
	return v
}

func (d *seedDecoder) strs(n *yaml.Node) []string {
	var out []string
	d.each(n, func(c *yaml.Node) { out = append(out, d.str(c)) })
	return out
}

func (d *seedDecoder) userRef(n *yaml.Node) string { return d.ref(n, "user") }

// ref reads a reference to an object of kind, checked once the whole seed
// is read (see check).
func (d *seedDecoder) ref(n *yaml.Node, kind string) string {
	v := d.str(n)
	if v != "" {
		d.refs = append(d.refs, seedRef{node: n, kind: kind})
	}
	return v
}

// roleAssignment reads a principal (a user or a role-assignable group) and
// its roles: an assignment, or a PIM eligibility (what says which).
func (d *seedDecoder) roleAssignment(n *yaml.Node, what string) SeedRoleAssignment {
	var ra SeedRoleAssignment
	d.fields(n, what, map[string]func(*yaml.Node){
		"user":  func(n *yaml.Node) { ra.User = d.userRef(n) },
		"group": func(n *yaml.Node) { ra.Group = d.groupRef(n) },
		"roles": func(n *yaml.Node) { ra.Roles = d.roles(n) },
	})
	if (ra.User == "") == (ra.Group == "") {
		d.errorf(n, "%s: want exactly one of user and group", what)
	}
	return ra
}

// groupRef is a role assignment's group: checked, once every group is
// read, to exist and be role-assignable.
func (d *seedDecoder) groupRef(n *yaml.Node) string { return d.ref(n, "role group") }

func (d *seedDecoder) userRefs(n *yaml.Node) []string {
	var out []string
	d.each(n, func(c *yaml.Node) { out = append(out, d.userRef(c)) })
	return out
}

func (d *seedDecoder) roles(n *yaml.Node) []string {
	var out []string
	d.each(n, func(c *yaml.Node) {
		r := d.str(c)
		if r != "" && roleTemplateID(r) == "" {
			d.errorf(c, "unknown directory role %q (known: %s)", r, strings.Join(knownRoleNames(), ", "))
		}
		out = append(out, r)
	})
	return out
}

func (d *seedDecoder) app(n *yaml.Node) SeedApp {
	var a SeedApp
	d.fields(n, "app", map[string]func(*yaml.Node){
		"name":        func(n *yaml.Node) { a.Name = d.str(n) },
		"client_id":   func(n *yaml.Node) { a.ClientID = strings.ToLower(d.str(n)) },
		"secret":      func(n *yaml.Node) { a.Secret = d.str(n) },
		"certificate": func(n *yaml.Node) { a.Certificate = d.str(n); d.certificate(n) },
		"federated_credentials": func(n *yaml.Node) {
			d.each(n, func(n *yaml.Node) {
				a.FederatedCredentials = append(a.FederatedCredentials, d.federated(n, a.FederatedCredentials))
			})
		},
		"permissions":     func(n *yaml.Node) { a.Permissions = d.strs(n) },
		"directory_roles": func(n *yaml.Node) { a.DirectoryRoles = d.roles(n) },
		"identifier_uris": func(n *yaml.Node) { a.IdentifierURIs = d.strs(n) },
		"app_roles":       func(n *yaml.Node) { a.AppRoles = d.strs(n) },
		"api_roles":       func(n *yaml.Node) { a.APIRoles = d.apiRoles(n) },
	})
	d.need(n, a.ClientID, "client_id")
	if a.Secret == "" && a.Certificate == "" && len(a.FederatedCredentials) == 0 && len(a.AppRoles) == 0 {
		d.errorf(n, "app %q needs a secret or a certificate", a.ClientID)
	}
	d.appNodes = append(d.appNodes, n)
	return a
}

// federated decodes a federated identity credential; earlier are the
// app's ones before it, which it must not repeat.
func (d *seedDecoder) federated(n *yaml.Node, earlier []SeedFederatedCredential) SeedFederatedCredential {
	f := SeedFederatedCredential{Audiences: []string{federatedAudience}}
	d.fields(n, "federated credential", map[string]func(*yaml.Node){
		"name": func(n *yaml.Node) { f.Name = d.str(n) },
		"issuer": func(n *yaml.Node) {
			f.Issuer = d.str(n)
			if u, err := url.Parse(f.Issuer); f.Issuer != "" && (err != nil || u.Scheme != "https" || u.Host == "") {
				d.errorf(n, "issuer must be an https URL, got %q", f.Issuer)
			}
		},
		"subject": func(n *yaml.Node) { f.Subject = d.str(n) },
		"audiences": func(n *yaml.Node) {
			f.Audiences = d.strs(n)
			if len(f.Audiences) != 1 {
				d.errorf(n, "audiences must hold exactly one audience (Entra allows one), got %d", len(f.Audiences))
			}
		},
		"issuer_key": func(n *yaml.Node) {
			f.IssuerKey = d.str(n)
			if _, err := parseIssuerKeys([]byte(f.IssuerKey)); f.IssuerKey != "" && err != nil {
				d.errorf(n, "issuer_key: %v", err)
			}
		},
	})
	d.need(n, f.Name, "name")
	d.need(n, f.Issuer, "issuer")
	d.need(n, f.Subject, "subject")
	d.need(n, f.IssuerKey, "issuer_key")
	for _, e := range earlier {
		switch {
		case f.Name != "" && e.Name == f.Name:
			d.errorf(n, "federated credential %q given twice", f.Name)
		case f.Issuer != "" && e.Issuer == f.Issuer && e.Subject == f.Subject:
			d.errorf(n, "federated credential %q: %q already has one for issuer %q and subject %q", f.Name, e.Name, f.Issuer, f.Subject)
		}
	}
	return f
}

func (d *seedDecoder) managedIdentity(n *yaml.Node) SeedManagedIdentity {
	var m SeedManagedIdentity
	d.fields(n, "managed identity", map[string]func(*yaml.Node){
		"name":      func(n *yaml.Node) { m.Name = d.str(n) },
		"client_id": func(n *yaml.Node) { m.ClientID = strings.ToLower(d.str(n)) },
		"type": func(n *yaml.Node) {
			m.Type = d.str(n)
			if m.Type != "" && m.Type != ManagedSystemAssigned && m.Type != ManagedUserAssigned {
				d.errorf(n, "type must be %s or %s, got %q", ManagedSystemAssigned, ManagedUserAssigned, m.Type)
			}
		},
		"permissions":     func(n *yaml.Node) { m.Permissions = d.strs(n) },
		"directory_roles": func(n *yaml.Node) { m.DirectoryRoles = d.roles(n) },
		"api_roles":       func(n *yaml.Node) { m.APIRoles = d.apiRoles(n) },
	})
	d.need(n, m.ClientID, "client_id")
	d.need(n, m.Type, "type")
	d.identityNodes = append(d.identityNodes, n)
	return m
}

// certificate checks that n holds at least one PEM certificate.
func (d *seedDecoder) certificate(n *yaml.Node) {
	rest := []byte(n.Value)
	found := false
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			d.errorf(n, "certificate: %v", err)
			return
		}
		found = true
	}
	if !found {
		d.errorf(n, "certificate: no PEM CERTIFICATE block")
	}
}

func (d *seedDecoder) user(n *yaml.Node) SeedUser {
	u := SeedUser{AccountEnabled: true, Cloud: true, UserType: "Member"}
	d.fields(n, "user", map[string]func(*yaml.Node){
		"id":                    func(n *yaml.Node) { u.ID = strings.ToLower(d.str(n)) },
		"userPrincipalName":     func(n *yaml.Node) { u.UserPrincipalName = d.str(n) },
		"displayName":           func(n *yaml.Node) { u.DisplayName = d.str(n) },
		"accountEnabled":        func(n *yaml.Node) { u.AccountEnabled = d.boolean(n) },
		"onPremisesSyncEnabled": func(n *yaml.Node) { u.OnPremisesSyncEnabled = d.boolean(n) },
		"cloud":                 func(n *yaml.Node) { u.Cloud = d.boolean(n) },
		"userType": func(n *yaml.Node) {
			u.UserType = d.str(n)
			if u.UserType != "Member" && u.UserType != "Guest" {
				d.errorf(n, "userType must be Member or Guest, got %q", u.UserType)
			}
		},
		"licenses": func(n *yaml.Node) {
			for _, l := range d.strs(n) {
				u.Licenses = append(u.Licenses, strings.ToLower(l))
			}
		},
		"auth_methods": func(n *yaml.Node) {
			d.each(n, func(n *yaml.Node) { u.AuthMethods = append(u.AuthMethods, d.authMethod(n)) })
		},
		"inbox_rules": func(n *yaml.Node) {
			d.each(n, func(n *yaml.Node) { u.InboxRules = append(u.InboxRules, d.inboxRule(n)) })
		},
		"risk_state": func(n *yaml.Node) { u.RiskState = d.str(n) },
		"risk_level": func(n *yaml.Node) { u.RiskLevel = d.str(n) },
		"ad": func(n *yaml.Node) {
			a := d.adAccount(n, "ad")
			d.need(n, a.DN, "ad.dn")
			d.need(n, a.SAMAccountName, "ad.sAMAccountName")
			u.AD = &a
		},
	})
	d.need(n, u.UserPrincipalName, "userPrincipalName")
	if u.OnPremisesSyncEnabled && u.AD == nil {
		d.errorf(n, "user %q: onPremisesSyncEnabled needs an ad account", u.UserPrincipalName)
	}
	if !u.Cloud && u.AD == nil {
		d.errorf(n, "user %q: cloud: false needs an ad account", u.UserPrincipalName)
	}
	if !u.Cloud && u.OnPremisesSyncEnabled {
		d.errorf(n, "user %q: an AD-only account (cloud: false) cannot be onPremisesSyncEnabled", u.UserPrincipalName)
	}
	return u
}

func (d *seedDecoder) adAccount(n *yaml.Node, what string) SeedADAccount {
	a := SeedADAccount{UserAccountControl: 512}
	d.fields(n, what, map[string]func(*yaml.Node){
		"dn":                 func(n *yaml.Node) { a.DN = d.str(n) },
		"sAMAccountName":     func(n *yaml.Node) { a.SAMAccountName = d.str(n) },
		"givenName":          func(n *yaml.Node) { a.GivenName = d.str(n) },
		"sn":                 func(n *yaml.Node) { a.Surname = d.str(n) },
		"userAccountControl": func(n *yaml.Node) { a.UserAccountControl = d.integer(n) },
		"adminCount":         func(n *yaml.Node) { a.AdminCount = d.integer(n) },
		"password":           func(n *yaml.Node) { a.Password = d.str(n) },
		"objectSid": func(n *yaml.Node) {
			a.ObjectSID = d.str(n)
			if !sidTextRE.MatchString(a.ObjectSID) {
				d.errorf(n, "%s: objectSid %q is not a SID (S-1-5-21-…)", what, a.ObjectSID)
			}
		},
	})
	return a
}

// sidTextRE is a SID's string form.
var sidTextRE = regexp.MustCompile(`^S-1-[0-9]+(-[0-9]+)+$`)

func (d *seedDecoder) device(n *yaml.Node) SeedDevice {
	v := SeedDevice{AccountEnabled: true}
	d.fields(n, "device", map[string]func(*yaml.Node){
		"id":              func(n *yaml.Node) { v.ID = strings.ToLower(d.str(n)) },
		"deviceId":        func(n *yaml.Node) { v.DeviceID = strings.ToLower(d.str(n)) },
		"displayName":     func(n *yaml.Node) { v.DisplayName = d.str(n) },
		"operatingSystem": func(n *yaml.Node) { v.OperatingSystem = d.str(n) },
		"accountEnabled":  func(n *yaml.Node) { v.AccountEnabled = d.boolean(n) },
		"owners":          func(n *yaml.Node) { v.Owners = d.userRefs(n) },
		"users":           func(n *yaml.Node) { v.Users = d.userRefs(n) },
	})
	d.need(n, v.DisplayName, "displayName")
	return v
}

func (d *seedDecoder) managedDevice(n *yaml.Node) SeedManagedDevice {
	v := SeedManagedDevice{State: "managed"}
	d.fields(n, "managed device", map[string]func(*yaml.Node){
		"id":              func(n *yaml.Node) { v.ID = strings.ToLower(d.str(n)) },
		"deviceName":      func(n *yaml.Node) { v.DeviceName = d.str(n) },
		"user":            func(n *yaml.Node) { v.User = d.userRef(n) },
		"operatingSystem": func(n *yaml.Node) { v.OperatingSystem = d.str(n) },
		"state": func(n *yaml.Node) {
			v.State = d.str(n)
			if v.State != "managed" && v.State != "retirePending" && v.State != "wipePending" {
				d.errorf(n, "state must be managed, retirePending or wipePending, got %q", v.State)
			}
		},
	})
	d.need(n, v.DeviceName, "deviceName")
	d.need(n, v.User, "user")
	return v
}

func (d *seedDecoder) group(n *yaml.Node) SeedGroup {
	var g SeedGroup
	d.fields(n, "group", map[string]func(*yaml.Node){
		"id":              func(n *yaml.Node) { g.ID = strings.ToLower(d.str(n)) },
		"displayName":     func(n *yaml.Node) { g.DisplayName = d.str(n) },
		"members":         func(n *yaml.Node) { g.Members = d.userRefs(n) },
		"dynamic":         func(n *yaml.Node) { g.Dynamic = d.boolean(n) },
		"role_assignable": func(n *yaml.Node) { g.RoleAssignable = d.boolean(n) },
		"licenses": func(n *yaml.Node) {
			for _, l := range d.strs(n) {
				g.Licenses = append(g.Licenses, strings.ToLower(l))
			}
		},
		"synced":           func(n *yaml.Node) { g.Synced = d.boolean(n) },
		"mail":             func(n *yaml.Node) { g.Mail = d.str(n) },
		"unified":          func(n *yaml.Node) { g.Unified = d.boolean(n) },
		"security_enabled": func(n *yaml.Node) { g.NotSecurity = !d.boolean(n) },
	})
	d.need(n, g.DisplayName, "displayName")
	if p := g.problem(g.Dynamic, g.RoleAssignable); p != "" {
		d.errorf(n, "group %q: %s", g.DisplayName, p)
	}
	return g
}

func (d *seedDecoder) adGroup(n *yaml.Node) SeedADGroup {
	var g SeedADGroup
	d.fields(n, "ad group", map[string]func(*yaml.Node){
		"dn": func(n *yaml.Node) { g.DN = d.str(n) },
		"members": func(n *yaml.Node) {
			d.each(n, func(c *yaml.Node) { g.Members = append(g.Members, d.ref(c, "ad")) })
		},
	})
	d.need(n, g.DN, "dn")
	return g
}

func (d *seedDecoder) options(n *yaml.Node) SeedOptions {
	var o SeedOptions
	d.fields(n, "options", map[string]func(*yaml.Node){
		"latency":    func(n *yaml.Node) { o.Latency = d.duration(n) },
		"jitter":     func(n *yaml.Node) { o.Jitter = d.duration(n) },
		"sync_every": func(n *yaml.Node) { o.SyncEvery = d.duration(n) },
		"throttle": func(n *yaml.Node) {
			t, err := ParseThrottle(d.str(n))
			if err != nil {
				d.errorf(n, "%v", err)
				return
			}
			o.Throttle = &t
		},
		"faults":         func(n *yaml.Node) { d.each(n, func(n *yaml.Node) { o.Faults = append(o.Faults, d.fault(n)) }) },
		"deletion_delay": func(n *yaml.Node) { o.DeletionDelay = d.duration(n) },
		"page_size": func(n *yaml.Node) {
			before := len(d.problems)
			o.PageSize = d.integer(n)
			if len(d.problems) == before && (o.PageSize < 1 || o.PageSize > maxPageSize) {
				d.errorf(n, "page_size must be 1 to %d, got %d", maxPageSize, o.PageSize)
			}
		},
	})
	return o
}

func (d *seedDecoder) fault(n *yaml.Node) FaultRule {
	var f FaultRule
	d.fields(n, "fault", map[string]func(*yaml.Node){
		"path":        func(n *yaml.Node) { f.Path = d.str(n) },
		"method":      func(n *yaml.Node) { f.Method = strings.ToUpper(d.str(n)) },
		"nth":         func(n *yaml.Node) { f.Nth = d.integer(n) },
		"every":       func(n *yaml.Node) { f.Every = d.integer(n) },
		"percent":     func(n *yaml.Node) { f.Percent = d.float(n) },
		"status":      func(n *yaml.Node) { f.Status = d.integer(n) },
		"retry_after": func(n *yaml.Node) { f.RetryAfter = d.duration(n) },
		"reset":       func(n *yaml.Node) { f.Reset = d.boolean(n) },
	})
	if err := f.validate(); err != nil {
		d.errorf(n, "%v", err)
	}
	return f
}

// check finds duplicates and dangling references once the whole file is read.
func (d *seedDecoder) check(s *Seed) {
	users := map[string]bool{} // lower-cased ids and UPNs of cloud users
	ad := map[string]bool{}    // lower-cased sAMAccountNames, UPNs and DNs on-premises
	for _, u := range s.Users {
		upn := strings.ToLower(u.UserPrincipalName)
		if u.Cloud {
			if users[upn] || (u.ID != "" && users[u.ID]) {
				d.problems = append(d.problems, fmt.Sprintf("%s: user %q defined twice", d.file, u.UserPrincipalName))
			}
			users[upn] = true
			if u.ID != "" {
				users[u.ID] = true
			}
		}
		if u.AD != nil {
			for _, k := range []string{upn, strings.ToLower(u.AD.SAMAccountName), strings.ToLower(u.AD.DN)} {
				if ad[k] {
					d.problems = append(d.problems, fmt.Sprintf("%s: AD account %q defined twice", d.file, k))
				}
				ad[k] = true
			}
			if s.AD.BaseDN != "" && !strings.HasSuffix(strings.ToLower(u.AD.DN), ","+strings.ToLower(s.AD.BaseDN)) {
				d.problems = append(d.problems, fmt.Sprintf("%s: AD account %q is not under base_dn %q", d.file, u.AD.DN, s.AD.BaseDN))
			}
		}
	}
	for _, a := range s.AD.ServiceAccounts {
		ad[strings.ToLower(a.DN)] = true
		if a.SAMAccountName != "" {
			ad[strings.ToLower(a.SAMAccountName)] = true
		}
	}
	for _, g := range s.ADGroups {
		ad[strings.ToLower(g.DN)] = true
	}
	for _, r := range d.refs {
		v := strings.ToLower(r.node.Value)
		switch r.kind {
		case "service principal":
			if !seedHasServicePrincipal(s, v) {
				d.errorf(r.node, "unknown service principal %q", r.node.Value)
			}
		case "group":
			if seedGroupByRef(s, v) == nil {
				d.errorf(r.node, "unknown group %q", r.node.Value)
			}
		case "user":
			if !users[v] {
				d.errorf(r.node, "unknown user %q", r.node.Value)
			}
		case "ad":
			if !ad[v] {
				d.errorf(r.node, "unknown AD account or group %q", r.node.Value)
			}
		case "role group":
			switch g := seedGroupByRef(s, v); {
			case g == nil:
				d.errorf(r.node, "unknown group %q", r.node.Value)
			case !g.RoleAssignable:
				d.errorf(r.node, "group %q is not role_assignable: Entra ID assigns directory roles only to role-assignable groups", r.node.Value)
			}
		}
	}
	clients := map[string]bool{}
	for _, a := range s.Apps {
		if clients[a.ClientID] {
			d.problems = append(d.problems, fmt.Sprintf("%s: app %q defined twice", d.file, a.ClientID))
		}
		clients[a.ClientID] = true
	}
	d.checkAPIs(s)
	// A managed identity's service principal shares the client id space
	// with apps: tokens and Graph know a caller by it.
	system := false
	for i, m := range s.ManagedIdentities {
		n := d.identityNodes[i]
		if m.ClientID != "" && clients[m.ClientID] {
			d.errorf(n, "managed identity %q: client_id is already an app's or another identity's", m.ClientID)
		}
		clients[m.ClientID] = true
		if m.Type == ManagedSystemAssigned {
			if system {
				d.errorf(n, "managed identity %q: only one identity can be system_assigned (the resource revoke runs on has one)", m.ClientID)
			}
			system = true
		}
	}
}

// seedGroupByRef finds a seed group by id or displayName (ref lowercased).
func seedGroupByRef(s *Seed, ref string) *SeedGroup {
	for i, g := range s.Groups {
		if strings.EqualFold(g.ID, ref) || strings.EqualFold(g.DisplayName, ref) {
			return &s.Groups[i]
		}
	}
	return nil
}
