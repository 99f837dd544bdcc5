package entra

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// The default seed's groups the tests below name.
const (
	salesGroup     = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d01"
	tier0Group     = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d03" // role-assignable
	marketingGroup = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d05"
	leaverID       = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e0c" // miriam, the seed's leaver
	// memberOfGroups is the step's read of a user's groups.
	memberOfGroups = "/memberOf/microsoft.graph.group?$select=id,displayName,groupTypes,mailEnabled,onPremisesSyncEnabled,isAssignableToRole"
)

// The reasons the step gives for a group Graph cannot change.
const (
	whyDynamic = "dynamic: its membership rule puts the user back; change the rule or the user's attributes"
	whySynced  = "synced from AD: remove the membership on-premises"
	whyMail    = "mail-enabled (a distribution list or mail-enabled security group): Exchange Online owns its members"
)

// The seed's leaver leaves Sales and Marketing through each membership's
// $ref; the dynamic "Marketing (everyone)" is skipped with the reason, in
// the change and its details, and left; Verify reads the groups back.
func TestSandboxRemoveGroupMemberships(t *testing.T) {
	tn := startCleanupTenant(t, 0)
	c := openSandbox(t, tn, appID, appSecret)
	call, progress := newCall(c, leaverID, steps.Values{})
	ctx := context.Background()
	step := removeGroupMemberships.New()
	skipped := "; skipped, Graph cannot change them: 'Marketing (everyone)' (" + whyDynamic + ")"
	ch, err := step.Check(ctx, call)
	if want := "2 groups: 'Sales', 'Marketing'" + skipped; err != nil || ch.Satisfied || ch.Summary != want {
		t.Fatalf("Check: %+v %v\nwant %q", ch, err, want)
	}
	tn.Log().Reset()
	ch, err = step.Apply(ctx, call)
	if want := "removed from 2 groups: 'Sales', 'Marketing'" + skipped; err != nil || ch.Summary != want {
		t.Fatalf("Apply: %+v %v\nwant %q", ch, err, want)
	}
	wantDetails := map[string]any{
		"groups": []map[string]any{{"id": salesGroup, "name": "Sales"}, {"id": marketingGroup, "name": "Marketing"}},
		"skipped": []map[string]any{{"id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d06", "name": "Marketing (everyone)",
			"reason": whyDynamic}},
	}
	if !reflect.DeepEqual(ch.Details, wantDetails) {
		t.Errorf("details %v\nwant %v", ch.Details, wantDetails)
	}
	// Each removal goes to the membership's $ref: never the bare member
	// URL, which deletes the user object in Graph.
	wantLog(t, tn,
		"GET /v1.0/users/"+leaverID+memberOfGroups+" 200",
		"DELETE /v1.0/groups/"+salesGroup+"/members/"+leaverID+"/$ref 204",
		"DELETE /v1.0/groups/"+marketingGroup+"/members/"+leaverID+"/$ref 204",
		sentBatch)
	var msgs []string
	for _, p := range *progress {
		msgs = append(msgs, p.Message+" "+p.Details[progressRemoved].(string))
	}
	if want := []string{"removed from group 'Sales' " + salesGroup, "removed from group 'Marketing' " + marketingGroup}; !reflect.DeepEqual(msgs, want) {
		t.Errorf("progress %q, want %q", msgs, want)
	}
	if err := step.(steps.Verifier).Verify(ctx, call); err != nil {
		t.Errorf("Verify: %v", err)
	}
	ch, err = step.Check(ctx, call)
	if want := "no cloud group membership Graph can remove" + skipped; err != nil || !ch.Satisfied || ch.Summary != want {
		t.Errorf("Check after: %+v %v\nwant %q", ch, err, want)
	}
	if g := groupsOf(tn, leaverID); !reflect.DeepEqual(g, []string{"Marketing (everyone)"}) {
		t.Errorf("still in %v", g)
	}
}

// A group synced from AD and a distribution list refuse a membership
// change in Graph: Adele's are skipped with the reason, as the dynamic
// All Staff is, and only Sales is removed.
func TestSandboxRemoveGroupMembershipsSkipsWhatGraphCannotChange(t *testing.T) {
	tn := startCleanupTenant(t, 0)
	c := openSandbox(t, tn, appID, appSecret)
	call, _ := newCall(c, adeleID, steps.Values{})
	ctx := context.Background()
	step := removeGroupMemberships.New()
	tn.Log().Reset()
	ch, err := step.Apply(ctx, call)
	want := "removed from 1 group: 'Sales'; skipped, Graph cannot change them: 'All Staff' (" + whyDynamic + "), " +
		"'VPN Users' (" + whySynced + "), 'Sales Announcements' (" + whyMail + ")"
	if err != nil || ch.Summary != want {
		t.Fatalf("Apply: %+v %v\nwant %q", ch, err, want)
	}
	wantLog(t, tn,
		"GET /v1.0/users/"+adeleID+memberOfGroups+" 200",
		"DELETE /v1.0/groups/"+salesGroup+"/members/"+adeleID+"/$ref 204")
	if err := step.(steps.Verifier).Verify(ctx, call); err != nil {
		t.Errorf("Verify: %v", err)
	}
	// The inventory lists them as what is left, and says why.
	items, err := c.Inventory(ctx, &steps.Subject{Ref: adeleID, Facts: map[string]map[string]any{"entra": {"id": adeleID}}})
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, r := range items {
		if r.Kind == steps.ResidualGroup {
			groups = append(groups, r.What+": "+r.Why)
		}
	}
	wantGroups := []string{"member of group 'All Staff': " + whyDynamic, "member of group 'Sales Announcements': " + whyMail,
		"member of group 'VPN Users': " + whySynced}
	if !reflect.DeepEqual(groups, wantGroups) {
		t.Errorf("inventory groups:\n%s\nwant\n%s", strings.Join(groups, "\n"), strings.Join(wantGroups, "\n"))
	}
}

