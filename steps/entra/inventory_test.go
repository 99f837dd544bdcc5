package entra

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
)

const (
	invUser = "5f1c0d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"
	invApp1 = "aaaaaaaa-0000-4000-8000-000000000001" // provisioned
	invApp2 = "aaaaaaaa-0000-4000-8000-000000000002" // not provisioned
	invApp3 = "aaaaaaaa-0000-4000-8000-000000000003" // its jobs cannot be read
	invSku1 = "c7df2760-2c81-4ef7-b578-5b5392b571df"
	invSku2 = "18181a46-0d4e-45cd-891e-60aabd171b4e"
	invGrp1 = "bbbbbbbb-0000-4000-8000-000000000001"
)

// answer is one canned Graph answer.
type answer struct {
	status int
	body   string
}

func ok(body string) answer { return answer{http.StatusOK, body} }

func list(items ...string) answer { return ok(`{"value":[` + strings.Join(items, ",") + `]}`) }

// inventoryGraph answers every listing the inventory reads for invUser with
// a full set of things still held; a test replaces some answers.
func inventoryGraph() map[string]answer {
	u := "/users/" + invUser
	return map[string]answer{
		u: ok(`{"id":"` + invUser + `","userPrincipalName":"adele@contoso.test","accountEnabled":true,
			"signInSessionsValidFromDateTime":"2026-12-07T09:02:31Z",
			"assignedLicenses":[{"skuId":"` + invSku1 + `","disabledPlans":[]},{"skuId":"` + invSku2 + `","disabledPlans":[]}]}`),
		u + "?licenseAssignmentStates": ok(`{"id":"` + invUser + `","licenseAssignmentStates":[
			{"skuId":"` + invSku1 + `","assignedByGroup":null,"state":"Active"},
			{"skuId":"` + invSku2 + `","assignedByGroup":"` + invGrp1 + `","state":"Active"}]}`),
		u + "/authentication/methods": list(
			`{"@odata.type":"#microsoft.graph.passwordAuthenticationMethod","id":"28c10230-6103-485e-b985-444c60001490","createdDateTime":"2024-01-15T09:00:00Z"}`,
			`{"@odata.type":"#microsoft.graph.microsoftAuthenticatorAuthenticationMethod","id":"m1","displayName":"iPhone 15","createdDateTime":"2026-12-07T09:02:00Z"}`,
			`{"@odata.type":"#microsoft.graph.phoneAuthenticationMethod","id":"m2","phoneNumber":"+1 5555550100","phoneType":"mobile"}`,
			`{"@odata.type":"#microsoft.graph.fido2AuthenticationMethod","id":"m3","displayName":"YubiKey 5","createdDateTime":"2025-03-01T10:00:00Z"}`,
			`{"@odata.type":"#microsoft.graph.temporaryAccessPassAuthenticationMethod","id":"m4","isUsable":true,"temporaryAccessPass":null,"createdDateTime":"2026-12-08T01:00:00Z"}`),
		u + "/mailFolders/inbox/messageRules": list(
			`{"id":"r1","displayName":"x","isEnabled":true,"actions":{"forwardTo":[{"emailAddress":{"name":"E","address":"evil@example.net"}}],"delete":true}}`,
			`{"id":"r2","displayName":"Newsletters","isEnabled":true,"actions":{"markAsRead":true}}`,
			`{"id":"r3","displayName":"hide","isEnabled":false,"actions":{"moveToFolder":"f-rss"}}`,
			`{"id":"r4","displayName":"Receipts","isEnabled":true,"actions":{"moveToFolder":"f-rec","stopProcessingRules":true}}`),
		u + "/mailFolders/f-rss": ok(`{"id":"f-rss","displayName":"RSS Feeds"}`),
		u + "/mailFolders/f-rec": ok(`{"id":"f-rec","displayName":"Receipts"}`),
		u + "/oauth2PermissionGrants": list(
			`{"id":"g1","clientId":"` + invApp2 + `","consentType":"Principal","principalId":"` + invUser + `","resourceId":"r","scope":" Mail.Read  offline_access "}`),
		"/oauth2PermissionGrants": list(
			`{"id":"g2","clientId":"` + invApp1 + `","consentType":"AllPrincipals","principalId":null,"resourceId":"r","scope":"User.Read"}`),
		"/servicePrincipals/" + invApp1: ok(`{"id":"` + invApp1 + `","displayName":"Salesforce"}`),
		"/servicePrincipals/" + invApp2: ok(`{"id":"` + invApp2 + `","displayName":"Mail Helper"}`),
		u + "/appRoleAssignments": list(
			`{"id":"a1","resourceId":"`+invApp1+`","resourceDisplayName":"Salesforce","principalId":"`+invUser+`"}`,
			`{"id":"a2","resourceId":"`+invApp2+`","resourceDisplayName":"Mail Helper","principalId":"`+invUser+`"}`,
			`{"id":"a3","resourceId":"`+invApp3+`","resourceDisplayName":"Old CRM","principalId":"`+invUser+`"}`),
		"/servicePrincipals/" + invApp1 + "/synchronization/jobs": list(`{"id":"job1","templateId":"salesforce"}`),
		"/servicePrincipals/" + invApp2 + "/synchronization/jobs": list(),
		"/servicePrincipals/" + invApp3 + "/synchronization/jobs": {http.StatusForbidden, graphErrorBody("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")},
		u + "/memberOf/microsoft.graph.group":                     list(`{"id":"`+invGrp1+`","displayName":"Sales"}`, `{"id":"g9","displayName":"Helpdesk Admins"}`),
		// What the members of Sales have through it.
		"/groups/" + invGrp1 + "/appRoleAssignments": list(
			`{"id":"ga1","resourceId":"` + invApp1 + `","resourceDisplayName":"Salesforce","principalId":"` + invGrp1 + `","principalType":"Group"}`),
		"/groups/g9/appRoleAssignments": list(),
		// One of the two skus is named: the other keeps its id.
		"/subscribedSkus": list(`{"skuId":"` + invSku1 + `","skuPartNumber":"ENTERPRISEPACK"}`),
		u + "/transitiveMemberOf/microsoft.graph.directoryRole":      list(`{"id":"d1","displayName":"Helpdesk Administrator"}`, `{"id":"d2","displayName":"Reports Reader"}`),
		"/roleManagement/directory/roleAssignments":                  list(`{"id":"ra1","principalId":"` + invUser + `","roleDefinition":{"id":"x","displayName":"Reports Reader"}}`),
		"/roleManagement/directory/roleEligibilityScheduleInstances": list(`{"id":"e1","principalId":"` + invUser + `","roleDefinition":{"id":"y","displayName":"Global Administrator"}}`),
		u + "/registeredDevices":                                     list(`{"@odata.type":"#microsoft.graph.device","id":"dev1","displayName":"LAPTOP-1","accountEnabled":true}`),
		u + "/ownedDevices": list(`{"@odata.type":"#microsoft.graph.device","id":"dev1","displayName":"LAPTOP-1","accountEnabled":true}`,
			`{"@odata.type":"#microsoft.graph.device","id":"dev2","displayName":"OLD-PC","accountEnabled":false}`),
		u + "/managedDevices": list(`{"id":"md1","deviceName":"LAPTOP-1","managementState":"managed"}`,
			`{"id":"md2","deviceName":"PHONE-2","managementState":"wipePending"}`),
	}
}

