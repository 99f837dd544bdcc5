package sandbox

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/oauth2permissiongrants"
	"github.com/microsoftgraph/msgraph-sdk-go/rolemanagement"
)

// The default seed's compromised user and what was planted on her.
const (
	lidiaID          = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e0b"
	lidiaPhone       = "3179e48a-750b-4051-897c-87b9720928b0" // her default method
	lidiaAuthApp     = "6e7f8a9b-0c1d-4e2f-8a3b-4c5d6e7f8a0b" // registered 7 minutes before start
	mailSyncProSP    = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e03"
	lidiaGrant       = "kQ7Xz1pWm0uV3yR8tB2nHcE4fJ6gL9aS0dK5jM1qP2o"
	tenantWideGrant  = "Tz3bN8vQ1cW6xY0rA5sD9fG2hJ4kL7mP3oI8uE1wR6t"
	johannaID        = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e06"
	globalAdminRole  = "62e90394-69f5-4237-9190-012177145e10"
	privRoleAdmin    = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	helpdeskRoleID   = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
	defaultMethodMsg = "The requested authentication method id of [" + lidiaPhone + "] matches the user's current default authentication method, and cannot be deleted until the default authentication method is changed"
)

// startSeeded starts the default tenant after change edits its seed.
func startSeeded(t *testing.T, change func(s *Seed)) *Tenant {
	t.Helper()
	s := DefaultSeed()
	change(s)
	tn, err := Start(context.Background(), s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	return tn
}

// listedIDs GETs a collection and returns its items' ids.
func listedIDs(t *testing.T, tn *Tenant, tok, path string) []string {
	t.Helper()
	status, _, body := do(t, tn, tok, "GET", path, "")
	if status != 200 {
		t.Fatalf("GET %s: %d %v", path, status, body)
	}
	var ids []string
	for _, v := range body["value"].([]any) {
		ids = append(ids, v.(map[string]any)["id"].(string))
	}
	return ids
}

// The SDK reads what was planted on lidia as Graph's types: an
// Authenticator from an unfamiliar phone registered minutes ago, inbox
// rules forwarding out and deleting the alerts, a consent to an app from
// another tenant, an app role assignment; and deletes them.
func TestSDKReadsAndRemovesWhatACompromiseLeft(t *testing.T) {
	start := time.Now()
	tn := startSeeded(t, func(s *Seed) { s.Options.DeletionDelay = 0 })
	c := newGraphClient(t, tn, secretCredential(t, tn, revokeClientID, revokeSecret), false)
	ctx := context.Background()
	me := c.Users().ByUserId(lidiaID)

	methods, err := me.Authentication().Methods().Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(methods.GetValue()); n != 3 {
		t.Fatalf("%d methods, want 3", n)
	}
	app, ok := methods.GetValue()[2].(models.MicrosoftAuthenticatorAuthenticationMethodable)
	if !ok {
		t.Fatalf("%T is no Authenticator", methods.GetValue()[2])
	}
	if *app.GetDisplayName() != "SM-A515F" || *app.GetDeviceTag() != "SoftwareTokenActivated" {
		t.Errorf("authenticator %q %q", *app.GetDisplayName(), *app.GetDeviceTag())
	}
	if age := start.Sub(*app.GetCreatedDateTime()); age < 6*time.Minute || age > 8*time.Minute {
		t.Errorf("authenticator created %v before start, want 7m", age)
	}
	// The default phone first is refused; the Authenticator, then the phone, go.
	err = me.Authentication().PhoneMethods().ByPhoneAuthenticationMethodId(lidiaPhone).Delete(ctx, nil)
	if status, code, msg := odata(err); status != 400 || code != "badRequest" || msg != defaultMethodMsg {
		t.Fatalf("default phone first: %d %s %q", status, code, msg)
	}
	if err := me.Authentication().MicrosoftAuthenticatorMethods().ByMicrosoftAuthenticatorAuthenticationMethodId(lidiaAuthApp).Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := me.Authentication().PhoneMethods().ByPhoneAuthenticationMethodId(lidiaPhone).Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if m := userState(t, tn, lidiaID).Entra.AuthMethods; len(m) != 1 || !strings.HasPrefix(m[0], "password:") {
		t.Errorf("methods left: %v", m)
	}

	rules, err := me.MailFolders().ByMailFolderId("inbox").MessageRules().Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rules.GetValue()); n != 2 {
		t.Fatalf("%d rules, want 2", n)
	}
	fwd, del := rules.GetValue()[0], rules.GetValue()[1]
	if to := fwd.GetActions().GetForwardTo(); len(to) != 1 || *to[0].GetEmailAddress().GetAddress() != "attacker@protonmail.example" {
		t.Errorf("forwardTo %v", to)
	}
	if s := del.GetConditions().GetSubjectContains(); len(s) != 1 || s[0] != "security alert" || !*del.GetActions().GetDelete() {
		t.Errorf("second rule: subjectContains %v delete %v", s, del.GetActions().GetDelete())
	}
	for _, r := range rules.GetValue() {
		if err := me.MailFolders().ByMailFolderId("inbox").MessageRules().ByMessageRuleId(*r.GetId()).Delete(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}

	grants, err := me.Oauth2PermissionGrants().Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(grants.GetValue()); n != 1 || *grants.GetValue()[0].GetClientId() != mailSyncProSP || *grants.GetValue()[0].GetScope() != "Mail.Read Mail.Send offline_access" {
		t.Fatalf("grants %d", n)
	}
	sp, err := c.ServicePrincipals().ByServicePrincipalId(mailSyncProSP).Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *sp.GetDisplayName() != "Mail Sync Pro" || sp.GetAppOwnerOrganizationId().String() != "0b7e2c4a-9f1d-4e3b-8a6c-5d2f1e0a9c88" {
		t.Errorf("service principal %q %v", *sp.GetDisplayName(), sp.GetAppOwnerOrganizationId())
	}
	filter := "consentType eq 'AllPrincipals'"
	wide, err := c.Oauth2PermissionGrants().Get(ctx, &oauth2permissiongrants.Oauth2PermissionGrantsRequestBuilderGetRequestConfiguration{
		QueryParameters: &oauth2permissiongrants.Oauth2PermissionGrantsRequestBuilderGetQueryParameters{Filter: &filter}})
	if err != nil || len(wide.GetValue()) != 1 || *wide.GetValue()[0].GetId() != tenantWideGrant || wide.GetValue()[0].GetPrincipalId() != nil {
		t.Fatalf("AllPrincipals grants: %v", err)
	}
	if err := c.Oauth2PermissionGrants().ByOAuth2PermissionGrantId(lidiaGrant).Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}

	assignments, err := me.AppRoleAssignments().Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(assignments.GetValue()); n != 1 || *assignments.GetValue()[0].GetResourceDisplayName() != "Salesforce" || *assignments.GetValue()[0].GetPrincipalType() != "User" {
		t.Fatalf("app role assignments: %d", n)
	}
	if err := me.AppRoleAssignments().ByAppRoleAssignmentId(*assignments.GetValue()[0].GetId()).Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}

	d := tn.Directory()
	d.Lock()
	defer d.Unlock()
	// Left: the Sales group's assignment and miriam's three.
	if n, g, a := len(d.Mailboxes[lidiaID].Rules), len(d.PermissionGrants), len(d.AppRoleAssignments); n != 0 || g != 1 || a != 4 {
		t.Errorf("left: %d rules, %d grants (want the tenant-wide one), %d app role assignments (want the group's and miriam's 3)", n, g, a)
	}
}

