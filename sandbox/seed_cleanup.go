package sandbox

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The seed's part for graph_cleanup.go: enterprise apps, consents, app
// role assignments, inbox rules and the details of sign-in methods.

// SeedServicePrincipal is an enterprise app. AppOwnerOrganizationID is
// the tenant it was registered in (another tenant's for a multi-tenant
// app); PublisherName its verified publisher, if any.
type SeedServicePrincipal struct {
	ID, AppID, DisplayName, AppOwnerOrganizationID, PublisherName string
	// Provisioning, when set, gives the app a provisioning (SCIM) job.
	Provisioning *SeedProvisioning
}

// SeedProvisioning is a service principal's provisioning job: Template its
// templateId (slack, dropboxSync…), Deprovision what the target app does
// with a user who is no longer assigned (DeprovisionDisable, the default,
// or DeprovisionDelete). The job's first cycle has run when the tenant
// starts: every enabled user assigned to the app, directly or through a
// group, has an account in it.
type SeedProvisioning struct {
	Template, Deprovision string
}

// SeedPermissionGrant is a delegated consent: Client and Resource are
// service principals (id, appId or displayName), Principal a user (for
// ConsentType Principal; none for AllPrincipals), Scope the space-separated
// permissions.
type SeedPermissionGrant struct {
	ID, Client, ConsentType, Principal, Resource, Scope string
}

// SeedAppRoleAssignment gives User or Group (exactly one) the app role
// AppRoleID (default: the default access role, all zeros) of Resource (a
// service principal), Age before the tenant starts.
type SeedAppRoleAssignment struct {
	User, Group, Resource, AppRoleID string
	Age                              time.Duration
}

// defaultAccessRole is the app role id Entra uses for "default access".
const defaultAccessRole = "00000000-0000-0000-0000-000000000000"

// ago reads a time relative to the tenant's start, written as a negative
// duration (created: -7m): how long before.
func (d *seedDecoder) ago(n *yaml.Node) time.Duration {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v > 0 {
		d.errorf(n, "expected a time before the start such as -7m or -720h, got %q", n.Value)
		return 0
	}
	return -v
}

// authMethod reads one of a user's sign-in methods.
func (d *seedDecoder) authMethod(n *yaml.Node) AuthMethod {
	var m AuthMethod
	d.fields(n, "auth method", map[string]func(*yaml.Node){
		"id": func(n *yaml.Node) { m.ID = d.str(n) },
		"type": func(n *yaml.Node) {
			m.Type = d.str(n)
			if !contains(authMethodTypes, m.Type) {
				d.errorf(n, "unknown auth method type %q (known: %s)", m.Type, strings.Join(authMethodTypes, ", "))
			}
		},
		"default":         func(n *yaml.Node) { m.Default = d.boolean(n) },
		"created":         func(n *yaml.Node) { m.Age = d.ago(n) },
		"displayName":     func(n *yaml.Node) { m.DisplayName = d.str(n) },
		"deviceTag":       func(n *yaml.Node) { m.DeviceTag = d.str(n) },
		"phoneAppVersion": func(n *yaml.Node) { m.PhoneAppVersion = d.str(n) },
		"model":           func(n *yaml.Node) { m.Model = d.str(n) },
		"phoneNumber":     func(n *yaml.Node) { m.PhoneNumber = d.str(n) },
		"phoneType": func(n *yaml.Node) {
			m.PhoneType = d.str(n)
			if m.PhoneType != "mobile" && m.PhoneType != "alternateMobile" && m.PhoneType != "office" {
				d.errorf(n, "phoneType must be mobile, alternateMobile or office, got %q", m.PhoneType)
			}
		},
	})
	d.need(n, m.ID, "id")
	if m.Default && m.Type == "password" {
		d.errorf(n, "the password cannot be the default sign-in method")
	}
	return m
}