// serve answers from answers by path (without /v1.0); the licence read of
// the user is keyed "?licenseAssignmentStates".
func serve(t *testing.T, answers map[string]answer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/v1.0")
		if strings.Contains(r.URL.Query().Get("$select"), "licenseAssignmentStates") {
			key += "?licenseAssignmentStates"
		}
		a, found := answers[key]
		if !found {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.RequestURI())
			writeJSON(w, http.StatusBadRequest, graphErrorBody("BadRequest", "Resource not found for the segment."))
			return
		}
		writeJSON(w, a.status, a.body)
	}
}

// The items a full inventory of invUser lists, in the report's order.
func fullInventory() []steps.Residual {
	r := func(kind, what, until, why, id string) steps.Residual {
		return steps.Residual{Backend: "entra", Kind: kind, What: what, Until: until, Why: why, ID: id}
	}
	return []steps.Residual{
		r("account", "the account adele@contoso.test is still enabled", "until disabled", "", invUser),
		r("token", "access tokens issued before 2026-12-07 09:02 UTC stay valid", "until they expire (about an hour; sooner in apps with continuous access evaluation)", "", ""),
		r("sign_in_method", "FIDO2 key (YubiKey 5, added 2025-03-01)", "until removed: a sign-in method outlives a password reset", "", "m3"),
		r("sign_in_method", "Microsoft Authenticator (iPhone 15, added 2026-12-07)", "until removed: a sign-in method outlives a password reset", "", "m1"),
		r("sign_in_method", "Temporary Access Pass (usable, added 2026-12-08)", "until removed: a sign-in method outlives a password reset", "", "m4"),
		r("sign_in_method", "phone +1 5555550100 (mobile)", "until removed: a sign-in method outlives a password reset", "", "m2"),
		r("inbox_rule", "rule 'Newsletters' files or flags mail", "until removed: the rule runs in the mailbox whether or not the account is enabled", "", "r2"),
		r("inbox_rule", "rule 'Receipts' moves mail to folder Receipts", "until removed: the rule runs in the mailbox whether or not the account is enabled", "", "r4"),
		r("inbox_rule", "rule 'hide' (disabled) moves mail to RSS Feeds (suspicious)", "until removed: the rule runs in the mailbox whether or not the account is enabled", "", "r3"),
		r("inbox_rule", "rule 'x' forwards to evil@example.net, deletes mail (suspicious)", "until removed: the rule runs in the mailbox whether or not the account is enabled", "", "r1"),
		r("consent", "app 'Mail Helper' may act as the user with Mail.Read offline_access", "until revoked: the app keeps any refresh token it holds if the account is enabled again", "", "g1"),
		r("consent", "app 'Salesforce' may act as the user with User.Read", "until revoked: the app keeps any refresh token it holds if the account is enabled again", "tenant-wide consent: never removed for one user", "g2"),
		r("role", "directory role Helpdesk Administrator", "until removed", "through a group: removing the membership removes it", ""),
		r("role", "directory role Reports Reader", "until removed", "", ""),
		r("role", "eligible for directory role Global Administrator (Privileged Identity Management)", "until the eligibility is removed or ends", "", ""),
		r("app_assignment", "assigned to app 'Mail Helper'", "until someone acts: the app keeps its own account and sessions", "", "a2"),
		r("app_assignment", "assigned to app 'Old CRM'", "until someone acts, or the app's next provisioning cycle", "", "a3"),
		r("app_assignment", "assigned to app 'Salesforce'", "until the app's next provisioning cycle (20–40 min)", "", "a1"),
		r("app_assignment", "assigned to app 'Salesforce' through group 'Sales'", "until removed", "through a group: removing the membership removes it", "ga1"),
		r("group", "member of group 'Helpdesk Admins'", "until removed", "", "g9"),
		r("group", "member of group 'Sales'", "until removed", "", invGrp1),
		r("license", "licence "+invSku2, "until removed: a licence keeps the mailbox and files served", "inherited from group 'Sales'", invSku2),
		r("license", "licence ENTERPRISEPACK", "until removed: a licence keeps the mailbox and files served", "", invSku1),
		r("device", "device 'LAPTOP-1' is still enabled", "until disabled: its primary refresh token signs in without the user's password", "", "dev1"),
		r("device", "managed device 'LAPTOP-1' is neither retired nor wiped", "until retired or wiped: company data stays on it", "", "md1"),
		exchangeUnchecked,
	}
}

