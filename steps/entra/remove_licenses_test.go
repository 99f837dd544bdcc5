package entra

import (
	"context"
	"reflect"
	"testing"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
)

const (
	e3Sku       = "6fd2c87f-b296-42f0-b197-1e91e994b900" // the leaver's own
	powerBISku  = "f8a1db68-be16-40ed-86d5-cb42ce701560" // through "Marketing (everyone)"
	everyoneGrp = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d06"
	// licenceRead is the step's read of the user's licences.
	licenceRead = "?$select=id,assignedLicenses,licenseAssignmentStates"
)

// The seed's leaver loses E3, her own, in one assignLicense call; Power BI
// Pro comes through the dynamic "Marketing (everyone)", is named with its
// group, and stays; Verify reads the assignment states back.
func TestSandboxRemoveLicenses(t *testing.T) {
	tn := startCleanupTenant(t, 0)
	c := openSandbox(t, tn, appID, appSecret)
	call, progress := newCall(c, leaverID, steps.Values{})
	ctx := context.Background()
	step := removeLicenses.New()
	inherited := "; inherited through a group, not removed (they go with the membership): POWER_BI_PRO from 'Marketing (everyone)'"
	ch, err := step.Check(ctx, call)
	if want := "1 direct licence: ENTERPRISEPACK" + inherited; err != nil || ch.Satisfied || ch.Summary != want {
		t.Fatalf("Check: %+v %v\nwant %q", ch, err, want)
	}
	tn.Log().Reset()
	ch, err = step.Apply(ctx, call)
	if want := "removed 1 direct licence: ENTERPRISEPACK" + inherited; err != nil || ch.Summary != want {
		t.Fatalf("Apply: %+v %v\nwant %q", ch, err, want)
	}
	wantDetails := map[string]any{"licenses": []string{e3Sku},
		"inherited":        []map[string]any{{"skuId": powerBISku, "groups": []string{everyoneGrp}, "group_names": []string{"Marketing (everyone)"}}},
		"sku_part_numbers": map[string]string{e3Sku: "ENTERPRISEPACK", powerBISku: "POWER_BI_PRO", "b05e124f-c7cc-45a0-a6aa-8cf78c946968": "EMSPREMIUM"}}
	if !reflect.DeepEqual(ch.Details, wantDetails) {
		t.Errorf("details %v\nwant %v", ch.Details, wantDetails)
	}
	wantLog(t, tn,
		"GET /v1.0/users/"+leaverID+licenceRead+" 200",
		"GET /v1.0/subscribedSkus?$select=skuId,skuPartNumber 200",
		"GET /v1.0/groups/"+everyoneGrp+"?$select=id,displayName 200",
		"POST /v1.0/users/"+leaverID+"/assignLicense 200")
	if len(*progress) != 1 || (*progress)[0].Message != "removed 1 direct licence: ENTERPRISEPACK" ||
		!reflect.DeepEqual((*progress)[0].Details["licenses"], []string{e3Sku}) {
		t.Errorf("progress %+v", *progress)
	}
	if err := step.(steps.Verifier).Verify(ctx, call); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if l := userState(t, tn, leaverID).Licenses; len(l) != 0 {
		t.Errorf("direct licences left: %v", l)
	}
	ch, err = step.Check(ctx, call)
	if want := "no licence assigned to the user directly" + inherited; err != nil || !ch.Satisfied || ch.Summary != want {
		t.Errorf("Check after: %+v %v\nwant %q", ch, err, want)
	}

	// A resume after the call went through reads the licences afresh and
	// asks for nothing.
	tn.Log().Reset()
	call.Prior, call.Resumed = *progress, true
	if _, err := step.Apply(ctx, call); err != nil {
		t.Fatal(err)
	}
	wantLog(t, tn,
		"GET /v1.0/users/"+leaverID+licenceRead+" 200",
		"GET /v1.0/subscribedSkus?$select=skuId,skuPartNumber 200",
		"GET /v1.0/groups/"+everyoneGrp+"?$select=id,displayName 200")
}

