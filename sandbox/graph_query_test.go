package sandbox

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// doWith is do with request headers (ConsistencyLevel…).
func doWith(t testing.TB, tn *Tenant, tok, method, path string, header map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, tn.GraphURL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := httpClient(tn).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %q: %v", method, path, b, err)
	}
	return resp.StatusCode, m
}

var eventual = map[string]string{"ConsistencyLevel": "eventual"}

const onPremSelect = "$select=id,onPremisesSecurityIdentifier,onPremisesImmutableId,onPremisesSamAccountName," +
	"onPremisesDomainName,onPremisesDistinguishedName,onPremisesUserPrincipalName"

// A synced user's Entra face carries what Entra Connect copies from its AD
// account — the objectSid, the objectGUID as the immutable id, the
// sAMAccountName, the DNS domain, the DN — equal to what LDAP serves for
// that account, for every synced user of the default seed; a cloud-only
// user has them null.
func TestGraphOnPremisesIdentifiersMatchLDAP(t *testing.T) {
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	c, err := ldap.DialURL(tn.LDAPSURL(), ldap.DialWithTLSConfig(tn.ClientTLS()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind("CN=svc-revoke,OU=Service Accounts,DC=contoso,DC=test", "Sandbox-Only-Bind-Pw-2f9c!"); err != nil {
		t.Fatal(err)
	}
	var synced []string
	d := tn.Directory()
	d.Lock()
	for _, u := range d.Users {
		if u.InCloud && u.OnPremisesSyncEnabled {
			synced = append(synced, u.ID)
		}
	}
	d.Unlock()
	if len(synced) < 4 {
		t.Fatalf("the default seed has %d synced users", len(synced))
	}
	for _, id := range synced {
		status, _, u := do(t, tn, tok, "GET", "/users/"+id+"?"+onPremSelect, "")
		if status != 200 {
			t.Fatalf("%s: %d %v", id, status, u)
		}
		dn, _ := u["onPremisesDistinguishedName"].(string)
		res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=user)", []string{"objectSid", "objectGUID", "sAMAccountName"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("%s: LDAP entry %q: %v", id, dn, err)
		}
		e := res.Entries[0]
		sid, _ := sidString(string(e.GetRawAttributeValue("objectSid")))
		want := map[string]any{
			"onPremisesSecurityIdentifier": sid,
			"onPremisesImmutableId":        base64.StdEncoding.EncodeToString(e.GetRawAttributeValue("objectGUID")),
			"onPremisesSamAccountName":     e.GetAttributeValue("sAMAccountName"),
			"onPremisesDomainName":         "contoso.test",
		}
		for k, v := range want {
			if u[k] != v {
				t.Errorf("%s: %s = %v, want %v (from LDAP)", id, k, u[k], v)
			}
		}
		if !strings.HasPrefix(sid, "S-1-5-21-") {
			t.Errorf("%s: objectSid %q", id, sid)
		}
	}
	status, _, diego := do(t, tn, tok, "GET", "/users/"+diegoID+"?"+onPremSelect, "")
	for _, k := range []string{"onPremisesSecurityIdentifier", "onPremisesImmutableId", "onPremisesSamAccountName", "onPremisesDomainName", "onPremisesDistinguishedName", "onPremisesUserPrincipalName"} {
		if v, ok := diego[k]; status != 200 || !ok || v != nil {
			t.Errorf("cloud-only %s = %v (present %t), want null", k, v, ok)
		}
	}
}