func TestInventory(t *testing.T) {
	exchange := exchangeUnchecked
	forbidden := answer{http.StatusForbidden, graphErrorBody("ErrorAccessDenied", "Access is denied. Check credentials and try again.")}
	tests := []struct {
		name    string
		change  map[string]answer
		want    func([]steps.Residual) []steps.Residual
		wantErr string
	}{
		{name: "everything still held is listed, each with how long it lasts",
			want: func(all []steps.Residual) []steps.Residual { return all }},
		{name: "inbox rules Graph refuses are an unchecked item naming the permission",
			change: map[string]answer{"/users/" + invUser + "/mailFolders/inbox/messageRules": forbidden},
			want: func(all []steps.Residual) []steps.Residual {
				out := withoutKind(all, "inbox_rule")
				return append(out[:len(out)-1], steps.Residual{Backend: "entra", Kind: "unchecked", What: "inbox rules",
					Until: "unknown: check by hand", Why: "needs MailboxSettings.Read (Graph 403 ErrorAccessDenied: Access is denied. Check credentials and try again.)"}, exchange)
			}},
		{name: "a group's app assignments Graph refuses are an unchecked item naming the group",
			change: map[string]answer{"/groups/g9/appRoleAssignments": forbidden},
			want: func(all []steps.Residual) []steps.Residual {
				return append(all[:len(all)-1], steps.Residual{Backend: "entra", Kind: "unchecked", What: "app assignments of group 'Helpdesk Admins'",
					Until: "unknown: check by hand", Why: "needs Directory.Read.All (Graph 403 ErrorAccessDenied: Access is denied. Check credentials and try again.)"}, exchange)
			}},
		{name: "a mailbox Graph does not know is an unchecked item with Graph's answer",
			change: map[string]answer{"/users/" + invUser + "/mailFolders/inbox/messageRules": {http.StatusNotFound,
				graphErrorBody("MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")}},
			want: func(all []steps.Residual) []steps.Residual {
				out := withoutKind(all, "inbox_rule")
				return append(out[:len(out)-1], steps.Residual{Backend: "entra", Kind: "unchecked", What: "inbox rules",
					Until: "unknown: check by hand", Why: "Graph 404 MailboxNotEnabledForRESTAPI: The mailbox is either inactive, soft-deleted, or is hosted on-premise."}, exchange)
			}},
		{name: "an endpoint Graph does not serve is an unchecked item, the rest still listed",
			change: map[string]answer{"/oauth2PermissionGrants": {http.StatusBadRequest, graphErrorBody("BadRequest", "Resource not found for the segment 'oauth2PermissionGrants'.")}},
			want: func(all []steps.Residual) []steps.Residual {
				var out []steps.Residual
				for _, r := range all {
					if r.ID != "g2" {
						out = append(out, r)
					}
				}
				return append(out[:len(out)-1], exchange, steps.Residual{Backend: "entra", Kind: "unchecked", What: "tenant-wide consents",
					Until: "unknown: check by hand", Why: "Graph 400 BadRequest: Resource not found for the segment 'oauth2PermissionGrants'."})
			}},
		{name: "licences whose source cannot be read are listed with an unchecked item",
			change: map[string]answer{"/users/" + invUser + "?licenseAssignmentStates": {http.StatusBadRequest,
				graphErrorBody("BadRequest", "Could not find a property named 'licenseAssignmentStates' on type 'microsoft.graph.user'.")}},
			want: func(all []steps.Residual) []steps.Residual {
				return append(withoutWhy(all, "license"), steps.Residual{Backend: "entra", Kind: "unchecked", What: "which licences are inherited from a group",
					Until: "unknown: check by hand", Why: "Graph 400 BadRequest: Could not find a property named 'licenseAssignmentStates' on type 'microsoft.graph.user'."})
			}},
		{name: "licences whose names cannot be read keep their sku ids, and nothing is unchecked for it",
			change: map[string]answer{"/subscribedSkus": {http.StatusForbidden,
				graphErrorBody("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")}},
			want: func(all []steps.Residual) []steps.Residual {
				var out []steps.Residual
				for _, r := range all {
					if r.Kind == "license" && r.ID == invSku1 {
						r.What = "licence " + invSku1
					}
					out = append(out, r)
				}
				return out
			}},
		{name: "a licence also assigned directly says leaving the group will not remove it",
			change: map[string]answer{"/users/" + invUser + "?licenseAssignmentStates": ok(`{"id":"` + invUser + `","licenseAssignmentStates":[
				{"skuId":"` + invSku1 + `","assignedByGroup":null,"state":"Active"},
				{"skuId":"` + invSku2 + `","assignedByGroup":null,"state":"Active"},
				{"skuId":"` + invSku2 + `","assignedByGroup":"` + invGrp1 + `","state":"Active"}]}`)},
			want: func(all []steps.Residual) []steps.Residual {
				out := slices.Clone(all)
				for i, r := range out {
					if r.ID == invSku2 {
						out[i].Why = "assigned directly and inherited from group 'Sales'"
					}
				}
				return out
			}},
		{name: "a sign-in method Graph lists without a type is still listed, by id",
			change: map[string]answer{"/users/" + invUser + "/authentication/methods": list(
				`{"id":"m9","createdDateTime":"2026-12-08T01:00:00Z"}`)},
			want: func(all []steps.Residual) []steps.Residual {
				out := withoutKind(all, "sign_in_method")
				m := steps.Residual{Backend: "entra", Kind: "sign_in_method", What: "sign-in method of no known type (m9)",
					Until: "until removed: a sign-in method outlives a password reset", ID: "m9"}
				return append(out[:2], append([]steps.Residual{m}, out[2:]...)...)
			}},
		{name: "roles whose source cannot be read are listed without saying which come through a group",
			change: map[string]answer{"/roleManagement/directory/roleAssignments": forbidden},
			want: func(all []steps.Residual) []steps.Residual {
				return append(withoutWhy(all, "role"), steps.Residual{Backend: "entra", Kind: "unchecked", What: "which directory roles are held through a group",
					Until: "unknown: check by hand", Why: "needs RoleManagement.Read.Directory (Graph 403 ErrorAccessDenied: Access is denied. Check credentials and try again.)"})
			}},
		{name: "a disabled account with nothing left lists only its tokens and what Graph cannot read",
			change: map[string]answer{
				"/users/" + invUser: ok(`{"id":"` + invUser + `","userPrincipalName":"adele@contoso.test","accountEnabled":false,"assignedLicenses":[]}`),
				"/users/" + invUser + "?licenseAssignmentStates":                          ok(`{"id":"` + invUser + `","licenseAssignmentStates":[]}`),
				"/users/" + invUser + "/authentication/methods":                           list(`{"@odata.type":"#microsoft.graph.passwordAuthenticationMethod","id":"p"}`),
				"/users/" + invUser + "/mailFolders/inbox/messageRules":                   list(),
				"/users/" + invUser + "/oauth2PermissionGrants":                           list(),
				"/oauth2PermissionGrants":                                                 list(),
				"/users/" + invUser + "/appRoleAssignments":                               list(),
				"/users/" + invUser + "/memberOf/microsoft.graph.group":                   list(),
				"/users/" + invUser + "/transitiveMemberOf/microsoft.graph.directoryRole": list(),
				"/roleManagement/directory/roleAssignments":                               list(),
				"/roleManagement/directory/roleEligibilityScheduleInstances":              {http.StatusBadRequest, graphErrorBody("AadPremiumLicenseRequired", "The tenant needs P2.")},
				"/users/" + invUser + "/registeredDevices":                                list(),
				"/users/" + invUser + "/ownedDevices":                                     list(`{"@odata.type":"#microsoft.graph.device","id":"dev2","displayName":"OLD-PC","accountEnabled":false}`),
				"/users/" + invUser + "/managedDevices":                                   list(`{"id":"md2","deviceName":"PHONE-2","managementState":"retireIssued"}`),
			},
			want: func([]steps.Residual) []steps.Residual {
				return []steps.Residual{{Backend: "entra", Kind: "token", What: "access tokens already issued stay valid (sign-in sessions were never revoked)",
					Until: "until they expire (about an hour; sooner in apps with continuous access evaluation)"}, exchange}
			}},
		{name: "a user Graph does not know fails the inventory",
			change:  map[string]answer{"/users/" + invUser: {http.StatusNotFound, graphErrorBody("Request_ResourceNotFound", "Resource '"+invUser+"' does not exist.")}},
			wantErr: "entra: inventory of " + invUser + ": Graph 404 Request_ResourceNotFound: Resource '" + invUser + "' does not exist."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answers := inventoryGraph()
			for k, v := range tt.change {
				answers[k] = v
			}
			f := newFakeGraph(t, serve(t, answers))
			c := f.conn(t, &staticCred{token: fakeToken(t, map[string]any{"roles": []string{"User.Read.All"}})})
			subject := &steps.Subject{Ref: "adele@contoso.test", Facts: map[string]map[string]any{"entra": {"id": invUser}}}
			got, err := c.Inventory(context.Background(), subject)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if steps.ClassOf(err) != steps.NotFound {
					t.Errorf("class %v, want NotFound", steps.ClassOf(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want(fullInventory())
			if !reflect.DeepEqual(got, want) {
				t.Errorf("items:\n got %s\nwant %s", residualsText(got), residualsText(want))
			}
		})
	}
}

// withoutWhy is items with the Why of those of the kind cleared: what a
// backend lists when it cannot read where they come from.
func withoutWhy(items []steps.Residual, kind string) []steps.Residual {
	var out []steps.Residual
	for _, r := range items {
		if r.Kind == kind {
			r.Why = ""
		}
		out = append(out, r)
	}
	return out
}

func withoutKind(items []steps.Residual, kind string) []steps.Residual {
	var out []steps.Residual
	for _, r := range items {
		if r.Kind != kind {
			out = append(out, r)
		}
	}
	return out
}

func residualsText(items []steps.Residual) string {
	var b strings.Builder
	for _, r := range items {
		j, _ := json.Marshal(r)
		b.Write(j)
		b.WriteString("\n     ")
	}
	return b.String()
}

// A subject Entra ID did not resolve holds nothing there: no request is sent.
func TestInventoryOfASubjectNotInEntra(t *testing.T) {
	f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("unexpected request %s", r.URL) })
	c := f.conn(t, &staticCred{token: "t"})
	got, err := c.Inventory(context.Background(), &steps.Subject{Ref: "CONTOSO\\adele", Facts: map[string]map[string]any{"ad": {}}})
	if err != nil || got != nil {
		t.Fatalf("got %v, %v; want nothing", got, err)
	}
}