// A licence held both directly and through a group loses the direct
// assignment and is reported as still inherited; an app that can read
// neither groups nor subscriptions names the group and the skus by their
// ids; Verify fails while a direct licence remains.
func TestSandboxRemoveLicensesDirectAndInherited(t *testing.T) {
	seed := sandbox.DefaultSeed()
	const readerID, readerSecret = "44444444-4444-4444-8444-444444444445", "sandbox-only-secret-licences-8Tc1"
	seed.Apps = append(seed.Apps, sandbox.SeedApp{Name: "revoke-licences", ClientID: readerID, Secret: readerSecret,
		Permissions: []string{"User.Read.All"}})
	for i, u := range seed.Users {
		if u.UserPrincipalName == "miriam@contoso.test" {
			seed.Users[i].Licenses = append(seed.Users[i].Licenses, powerBISku)
		}
	}
	tn, err := sandbox.Start(context.Background(), seed, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	ctx := context.Background()

	reader := openSandbox(t, tn, readerID, readerSecret)
	call, _ := newCall(reader, leaverID, steps.Values{})
	step := removeLicenses.New()
	ch, err := step.Check(ctx, call)
	want := "2 direct licences: " + e3Sku + ", " + powerBISku +
		"; inherited through a group, not removed (they go with the membership): " + powerBISku + " from '" + everyoneGrp + "'"
	if err != nil || ch.Summary != want {
		t.Fatalf("Check: %+v %v\nwant %q", ch, err, want)
	}
	if inh := ch.Details["inherited"].([]map[string]any); inh[0]["also_direct"] != true {
		t.Errorf("inherited %v", inh)
	}
	// Without LicenseAssignment.ReadWrite.All the call is refused and
	// the error names the permission; nothing is journaled.
	calls, progress := newCall(reader, leaverID, steps.Values{})
	_, err = step.Apply(ctx, calls)
	if wantErr := "entra: remove the licences " + e3Sku + ", " + powerBISku + " of " + leaverID +
		": Graph 403 Authorization_RequestDenied: Insufficient privileges to complete the operation. (needs LicenseAssignment.ReadWrite.All)"; err == nil || err.Error() != wantErr || steps.ClassOf(err) != steps.Forbidden {
		t.Errorf("got  %v\nwant %s", err, wantErr)
	}
	if len(*progress) != 0 {
		t.Errorf("progress %+v", *progress)
	}
	// Verify says what is left rather than passing.
	restore := verifyWaits
	verifyWaits = verifyWaits[:1]
	t.Cleanup(func() { verifyWaits = restore })
	if err := step.(steps.Verifier).Verify(ctx, call); err == nil || steps.ClassOf(err) != steps.Retryable ||
		err.Error() != "entra: still listed after the deletions: 2 direct licences: "+e3Sku+", "+powerBISku {
		t.Errorf("Verify: %v", err)
	}

	full := openSandbox(t, tn, appID, appSecret)
	call, _ = newCall(full, leaverID, steps.Values{})
	if _, err := step.Apply(ctx, call); err != nil {
		t.Fatal(err)
	}
	if err := step.(steps.Verifier).Verify(ctx, call); err != nil {
		t.Errorf("Verify: %v", err)
	}
	// Power BI Pro stays, through the group.
	ch, err = step.Check(ctx, call)
	if want := "no licence assigned to the user directly; inherited through a group, not removed (they go with the membership): " +
		"POWER_BI_PRO from 'Marketing (everyone)'"; err != nil || !ch.Satisfied || ch.Summary != want {
		t.Errorf("Check after: %+v %v\nwant %q", ch, err, want)
	}
}

// The preflight takes a broader permission for the licence removal, as
// Graph does: assignLicense is allowed with User.ReadWrite.All or
// Directory.ReadWrite.All as well.
func TestRemoveLicensesPermissions(t *testing.T) {
	tests := []struct {
		name  string
		roles []string
		want  []string
	}{
		{"its own permissions", []string{"LicenseAssignment.ReadWrite.All", "User.Read.All"}, nil},
		{"User.ReadWrite.All covers both", []string{"User.ReadWrite.All"}, nil},
		{"Directory.ReadWrite.All covers both", []string{"Directory.ReadWrite.All"}, nil},
		{"a read permission covers only the read", []string{"Directory.Read.All"}, []string{"LicenseAssignment.ReadWrite.All"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tokenGrants{roles: tt.roles}
			if got := g.missingPermissions(&removeLicenses); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("missing %q, want %q", got, tt.want)
			}
		})
	}
}

// Reading app names takes Application.Read.All or what covers it; the
// provisioning and assignment permissions have no broader application
// permission that covers them.
func TestRemoveAppAssignmentsPermissions(t *testing.T) {
	need := []string{"AppRoleAssignment.ReadWrite.All", "Synchronization.ReadWrite.All"}
	tests := []struct {
		name  string
		roles []string
		want  []string
	}{
		{"its own permissions", append(need[:2:2], "Application.Read.All"), nil},
		{"Application.ReadWrite.All covers the read", append(need[:2:2], "Application.ReadWrite.All"), nil},
		{"Directory.Read.All covers the read", append(need[:2:2], "Directory.Read.All"), nil},
		{"Directory.ReadWrite.All covers neither write", []string{"Directory.ReadWrite.All"}, need},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tokenGrants{roles: tt.roles}
			if got := g.missingPermissions(&removeAppAssignments); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("missing %q, want %q", got, tt.want)
			}
		})
	}
}