// The SDK takes roles away: a standing assignment by DELETE, PIM's by
// adminRemove requests answered 201 with status Revoked.
func TestSDKRemovesRoles(t *testing.T) {
	tn := startSeeded(t, func(s *Seed) {
		s.RoleEligibilities = append(s.RoleEligibilities, SeedRoleAssignment{User: "adm-johanna@contoso.test", Roles: []string{"Global Administrator"}})
	})
	c := newGraphClient(t, tn, secretCredential(t, tn, revokeClientID, revokeSecret), false)
	ctx := context.Background()
	filter := "principalId eq '" + johannaID + "'"
	active, err := c.RoleManagement().Directory().RoleAssignmentScheduleInstances().Get(ctx, &rolemanagement.DirectoryRoleAssignmentScheduleInstancesRequestBuilderGetRequestConfiguration{
		QueryParameters: &rolemanagement.DirectoryRoleAssignmentScheduleInstancesRequestBuilderGetQueryParameters{Filter: &filter}})
	if err != nil {
		t.Fatal(err)
	}
	if v := active.GetValue(); len(v) != 1 || *v[0].GetRoleDefinitionId() != privRoleAdmin || *v[0].GetAssignmentType() != "Assigned" {
		t.Fatalf("active: %d", len(v))
	}
	if err := c.RoleManagement().Directory().RoleAssignments().ByUnifiedRoleAssignmentId(*active.GetValue()[0].GetId()).Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	req := models.NewUnifiedRoleEligibilityScheduleRequest()
	action := models.ADMINREMOVE_UNIFIEDROLESCHEDULEREQUESTACTIONS
	req.SetAction(&action)
	req.SetPrincipalId(ptr(johannaID))
	req.SetRoleDefinitionId(ptr(globalAdminRole))
	req.SetDirectoryScopeId(ptr("/"))
	got, err := c.RoleManagement().Directory().RoleEligibilityScheduleRequests().Post(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *got.GetStatus() != "Revoked" || got.GetAction().String() != "adminRemove" {
		t.Errorf("request: %s %s", *got.GetStatus(), got.GetAction())
	}
	d := tn.Directory()
	d.Lock()
	defer d.Unlock()
	if a, e := d.RoleAssignments[johannaID], d.RoleEligibilities[johannaID]; len(a) != 0 || len(e) != 0 {
		t.Errorf("johanna keeps %v and may activate %v", a, e)
	}
}

// Plain HTTP for the rules and errors, exact: what Graph refuses, and how
// a deletion shows.
func TestCleanupErrors(t *testing.T) {
	tn := startSeeded(t, func(s *Seed) {
		s.Options.DeletionDelay = 0
		s.Users = append(s.Users, SeedUser{UserPrincipalName: "two-phones@contoso.test", AccountEnabled: true, Cloud: true, UserType: "Member",
			Licenses: []string{"6fd2c87f-b296-42f0-b197-1e91e994b900"},
			AuthMethods: []AuthMethod{
				{ID: "m1", Type: "phone", PhoneType: "mobile"},
				{ID: "m2", Type: "phone", PhoneType: "alternateMobile"},
			},
			InboxRules: []MessageRule{{ID: "r1", DisplayName: "to RSS", MoveToFolder: "rssfeeds", Enabled: true}},
		})
	})
	tok := token(t, tn, revokeClientID, revokeSecret)
	ro := token(t, tn, readonlyClientID, readonlySecret)
	two := "/users/two-phones@contoso.test"
	rssID := stableID("mailFolder", stableID("user", "two-phones@contoso.test")+"/rssfeeds")
	tests := []struct {
		name, tok, method, path, body string
		status                        int
		code, msg                     string
	}{
		{"the default method goes last", tok, "DELETE", "/users/" + lidiaID + "/authentication/phoneMethods/" + lidiaPhone, "", 400, "badRequest", defaultMethodMsg},
		{"the password has no DELETE", tok, "DELETE", "/users/" + lidiaID + "/authentication/passwordMethods/28c10230-6103-485e-b985-444c60001490", "", 405, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri."},
		{"the mobile phone goes after the alternate", tok, "DELETE", two + "/authentication/phoneMethods/m1", "", 400, "badRequest",
			"The mobile phone method cannot be deleted while an alternateMobile phone method exists; delete the alternateMobile method first."},
		{"the alternate goes", tok, "DELETE", two + "/authentication/phoneMethods/m2", "", 204, "", ""},
		{"then the mobile", tok, "DELETE", two + "/authentication/phoneMethods/m1", "", 204, "", ""},
		{"a method already gone is 404", tok, "DELETE", two + "/authentication/phoneMethods/m1", "", 404, "Request_ResourceNotFound",
			"Resource 'm1' does not exist or one of its queried reference-property objects are not present."},
		{"a rule's folder by its id", tok, "GET", two + "/mailFolders/" + rssID, "", 200, "", ""},
		{"rules need MailboxSettings", ro, "GET", "/users/" + lidiaID + "/mailFolders/inbox/messageRules", "", 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."},
		{"no license, no mailbox", tok, "GET", "/users/megan@contoso.test/mailFolders/inbox/messageRules", "", 404, "MailboxNotEnabledForRESTAPI",
			"The mailbox is either inactive, soft-deleted, or is hosted on-premise."},
		{"an unknown folder", tok, "GET", "/users/" + lidiaID + "/mailFolders/junkemail", "", 404, "ErrorItemNotFound", "The specified object was not found in the store."},
		{"a rule goes", tok, "DELETE", two + "/mailFolders/inbox/messageRules/r1", "", 204, "", ""},
		{"a rule already gone is 404", tok, "DELETE", two + "/mailFolders/inbox/messageRules/r1", "", 404, "ErrorItemNotFound", "The specified object was not found in the store."},
		{"a consent goes", tok, "DELETE", "/oauth2PermissionGrants/" + lidiaGrant, "", 204, "", ""},
		{"a consent already gone is 404", tok, "DELETE", "/oauth2PermissionGrants/" + lidiaGrant, "", 404, "Request_ResourceNotFound",
			"Resource '" + lidiaGrant + "' does not exist or one of its queried reference-property objects are not present."},
		{"consents need DelegatedPermissionGrant.ReadWrite.All", ro, "DELETE", "/oauth2PermissionGrants/" + tenantWideGrant, "", 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."},
		{"a filter the sandbox does not model", tok, "GET", "/oauth2PermissionGrants?$filter=" + url.QueryEscape("scope eq 'x'"), "", 400, "BadRequest",
			"Invalid filter clause: the sandbox supports only clientId, consentType, principalId and resourceId eq 'value' joined by and, got 'scope eq 'x''."},
		{"a group's app role is not the user's to delete", tok, "DELETE", "/users/" + adeleID + "/appRoleAssignments/" + grantID("appRoleAssignment1"+salesID+"3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e04"), "", 404, "Request_ResourceNotFound",
			"Resource '" + grantID("appRoleAssignment1"+salesID+"3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e04") + "' does not exist or one of its queried reference-property objects are not present."},
		{"adminRemove of a role not held", tok, "POST", "/roleManagement/directory/roleAssignmentScheduleRequests",
			`{"action":"adminRemove","principalId":"` + nestorID + `","roleDefinitionId":"` + helpdeskRoleID + `","directoryScopeId":"/"}`, 400, "RoleAssignmentDoesNotExist", "The Role assignment does not exist."},
		{"a group's role goes from the group", tok, "POST", "/roleManagement/directory/roleAssignmentScheduleRequests",
			`{"action":"adminRemove","principalId":"` + helpdeskGroupID + `","roleDefinitionId":"` + helpdeskRoleID + `","directoryScopeId":"/"}`, 201, "", ""},
		{"only adminRemove is modelled", tok, "POST", "/roleManagement/directory/roleEligibilityScheduleRequests",
			`{"action":"adminAssign","principalId":"` + nestorID + `","roleDefinitionId":"` + helpdeskRoleID + `","directoryScopeId":"/"}`, 400, "BadRequest", "The sandbox models only the action adminRemove, got 'adminAssign'."},
		{"a role assignment already gone is 404", tok, "DELETE", "/roleManagement/directory/roleAssignments/" + stableID("roleAssignment", helpdeskGroupID+"Helpdesk Administrator"), "", 404, "Request_ResourceNotFound",
			"Resource '" + stableID("roleAssignment", helpdeskGroupID+"Helpdesk Administrator") + "' does not exist or one of its queried reference-property objects are not present."},
		{"role writes need RoleManagement.ReadWrite.Directory", ro, "DELETE", "/roleManagement/directory/roleAssignments/x", "", 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."},
	}
	for _, tc := range tests {
		status, _, body := do(t, tn, tc.tok, tc.method, tc.path, tc.body)
		if status != tc.status || errCode(body) != tc.code || errMessage(body) != tc.msg {
			t.Errorf("%s: %s %s: got %d %s %q, want %d %s %q", tc.name, tc.method, tc.path, status, errCode(body), errMessage(body), tc.status, tc.code, tc.msg)
		}
	}
}

// A deleted method keeps showing in listings for the tenant's deletion
// delay while a second DELETE of it is 404 at once; then it is gone.
func TestDeletedMethodShowsForTheDelay(t *testing.T) {
	tn := startSeeded(t, func(s *Seed) { s.Options.DeletionDelay = 300 * time.Millisecond })
	tok := token(t, tn, revokeClientID, revokeSecret)
	p := "/users/" + lidiaID + "/authentication/"
	if status, _, body := do(t, tn, tok, "DELETE", p+"microsoftAuthenticatorMethods/"+lidiaAuthApp, ""); status != 204 {
		t.Fatalf("delete: %d %v", status, body)
	}
	if ids := listedIDs(t, tn, tok, p+"methods"); len(ids) != 3 {
		t.Errorf("at once: %v, want the deleted one still listed", ids)
	}
	if status, _, body := do(t, tn, tok, "DELETE", p+"microsoftAuthenticatorMethods/"+lidiaAuthApp, ""); status != 404 || errCode(body) != "Request_ResourceNotFound" {
		t.Errorf("second delete: %d %v", status, body)
	}
	time.Sleep(350 * time.Millisecond)
	if ids := listedIDs(t, tn, tok, p+"methods"); len(ids) != 2 || contains(ids, lidiaAuthApp) {
		t.Errorf("after the delay: %v", ids)
	}
}

// Without Entra ID P2, PIM's listings and requests answer Graph's 400.
func TestPIMNeedsP2(t *testing.T) {
	tn := startSeeded(t, func(s *Seed) { s.Tenant.WithoutP2 = true })
	tok := token(t, tn, revokeClientID, revokeSecret)
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/roleManagement/directory/roleAssignmentScheduleInstances", ""},
		{"POST", "/roleManagement/directory/roleEligibilityScheduleRequests", `{"action":"adminRemove","principalId":"x","roleDefinitionId":"y","directoryScopeId":"/"}`},
		{"POST", "/roleManagement/directory/roleAssignmentScheduleRequests", `{"action":"adminRemove","principalId":"x","roleDefinitionId":"y","directoryScopeId":"/"}`},
	} {
		status, _, body := do(t, tn, tok, r.method, r.path, r.body)
		if status != 400 || errCode(body) != "AadPremiumLicenseRequired" || errMessage(body) != "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license." {
			t.Errorf("%s %s: %d %v", r.method, r.path, status, body)
		}
	}
}

// Consents filter by several eq clauses joined by and; the user's list
// never holds a tenant-wide grant; group-held app roles show on the group.
func TestCleanupListings(t *testing.T) {
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	tests := []struct {
		path string
		want []string
	}{
		{"/oauth2PermissionGrants?$filter=" + url.QueryEscape("clientId eq '"+mailSyncProSP+"' and consentType eq 'Principal'"), []string{lidiaGrant}},
		{"/oauth2PermissionGrants?$filter=" + url.QueryEscape("clientId eq '"+mailSyncProSP+"' and consentType eq 'AllPrincipals'"), nil},
		{"/oauth2PermissionGrants", []string{lidiaGrant, tenantWideGrant}},
		{"/users/" + lidiaID + "/oauth2PermissionGrants", []string{lidiaGrant}},
		{"/users/" + adeleID + "/oauth2PermissionGrants", nil},
		{"/users/" + adeleID + "/appRoleAssignments", nil},
		{"/groups/" + salesID + "/appRoleAssignments", []string{grantID("appRoleAssignment1" + salesID + "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e04")}},
		{"/roleManagement/directory/roleAssignmentScheduleInstances?$filter=" + url.QueryEscape("principalId eq '"+nestorID+"'"), nil},
		{"/roleManagement/directory/roleAssignmentScheduleInstances?$filter=" + url.QueryEscape("principalId eq '"+helpdeskGroupID+"'"), []string{stableID("roleAssignment", helpdeskGroupID+"Helpdesk Administrator")}},
		{"/users/" + lidiaID + "/mailFolders/deleteditems/messageRules", nil},
	}
	for _, tc := range tests {
		got := listedIDs(t, tn, tok, tc.path)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("GET %s: %v, want %v", tc.path, got, tc.want)
		}
	}
}

// Seed mistakes in the new keys are reported with their position.
func TestCleanupSeedErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"an unknown app", "tenant: {id: t}\nusers: [{userPrincipalName: a@x}]\noauth2_permission_grants: [{client: Nope, resource: Nope, consentType: AllPrincipals, scope: s}]\n",
			"s.yaml:3:37: unknown service principal \"Nope\"\ns.yaml:3:53: unknown service principal \"Nope\""},
		{"a creation in the future", "tenant: {id: t}\nusers: [{userPrincipalName: a@x, auth_methods: [{id: m, type: fido2, created: 5m}]}]\n",
			"s.yaml:2:79: expected a time before the start such as -7m or -720h, got \"5m\""},
		{"a principal on a tenant-wide grant", "tenant: {id: t}\nusers: [{userPrincipalName: a@x}]\nservice_principals: [{appId: a, displayName: A}]\noauth2_permission_grants: [{client: A, resource: A, consentType: AllPrincipals, principal: a@x, scope: s}]\n",
			"s.yaml:4:28: oauth2 permission grant: a principal goes with consentType Principal, and only with it"},
		{"an unknown folder", "tenant: {id: t}\nusers: [{userPrincipalName: a@x, inbox_rules: [{displayName: r, actions: {moveToFolder: junk}}]}]\n",
			"s.yaml:2:89: moveToFolder must be a well-known folder (inbox, archive, deleteditems, rssfeeds), got \"junk\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSeed("s.yaml", []byte(tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %s", err, tc.want)
			}
		})
	}
}