// A user id with reserved characters stays one path segment in every
// request the inventory sends.
func TestInventoryEscapesTheUserID(t *testing.T) {
	var paths []string
	f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, graphErrorBody("Request_ResourceNotFound", "no"))
	})
	c := f.conn(t, &staticCred{token: "t"})
	_, err := c.Inventory(context.Background(), &steps.Subject{Facts: map[string]map[string]any{"entra": {"id": "x/../y?z"}}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, r := range f.requests() {
		paths = append(paths, r.URI)
		if strings.Contains(r.URI, "/x/") || strings.Contains(r.URI, "?z") || strings.Contains(r.URI, "/../") {
			t.Errorf("the id escaped its segment: %s", r.URI)
		}
	}
	if len(paths) == 0 {
		t.Error("no request sent")
	}
}

// lidiaID is the default seed's compromised user: an attacker's
// authenticator, forwarding and deleting rules, a consent, an app.
const lidiaID = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e0b"

// Against the default seed: every read is a GET, Lidia's compromise shows
// (rules marked suspicious, the attacker's consent beside the tenant-wide
// one), the role Nestor holds through a group says so, a user without a
// mailbox gets an unchecked item for the inbox rules, and licences the
// seed assigns directly carry no why (the sandbox serves their source).
func TestSandboxInventory(t *testing.T) {
	tn := startTenant(t)
	c := openSandbox(t, tn, appID, appSecret)
	r := func(kind, what, until, why, id string) steps.Residual {
		return steps.Residual{Backend: "entra", Kind: kind, What: what, Until: until, Why: why, ID: id}
	}
	const (
		tokens   = "until they expire (about an hour; sooner in apps with continuous access evaluation)"
		consent  = "until revoked: the app keeps any refresh token it holds if the account is enabled again"
		explorer = "Tz3bN8vQ1cW6xY0rA5sD9fG2hJ4kL7mP3oI8uE1wR6t"
	)
	tests := []struct {
		id   string
		want []steps.Residual
	}{
		{nestorID, []steps.Residual{
			r("account", "the account nestor@contoso.test is still enabled", "until disabled", "", nestorID),
			r("token", "access tokens issued before SEED stay valid", tokens, "", ""),
			r("consent", "app 'Graph Explorer' may act as the user with openid profile User.Read", consent, "tenant-wide consent: never removed for one user", explorer),
			r("role", "directory role Helpdesk Administrator", "until removed", "through a group: removing the membership removes it", ""),
			r("group", "member of group 'Helpdesk Operators'", "until removed", "", "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d04"),
			r("unchecked", "inbox rules", "unknown: check by hand", "Graph 404 MailboxNotEnabledForRESTAPI: The mailbox is either inactive, soft-deleted, or is hosted on-premise.", ""),
			exchangeUnchecked,
		}},
		{lidiaID, []steps.Residual{
			r("account", "the account lidia@contoso.test is still enabled", "until disabled", "", lidiaID),
			r("token", "access tokens issued before SEED stay valid", tokens, "", ""),
			r("sign_in_method", "Microsoft Authenticator (SM-A515F, added SEED)", "until removed: a sign-in method outlives a password reset", "", "6e7f8a9b-0c1d-4e2f-8a3b-4c5d6e7f8a0b"),
			r("sign_in_method", "phone +1 5555550142 (mobile)", "until removed: a sign-in method outlives a password reset", "", "3179e48a-750b-4051-897c-87b9720928b0"),
			r("inbox_rule", "rule '.' forwards to attacker@protonmail.example (suspicious)", "until removed: the rule runs in the mailbox whether or not the account is enabled", "", "R0Kehhq6MTpxqP7QAOqQ2I-1r--1P42yAY9iUEChxBY"),
			r("inbox_rule", "rule '..' deletes mail (suspicious)", "until removed: the rule runs in the mailbox whether or not the account is enabled", "", "BqpA-hP_dI3lUArBBG2cwLtFm2rmFo7e9I-mohic83c"),
			r("consent", "app 'Graph Explorer' may act as the user with openid profile User.Read", consent, "tenant-wide consent: never removed for one user", explorer),
			r("consent", "app 'Mail Sync Pro' may act as the user with Mail.Read Mail.Send offline_access", consent, "", "kQ7Xz1pWm0uV3yR8tB2nHcE4fJ6gL9aS0dK5jM1qP2o"),
			// Salesforce has no provisioning job: nothing removes her account there.
			r("app_assignment", "assigned to app 'Salesforce'", "until someone acts: the app keeps its own account and sessions", "", "Rx49Wtl8R0ay0m1uWRSKGCkAplbYd98nTNbNVBoDrQc"),
			r("license", "licence ENTERPRISEPACK", "until removed: a licence keeps the mailbox and files served", "", "6fd2c87f-b296-42f0-b197-1e91e994b900"),
			exchangeUnchecked,
		}},
		{alexID, []steps.Residual{
			r("account", "the account alex@contoso.test is still enabled", "until disabled", "", alexID),
			r("token", "access tokens issued before SEED stay valid", tokens, "", ""),
			r("sign_in_method", "FIDO2 key (fido2 YubiKey 5 NFC, added 2024-01-15)", "until removed: a sign-in method outlives a password reset", "", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c02"),
			r("sign_in_method", "Microsoft Authenticator (microsoftAuthenticator, added 2024-01-15)", "until removed: a sign-in method outlives a password reset", "", "6e7f8a9b-0c1d-4e2f-8a3b-4c5d6e7f8a02"),
			r("sign_in_method", "Windows Hello for Business (windowsHelloForBusiness, added 2024-01-15)", "until removed: a sign-in method outlives a password reset", "", "2b3c4d5e-6f70-4a1b-8c2d-3e4f5a6b7c02"),
			r("consent", "app 'Graph Explorer' may act as the user with openid profile User.Read", consent, "tenant-wide consent: never removed for one user", explorer),
			// Sales' assignment, not alex's own.
			r("app_assignment", "assigned to app 'Salesforce' through group 'Sales'", "until removed", "through a group: removing the membership removes it", "IJ7ZIZ61ijbxKXB0UzM9Xk6yyUj3nbUGt4wSeG_5xqo"),
			r("group", "member of group 'All Staff'", "until removed", "dynamic: its membership rule puts the user back; change the rule or the user's attributes", "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d02"),
			r("group", "member of group 'Sales Announcements'", "until removed", "mail-enabled (a distribution list or mail-enabled security group): Exchange Online owns its members", "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d08"),
			r("group", "member of group 'Sales'", "until removed", "", "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d01"),
			r("group", "member of group 'VPN Users'", "until removed", "synced from AD: remove the membership on-premises", "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d07"),
			r("license", "licence EMSPREMIUM", "until removed: a licence keeps the mailbox and files served", "", "b05e124f-c7cc-45a0-a6aa-8cf78c946968"),
			r("license", "licence ENTERPRISEPACK", "until removed: a licence keeps the mailbox and files served", "", "6fd2c87f-b296-42f0-b197-1e91e994b900"),
			r("device", "device 'ALEX-LAPTOP' is still enabled", "until disabled: its primary refresh token signs in without the user's password", "", alexLaptop),
			r("device", "device 'Alex's iPhone' is still enabled", "until disabled: its primary refresh token signs in without the user's password", "", alexPhone),
			r("device", "managed device 'ALEX-LAPTOP' is neither retired nor wiped", "until retired or wiped: company data stays on it", "", alexLaptopMDM),
			r("device", "managed device 'Alex's iPhone' is neither retired nor wiped", "until retired or wiped: company data stays on it", "", alexPhoneMDM),
			exchangeUnchecked,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			tn.Log().Reset()
			got, err := c.Inventory(t.Context(), &steps.Subject{Facts: map[string]map[string]any{"entra": {"id": tt.id}}})
			if err != nil {
				t.Fatal(err)
			}
			// The seed's sessions were valid from a day before it started.
			for i, item := range got {
				if at, ok := strings.CutPrefix(item.What, "access tokens issued before "); ok {
					when, err := time.Parse("2006-01-02 15:04 UTC", strings.TrimSuffix(at, " stay valid"))
					if err != nil || time.Since(when) < 23*time.Hour || time.Since(when) > 25*time.Hour {
						t.Errorf("token item %q: %v", item.What, err)
					}
					got[i].What = "access tokens issued before SEED stay valid"
				}
				// Lidia's authenticator was added as the seed started.
				if before, at, ok := strings.Cut(item.What, ", added "); ok {
					if when, err := time.Parse(time.DateOnly+")", at); err == nil && time.Since(when) < 48*time.Hour {
						got[i].What = before + ", added SEED)"
					}
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("items:\n got %s\nwant %s", residualsText(got), residualsText(tt.want))
			}
			log := graphLog(tn)
			if len(log) < 13 {
				t.Errorf("only %d requests: %q", len(log), log)
			}
			for _, l := range log {
				if !strings.HasPrefix(l, "GET ") {
					t.Errorf("the inventory sent %s", l)
				}
			}
		})
	}
}

// Group-based licensing in the sandbox: Alex's licences from the Sales
// group say so, and the one he also holds directly says leaving the group
// is not enough; the inherited one is listed once, as Graph lists it.
func TestSandboxInventoryGroupLicences(t *testing.T) {
	const (
		e3  = "6fd2c87f-b296-42f0-b197-1e91e994b900"
		ems = "b05e124f-c7cc-45a0-a6aa-8cf78c946968"
		e5  = "c7df2760-2c81-4ef7-b578-5b5392b571df"
	)
	seed := sandbox.DefaultSeed()
	found := false
	for i, g := range seed.Groups {
		if g.DisplayName == "Sales" {
			seed.Groups[i].Licenses = []string{ems, e5}
			found = true
		}
	}
	if !found {
		t.Fatal("the default seed has no group Sales")
	}
	tn, err := sandbox.Start(context.Background(), seed, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	c := openSandbox(t, tn, appID, appSecret)
	got, err := c.Inventory(t.Context(), &steps.Subject{Facts: map[string]map[string]any{"entra": {"id": alexID}}})
	if err != nil {
		t.Fatal(err)
	}
	until := "until removed: a licence keeps the mailbox and files served"
	want := []steps.Residual{
		// Named by the part numbers the tenant's subscriptions give, in
		// that order; a sku the tenant does not name keeps its id.
		{Backend: "entra", Kind: "license", What: "licence EMSPREMIUM", Until: until, Why: "assigned directly and inherited from group 'Sales'", ID: ems},
		{Backend: "entra", Kind: "license", What: "licence ENTERPRISEPACK", Until: until, ID: e3},
		{Backend: "entra", Kind: "license", What: "licence " + e5, Until: until, Why: "inherited from group 'Sales'", ID: e5},
	}
	var licences []steps.Residual
	for _, r := range got {
		if r.Kind == "license" || r.Kind == "unchecked" && strings.Contains(r.What, "licence") {
			licences = append(licences, r)
		}
	}
	if !reflect.DeepEqual(licences, want) {
		t.Errorf("licences:\n got %s\nwant %s", residualsText(licences), residualsText(want))
	}
}
