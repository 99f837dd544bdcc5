package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// The default seed's apps and people these tests act on.
const (
	appID       = "11111111-1111-1111-1111-111111111111"
	appSecret   = "sandbox-only-secret-revoke-7Qm2"
	readonlyID  = "22222222-2222-2222-2222-222222222222"
	readonlyKey = "sandbox-only-secret-readonly-4Kx8"

	adeleID  = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e01" // synced
	alexID   = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e02" // synced, two devices, two managed devices
	meganID  = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e03" // synced
	obrienID = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e04"
	diegoID  = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e07" // cloud-only contractor
	glassID  = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e09" // Global Administrator
	nestorID = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e0a" // Helpdesk Administrator through a group

	alexLaptop     = "0d1e2f30-4a5b-4c6d-8e7f-9a0b1c2d3e01"
	alexPhone      = "0d1e2f30-4a5b-4c6d-8e7f-9a0b1c2d3e02"
	alexLaptopMDM  = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c01"
	alexPhoneMDM   = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c02"
	selectAllProps = "$select=id,userPrincipalName,displayName,accountEnabled,onPremisesSyncEnabled,signInSessionsValidFromDateTime,userType,onPremisesSecurityIdentifier,onPremisesImmutableId,onPremisesSamAccountName,onPremisesDomainName,onPremisesDistinguishedName"
)