// GET /users filters on the on-premises identifiers as Graph does: as an
// advanced query (ConsistencyLevel: eventual and $count=true), with OData
// quoting; without that, and on properties Graph cannot filter, 400.
func TestGraphOnPremisesFilters(t *testing.T) {
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	st := userState(t, tn, adeleID)
	adeleSIDValue := st.AD.ObjectSID
	_, _, adele := do(t, tn, tok, "GET", "/users/"+adeleID+"?"+onPremSelect, "")
	immutable, _ := adele["onPremisesImmutableId"].(string)
	const obrienID = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e04"
	unsupported := func(prop string) string {
		return "Unsupported or invalid query filter clause specified for property '" + prop + "' of resource 'User'."
	}
	tests := []struct {
		name, query string
		header      map[string]string
		status      int
		want        []string // ids, or the error code and message
	}{
		{"by SID", "$count=true&$filter=onPremisesSecurityIdentifier eq '" + adeleSIDValue + "'", eventual, 200, []string{adeleID}},
		{"by SID in lower case", "$count=true&$filter=onPremisesSecurityIdentifier eq '" + strings.ToLower(adeleSIDValue) + "'", eventual, 200, []string{adeleID}},
		{"by immutable id", "$count=true&$filter=onPremisesImmutableId eq '" + immutable + "'", eventual, 200, []string{adeleID}},
		{"by sAMAccountName", "$count=true&$filter=onPremisesSamAccountName eq 'adele'", eventual, 200, []string{adeleID}},
		{"by on-premises UPN, a quote doubled", "$count=true&$filter=onPremisesUserPrincipalName eq 'o''brien@contoso.test'", eventual, 200, []string{obrienID}},
		{"an AD-only account is not in Entra", "$count=true&$filter=onPremisesSamAccountName eq 'lynne'", eventual, 200, nil},
		{"another domain's SID", "$count=true&$filter=onPremisesSecurityIdentifier eq 'S-1-5-21-1-2-3-1104'", eventual, 200, nil},
		{"without ConsistencyLevel", "$count=true&$filter=onPremisesSecurityIdentifier eq '" + adeleSIDValue + "'", nil, 400,
			[]string{"Request_UnsupportedQuery", unsupported("onPremisesSecurityIdentifier")}},
		{"without $count", "$filter=onPremisesSamAccountName eq 'adele'", eventual, 400,
			[]string{"Request_UnsupportedQuery", unsupported("onPremisesSamAccountName")}},
		{"on the DN, which Graph does not filter", "$count=true&$filter=onPremisesDistinguishedName eq 'x'", eventual, 400,
			[]string{"Request_UnsupportedQuery", unsupported("onPremisesDistinguishedName")}},
		{"on the domain name, which Graph does not filter", "$count=true&$filter=onPremisesDomainName eq 'contoso.test'", eventual, 400,
			[]string{"Request_UnsupportedQuery", unsupported("onPremisesDomainName")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := doWith(t, tn, tok, "GET", "/users?"+strings.NewReplacer(" ", "%20", "+", "%2B").Replace(tc.query)+"&$select=id", tc.header)
			var got []string
			if status == 200 {
				for _, v := range body["value"].([]any) {
					got = append(got, v.(map[string]any)["id"].(string))
				}
				if body["@odata.count"] != float64(len(got)) {
					t.Errorf("@odata.count %v, want %d", body["@odata.count"], len(got))
				}
			} else {
				got = []string{errCode(body), errMessage(body)}
			}
			if status != tc.status || !slices.Equal(got, tc.want) {
				t.Errorf("%d %q, want %d %q", status, got, tc.status, tc.want)
			}
		})
	}
}

