package sandbox

import (
	"context"
	"strings"
	"testing"
)

// The default seed's groups of every kind, as Graph renders them.
const (
	vpnUsersID      = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d07" // synced from AD
	salesAnnounceID = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d08" // a distribution list
)

// A user's groups read as the remove_group_memberships step reads them
// carry what says who owns each membership.
func TestMemberOfGroupsCarryTheirKind(t *testing.T) {
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	status, _, body := do(t, tn, tok, "GET", "/users/"+adeleID+"/memberOf/microsoft.graph.group?$select=id,displayName,groupTypes,mailEnabled,mail,securityEnabled,onPremisesSyncEnabled,isAssignableToRole", "")
	if status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	var got []string
	for _, v := range body["value"].([]any) {
		g := v.(map[string]any)
		got = append(got, strings.Join([]string{g["displayName"].(string), field(g["groupTypes"]), field(g["mailEnabled"]), field(g["mail"]),
			field(g["securityEnabled"]), field(g["onPremisesSyncEnabled"]), field(g["isAssignableToRole"])}, " "))
	}
	want := []string{
		"Sales [] false <nil> true <nil> false",
		"All Staff [DynamicMembership] false <nil> true <nil> false",
		"VPN Users [] false <nil> true true false",
		"Sales Announcements [] true sales-announcements@contoso.test false <nil> false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("groups:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Graph changes the members of cloud security and Microsoft 365 groups
// only; each other kind answers its own 400, and the membership stays.
func TestRemoveMemberByGroupKind(t *testing.T) {
	tests := []struct {
		name, group, user string
		seed              string // a group added to the default seed
		status            int
		code, message     string
	}{
		{name: "a group synced from AD is mastered on-premises", group: vpnUsersID, user: adeleID,
			status: 400, code: "Request_BadRequest",
			message: "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration."},
		{name: "a distribution list is mastered in Exchange", group: salesAnnounceID, user: adeleID,
			status: 400, code: "Request_BadRequest",
			message: "Unable to update the specified properties for objects that have originated within an external service."},
		{name: "a mail-enabled security group is mastered in Exchange", group: "Mail Security", user: adeleID,
			seed:   "{displayName: Mail Security, mail: mailsec@contoso.test, members: [adele@contoso.test]}",
			status: 400, code: "Request_BadRequest",
			message: "Unable to update the specified properties for objects that have originated within an external service."},
		{name: "a dynamic group's rule owns its members", group: allStaffID, user: adeleID,
			status: 400, code: "Request_BadRequest",
			message: "Cannot add or remove members of a group with dynamic membership: its membership rule manages them."},
		{name: "a Microsoft 365 group is Entra ID's own, mail or not", group: "Project X", user: adeleID,
			seed:   "{displayName: Project X, unified: true, mail: projectx@contoso.test, security_enabled: false, members: [adele@contoso.test]}",
			status: 204},
		{name: "a cloud security group", group: salesID, user: adeleID, status: 204},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seed := DefaultSeed()
			if tc.seed != "" {
				extra, err := ParseSeed("extra.yaml", []byte("tenant: {id: t1}\nusers: [{userPrincipalName: adele@contoso.test}]\ngroups: ["+tc.seed+"]\n"))
				if err != nil {
					t.Fatal(err)
				}
				seed.Groups = append(seed.Groups, extra.Groups...)
			}
			tn, err := Start(context.Background(), seed, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { tn.Close() })
			d := tn.Directory()
			d.Lock()
			gid := d.groupByRef(tc.group).ID
			d.Unlock()
			tok := token(t, tn, revokeClientID, revokeSecret)
			status, _, body := do(t, tn, tok, "DELETE", "/groups/"+gid+"/members/"+tc.user+"/$ref", "")
			if status != tc.status || (tc.status != 204 && (errCode(body) != tc.code || errMessage(body) != tc.message)) {
				t.Errorf("%d %v, want %d %s %q", status, body, tc.status, tc.code, tc.message)
			}
			d.Lock()
			in := contains(d.groupByID(gid).Members, tc.user)
			d.Unlock()
			if in != (tc.status != 204) {
				t.Errorf("still a member: %v", in)
			}
		})
	}
}

// A seed asks only for groups Entra ID can have.
func TestSeedGroupKinds(t *testing.T) {
	tests := []struct{ group, want string }{
		{"{displayName: A, synced: true, dynamic: true}", `s.yaml:3:5: group "A": a group synced from AD cannot be dynamic: AD sets its members`},
		{"{displayName: A, synced: true, role_assignable: true}", `s.yaml:3:5: group "A": a group synced from AD cannot be role_assignable (Entra ID refuses isAssignableToRole on synced groups)`},
		{"{displayName: A, unified: true}", `s.yaml:3:5: group "A": a Microsoft 365 group (unified) needs mail`},
		{"{displayName: A, security_enabled: false}", `s.yaml:3:5: group "A": a group neither security_enabled nor with a mail address is nothing Entra ID has`},
	}
	for _, tc := range tests {
		t.Run(tc.group, func(t *testing.T) {
			_, err := ParseSeed("s.yaml", []byte("tenant: {id: t1}\ngroups:\n  - "+tc.group+"\n"))
			se, ok := err.(*SeedError)
			if !ok || strings.Join(se.Problems, "\n") != tc.want {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
		})
	}
}

// field renders a JSON value of a group's for a one-line comparison.
func field(v any) string {
	switch v := v.(type) {
	case nil:
		return "<nil>"
	case []any:
		s := make([]string, len(v))
		for i, e := range v {
			s[i] = e.(string)
		}
		return "[" + strings.Join(s, " ") + "]"
	case bool:
		if v {
			return "true"
		}
		return "false"
	case string:
		return v
	}
	return "?"
}
