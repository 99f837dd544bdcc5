package sandbox

import (
	"net/http"
	"strings"
	"time"
)

// serveSandbox answers the sandbox's own endpoints, which real Graph does
// not have and which are not logged (they would drown what tests assert):
//
//	GET  /_sandbox/state[?user=REF]  both faces of every user, devices, groups; no passwords
//	GET  /_sandbox/log               the request log
//	POST /_sandbox/sync              run a directory sync now
//	GET  /_sandbox/throttle          the throttling budgets and their use (DELETE: refill, zero)
func (s *graphServer) serveSandbox(w http.ResponseWriter, r *http.Request, segs []string) {
	name := ""
	if len(segs) == 1 {
		name = segs[0]
	}
	switch {
	case name == "state" && r.Method == http.MethodGet:
		st := s.dir.State()
		if ref := r.URL.Query().Get("user"); ref != "" {
			for _, u := range st.Users {
				if u.matches(ref) {
					writeJSON(w, http.StatusOK, "application/json", u)
					return
				}
			}
			writeJSON(w, http.StatusNotFound, "application/json", map[string]string{"error": "no user " + ref})
			return
		}
		writeJSON(w, http.StatusOK, "application/json", st)
	case name == "log" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, "application/json", s.log.Entries())
	case name == "throttle":
		s.serveThrottle(w, r)
	case name == "sync" && r.Method == http.MethodPost:
		s.sync()
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusNotFound, "application/json", map[string]string{"error": "unknown sandbox endpoint " + r.Method + " " + r.URL.Path})
	}
}

// State is a snapshot of the tenant for tests and `revoke sandbox`: both
// faces of every person, devices, groups. It never holds a password.
type State struct {
	TenantID       string              `json:"tenantId"`
	LastSync       *time.Time          `json:"lastSync,omitempty"`
	Users          []UserState         `json:"users"`
	Devices        []Device            `json:"devices"`
	ManagedDevices []ManagedDevice     `json:"managedDevices"`
	Groups         []Group             `json:"groups"`
	ADGroups       []ADGroup           `json:"adGroups"`
	Roles          map[string][]string `json:"roleAssignments"`
	// Apps are the provisioned apps and the accounts they hold.
	Apps []AppState `json:"apps"`
}

// UserState is one person's two faces. Entra is nil for an AD-only
// account, AD for a cloud-only one.
type UserState struct {
	Entra *EntraState `json:"entra,omitempty"`
	AD    *ADState    `json:"ad,omitempty"`
}

func (u UserState) matches(ref string) bool {
	if e := u.Entra; e != nil && (strings.EqualFold(e.ID, ref) || strings.EqualFold(e.UserPrincipalName, ref)) {
		return true
	}
	a := u.AD
	return a != nil && (strings.EqualFold(a.SAMAccountName, ref) || strings.EqualFold(a.DistinguishedName, ref) || strings.EqualFold(a.UserPrincipalName, ref))
}

// EntraState is a user's Entra face.
type EntraState struct {
	ID                              string     `json:"id"`
	UserPrincipalName               string     `json:"userPrincipalName"`
	DisplayName                     string     `json:"displayName"`
	UserType                        string     `json:"userType"`
	AccountEnabled                  bool       `json:"accountEnabled"`
	OnPremisesSyncEnabled           bool       `json:"onPremisesSyncEnabled"`
	SignInSessionsValidFromDateTime time.Time  `json:"signInSessionsValidFromDateTime"`
	CloudPasswordSetAt              *time.Time `json:"cloudPasswordSetAt,omitempty"`
	ForceChangePasswordNextSignIn   bool       `json:"forceChangePasswordNextSignIn"`
	LastSyncedPasswordAt            *time.Time `json:"lastSyncedPasswordAt,omitempty"`
	RiskState                       string     `json:"riskState,omitempty"`
	RiskLevel                       string     `json:"riskLevel,omitempty"`
	Licenses                        []string   `json:"licenses"`
	AuthMethods                     []string   `json:"authMethods"` // type:id
	Groups                          []string   `json:"groups"`      // group ids
	Roles                           []string   `json:"roles"`
}

// ADState is a user's AD face.
type ADState struct {
	DistinguishedName  string    `json:"distinguishedName"`
	SAMAccountName     string    `json:"sAMAccountName"`
	UserPrincipalName  string    `json:"userPrincipalName"`
	ObjectSID          string    `json:"objectSid"` // S-1-5-21-…
	UserAccountControl int       `json:"userAccountControl"`
	Disabled           bool      `json:"disabled"`
	AdminCount         int       `json:"adminCount"`
	PwdLastSet         time.Time `json:"pwdLastSet"`
	MemberOf           []string  `json:"memberOf"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// State snapshots the directory. It takes the lock.
func (d *Directory) State() State {
	d.Lock()
	defer d.Unlock()
	st := State{TenantID: d.TenantID, LastSync: optTime(d.lastSync), Roles: map[string][]string{}, Apps: d.appStates()}
	for _, u := range d.Users {
		st.Users = append(st.Users, d.userState(u))
	}
	for _, v := range d.Devices {
		c := *v
		c.RegisteredOwners = append([]string(nil), v.RegisteredOwners...)
		c.RegisteredUsers = append([]string(nil), v.RegisteredUsers...)
		st.Devices = append(st.Devices, c)
	}
	for _, m := range d.ManagedDevices {
		st.ManagedDevices = append(st.ManagedDevices, *m)
	}
	for _, g := range d.Groups {
		c := *g
		c.Members = append([]string(nil), g.Members...)
		st.Groups = append(st.Groups, c)
	}
	for _, g := range d.ADGroups {
		c := *g
		c.Members = append([]string(nil), g.Members...)
		st.ADGroups = append(st.ADGroups, c)
	}
	for k, v := range d.RoleAssignments {
		st.Roles[k] = append([]string(nil), v...)
	}
	return st
}

func (d *Directory) userState(u *User) UserState {
	var us UserState
	if u.InCloud {
		e := &EntraState{
			ID: u.ID, UserPrincipalName: u.UserPrincipalName, DisplayName: u.DisplayName, UserType: u.UserType,
			AccountEnabled: u.AccountEnabled, OnPremisesSyncEnabled: u.OnPremisesSyncEnabled,
			SignInSessionsValidFromDateTime: u.SignInSessionsValidFrom, CloudPasswordSetAt: optTime(u.CloudPasswordSetAt),
			ForceChangePasswordNextSignIn: u.ForceChangePassword, LastSyncedPasswordAt: optTime(u.LastSyncedPasswordAt),
			RiskState: u.RiskState, RiskLevel: u.RiskLevel, Licenses: append([]string{}, u.Licenses...),
			AuthMethods: []string{}, Groups: []string{}, Roles: append([]string{}, d.Roles(u, true)...),
		}
		for _, m := range u.AuthMethods {
			e.AuthMethods = append(e.AuthMethods, m.Type+":"+m.ID)
		}
		for _, g := range d.Groups {
			if contains(g.Members, u.ID) {
				e.Groups = append(e.Groups, g.ID)
			}
		}
		us.Entra = e
	}
	if a := u.AD; a != nil {
		us.AD = &ADState{
			DistinguishedName: a.DN, SAMAccountName: a.SAMAccountName, UserPrincipalName: a.UserPrincipalName,
			ObjectSID: a.ObjectSID, UserAccountControl: a.UserAccountControl, Disabled: a.Disabled(), AdminCount: a.AdminCount,
			PwdLastSet: a.PwdLastSet, MemberOf: append([]string{}, d.MemberOf(a.DN)...),
		}
	}
	return us
}