// inboxRule reads an inbox rule; moveToFolder names a well-known folder.
func (d *seedDecoder) inboxRule(n *yaml.Node) MessageRule {
	r := MessageRule{Enabled: true}
	d.fields(n, "inbox rule", map[string]func(*yaml.Node){
		"id":          func(n *yaml.Node) { r.ID = d.str(n) },
		"displayName": func(n *yaml.Node) { r.DisplayName = d.str(n) },
		"sequence":    func(n *yaml.Node) { r.Sequence = d.integer(n) },
		"isEnabled":   func(n *yaml.Node) { r.Enabled = d.boolean(n) },
		"conditions": func(n *yaml.Node) {
			d.fields(n, "conditions", map[string]func(*yaml.Node){
				"subjectContains": func(n *yaml.Node) { r.SubjectContains = d.strs(n) },
				"bodyContains":    func(n *yaml.Node) { r.BodyContains = d.strs(n) },
				"fromAddresses":   func(n *yaml.Node) { r.FromAddresses = d.strs(n) },
			})
		},
		"actions": func(n *yaml.Node) {
			d.fields(n, "actions", map[string]func(*yaml.Node){
				"forwardTo":             func(n *yaml.Node) { r.ForwardTo = d.strs(n) },
				"forwardAsAttachmentTo": func(n *yaml.Node) { r.ForwardAsAttachmentTo = d.strs(n) },
				"redirectTo":            func(n *yaml.Node) { r.RedirectTo = d.strs(n) },
				"delete":                func(n *yaml.Node) { r.Delete = d.boolean(n) },
				"permanentDelete":       func(n *yaml.Node) { r.PermanentDelete = d.boolean(n) },
				"markAsRead":            func(n *yaml.Node) { r.MarkAsRead = d.boolean(n) },
				"stopProcessingRules":   func(n *yaml.Node) { r.StopProcessing = d.boolean(n) },
				"moveToFolder": func(n *yaml.Node) {
					r.MoveToFolder = strings.ToLower(d.str(n))
					known := false
					for _, f := range mailFolderNames {
						known = known || f.wellKnown == r.MoveToFolder
					}
					if !known {
						d.errorf(n, "moveToFolder must be a well-known folder (inbox, archive, deleteditems, rssfeeds), got %q", n.Value)
					}
				},
			})
		},
	})
	d.need(n, r.DisplayName, "displayName")
	return r
}

func (d *seedDecoder) servicePrincipal(n *yaml.Node) SeedServicePrincipal {
	var sp SeedServicePrincipal
	d.fields(n, "service principal", map[string]func(*yaml.Node){
		"id":                     func(n *yaml.Node) { sp.ID = strings.ToLower(d.str(n)) },
		"appId":                  func(n *yaml.Node) { sp.AppID = strings.ToLower(d.str(n)) },
		"displayName":            func(n *yaml.Node) { sp.DisplayName = d.str(n) },
		"appOwnerOrganizationId": func(n *yaml.Node) { sp.AppOwnerOrganizationID = strings.ToLower(d.str(n)) },
		"publisherName":          func(n *yaml.Node) { sp.PublisherName = d.str(n) },
		"provisioning":           func(n *yaml.Node) { sp.Provisioning = d.provisioning(n) },
	})
	d.need(n, sp.DisplayName, "displayName")
	d.need(n, sp.AppID, "appId")
	return sp
}

// provisioning reads a service principal's provisioning job.
func (d *seedDecoder) provisioning(n *yaml.Node) *SeedProvisioning {
	p := &SeedProvisioning{Deprovision: DeprovisionDisable}
	d.fields(n, "provisioning", map[string]func(*yaml.Node){
		"template": func(n *yaml.Node) { p.Template = d.str(n) },
		"deprovision": func(n *yaml.Node) {
			p.Deprovision = d.str(n)
			if p.Deprovision != DeprovisionDisable && p.Deprovision != DeprovisionDelete {
				d.errorf(n, "deprovision must be %s or %s, got %q", DeprovisionDisable, DeprovisionDelete, p.Deprovision)
			}
		},
	})
	d.need(n, p.Template, "template")
	return p
}

