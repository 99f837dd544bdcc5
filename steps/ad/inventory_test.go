package ad

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/steps"
)

func TestSandboxInventory(t *testing.T) {
	s := startSandbox(t)
	c := s.open(t, nil)
	const (
		adele  = "CN=Adele Vance,OU=Staff,DC=contoso,DC=test"
		sales  = "CN=Sales,OU=Groups,DC=contoso,DC=test"
		vpn    = "CN=VPN Users,OU=Groups,DC=contoso,DC=test"
		isaiah = "CN=Isaiah Langer,OU=Leavers,DC=contoso,DC=test"
	)
	tests := []struct {
		name    string
		subject *steps.Subject
		want    []steps.Residual
		wantErr string
		class   steps.Class
	}{
		{name: "an enabled account lists itself, its tickets, its groups and what LDAP cannot see",
			subject: &steps.Subject{Ref: "adele", Facts: map[string]map[string]any{"ad": {"distinguishedName": adele}}},
			want: []steps.Residual{
				{Backend: "ad", Kind: "account", What: "the account adele is still enabled", Until: "until disabled", ID: adele},
				kerberosTickets,
				{Backend: "ad", Kind: "group", What: "member of group 'Sales'", Until: "until removed", ID: sales},
				{Backend: "ad", Kind: "group", What: "member of group 'VPN Users'", Until: "until removed", ID: vpn},
				sessionsUnchecked,
			}},
		{name: "a disabled account in no group lists only its tickets and what LDAP cannot see",
			subject: &steps.Subject{Ref: "isaiah", Facts: map[string]map[string]any{"ad": {"distinguishedName": isaiah}}},
			want:    []steps.Residual{kerberosTickets, sessionsUnchecked}},
		{name: "a subject not found in AD holds nothing there",
			subject: &steps.Subject{Ref: "diego@contoso.test", Facts: map[string]map[string]any{"entra": {"id": "x"}}}},
		{name: "an account deleted since it was resolved fails the inventory",
			subject: &steps.Subject{Ref: "ghost", Facts: map[string]map[string]any{"ad": {"distinguishedName": "CN=Ghost,OU=Staff,DC=contoso,DC=test"}}},
			wantErr: "read CN=Ghost,OU=Staff,DC=contoso,DC=test: no such object (LDAP 32): 0000208D: NameErr: DSID-03100288, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'OU=Staff,DC=contoso,DC=test'",
			class:   steps.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.tenant.Log().Reset()
			got, err := c.Inventory(t.Context(), tt.subject)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || steps.ClassOf(err) != tt.class {
					t.Fatalf("error %q (%v), want %q (%v)", err, steps.ClassOf(err), tt.wantErr, tt.class)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				g, _ := json.MarshalIndent(got, "", " ")
				w, _ := json.MarshalIndent(tt.want, "", " ")
				t.Errorf("items:\n%s\nwant\n%s", g, w)
			}
			// Read-only: one search of the account, or nothing for a
			// subject AD did not resolve.
			sent := s.sent("")
			if len(sent) != len(s.sent("search")) || len(sent) != min(len(tt.want), 1) {
				t.Errorf("the inventory sent %q, want one search or nothing", sent)
			}
		})
	}
}

func TestGroupName(t *testing.T) {
	for dn, want := range map[string]string{
		"CN=Sales,OU=Groups,DC=contoso,DC=test":              "Sales",
		`CN=Smith\, Jones Team,OU=Groups,DC=contoso,DC=test`: "Smith, Jones Team",
		"not a DN": "not a DN",
	} {
		if got := groupName(dn); got != want {
			t.Errorf("groupName(%q) = %q, want %q", dn, got, want)
		}
	}
}

// Against Samba: a user in one group, enabled, then disabled.
func TestSambaInventory(t *testing.T) {
	dc := needSamba(t)
	admin := dc.admin(t)
	c := dc.open(t, nil)
	sam := unique("rvinv")
	u := dc.addUser(t, admin, sam, sam+"@contoso.test", 512)
	group := unique("rvinvgrp")
	gdn := dc.addGroup(t, admin, group, u.DN)
	subject := &steps.Subject{Ref: sam, Facts: map[string]map[string]any{"ad": {"distinguishedName": u.DN}}}
	got, err := c.Inventory(t.Context(), subject)
	want := []steps.Residual{
		{Backend: "ad", Kind: "account", What: "the account " + sam + " is still enabled", Until: "until disabled", ID: u.DN},
		kerberosTickets,
		{Backend: "ad", Kind: "group", What: "member of group '" + group + "'", Until: "until removed", ID: gdn},
		sessionsUnchecked,
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("enabled: %+v, %v; want %+v", got, err, want)
	}
	mod := ldap.NewModifyRequest(u.DN, nil)
	mod.Replace("userAccountControl", []string{"514"})
	if err := admin.Modify(mod); err != nil {
		t.Fatal(err)
	}
	got, err = c.Inventory(t.Context(), subject)
	if want := want[1:]; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("disabled: %+v, %v; want %+v", got, err, want)
	}
}