// Both removals go in one $batch; a crash after only the first was
// journaled, then a resume: Marketing, gone from the listing, is not asked
// again, and a journaled group is not asked again even while a listing
// still shows it (the journal is what a resume trusts).
func TestSandboxRemoveGroupMembershipsResumeRepeatsNothing(t *testing.T) {
	tn := startCleanupTenant(t, 0)
	c := openSandbox(t, tn, appID, appSecret)
	step := removeGroupMemberships.New()

	call, progress := newCall(c, leaverID, steps.Values{})
	if _, err := step.Apply(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	if len(*progress) != 2 || (*progress)[0].Details[progressRemoved] != salesGroup {
		t.Fatalf("progress %+v", *progress)
	}
	tn.Log().Reset()
	resumed, more := newCall(c, leaverID, steps.Values{})
	resumed.Prior, resumed.Resumed = (*progress)[:1], true // the second line never reached the journal
	if ch, err := step.Apply(context.Background(), resumed); err != nil || len(*more) != 0 {
		t.Fatalf("resumed: %+v %v, progress %+v", ch, err, *more)
	}
	wantLog(t, tn, "GET /v1.0/users/"+leaverID+memberOfGroups+" 200")

	// A journal that records Sales while Graph still lists it (a deletion
	// not yet visible) does not send Sales again either.
	tn2 := startCleanupTenant(t, 0)
	c2 := openSandbox(t, tn2, appID, appSecret)
	call2, _ := newCall(c2, leaverID, steps.Values{})
	call2.Prior, call2.Resumed = []steps.Progress{{Message: "removed from group 'Sales'", Details: map[string]any{progressRemoved: salesGroup}}}, true
	tn2.Log().Reset()
	if _, err := step.Apply(context.Background(), call2); err != nil {
		t.Fatal(err)
	}
	wantLog(t, tn2,
		"GET /v1.0/users/"+leaverID+memberOfGroups+" 200",
		"DELETE /v1.0/groups/"+marketingGroup+"/members/"+leaverID+"/$ref 204")
}

// A role-assignable group needs RoleManagement.ReadWrite.Directory besides
// GroupMember.ReadWrite.All: the preflight says so for a subject in one
// when the token lacks it, and a refusal names both.
func TestSandboxRemoveGroupMembershipsRoleAssignable(t *testing.T) {
	seed := sandbox.DefaultSeed()
	const groupsID, groupsSecret = "44444444-4444-4444-8444-444444444444", "sandbox-only-secret-groups-3Vb7"
	seed.Apps = append(seed.Apps, sandbox.SeedApp{Name: "revoke-groups", ClientID: groupsID, Secret: groupsSecret,
		Permissions: []string{"User.Read.All", "GroupMember.ReadWrite.All"}})
	tn, err := sandbox.Start(context.Background(), seed, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	ctx := context.Background()
	groupsOnly := openSandbox(t, tn, groupsID, groupsSecret)
	full := openSandbox(t, tn, appID, appSecret)
	subject := func(id string) *steps.Subject {
		return &steps.Subject{Ref: id, Facts: map[string]map[string]any{"entra": {"id": id}}}
	}
	tests := []struct {
		name  string
		c     *Conn
		id    string
		perms []string
	}{
		{"a member of a role-assignable group, without the role permission", groupsOnly, glassID,
			[]string{"RoleManagement.ReadWrite.Directory (the subject is in role-assignable group 'Tier 0 Admins')"}},
		{"with it", full, glassID, nil},
		{"a subject in no role-assignable group needs only the group permission", groupsOnly, leaverID, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			perms, roles, err := tt.c.MissingGrants(ctx, &removeGroupMemberships, subject(tt.id))
			if err != nil || !reflect.DeepEqual(perms, tt.perms) || roles != nil {
				t.Errorf("MissingGrants = %q, %q, %v; want %q", perms, roles, err, tt.perms)
			}
		})
	}
	t.Run("a refusal names both permissions", func(t *testing.T) {
		call, progress := newCall(groupsOnly, glassID, steps.Values{})
		_, err := removeGroupMemberships.New().Apply(ctx, call)
		want := "entra: remove " + glassID + " from group 'Tier 0 Admins' (" + tier0Group + "): " +
			"Graph 403 Authorization_RequestDenied: Insufficient privileges to complete the operation. " +
			"(needs GroupMember.ReadWrite.All and RoleManagement.ReadWrite.Directory)"
		if err == nil || err.Error() != want || steps.ClassOf(err) != steps.Forbidden {
			t.Errorf("got  %v\nwant %s", err, want)
		}
		if len(*progress) != 0 {
			t.Errorf("progress %+v", *progress)
		}
	})
	// The preflight's spec is the step's: the permission the spec does
	// not list is asked for only when the subject needs it.
	if got := entraspec.RemoveGroupMemberships.Needs(entraspec.KindApplication); !reflect.DeepEqual(got, []string{"GroupMember.ReadWrite.All"}) {
		t.Errorf("application permissions %q", got)
	}
}

// groupsOf names the sandbox's groups id is a member of.
func groupsOf(tn *sandbox.Tenant, id string) []string {
	d := tn.Directory()
	d.Lock()
	defer d.Unlock()
	var out []string
	for _, g := range d.Groups {
		if slices.Contains(g.Members, id) {
			out = append(out, g.DisplayName)
		}
	}
	return out
}