// A license a group assigns is among the user's assignedLicenses, shows in
// licenseAssignmentStates with the group's id, and cannot be removed from
// the user; a direct one beside it can.
func TestGroupLicenses(t *testing.T) {
	const e3, ems = "6fd2c87f-b296-42f0-b197-1e91e994b900", "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"
	tn := startSeeded(t, func(s *Seed) {
		for i := range s.Groups {
			if s.Groups[i].DisplayName == "Sales" {
				s.Groups[i].Licenses = []string{ems}
			}
		}
	})
	tok := token(t, tn, revokeClientID, revokeSecret)
	status, _, body := do(t, tn, tok, "GET", "/users/"+adeleID+"?$select=assignedLicenses,licenseAssignmentStates", "")
	if status != 200 {
		t.Fatalf("%d %v", status, body)
	}
	var got []string
	for _, s := range body["licenseAssignmentStates"].([]any) {
		m := s.(map[string]any)
		got = append(got, fmt.Sprintf("%v by %v", m["skuId"], m["assignedByGroup"]))
	}
	if want := []string{e3 + " by <nil>", ems + " by " + salesID}; strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("licenseAssignmentStates %v, want %v", got, want)
	}
	if n := len(body["assignedLicenses"].([]any)); n != 2 {
		t.Errorf("%d assignedLicenses, want 2", n)
	}
	status, _, body = do(t, tn, tok, "POST", "/users/"+adeleID+"/assignLicense", `{"addLicenses":[],"removeLicenses":["`+ems+`"]}`)
	if status != 400 || errCode(body) != "Request_BadRequest" || errMessage(body) != "User license is inherited from group membership and cannot be removed directly from the user." {
		t.Errorf("removing the group's license: %d %v", status, body)
	}
	if status, _, body = do(t, tn, tok, "POST", "/users/"+adeleID+"/assignLicense", `{"addLicenses":[],"removeLicenses":["`+e3+`"]}`); status != 200 {
		t.Errorf("removing the direct license: %d %v", status, body)
	}
}