// spRef reads a reference to a service principal, checked once all are read.
func (d *seedDecoder) spRef(n *yaml.Node) string { return d.ref(n, "service principal") }

func (d *seedDecoder) permissionGrant(n *yaml.Node) SeedPermissionGrant {
	var g SeedPermissionGrant
	d.fields(n, "oauth2 permission grant", map[string]func(*yaml.Node){
		"id":     func(n *yaml.Node) { g.ID = d.str(n) },
		"client": func(n *yaml.Node) { g.Client = d.spRef(n) },
		"consentType": func(n *yaml.Node) {
			g.ConsentType = d.str(n)
			if g.ConsentType != "Principal" && g.ConsentType != "AllPrincipals" {
				d.errorf(n, "consentType must be Principal or AllPrincipals, got %q", g.ConsentType)
			}
		},
		"principal": func(n *yaml.Node) { g.Principal = d.userRef(n) },
		"resource":  func(n *yaml.Node) { g.Resource = d.spRef(n) },
		"scope":     func(n *yaml.Node) { g.Scope = d.str(n) },
	})
	d.need(n, g.Client, "client")
	d.need(n, g.Resource, "resource")
	d.need(n, g.Scope, "scope")
	if (g.ConsentType == "Principal") != (g.Principal != "") {
		d.errorf(n, "oauth2 permission grant: a principal goes with consentType Principal, and only with it")
	}
	return g
}

func (d *seedDecoder) appRoleAssignment(n *yaml.Node) SeedAppRoleAssignment {
	a := SeedAppRoleAssignment{AppRoleID: defaultAccessRole}
	d.fields(n, "app role assignment", map[string]func(*yaml.Node){
		"user":      func(n *yaml.Node) { a.User = d.userRef(n) },
		"group":     func(n *yaml.Node) { a.Group = d.ref(n, "group") },
		"resource":  func(n *yaml.Node) { a.Resource = d.spRef(n) },
		"appRoleId": func(n *yaml.Node) { a.AppRoleID = strings.ToLower(d.str(n)) },
		"created":   func(n *yaml.Node) { a.Age = d.ago(n) },
	})
	if (a.User == "") == (a.Group == "") {
		d.errorf(n, "app role assignment: want exactly one of user and group")
	}
	d.need(n, a.Resource, "resource")
	return a
}

// seedHasServicePrincipal reports whether the seed defines the service
// principal ref names (by id, appId or displayName).
func seedHasServicePrincipal(s *Seed, ref string) bool {
	for _, sp := range s.ServicePrincipals {
		if strings.EqualFold(sp.ID, ref) || strings.EqualFold(sp.AppID, ref) || strings.EqualFold(sp.DisplayName, ref) {
			return true
		}
	}
	return false
}

