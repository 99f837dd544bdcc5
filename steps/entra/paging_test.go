package entra

import (
	"context"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// These tests run the steps against a sandbox that pages every collection
// one or two items a page, so each listing they read spans several pages
// and only following @odata.nextLink gets all of it. Like the other tests
// that build SDK clients, they do not run in parallel.

// startPagedTenant runs a tenant of seed (nil: the default seed) whose
// collection pages hold pageSize items (0: Graph's 100).
func startPagedTenant(t *testing.T, seed *sandbox.Seed, pageSize int) *sandbox.Tenant {
	t.Helper()
	if seed == nil {
		seed = sandbox.DefaultSeed()
	}
	tn, err := sandbox.Start(context.Background(), seed, sandbox.Options{PageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	return tn
}

var skipTokenRE = regexp.MustCompile(`\$skiptoken=[A-Za-z0-9_-]+`)

// pagedLog is graphLog with each $skiptoken, opaque and different on
// every run, written as $skiptoken=T, sorted: listings run at once.
func pagedLog(tn *sandbox.Tenant) []string {
	got := graphLog(tn)
	for i, l := range got {
		got[i] = skipTokenRE.ReplaceAllString(l, "$$skiptoken=T")
	}
	slices.Sort(got)
	return got
}

func wantPagedLog(t *testing.T, tn *sandbox.Tenant, want ...string) {
	t.Helper()
	got := pagedLog(tn)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("Graph requests, in any order:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// pagesOf is the log of a GET of path read in the given number of pages:
// the first page, then each later one by its nextLink.
func pagesOf(path string, pages int) []string {
	out := []string{"GET " + path + " 200"}
	for range pages - 1 {
		out = append(out, "GET "+path+"?$skiptoken=T 200")
	}
	return out
}

// pagingSeed has one person, pat, in three groups and three directory
// roles; the privileged one is granted last, so with one item a page it
// is on the third page of pat's roles and the sixth of pat's memberOf.
const pagingSeed = `tenant: {id: 5d1c3a2b-0e9f-4a8b-b7c6-d5e4f3a2b1c0, domains: [paging.test]}
apps:
  - name: revoke
    client_id: 11111111-1111-1111-1111-111111111111
    secret: sandbox-only-secret-revoke-7Qm2
    permissions: [User.Read.All, GroupMember.Read.All, RoleManagement.Read.Directory]
users:
  - id: 6e5f4a3b-2c1d-4e0f-9a8b-7c6d5e4f3a01
    userPrincipalName: pat@paging.test
    displayName: Pat Pager
groups:
  - {displayName: Engineering, members: [pat@paging.test]}
  - {displayName: On Call, members: [pat@paging.test]}
  - {displayName: Everyone, members: [pat@paging.test]}
role_assignments:
  - user: pat@paging.test
    roles: [Global Reader, Helpdesk Administrator, Global Administrator]
`

const patID = "6e5f4a3b-2c1d-4e0f-9a8b-7c6d5e4f3a01"

// Resolve reads every page of the subject's directory roles: a Global
// Administrator whose role is on the last page is reported as one, with
// as many requests as there are pages.
func TestPagingResolveFindsARoleOnALaterPage(t *testing.T) {
	seed, err := sandbox.ParseSeed("paging.yaml", []byte(pagingSeed))
	if err != nil {
		t.Fatal(err)
	}
	rolesPath := "/v1.0/users/pat%40paging.test/transitiveMemberOf/microsoft.graph.directoryRole"
	tests := []struct {
		pageSize, pages int
	}{
		{1, 3},
		{2, 2},
		{0, 1}, // Graph's 100
	}
	for _, tc := range tests {
		t.Run("page size "+strconv.Itoa(tc.pageSize), func(t *testing.T) {
			tn := startPagedTenant(t, seed, tc.pageSize)
			c := openSandbox(t, tn, appID, appSecret)
			ctx := context.Background()
			if tc.pageSize == 1 {
				// The first page alone names no privileged role: only
				// following nextLink finds it.
				first, err := c.graph.Users().ByUserId(patID).TransitiveMemberOf().GraphDirectoryRole().
					WithUrl(c.baseURL+"/users/"+patID+"/transitiveMemberOf/microsoft.graph.directoryRole").Get(ctx, nil)
				if err != nil || len(first.GetValue()) != 1 || deref(first.GetValue()[0].GetDisplayName()) != "Global Reader" ||
					first.GetOdataNextLink() == nil {
					t.Fatalf("first page: %v, %v", first, err)
				}
			}
			tn.Log().Reset()
			facts, err := c.Resolve(ctx, "pat@paging.test")
			if err != nil {
				t.Fatal(err)
			}
			want := []any{"Global Administrator", "Global Reader", "Helpdesk Administrator"}
			if !reflect.DeepEqual(facts["privilegedRoles"], want) || facts["id"] != patID {
				t.Errorf("facts %#v, want privilegedRoles %#v", facts, want)
			}
			wantPagedLog(t, tn, append(pagesOf(rolesPath, tc.pages),
				"GET /v1.0/users/pat%40paging.test?"+selectAllProps+" 200", "GET "+tenantEligibilityPath+" 200",
				"GET /v1.0/users/pat%40paging.test/appRoleAssignments 200")...)
		})
	}
}

// entra.disable_devices lists registered, owned and managed devices page
// by page in Check and Verify and acts on every device of every page.
func TestPagingDisableDevicesActsOnEveryPage(t *testing.T) {
	devicesOf := func(pages int) []string {
		return slices.Concat(
			pagesOf("/v1.0/users/"+alexID+"/registeredDevices", pages),
			pagesOf("/v1.0/users/"+alexID+"/ownedDevices", pages),
			pagesOf("/v1.0/users/"+alexID+"/managedDevices", pages))
	}
	tests := []struct {
		name      string
		pageSize  int
		listPages int // pages of each of alex's three lists
		// laptopDone disables the laptop and retires its managed device
		// first, so only what is on the second page is left to do.
		laptopDone            bool
		checkSummary          string
		wantDevices, wantMDMs []string
	}{
		{name: "one device a page", pageSize: 1, listPages: 2,
			checkSummary: "2 devices: ALEX-LAPTOP, Alex's iPhone; retire 2 managed devices: ALEX-LAPTOP, Alex's iPhone",
			wantDevices:  []string{alexLaptop, alexPhone}, wantMDMs: []string{alexLaptopMDM, alexPhoneMDM}},
		{name: "only the second page left to do", pageSize: 1, listPages: 2, laptopDone: true,
			checkSummary: "1 device: Alex's iPhone; retire 1 managed device: Alex's iPhone",
			wantDevices:  []string{alexPhone}, wantMDMs: []string{alexPhoneMDM}},
		{name: "a full page has no nextLink", pageSize: 2, listPages: 1,
			checkSummary: "2 devices: ALEX-LAPTOP, Alex's iPhone; retire 2 managed devices: ALEX-LAPTOP, Alex's iPhone",
			wantDevices:  []string{alexLaptop, alexPhone}, wantMDMs: []string{alexLaptopMDM, alexPhoneMDM}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := startPagedTenant(t, nil, tc.pageSize)
			c := openSandbox(t, tn, appID, appSecret)
			ctx := context.Background()
			if tc.laptopDone {
				d := tn.Directory()
				d.Lock()
				for _, v := range d.Devices {
					if v.ID == alexLaptop {
						v.AccountEnabled = false
					}
				}
				for _, m := range d.ManagedDevices {
					if m.ID == alexLaptopMDM {
						m.State = "retirePending"
					}
				}
				d.Unlock()
			}
			step := disableDevices.New()
			call, _ := newCall(c, alexID, steps.Values{entraspec.ParamManagedAction: entraspec.ManagedRetire})

			tn.Log().Reset()
			ch, err := step.Check(ctx, call)
			wantDetails := map[string]any{"devices": tc.wantDevices, "managedAction": entraspec.ManagedRetire, "managedDevices": tc.wantMDMs}
			if err != nil || ch.Satisfied || ch.Summary != tc.checkSummary || !reflect.DeepEqual(ch.Details, wantDetails) {
				t.Fatalf("Check: %+v, %v\nwant %s %v", ch, err, tc.checkSummary, wantDetails)
			}
			wantPagedLog(t, tn, devicesOf(tc.listPages)...)

			tn.Log().Reset()
			if _, err := step.Apply(ctx, call); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			var writes []string
			for _, id := range tc.wantDevices {
				writes = append(writes, "PATCH /v1.0/devices/"+id+" 204")
			}
			for _, id := range tc.wantMDMs {
				writes = append(writes, "POST /v1.0/deviceManagement/managedDevices/"+id+"/retire 204")
			}
			wantPagedLog(t, tn, writes...)

			tn.Log().Reset()
			if err := step.(steps.Verifier).Verify(ctx, call); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			wantPagedLog(t, tn, devicesOf(tc.listPages)...)

			d := tn.Directory()
			d.Lock()
			defer d.Unlock()
			for _, v := range d.Devices {
				if (v.ID == alexLaptop || v.ID == alexPhone) && v.AccountEnabled {
					t.Errorf("device %s still enabled", v.DisplayName)
				}
			}
			for _, m := range d.ManagedDevices {
				if m.State != "retirePending" {
					t.Errorf("managed device %s: %s", m.DeviceName, m.State)
				}
			}
		})
	}
}