// startTenant runs a fresh default-seed tenant for one test.
func startTenant(t *testing.T) *sandbox.Tenant {
	t.Helper()
	tn, err := sandbox.Start(context.Background(), sandbox.DefaultSeed(), sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	return tn
}

// sandboxEnv is the entra section a user would write for the tenant.
func sandboxEnv(t *testing.T, tn *sandbox.Tenant, clientID, secret string, trustCA bool) *steps.Env {
	t.Helper()
	section := steps.Values{
		entraspec.FieldTenantID: tn.TenantID(), entraspec.FieldClientID: clientID, entraspec.FieldCredential: entraspec.CredClientSecret,
		entraspec.FieldClientSecret + "_env": "REVOKE_TEST_SECRET",
		entraspec.FieldGraphURL:              tn.GraphURL(), entraspec.FieldAuthorityHost: tn.AuthorityHost(),
		entraspec.FieldInsecureSkipVerify: false, entraspec.FieldTimeout: 10 * time.Second,
	}
	if trustCA {
		p := filepath.Join(t.TempDir(), "sandbox-ca.pem")
		if err := os.WriteFile(p, tn.CAPEM(), 0o600); err != nil {
			t.Fatal(err)
		}
		section[entraspec.FieldCAFile] = p
	}
	return &steps.Env{Name: "sandbox", Kind: "hybrid", Section: section,
		Secret: func(name string) (string, error) {
			if name != entraspec.FieldClientSecret {
				return "", fmt.Errorf("unexpected secret %q", name)
			}
			return secret, nil
		}}
}

// openSandbox opens the backend on the tenant as the given app.
func openSandbox(t *testing.T, tn *sandbox.Tenant, clientID, secret string) *Conn {
	t.Helper()
	sc, err := Backend.Open(context.Background(), sandboxEnv(t, tn, clientID, secret, true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return sc.(*Conn)
}

// graphLog returns the Graph requests the tenant served since the last
// reset as "METHOD PATH STATUS", token requests left out.
func graphLog(tn *sandbox.Tenant) []string {
	var out []string
	for _, e := range tn.Log().Entries() {
		if e.Protocol == "graph" && strings.HasPrefix(e.Path, "/v1.0/") {
			out = append(out, fmt.Sprintf("%s %s %d", e.Method, e.Path, e.Status))
		}
	}
	return out
}

func wantLog(t *testing.T, tn *sandbox.Tenant, want ...string) {
	t.Helper()
	got := graphLog(tn)
	// A user's registered and owned devices are listed at once: the two
	// may reach the log in either order. Put them in the order written.
	for i := 0; i+1 < len(got); i++ {
		if strings.Contains(got[i], "/ownedDevices ") && strings.Contains(got[i+1], "/registeredDevices ") &&
			strings.Replace(got[i], "/ownedDevices ", "/registeredDevices ", 1) == got[i+1] {
			got[i], got[i+1] = got[i+1], got[i]
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Graph requests:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// eligibilityPath is resolution's read of the PIM eligibilities of id.
func eligibilityPath(id string) string {
	return tenantEligibilityPath + "&$filter=principalId%20eq%20%27" + id + "%27"
}

// tenantEligibilityPath is resolution's read of the tenant's PIM
// eligibilities, beside the user's read, for a reference that is not an
// object id.
const tenantEligibilityPath = "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances?$expand=roleDefinition"

// resolveEligibilityPath is the eligibility read resolving ref makes when
// the tenant's eligibilities fit in one page: the tenant's beside the user
// for a UPN, by id otherwise.
func resolveEligibilityPath(ref, id string) string {
	if r, err := steps.ParseRef(ref); err == nil && r.Kind == steps.RefUPN {
		return tenantEligibilityPath
	}
	return eligibilityPath(id)
}

// wantLogAnyOrder is wantLog for requests sent at once, which reach the
// log in any order.
func wantLogAnyOrder(t *testing.T, tn *sandbox.Tenant, want ...string) {
	t.Helper()
	got := graphLog(tn)
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("Graph requests, in any order:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// sortedProgress is progress in message order, for steps that act on
// several objects at once.
func sortedProgress(p []steps.Progress) []steps.Progress {
	return slices.SortedFunc(slices.Values(p), func(a, b steps.Progress) int { return strings.Compare(a.Message, b.Message) })
}

// newCall is a call of an entra step for the user with the given id.
func newCall(c *Conn, id string, with steps.Values) (*steps.Call, *[]steps.Progress) {
	var progress []steps.Progress
	return &steps.Call{
		StepID:     "test",
		Subject:    &steps.Subject{Ref: id, Facts: map[string]map[string]any{"entra": {"id": id}}},
		With:       with,
		Conn:       c,
		RunStarted: time.Now(),
		Progress: func(m string, d map[string]any) {
			progress = append(progress, steps.Progress{Message: m, Details: d})
		},
	}, &progress
}

func TestSandboxResolve(t *testing.T) {
	tn := startTenant(t)
	c := openSandbox(t, tn, appID, appSecret)
	const roles = "/transitiveMemberOf/microsoft.graph.directoryRole"
	tests := []struct {
		name, ref string
		want      map[string]any
		// The user and their roles are read at once, by the reference;
		// a logon name is looked up first, and the roles read by id.
		user, roles string
	}{
		{"by UPN", "adele@contoso.test", map[string]any{"id": adeleID, "userPrincipalName": "adele@contoso.test",
			"displayName": "Adele Vance", "userType": "Member", "accountEnabled": true, "onPremisesSyncEnabled": true,
			"privilegedRoles": []any{}, "eligibleRoles": []any{}, "app_assignments": []any{}}, "/v1.0/users/adele%40contoso.test?" + selectAllProps, "/v1.0/users/adele%40contoso.test" + roles},
		{"by object id", diegoID, map[string]any{"id": diegoID, "userPrincipalName": "diego@contoso.test",
			"displayName": "Diego Siciliani (contractor)", "userType": "Member", "accountEnabled": true,
			"onPremisesSyncEnabled": false, "privilegedRoles": []any{}, "eligibleRoles": []any{}, "app_assignments": []any{}}, "/v1.0/users/" + diegoID + "?" + selectAllProps, "/v1.0/users/" + diegoID + roles},
		{"a UPN with an apostrophe", "o'brien@contoso.test", map[string]any{"id": obrienID, "userPrincipalName": "o'brien@contoso.test",
			"displayName": "Patrick O'Brien", "userType": "Member", "accountEnabled": true, "onPremisesSyncEnabled": true,
			"privilegedRoles": []any{}, "eligibleRoles": []any{}, "app_assignments": []any{}}, "/v1.0/users/o%27brien%40contoso.test?" + selectAllProps, "/v1.0/users/o%27brien%40contoso.test" + roles},
		{"a logon name", `obrien`, map[string]any{"id": obrienID, "userPrincipalName": "o'brien@contoso.test",
			"displayName": "Patrick O'Brien", "userType": "Member", "accountEnabled": true, "onPremisesSyncEnabled": true,
			"privilegedRoles": []any{}, "eligibleRoles": []any{}, "app_assignments": []any{}}, "/v1.0/users?$count=true&$filter=onPremisesSamAccountName%20eq%20%27obrien%27&" + selectAllProps,
			"/v1.0/users/" + obrienID + roles},
		{"a Global Administrator", "breakglass@contoso.test", map[string]any{"id": glassID, "userPrincipalName": "breakglass@contoso.test",
			"displayName": "Break Glass (emergency access)", "userType": "Member", "accountEnabled": true,
			"onPremisesSyncEnabled": false, "privilegedRoles": []any{"Global Administrator"}, "eligibleRoles": []any{}, "app_assignments": []any{}},
			"/v1.0/users/breakglass%40contoso.test?" + selectAllProps, "/v1.0/users/breakglass%40contoso.test" + roles},
		// memberOf would say nestor holds no role: his is his group's.
		{"a role through a role-assignable group", "nestor@contoso.test", map[string]any{"id": nestorID, "userPrincipalName": "nestor@contoso.test",
			"displayName": "Nestor Wilke (helpdesk)", "userType": "Member", "accountEnabled": true,
			"onPremisesSyncEnabled": true, "privilegedRoles": []any{"Helpdesk Administrator"}, "eligibleRoles": []any{}, "app_assignments": []any{}},
			"/v1.0/users/nestor%40contoso.test?" + selectAllProps, "/v1.0/users/nestor%40contoso.test" + roles},
		// The apps the leaver holds directly, by name, published for a
		// ticketing backend; Salesforce, through the Sales group, is not hers.
		{"a leaver's apps", "miriam@contoso.test", map[string]any{"id": miriamID, "userPrincipalName": "miriam@contoso.test",
			"displayName": "Miriam Graham", "userType": "Member", "accountEnabled": true, "onPremisesSyncEnabled": true,
			"privilegedRoles": []any{}, "eligibleRoles": []any{},
			"app_assignments": []any{"Contoso Expenses (legacy)", "Dropbox Business", "Slack"}},
			"/v1.0/users/miriam%40contoso.test?" + selectAllProps, "/v1.0/users/miriam%40contoso.test" + roles},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn.Log().Reset()
			facts, err := c.Resolve(context.Background(), tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			ts, ok := facts["signInSessionsValidFromDateTime"].(string)
			if _, perr := time.Parse(time.RFC3339, ts); !ok || perr != nil {
				t.Errorf("signInSessionsValidFromDateTime %#v", facts["signInSessionsValidFromDateTime"])
			}
			delete(facts, "signInSessionsValidFromDateTime")
			if facts["onPremisesSyncEnabled"] == true {
				// A synced user carries what links them to their AD account.
				for _, k := range []string{"onPremisesSecurityIdentifier", "onPremisesImmutableId", "onPremisesSamAccountName",
					"onPremisesDomainName", "onPremisesDistinguishedName"} {
					if v, _ := facts[k].(string); v == "" {
						t.Errorf("a synced user without %s", k)
					}
					delete(facts, k)
				}
			}
			if !reflect.DeepEqual(facts, tt.want) {
				t.Errorf("facts\n got %#v\nwant %#v", facts, tt.want)
			}
			// The apps are read beside the roles, by the same reference.
			apps := strings.TrimSuffix(tt.roles, roles) + "/appRoleAssignments"
			wantLogAnyOrder(t, tn, "GET "+tt.user+" 200", "GET "+tt.roles+" 200", "GET "+resolveEligibilityPath(tt.ref, tt.want["id"].(string))+" 200", "GET "+apps+" 200")
		})
	}
	for _, ref := range []string{"nobody@contoso.test", "lynne@contoso.test" /* AD only */, "nobody"} {
		t.Run("unknown "+ref, func(t *testing.T) {
			_, err := c.Resolve(context.Background(), ref)
			if steps.ClassOf(err) != steps.NotFound {
				t.Errorf("Resolve(%q): %v (%v), want NotFound", ref, err, steps.ClassOf(err))
			}
		})
	}
	t.Run("an unknown UPN names Graph's answer", func(t *testing.T) {
		_, err := c.Resolve(context.Background(), "nobody@contoso.test")
		want := `entra: resolve "nobody@contoso.test": Graph 404 Request_ResourceNotFound: Resource 'nobody@contoso.test' does not exist or one of its queried reference-property objects are not present.`
		if err == nil || err.Error() != want {
			t.Errorf("got  %v\nwant %s", err, want)
		}
	})
}

func TestSandboxGranted(t *testing.T) {
	tn := startTenant(t)
	roles, scopes, err := openSandbox(t, tn, readonlyID, readonlyKey).Granted(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(roles, []string{"User.Read.All"}) || len(scopes) != 0 {
		t.Errorf("roles %q scopes %q", roles, scopes)
	}
	wantLog(t, tn) // a token request only
}

func TestSandboxDisableUser(t *testing.T) {
	tn := startTenant(t)
	c := openSandbox(t, tn, appID, appSecret)
	ctx := context.Background()
	step := disableUser.New()
	call, _ := newCall(c, meganID, steps.Values{})

	tn.Log().Reset()
	ch, err := step.Check(ctx, call)
	if err != nil || ch.Satisfied || ch.Summary != "accountEnabled: true → false" {
		t.Fatalf("Check: %+v, %v", ch, err)
	}
	wantLog(t, tn, "GET /v1.0/users/"+meganID+"?$select=id,accountEnabled 200")

	tn.Log().Reset()
	if ch, err = step.Apply(ctx, call); err != nil || ch.Summary != "accountEnabled: true → false" {
		t.Fatalf("Apply: %+v, %v", ch, err)
	}
	wantLog(t, tn, disableBatch(meganID)...)

	if err := step.(steps.Verifier).Verify(ctx, call); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	ch, err = step.Check(ctx, call)
	if err != nil || !ch.Satisfied || ch.Summary != "already disabled" {
		t.Fatalf("Check after Apply: %+v, %v", ch, err)
	}
	if st := userState(t, tn, meganID); st.AccountEnabled {
		t.Error("the tenant still has megan enabled")
	}
}

func TestSandboxRevokeSessions(t *testing.T) {
	tn := startTenant(t)
	c := openSandbox(t, tn, appID, appSecret)
	ctx := context.Background()
	step := revokeSessions.New()
	call, _ := newCall(c, adeleID, steps.Values{})
	before := userState(t, tn, adeleID).SignInSessionsValidFrom

	tn.Log().Reset()
	ch, err := step.Check(ctx, call)
	want := "sign-in sessions valid from " + before.UTC().Format(time.RFC3339) + " → now"
	if err != nil || ch.Satisfied || ch.Summary != want {
		t.Fatalf("Check: %+v, %v; want %q", ch, err, want)
	}
	tn.Log().Reset()
	if ch, err = step.Apply(ctx, call); err != nil || ch.Summary != "sign-in sessions revoked: valid from now" {
		t.Fatalf("Apply: %+v, %v", ch, err)
	}
	wantLog(t, tn, "POST /v1.0/users/"+adeleID+"/revokeSignInSessions 200")
	if err := step.(steps.Verifier).Verify(ctx, call); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	ch, err = step.Check(ctx, call)
	if err != nil || !ch.Satisfied || !strings.HasPrefix(ch.Summary, "sign-in sessions already revoked at ") {
		t.Fatalf("Check after Apply: %+v, %v", ch, err)
	}
	// A revocation from before the run does not count.
	call.RunStarted = time.Now().Add(time.Hour)
	if ch, err = step.Check(ctx, call); err != nil || ch.Satisfied {
		t.Errorf("Check with a later run: %+v, %v", ch, err)
	}
	if err := step.(steps.Verifier).Verify(ctx, call); err == nil ||
		!strings.HasPrefix(err.Error(), "entra: signInSessionsValidFromDateTime is ") {
		t.Errorf("Verify with a later run: %v", err)
	}
}

// alexDevices is a fresh tenant and an entra.disable_devices call for alex,
// who has two devices, with managed_action none.
func alexDevices(t *testing.T) (*sandbox.Tenant, *Conn, steps.Step, *steps.Call, *[]steps.Progress) {
	t.Helper()
	tn := startTenant(t)
	c := openSandbox(t, tn, appID, appSecret)
	call, progress := newCall(c, alexID, steps.Values{entraspec.ParamManagedAction: entraspec.ManagedNone})
	return tn, c, disableDevices.New(), call, progress
}

func TestSandboxDisableDevices(t *testing.T) {
	tn, _, step, call, progress := alexDevices(t)
	ctx := context.Background()

	tn.Log().Reset()
	ch, err := step.Check(ctx, call)
	if err != nil || ch.Satisfied || ch.Summary != "2 devices: ALEX-LAPTOP, Alex's iPhone" ||
		!reflect.DeepEqual(ch.Details, map[string]any{"devices": []string{alexLaptop, alexPhone}}) {
		t.Fatalf("Check: %+v, %v", ch, err)
	}
	wantLogAnyOrder(t, tn, "GET /v1.0/users/"+alexID+"/registeredDevices 200", "GET /v1.0/users/"+alexID+"/ownedDevices 200")
	// Apply acts on what Check just listed, both devices at once.
	tn.Log().Reset()
	if ch, err = step.Apply(ctx, call); err != nil || ch.Summary != "disabled 2 devices: ALEX-LAPTOP, Alex's iPhone" {
		t.Fatalf("Apply: %+v, %v", ch, err)
	}
	wantLogAnyOrder(t, tn, "PATCH /v1.0/devices/"+alexLaptop+" 204", "PATCH /v1.0/devices/"+alexPhone+" 204")
	wantProgress := []steps.Progress{
		{Message: "disabled device ALEX-LAPTOP", Details: map[string]any{"device": alexLaptop}},
		{Message: "disabled device Alex's iPhone", Details: map[string]any{"device": alexPhone}},
	}
	if got := sortedProgress(*progress); !reflect.DeepEqual(got, wantProgress) {
		t.Errorf("progress %+v", got)
	}
	if err := step.(steps.Verifier).Verify(ctx, call); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Check's plan is used once: a second Apply (a retry) lists again and
	// finds nothing left.
	tn.Log().Reset()
	if ch, err = step.Apply(ctx, call); err != nil || ch.Summary != "no enabled devices" {
		t.Fatalf("second Apply: %+v, %v", ch, err)
	}
	wantLog(t, tn, "GET /v1.0/users/"+alexID+"/registeredDevices 200", "GET /v1.0/users/"+alexID+"/ownedDevices 200")
	if ch, err = step.Check(ctx, call); err != nil || !ch.Satisfied || ch.Summary != "no enabled devices" {
		t.Fatalf("Check after Apply: %+v, %v", ch, err)
	}
}

// A device enabled again between Check and Apply is not in Check's plan;
// Verify lists afresh and says what is left.
func TestSandboxDisableDevicesVerifyFindsALateDevice(t *testing.T) {
	_, c, step, call, _ := alexDevices(t)
	ctx := context.Background()
	off := false
	body := models.NewDevice()
	body.SetAccountEnabled(&off)
	if _, err := c.graph.Devices().ByDeviceId(alexPhone).Patch(ctx, body, nil); err != nil {
		t.Fatal(err)
	}
	if ch, err := step.Check(ctx, call); err != nil || ch.Summary != "1 device: ALEX-LAPTOP" {
		t.Fatalf("Check: %+v, %v", ch, err)
	}
	on := true
	body.SetAccountEnabled(&on)
	if _, err := c.graph.Devices().ByDeviceId(alexPhone).Patch(ctx, body, nil); err != nil {
		t.Fatal(err)
	}
	if ch, err := step.Apply(ctx, call); err != nil || ch.Summary != "disabled 1 device: ALEX-LAPTOP" {
		t.Fatalf("Apply: %+v, %v", ch, err)
	}
	if err := step.(steps.Verifier).Verify(ctx, call); err == nil || err.Error() != "entra: still to do after Apply: 1 device: Alex's iPhone" {
		t.Errorf("Verify: %v", err)
	}
}

// One device failing does not stop the others; the error names it and
// says how many failed, and a retry acts only on what is left.
func TestSandboxDisableDevicesGoesOnPastAFailure(t *testing.T) {
	tn, _, step, call, progress := alexDevices(t)
	ctx := context.Background()
	if err := tn.SetFaults(sandbox.FaultRule{Path: "/v1.0/devices/" + alexPhone, Method: "PATCH", Status: 503}); err != nil {
		t.Fatal(err)
	}
	ch, err := step.Apply(ctx, call)
	if steps.ClassOf(err) != steps.Retryable || ch.Summary != "disabled 1 device: ALEX-LAPTOP" ||
		!strings.HasPrefix(err.Error(), "entra: disable device Alex's iPhone ("+alexPhone+"): Graph 503 ") ||
		!strings.HasSuffix(err.Error(), " (1 of 2 device actions failed)") {
		t.Fatalf("Apply: %+v, %v (%v)", ch, err, steps.ClassOf(err))
	}
	if want := []steps.Progress{{Message: "disabled device ALEX-LAPTOP", Details: map[string]any{"device": alexLaptop}}}; !reflect.DeepEqual(*progress, want) {
		t.Errorf("progress %+v", *progress)
	}
	if err := tn.SetFaults(); err != nil {
		t.Fatal(err)
	}
	tn.Log().Reset()
	if ch, err = step.Apply(ctx, call); err != nil || ch.Summary != "disabled 1 device: Alex's iPhone" {
		t.Fatalf("retried Apply: %+v, %v", ch, err)
	}
	wantLog(t, tn,
		"GET /v1.0/users/"+alexID+"/registeredDevices 200",
		"GET /v1.0/users/"+alexID+"/ownedDevices 200",
		"PATCH /v1.0/devices/"+alexPhone+" 204")
}

func TestSandboxDisableDevicesRetiresManagedDevices(t *testing.T) {
	for _, action := range []string{entraspec.ManagedRetire, entraspec.ManagedWipe} {
		t.Run(action, func(t *testing.T) {
			tn := startTenant(t)
			c := openSandbox(t, tn, appID, appSecret)
			ctx := context.Background()
			step := disableDevices.New()
			call, _ := newCall(c, alexID, steps.Values{entraspec.ParamManagedAction: action})

			tn.Log().Reset()
			ch, err := step.Check(ctx, call)
			want := "2 devices: ALEX-LAPTOP, Alex's iPhone; " + action + " 2 managed devices: ALEX-LAPTOP, Alex's iPhone"
			if err != nil || ch.Satisfied || ch.Summary != want {
				t.Fatalf("Check: %+v, %v\nwant %s", ch, err, want)
			}
			wantLogAnyOrder(t, tn,
				"GET /v1.0/users/"+alexID+"/registeredDevices 200",
				"GET /v1.0/users/"+alexID+"/ownedDevices 200",
				"GET /v1.0/users/"+alexID+"/managedDevices 200")
			wantDetails := map[string]any{"devices": []string{alexLaptop, alexPhone}, "managedAction": action,
				"managedDevices": []string{alexLaptopMDM, alexPhoneMDM}}
			if !reflect.DeepEqual(ch.Details, wantDetails) {
				t.Errorf("details %#v", ch.Details)
			}
			tn.Log().Reset()
			if _, err = step.Apply(ctx, call); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			wantLogAnyOrder(t, tn,
				"PATCH /v1.0/devices/"+alexLaptop+" 204",
				"PATCH /v1.0/devices/"+alexPhone+" 204",
				"POST /v1.0/deviceManagement/managedDevices/"+alexLaptopMDM+"/"+action+" 204",
				"POST /v1.0/deviceManagement/managedDevices/"+alexPhoneMDM+"/"+action+" 204")
			if err := step.(steps.Verifier).Verify(ctx, call); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			ch, err = step.Check(ctx, call)
			if err != nil || !ch.Satisfied || ch.Summary != "no enabled devices, no managed device left to "+action {
				t.Fatalf("Check after Apply: %+v, %v", ch, err)
			}
		})
	}
}

func TestSandboxResetPassword(t *testing.T) {
	tn := startTenant(t)
	c := openSandbox(t, tn, appID, appSecret)
	ctx := context.Background()
	step := resetPassword.New()
	call, progress := newCall(c, diegoID, steps.Values{entraspec.ParamTimes: 2, entraspec.ParamLength: 20})

	ch, err := step.Check(ctx, call)
	if err != nil || ch.Satisfied || ch.Summary != "2 password resets, change forced at next sign-in" {
		t.Fatalf("Check: %+v, %v", ch, err)
	}
	tn.Log().Reset()
	if ch, err = step.Apply(ctx, call); err != nil || ch.Summary != "2 password resets, change forced at next sign-in" {
		t.Fatalf("Apply: %+v, %v", ch, err)
	}
	wantLog(t, tn,
		"GET /v1.0/users/"+diegoID+"?$select=id,onPremisesSyncEnabled 200",
		"PATCH /v1.0/users/"+diegoID+" 204",
		"PATCH /v1.0/users/"+diegoID+" 204")
	want := []steps.Progress{
		{Message: "password reset 1 of 2", Details: map[string]any{"reset": 1, "of": 2}},
		{Message: "password reset 2 of 2", Details: map[string]any{"reset": 2, "of": 2}},
	}
	if !reflect.DeepEqual(*progress, want) {
		t.Errorf("progress %+v", *progress)
	}
	st := userState(t, tn, diegoID)
	if len(st.CloudPassword) != 20 || !st.ForceChangePassword {
		t.Errorf("the tenant holds a %d-character password, force change %v", len(st.CloudPassword), st.ForceChangePassword)
	}
	logged, _ := json.Marshal(tn.Log().Entries())
	if strings.Contains(string(logged), st.CloudPassword) {
		t.Error("the password reached the sandbox log")
	}

	t.Run("a resumed Apply does only the resets not journaled", func(t *testing.T) {
		call, progress := newCall(c, diegoID, steps.Values{entraspec.ParamTimes: 2, entraspec.ParamLength: 20})
		call.Resumed = true
		// Details as they come back from the JSON journal.
		call.Prior = []steps.Progress{{Message: "password reset 1 of 2", Details: map[string]any{"reset": float64(1), "of": float64(2)}}}
		ch, err := step.Check(ctx, call)
		if err != nil || ch.Satisfied || ch.Summary != "1 of 2 password resets left, change forced at next sign-in" {
			t.Fatalf("Check: %+v, %v", ch, err)
		}
		tn.Log().Reset()
		if _, err := step.Apply(ctx, call); err != nil {
			t.Fatal(err)
		}
		wantLog(t, tn, "GET /v1.0/users/"+diegoID+"?$select=id,onPremisesSyncEnabled 200", "PATCH /v1.0/users/"+diegoID+" 204")
		if len(*progress) != 1 || (*progress)[0].Message != "password reset 2 of 2" {
			t.Errorf("progress %+v", *progress)
		}
		call.Prior = append(call.Prior, (*progress)...)
		if ch, err := step.Check(ctx, call); err != nil || !ch.Satisfied || ch.Summary != "2 password resets already done" {
			t.Errorf("Check with every reset journaled: %+v, %v", ch, err)
		}
	})
	t.Run("a synced user is refused before any change", func(t *testing.T) {
		call, _ := newCall(c, adeleID, steps.Values{entraspec.ParamTimes: 1, entraspec.ParamLength: 20})
		tn.Log().Reset()
		_, err := step.Apply(ctx, call)
		want := "entra: " + adeleID + " is a synced user: reset the password on-premises"
		if steps.ClassOf(err) != steps.Invalid || err.Error() != want {
			t.Errorf("got %v (%v)\nwant %s", err, steps.ClassOf(err), want)
		}
		wantLog(t, tn, "GET /v1.0/users/"+adeleID+"?$select=id,onPremisesSyncEnabled 200")
	})
}

func TestSandboxConfirmCompromised(t *testing.T) {
	tn := startTenant(t)
	c := openSandbox(t, tn, appID, appSecret)
	ctx := context.Background()
	step := confirmCompromised.New()
	call, _ := newCall(c, diegoID, steps.Values{})

	tn.Log().Reset()
	ch, err := step.Check(ctx, call)
	if err != nil || ch.Satisfied || ch.Summary != "riskState: none → confirmedCompromised" {
		t.Fatalf("Check: %+v, %v", ch, err)
	}
	if ch, err = step.Apply(ctx, call); err != nil || ch.Summary != "confirmed compromised (riskState confirmedCompromised)" {
		t.Fatalf("Apply: %+v, %v", ch, err)
	}
	wantLog(t, tn,
		"GET /v1.0/identityProtection/riskyUsers/"+diegoID+" 404",
		"POST /v1.0/identityProtection/riskyUsers/confirmCompromised 204")
	// The client-side limiter spaced the two calls by a second.
	e := tn.Log().Entries()
	var times []time.Time
	for _, x := range e {
		if strings.HasPrefix(x.Path, "/v1.0/identityProtection/") {
			times = append(times, x.Time)
		}
	}
	if len(times) != 2 || times[1].Sub(times[0]) < 900*time.Millisecond {
		t.Errorf("Identity Protection calls at %v: want them a second apart", times)
	}
	if err := step.(steps.Verifier).Verify(ctx, call); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if ch, err = step.Check(ctx, call); err != nil || !ch.Satisfied || ch.Summary != "already confirmedCompromised" {
		t.Fatalf("Check after Apply: %+v, %v", ch, err)
	}
}

// Throttling surfaces as Retryable with the server's wait, after one
// request: the engine retries, not the SDK.
func TestSandboxThrottlingIsTheEnginesToRetry(t *testing.T) {
	tn := startTenant(t)
	c := openSandbox(t, tn, appID, appSecret)
	ctx := context.Background()
	tests := []struct {
		name       string
		fault      sandbox.FaultRule
		step       steps.Step
		wantWait   time.Duration
		wantLog    []string
		wantPrefix string
	}{
		// The disable goes in a $batch (devices_listed.go): its 429 comes
		// inside the batch's 200, and the listings that depend on it are
		// not run.
		{"a 429 with Retry-After", sandbox.FaultRule{Path: "/v1.0/users/" + meganID, Method: "PATCH", Status: 429, RetryAfter: 7 * time.Second},
			disableUser.New(), 7 * time.Second, []string{"PATCH /v1.0/users/" + meganID + " 429", sentBatch},
			"entra: disable user " + meganID + ": Graph 429 TooManyRequests: Please retry again later."},
		{"a 503 with Retry-After", sandbox.FaultRule{Path: "/v1.0/users/" + meganID + "/revokeSignInSessions", Status: 503, RetryAfter: 3 * time.Second},
			revokeSessions.New(), 3 * time.Second, []string{"POST /v1.0/users/" + meganID + "/revokeSignInSessions 503"},
			"entra: revoke sign-in sessions of " + meganID + ": Graph 503 ServiceUnavailable: "},
		{"Identity Protection's 429 without Retry-After waits a second", sandbox.FaultRule{Path: "/v1.0/identityProtection/riskyUsers/confirmCompromised", Status: 429},
			confirmCompromised.New(), time.Second, []string{"POST /v1.0/identityProtection/riskyUsers/confirmCompromised 429"},
			"entra: confirm " + meganID + " compromised: Graph 429 TooManyRequests: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tn.SetFaults(tt.fault); err != nil {
				t.Fatal(err)
			}
			defer tn.SetFaults()
			call, _ := newCall(c, meganID, steps.Values{})
			tn.Log().Reset()
			_, err := tt.step.Apply(ctx, call)
			if steps.ClassOf(err) != steps.Retryable || steps.RetryAfterOf(err) != tt.wantWait ||
				!strings.HasPrefix(err.Error(), tt.wantPrefix) {
				t.Errorf("got %v (%v, after %v); want Retryable after %v, %q…", err, steps.ClassOf(err), steps.RetryAfterOf(err), tt.wantWait, tt.wantPrefix)
			}
			wantLog(t, tn, tt.wantLog...)
		})
	}
}

// A 429 names the budget it met (x-ms-throttle-scope), so that a bulk run
// pauses every step that draws on it, not only the one that met it.
func TestSandboxThrottleNamesItsScope(t *testing.T) {
	tn := startTenant(t)
	tn.SetWriteQuota(sandbox.WriteQuota{Writes: 1, Window: time.Minute})
	c := openSandbox(t, tn, appID, appSecret)
	ctx := context.Background()
	call, _ := newCall(c, meganID, steps.Values{})
	if _, err := disableUser.New().Apply(ctx, call); err != nil {
		t.Fatalf("the first write: %v", err)
	}
	_, err := revokeSessions.New().Apply(ctx, call)
	var scoper interface{ ThrottleScope() string }
	if steps.ClassOf(err) != steps.Retryable || !errors.As(err, &scoper) {
		t.Fatalf("the second write: %v (%v), want a Retryable error naming its scope", err, steps.ClassOf(err))
	}
	if got, want := scoper.ThrottleScope(), "Tenant_Application/Write/"+appID+"/7a3e9f1c-2b4d-4e8a-9c61-0d5f3b2a1e47"; got != want {
		t.Errorf("scope %q, want %q", got, want)
	}
}

func TestSandboxForbidden(t *testing.T) {
	tn := startTenant(t)
	c := openSandbox(t, tn, readonlyID, readonlyKey)
	ctx := context.Background()
	t.Run("a step names its permission", func(t *testing.T) {
		call, _ := newCall(c, meganID, steps.Values{})
		_, err := disableUser.New().Apply(ctx, call)
		if steps.ClassOf(err) != steps.Forbidden || steps.PermissionOf(err) != "User.EnableDisableAccount.All" ||
			!strings.Contains(err.Error(), "Graph 403 Authorization_RequestDenied: ") ||
			!strings.HasSuffix(err.Error(), " (needs User.EnableDisableAccount.All)") {
			t.Errorf("got %v (%v, %q)", err, steps.ClassOf(err), steps.PermissionOf(err))
		}
	})
	t.Run("Resolve fails closed without the roles permission", func(t *testing.T) {
		_, err := c.Resolve(ctx, "adele@contoso.test")
		if steps.ClassOf(err) != steps.Forbidden || steps.PermissionOf(err) != permRolesRead ||
			!strings.HasPrefix(err.Error(), "entra: list directory roles of adele@contoso.test: Graph 403 ") {
			t.Errorf("got %v (%v, %q)", err, steps.ClassOf(err), steps.PermissionOf(err))
		}
	})
}

func TestSandboxConnectionProblems(t *testing.T) {
	tn := startTenant(t)
	ctx := context.Background()
	t.Run("a certificate that does not verify", func(t *testing.T) {
		sc, err := Backend.Open(ctx, sandboxEnv(t, tn, appID, appSecret, false))
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		_, err = sc.Resolve(ctx, "adele@contoso.test")
		want := `entra: resolve "adele@contoso.test": authenticate: server certificate not trusted ` +
			`(x509: certificate signed by unknown authority): set ca_file to the CA that signed it (a sandbox's, a TLS-inspecting proxy's)`
		if steps.ClassOf(err) != steps.Invalid || err.Error() != want {
			t.Errorf("got  %v (%v)\nwant %s", err, steps.ClassOf(err), want)
		}
	})
	t.Run("a wrong secret", func(t *testing.T) {
		c := openSandbox(t, tn, appID, "not-the-secret")
		_, err := c.Resolve(ctx, "adele@contoso.test")
		if steps.ClassOf(err) != steps.Invalid ||
			!strings.HasPrefix(err.Error(), `entra: resolve "adele@contoso.test": authentication failed: `) ||
			strings.Contains(err.Error(), "not-the-secret") {
			t.Errorf("got %v (%v)", err, steps.ClassOf(err))
		}
	})
}

// userState reads one user from the tenant's state.
func userState(t *testing.T, tn *sandbox.Tenant, id string) sandbox.User {
	t.Helper()
	d := tn.Directory()
	d.Lock()
	defer d.Unlock()
	u := d.UserByRef(id)
	if u == nil {
		t.Fatalf("no user %s in the tenant", id)
	}
	return *u
}

func TestSandboxSlowAnswersAreRetryable(t *testing.T) {
	tn := startTenant(t)
	ctx := context.Background()
	env := sandboxEnv(t, tn, appID, appSecret, true)
	env.Section[entraspec.FieldTimeout] = 300 * time.Millisecond
	sc, err := Backend.Open(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	c := sc.(*Conn)
	t.Run("a slow token endpoint", func(t *testing.T) {
		tn.SetLatency(time.Second, 0)
		defer tn.SetLatency(0, 0)
		_, _, err := c.Granted(ctx)
		if steps.ClassOf(err) != steps.Retryable || !strings.HasPrefix(err.Error(), "entra: fetch a token for https://graph.microsoft.com/.default: authenticate: ") {
			t.Errorf("got %v (%v)", err, steps.ClassOf(err))
		}
	})
	t.Run("a slow Graph", func(t *testing.T) {
		if _, _, err := c.Granted(ctx); err != nil { // a token, cached for the request
			t.Fatal(err)
		}
		tn.SetLatency(time.Second, 0)
		defer tn.SetLatency(0, 0)
		_, err := c.getUser(ctx, "get user "+meganID, meganID, errorContext{}, "id")
		if steps.ClassOf(err) != steps.Retryable || !strings.HasPrefix(err.Error(), "entra: get user "+meganID+": ") {
			t.Errorf("got %v (%v)", err, steps.ClassOf(err))
		}
	})
}

func TestSandboxInsecureSkipVerifyIsShoutedAbout(t *testing.T) {
	tn := startTenant(t)
	var logged strings.Builder
	env := sandboxEnv(t, tn, appID, appSecret, false)
	env.Section[entraspec.FieldInsecureSkipVerify] = true
	env.Logger = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	sc, err := Backend.Open(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if _, err := sc.Resolve(context.Background(), "diego@contoso.test"); err != nil {
		t.Fatal(err)
	}
	want := `level=WARN msg="entra: TLS certificate verification is OFF (insecure_skip_verify): anyone on the path can read revoke's tokens" environment=sandbox` + "\n"
	if logged.String() != want {
		t.Errorf("log\n got %q\nwant %q", logged.String(), want)
	}
}

// pimSeed: eli may activate two roles and holds none; the tenant has PIM
// unless the test turns Entra ID P2 off.
const pimSeed = `tenant: {id: 0f0e0d0c-0b0a-4908-8706-050403020100}
apps:
  - {name: revoke, client_id: ` + appID + `, secret: ` + appSecret + `,
     permissions: [User.Read.All, RoleManagement.Read.Directory]}
users:
  - {id: 00000000-0000-4000-8000-000000000001, userPrincipalName: eli@pim.test}
role_eligibilities:
  - {user: eli@pim.test, roles: [Global Administrator, Exchange Administrator]}
`

// Resolution reads the roles PIM lets a user activate, by UPN and by id;
// a tenant without PIM's license has none rather than failing resolution.
func TestSandboxResolveEligibleRoles(t *testing.T) {
	tests := []struct {
		name, seed, ref string
		want            []any
	}{
		{"by UPN", pimSeed, "eli@pim.test", []any{"Exchange Administrator", "Global Administrator"}},
		{"by object id", pimSeed, "00000000-0000-4000-8000-000000000001", []any{"Exchange Administrator", "Global Administrator"}},
		{"without Entra ID P2", strings.Replace(pimSeed, "tenant: {", "tenant: {entra_id_p2: false, ", 1), "eli@pim.test", []any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed, err := sandbox.ParseSeed("pim.yaml", []byte(tt.seed))
			if err != nil {
				t.Fatal(err)
			}
			tn := startPagedTenant(t, seed, 0)
			c := openSandbox(t, tn, appID, appSecret)
			tn.Log().Reset()
			facts, err := c.Resolve(context.Background(), tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(facts["eligibleRoles"], tt.want) || !reflect.DeepEqual(facts["privilegedRoles"], []any{}) {
				t.Errorf("eligible %#v, privileged %#v; want eligible %#v", facts["eligibleRoles"], facts["privilegedRoles"], tt.want)
			}
			status := " 200"
			if len(tt.want) == 0 {
				status = " 400"
			}
			if log := graphLog(tn); !slices.Contains(log, "GET "+resolveEligibilityPath(tt.ref, "00000000-0000-4000-8000-000000000001")+status) {
				t.Errorf("no eligibility read in:\n%s", strings.Join(log, "\n"))
			}
		})
	}
}