// newCleanup fills the directory's Cleanup from the seed, the users being
// already made. now is the start, which relative times count back from.
func (s *Seed) newCleanup(d *Directory, now time.Time) {
	d.Mailboxes = map[string]*Mailbox{}
	spByRef := func(ref string) *ServicePrincipal {
		for _, sp := range d.ServicePrincipals {
			if strings.EqualFold(sp.ID, ref) || strings.EqualFold(sp.AppID, ref) || strings.EqualFold(sp.DisplayName, ref) {
				return sp
			}
		}
		return nil
	}
	for _, sp := range s.ServicePrincipals {
		id := sp.ID
		if id == "" {
			id = stableID("servicePrincipal", sp.AppID)
		}
		owner := sp.AppOwnerOrganizationID
		if owner == "" {
			owner = s.Tenant.ID
		}
		d.ServicePrincipals = append(d.ServicePrincipals, &ServicePrincipal{ID: id, AppID: sp.AppID, DisplayName: sp.DisplayName, AppOwnerOrganizationID: owner, PublisherName: sp.PublisherName})
	}
	for i, g := range s.PermissionGrants {
		client, resource := spByRef(g.Client), spByRef(g.Resource)
		if client == nil || resource == nil {
			continue // a seed built in code with a dangling reference
		}
		pg := &PermissionGrant{ID: g.ID, ClientID: client.ID, ConsentType: g.ConsentType, ResourceID: resource.ID, Scope: g.Scope}
		if u := d.UserByRef(g.Principal); u != nil {
			pg.PrincipalID = u.ID
		}
		if pg.ID == "" {
			// Graph's grant ids are opaque base64url strings of this shape.
			pg.ID = grantID(fmt.Sprint(i, client.ID, pg.PrincipalID, resource.ID))
		}
		d.PermissionGrants = append(d.PermissionGrants, pg)
	}
	for i, a := range s.AppRoleAssignments {
		resource := spByRef(a.Resource)
		if resource == nil {
			continue
		}
		ra := &AppRoleAssignment{AppRoleID: a.AppRoleID, ResourceID: resource.ID, Created: now.Add(-a.Age).UTC().Truncate(time.Second)}
		if u := d.UserByRef(a.User); u != nil {
			ra.PrincipalID, ra.PrincipalType, ra.PrincipalDisplayName = u.ID, "User", u.DisplayName
		} else if g := d.groupByRef(a.Group); g != nil {
			ra.PrincipalID, ra.PrincipalType, ra.PrincipalDisplayName = g.ID, "Group", g.DisplayName
		} else {
			continue
		}
		ra.ID = grantID(fmt.Sprint("appRoleAssignment", i, ra.PrincipalID, resource.ID))
		d.AppRoleAssignments = append(d.AppRoleAssignments, ra)
	}
	for _, sp := range s.ServicePrincipals {
		p, resource := sp.Provisioning, spByRef(sp.AppID)
		if p == nil || resource == nil {
			continue
		}
		deprovision := p.Deprovision
		if deprovision == "" {
			deprovision = DeprovisionDisable
		}
		// Job ids read template.hex.tenant in Entra.
		hex := strings.ReplaceAll(stableID("syncJob", resource.ID), "-", "")
		j := &SyncJob{ID: p.Template + "." + hex + "." + s.Tenant.ID, TemplateID: p.Template, ServicePrincipalID: resource.ID,
			RuleID: stableID("syncRule", resource.ID), Deprovision: deprovision, Started: now.Add(-30 * 24 * time.Hour).UTC().Truncate(time.Second)}
		d.SyncJobs = append(d.SyncJobs, j)
		d.provisionAssigned(j)
	}
	for i, su := range s.Users {
		u := d.UserByRef(su.UserPrincipalName)
		if u == nil || len(u.Licenses) == 0 {
			continue // no Exchange Online license, no mailbox
		}
		mb := newMailbox(u.ID)
		for j, r := range su.InboxRules {
			r := r
			if r.ID == "" {
				r.ID = grantID(fmt.Sprint("messageRule", i, j, u.ID))
			}
			if r.Sequence == 0 {
				r.Sequence = j + 1
			}
			r.SubjectContains = append([]string(nil), r.SubjectContains...)
			if r.MoveToFolder != "" {
				r.MoveToFolder = mb.folder(r.MoveToFolder).ID
			}
			mb.Rules = append(mb.Rules, &r)
		}
		d.Mailboxes[u.ID] = mb
	}
	for _, u := range d.Users {
		for i := range u.AuthMethods {
			if m := &u.AuthMethods[i]; m.Age > 0 {
				m.Created = now.Add(-m.Age).UTC().Truncate(time.Second)
			}
		}
	}
	d.DeletionDelay = s.Options.DeletionDelay
}

// grantID makes an opaque id of the shape Graph gives grants and app role
// assignments (43 base64url characters), stable for its key.
func grantID(key string) string {
	h := sha256.Sum256([]byte(key))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
