package sandbox

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// The seed's part for servicenow.go: a ServiceNow instance whose Table API
// opens tickets for apps a person must deprovision by hand.

// SeedServiceNow is a ServiceNow instance. Instance is its name (the
// {instance} of https://{instance}.service-now.com), shown by
// /_sandbox/servicenow; the emulator itself answers on loopback.
type SeedServiceNow struct {
	Instance string
	// Users sign in with basic auth (user_name and password); their roles
	// decide which tables they may read and write.
	Users []SeedServiceNowUser
	// OAuthClients buy bearer tokens at /oauth_token.do with the client
	// credentials grant; a token acts as the client's User.
	OAuthClients []SeedServiceNowClient
	// Tables are the task tables the Table API serves (incident, sc_task).
	Tables []SeedServiceNowTable
	// AssignmentGroups are sys_user_group records a ticket's
	// assignment_group may name, by name or sys_id.
	AssignmentGroups []SeedServiceNowGroup
	// ManualApps are the apps (by display name) whose accounts a person
	// removes: the instance does not use them, `revoke sandbox` writes them
	// into the environment's servicenow section as manual_apps.
	ManualApps []string
}

// SeedServiceNowUser is a sys_user who may call the API.
type SeedServiceNowUser struct {
	Name, Password string
	Roles          []string
}

// SeedServiceNowClient is an OAuth application registry entry (client
// credentials grant); User is the user its tokens act as.
type SeedServiceNowClient struct {
	ClientID, ClientSecret, User string
}

// SeedServiceNowTable is a table: Prefix starts its records' numbers
// (INC0010001), Roles are the roles that may read and insert (any one of
// them; admin always may).
type SeedServiceNowTable struct {
	Name, Prefix string
	Roles        []string
}

// SeedServiceNowGroup is an assignment group; SysID is derived from the
// name when not given.
type SeedServiceNowGroup struct {
	Name, SysID string
}

var (
	snowTableRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	snowSysIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// serviceNow decodes the seed's servicenow section and checks what refers
// to what inside it.
func (d *seedDecoder) serviceNow(n *yaml.Node) *SeedServiceNow {
	sn := &SeedServiceNow{}
	d.fields(n, "servicenow", map[string]func(*yaml.Node){
		"instance": func(n *yaml.Node) { sn.Instance = d.str(n) },
		"users": func(n *yaml.Node) {
			d.each(n, func(n *yaml.Node) {
				var u SeedServiceNowUser
				d.fields(n, "servicenow user", map[string]func(*yaml.Node){
					"name":     func(n *yaml.Node) { u.Name = d.str(n) },
					"password": func(n *yaml.Node) { u.Password = d.str(n) },
					"roles":    func(n *yaml.Node) { u.Roles = d.strs(n) },
				})
				d.need(n, u.Name, "name")
				d.need(n, u.Password, "password")
				sn.Users = append(sn.Users, u)
			})
		},
		"oauth_clients": func(n *yaml.Node) {
			d.each(n, func(n *yaml.Node) {
				var c SeedServiceNowClient
				d.fields(n, "servicenow oauth client", map[string]func(*yaml.Node){
					"client_id":     func(n *yaml.Node) { c.ClientID = d.str(n) },
					"client_secret": func(n *yaml.Node) { c.ClientSecret = d.str(n) },
					"user":          func(n *yaml.Node) { c.User = d.str(n) },
				})
				d.need(n, c.ClientID, "client_id")
				d.need(n, c.ClientSecret, "client_secret")
				d.need(n, c.User, "user")
				if c.User != "" && !snowHasUser(sn.Users, c.User) {
					d.errorf(n, "servicenow oauth client %q acts as unknown user %q (users are listed before oauth_clients)", c.ClientID, c.User)
				}
				sn.OAuthClients = append(sn.OAuthClients, c)
			})
		},
		"tables": func(n *yaml.Node) {
			d.each(n, func(n *yaml.Node) {
				var t SeedServiceNowTable
				d.fields(n, "servicenow table", map[string]func(*yaml.Node){
					"name":   func(n *yaml.Node) { t.Name = d.str(n) },
					"prefix": func(n *yaml.Node) { t.Prefix = d.str(n) },
					"roles":  func(n *yaml.Node) { t.Roles = d.strs(n) },
				})
				d.need(n, t.Name, "name")
				d.need(n, t.Prefix, "prefix")
				if t.Name != "" && !snowTableRE.MatchString(t.Name) {
					d.errorf(n, "servicenow table name %q is not lower case letters, digits and _", t.Name)
				}
				for _, e := range sn.Tables {
					if e.Name == t.Name {
						d.errorf(n, "servicenow table %q given twice", t.Name)
					}
				}
				sn.Tables = append(sn.Tables, t)
			})
		},
		"manual_apps": func(n *yaml.Node) { sn.ManualApps = d.strs(n) },
		"assignment_groups": func(n *yaml.Node) {
			d.each(n, func(n *yaml.Node) {
				var g SeedServiceNowGroup
				d.fields(n, "servicenow assignment group", map[string]func(*yaml.Node){
					"name":   func(n *yaml.Node) { g.Name = d.str(n) },
					"sys_id": func(n *yaml.Node) { g.SysID = strings.ToLower(d.str(n)) },
				})
				d.need(n, g.Name, "name")
				if g.SysID == "" {
					g.SysID = snowDerivedID("sys_user_group", g.Name)
				} else if !snowSysIDRE.MatchString(g.SysID) {
					d.errorf(n, "sys_id %q is not 32 hexadecimal digits", g.SysID)
				}
				sn.AssignmentGroups = append(sn.AssignmentGroups, g)
			})
		},
	})
	d.need(n, sn.Instance, "servicenow.instance")
	seen := map[string]bool{}
	for _, u := range sn.Users {
		if seen[u.Name] {
			d.problems = append(d.problems, fmt.Sprintf("%s: servicenow user %q defined twice", d.file, u.Name))
		}
		seen[u.Name] = true
	}
	return sn
}

func snowHasUser(users []SeedServiceNowUser, name string) bool {
	for _, u := range users {
		if u.Name == name {
			return true
		}
	}
	return false
}