// $count=true adds @odata.count, the whole listing's size on every page,
// when the request says ConsistencyLevel: eventual, in a $batch item too;
// without the header Graph refuses it.
func TestGraphCount(t *testing.T) {
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	d := tn.Directory()
	d.Lock()
	cloudUsers, groups := 0, len(d.Groups)
	for _, u := range d.Users {
		if u.InCloud {
			cloudUsers++
		}
	}
	d.Unlock()
	tests := []struct {
		name, path string
		header     map[string]string
		status     int
		count      any    // @odata.count, nil for none
		err        string // code: message
	}{
		{"users", "/users?$count=true", eventual, 200, float64(cloudUsers), ""},
		{"a first page of one", "/users?$count=true&$top=1", eventual, 200, float64(cloudUsers), ""},
		{"groups, header in another case", "/groups?$count=TRUE", map[string]string{"consistencylevel": "Eventual"}, 200, float64(groups), ""},
		{"with $select", "/devices?$count=true&$select=id", eventual, 200, float64(3), ""},
		{"false asks for nothing", "/users?$count=false", nil, 200, nil, ""},
		{"without the header", "/users?$count=true", nil, 400, nil, "Request_BadRequest: $count is not currently supported."},
		{"another consistency", "/groups?$count=true", map[string]string{"ConsistencyLevel": "session"}, 400, nil, "Request_BadRequest: $count is not currently supported."},
		{"not a boolean", "/users?$count=yes", eventual, 400, nil, "BadRequest: Invalid value 'yes' for query option '$count': expected true or false."},
		{"twice", "/users?$count=true&$count=true", eventual, 400, nil, "BadRequest: Query option '$count' was specified more than once, but it must be specified at most once."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := doWith(t, tn, tok, "GET", tc.path, tc.header)
			gotErr := ""
			if status != 200 {
				gotErr = errCode(body) + ": " + errMessage(body)
			}
			if status != tc.status || body["@odata.count"] != tc.count || gotErr != tc.err {
				t.Errorf("%d count %v %q, want %d %v %q", status, body["@odata.count"], gotErr, tc.status, tc.count, tc.err)
			}
		})
	}
	// The next page counts the same listing.
	_, first := doWith(t, tn, tok, "GET", "/users?$count=true&$top=2", eventual)
	next, _ := first["@odata.nextLink"].(string)
	status, second := doWith(t, tn, tok, "GET", strings.TrimPrefix(next, tn.GraphURL()), eventual)
	if status != 200 || second["@odata.count"] != float64(cloudUsers) {
		t.Errorf("second page: %d %v", status, second["@odata.count"])
	}
	// In a $batch item, the item's own headers count.
	batch := `{"requests":[{"id":"1","method":"GET","url":"/groups?$count=true","headers":{"ConsistencyLevel":"eventual"}},` +
		`{"id":"2","method":"GET","url":"/groups?$count=true"}]}`
	_, _, resp := do(t, tn, tok, "POST", "/$batch", batch)
	items, _ := resp["responses"].([]any)
	got := map[string]string{}
	for _, it := range items {
		m := it.(map[string]any)
		b, _ := m["body"].(map[string]any)
		got[m["id"].(string)] = strings.TrimSpace(strings.Join([]string{jsonString(m["status"]), jsonString(b["@odata.count"]), errCode(b)}, " "))
	}
	if want := map[string]string{"1": "200 " + jsonString(float64(groups)), "2": "400 null Request_BadRequest"}; got["1"] != want["1"] || got["2"] != want["2"] {
		t.Errorf("batch: %v, want %v", got, want)
	}
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// $select works on every collection: the items carry the selected
// properties they have (and @odata.type and what $expand added), the
// context names the selection, and a name the type lacks is Graph's 400.
func TestGraphSelectOnEveryCollection(t *testing.T) {
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	d := tn.Directory()
	d.Lock()
	d.RoleEligibilities[adeleID] = []string{"Exchange Administrator"}
	var groupID, deviceOwner string
	groupID = d.Groups[0].ID
	for _, m := range d.ManagedDevices {
		deviceOwner = m.UserID
	}
	d.Unlock()
	tests := []struct {
		path, sel, typ string
		allowed        []string // keys an item may carry
	}{
		{"/users", "id,displayName", "microsoft.graph.user", nil},
		{"/devices", "id,displayName", "microsoft.graph.device", []string{"@odata.type"}},
		{"/groups", "id,displayName", "microsoft.graph.group", []string{"@odata.type"}},
		{"/groups/" + groupID + "/members", "id,userPrincipalName", "microsoft.graph.directoryObject", []string{"@odata.type"}},
		{"/users/" + adeleID + "/memberOf", "id,displayName", "microsoft.graph.directoryObject", []string{"@odata.type"}},
		{"/users/" + breakglassID + "/transitiveMemberOf/microsoft.graph.directoryRole", "id,roleTemplateId", "microsoft.graph.directoryRole", []string{"@odata.type"}},
		{"/users/" + alexID + "/ownedDevices", "id,deviceId", "microsoft.graph.device", []string{"@odata.type"}},
		{"/users/" + deviceOwner + "/managedDevices", "id,deviceName", "microsoft.graph.managedDevice", []string{"@odata.type"}},
		{"/deviceManagement/managedDevices", "id,managementState", "microsoft.graph.managedDevice", []string{"@odata.type"}},
		{"/roleManagement/directory/roleAssignments?$expand=roleDefinition", "id,principalId", "microsoft.graph.unifiedRoleAssignment", []string{"roleDefinition"}},
		{"/roleManagement/directory/roleEligibilityScheduleInstances", "id,principalId", "microsoft.graph.unifiedRoleEligibilityScheduleInstance", nil},
		{"/users/" + diegoID + "/authentication/methods", "id,displayName", "microsoft.graph.authenticationMethod", []string{"@odata.type"}},
		{"/users/" + diegoID + "/authentication/temporaryAccessPassMethods", "id,lifetimeInMinutes", "microsoft.graph.temporaryAccessPassAuthenticationMethod", []string{"@odata.type"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			join := "?"
			if strings.Contains(tc.path, "?") {
				join = "&"
			}
			status, body := doWith(t, tn, tok, "GET", tc.path+join+"$select="+tc.sel, nil)
			vals, _ := body["value"].([]any)
			if status != 200 || len(vals) == 0 {
				t.Fatalf("%d %v", status, body)
			}
			if ctx, _ := body["@odata.context"].(string); !strings.HasSuffix(ctx, "("+tc.sel+")") {
				t.Errorf("@odata.context %q does not name the selection", ctx)
			}
			allowed := append(strings.Split(tc.sel, ","), tc.allowed...)
			for _, v := range vals {
				var keys []string
				for k := range v.(map[string]any) {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					if !slices.Contains(allowed, k) {
						t.Errorf("item has %s: %v", k, keys)
					}
				}
				if !slices.Contains(keys, "id") {
					t.Errorf("item lacks the selected id: %v", keys)
				}
			}
			status, body = doWith(t, tn, tok, "GET", tc.path+join+"$select=id,noSuchProperty", nil)
			want := "Could not find a property named 'noSuchProperty' on type '" + tc.typ + "'."
			if status != 400 || errCode(body) != "BadRequest" || errMessage(body) != want {
				t.Errorf("unknown property: %d %s %q, want 400 BadRequest %q", status, errCode(body), errMessage(body), want)
			}
		})
	}
}
