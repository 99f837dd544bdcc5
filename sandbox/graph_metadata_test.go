package sandbox

import (
	"encoding/xml"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// This file checks the sandbox's Graph answers against Microsoft's
// published v1.0 metadata (CSDL): every property an answer carries must be
// declared on its type (its @odata.type, else the type the route
// declares), following BaseType, into complex and expanded values.

// csdlPath is the metadata beside the clone: shared/reference/ next to
// the repository, as on the team's machines and in CI.
var csdlPath = filepath.Join("..", "..", "shared", "reference", "graph-v1.0-csdl.xml")

// csdlType is an entity or complex type: its base type and its
// properties and navigation properties, each with its declared type.
type csdlType struct {
	base  string
	props map[string]string
}

// csdlModel is every structured type of the metadata by full name
// (microsoft.graph.user).
type csdlModel map[string]*csdlType

func loadCSDL(t *testing.T) csdlModel {
	t.Helper()
	f, err := os.Open(csdlPath)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("Graph's metadata is not at %s (shared/reference/ beside the clone): the answers are not checked against it", csdlPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type member struct {
		Name string `xml:"Name,attr"`
		Type string `xml:"Type,attr"`
	}
	type structured struct {
		Name     string   `xml:"Name,attr"`
		BaseType string   `xml:"BaseType,attr"`
		Props    []member `xml:"Property"`
		Navs     []member `xml:"NavigationProperty"`
	}
	var doc struct {
		Schemas []struct {
			Namespace string       `xml:"Namespace,attr"`
			Alias     string       `xml:"Alias,attr"`
			Entities  []structured `xml:"EntityType"`
			Complexes []structured `xml:"ComplexType"`
		} `xml:"DataServices>Schema"`
	}
	if err := xml.NewDecoder(f).Decode(&doc); err != nil {
		t.Fatalf("%s: %v", csdlPath, err)
	}
	aliases := map[string]string{}
	for _, s := range doc.Schemas {
		if s.Alias != "" {
			aliases[s.Alias] = s.Namespace
		}
	}
	// full resolves an alias-qualified name (graph.user) to its full name.
	full := func(name string) string {
		if inner, ok := strings.CutPrefix(name, "Collection("); ok {
			return "Collection(" + strings.TrimSuffix(inner, ")") + ")"
		}
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			if ns, ok := aliases[name[:i]]; ok {
				return ns + name[i:]
			}
		}
		return name
	}
	m := csdlModel{}
	for _, s := range doc.Schemas {
		for _, st := range append(append([]structured(nil), s.Entities...), s.Complexes...) {
			ty := &csdlType{base: full(st.BaseType), props: map[string]string{}}
			for _, p := range append(append([]member(nil), st.Props...), st.Navs...) {
				typ := p.Type
				if inner, ok := strings.CutPrefix(typ, "Collection("); ok {
					typ = "Collection(" + full(strings.TrimSuffix(inner, ")")) + ")"
				} else {
					typ = full(typ)
				}
				ty.props[p.Name] = typ
			}
			m[s.Namespace+"."+st.Name] = ty
		}
	}
	if m["microsoft.graph.user"] == nil || m["microsoft.graph.entity"] == nil {
		t.Fatalf("%s: no microsoft.graph.user or entity type: not Graph's metadata?", csdlPath)
	}
	return m
}

// prop finds a property on a type or its bases.
func (m csdlModel) prop(typ, name string) (string, bool) {
	for ty := m[typ]; ty != nil; ty = m[ty.base] {
		if p, ok := ty.props[name]; ok {
			return p, true
		}
	}
	return "", false
}

// derives reports whether typ is base or derives from it.
func (m csdlModel) derives(typ, base string) bool {
	for t := typ; t != ""; {
		if t == base {
			return true
		}
		ty := m[t]
		if ty == nil {
			return false
		}
		t = ty.base
	}
	return false
}

// check walks v, declared as typ, and reports every property its type
// lacks; at names where in the answer it is.
func (m csdlModel) check(v any, typ, at string, report func(string)) {
	if inner, ok := strings.CutPrefix(typ, "Collection("); ok {
		list, _ := v.([]any)
		for i, item := range list {
			m.check(item, strings.TrimSuffix(inner, ")"), at+"["+strconv.Itoa(i)+"]", report)
		}
		return
	}
	obj, ok := v.(map[string]any)
	if !ok || m[typ] == nil {
		return // a primitive or an enum
	}
	if ot, ok := obj["@odata.type"].(string); ok {
		actual := strings.TrimPrefix(ot, "#")
		switch {
		case m[actual] == nil:
			report(at + ": @odata.type " + ot + " is no type of the metadata")
			return
		case !m.derives(actual, typ):
			report(at + ": @odata.type " + ot + " is not a " + typ)
			return
		}
		typ = actual
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, "@") || strings.Contains(k, "@odata.") {
			continue // annotations
		}
		pt, ok := m.prop(typ, k)
		if !ok {
			report(at + "." + k + ": type " + typ + " has no property " + k)
			continue
		}
		if obj[k] != nil {
			m.check(obj[k], pt, at+"."+k, report)
		}
	}
}

// Every answer the sandbox gives on the routes it serves — entities,
// collections, casts, expansions, every user's own lists — carries
// @odata.context and no property its type lacks in Graph's metadata.
func TestGraphAnswersMatchTheMetadata(t *testing.T) {
	model := loadCSDL(t)
	tn := startTenant(t, Options{})
	d := tn.Directory()
	d.Lock()
	// An eligibility, so that PIM's listing has something to show.
	d.RoleEligibilities[adeleID] = []string{"Exchange Administrator"}
	// A risky user, so that Identity Protection has one to show.
	d.UserByRef(adeleID).RiskState, d.UserByRef(adeleID).RiskLevel = "atRisk", "high"
	type get struct{ path, typ string }
	collection := func(path, typ string) get { return get{path, "Collection(microsoft.graph." + typ + ")"} }
	entity := func(path, typ string) get { return get{path, "microsoft.graph." + typ} }
	gets := []get{
		collection("/users?$select="+strings.Join(userProps.names, ","), "user"),
		collection("/users", "user"),
		collection("/devices", "device"),
		collection("/devices?$select="+strings.Join(deviceProps.names, ","), "device"),
		collection("/deviceManagement/managedDevices", "managedDevice"),
		collection("/groups", "group"),
		collection("/subscribedSkus", "subscribedSku"),
		collection("/subscribedSkus?$select="+strings.Join(subscribedSkuProps.names, ","), "subscribedSku"),
		collection("/roleManagement/directory/roleAssignments", "unifiedRoleAssignment"),
		collection("/roleManagement/directory/roleAssignments?$expand=roleDefinition", "unifiedRoleAssignment"),
		collection("/roleManagement/directory/roleEligibilityScheduleInstances?$expand=roleDefinition", "unifiedRoleEligibilityScheduleInstance"),
		collection("/roleManagement/directory/roleEligibilityScheduleInstances", "unifiedRoleEligibilityScheduleInstance"),
		// Every property a $select may name, so that none the sandbox
		// renders only when asked goes unchecked.
		collection("/groups?$select="+strings.Join(groupProps.names, ","), "group"),
		collection("/deviceManagement/managedDevices?$select="+strings.Join(managedProps.names, ","), "managedDevice"),
		collection("/roleManagement/directory/roleAssignments?$expand=roleDefinition&$select="+strings.Join(roleAssignmentProps.names, ","), "unifiedRoleAssignment"),
		collection("/roleManagement/directory/roleAssignmentScheduleInstances?$expand=roleDefinition", "unifiedRoleAssignmentScheduleInstance"),
		collection("/roleManagement/directory/roleAssignmentScheduleInstances?$select="+strings.Join(roleAssignmentInstanceProps.names, ","), "unifiedRoleAssignmentScheduleInstance"),
		collection("/oauth2PermissionGrants", "oAuth2PermissionGrant"),
		collection("/oauth2PermissionGrants?$filter=consentType%20eq%20'AllPrincipals'", "oAuth2PermissionGrant"),
	}
	for _, sp := range d.ServicePrincipals {
		gets = append(gets, entity("/servicePrincipals/"+sp.ID, "servicePrincipal"),
			entity("/servicePrincipals/"+sp.ID+"?$select="+strings.Join(servicePrincipalProps.names, ","), "servicePrincipal"))
	}
	for _, g := range d.PermissionGrants {
		gets = append(gets, entity("/oauth2PermissionGrants/"+g.ID, "oAuth2PermissionGrant"))
	}
	for _, u := range d.Users {
		if !u.InCloud {
			continue
		}
		p := "/users/" + url.PathEscape(u.ID)
		gets = append(gets,
			entity(p, "user"),
			entity(p+"?$select="+strings.Join(userProps.names, ","), "user"),
			collection(p+"/memberOf", "directoryObject"),
			collection(p+"/transitiveMemberOf", "directoryObject"),
			collection(p+"/memberOf/microsoft.graph.group", "group"),
			collection(p+"/transitiveMemberOf/microsoft.graph.directoryRole", "directoryRole"),
			collection(p+"/registeredDevices", "directoryObject"),
			collection(p+"/ownedDevices", "directoryObject"),
			collection(p+"/managedDevices", "managedDevice"),
			collection(p+"/authentication/methods", "authenticationMethod"),
			collection(p+"/authentication/methods?$select="+strings.Join(authMethodProps.names, ","), "authenticationMethod"),
			collection(p+"/transitiveMemberOf?$select="+strings.Join(memberOfProps.names, ","), "directoryObject"),
			collection(p+"/registeredDevices?$select="+strings.Join(deviceProps.names, ","), "directoryObject"),
			collection(p+"/appRoleAssignments", "appRoleAssignment"),
			collection(p+"/oauth2PermissionGrants", "oAuth2PermissionGrant"),
		)
		if mb := d.Mailboxes[u.ID]; mb != nil {
			gets = append(gets, collection(p+"/mailFolders/inbox/messageRules", "messageRule"),
				collection(p+"/mailFolders/inbox/messageRules?$select="+strings.Join(messageRuleProps.names, ","), "messageRule"))
			for _, f := range mb.Folders {
				gets = append(gets, entity(p+"/mailFolders/"+f.ID, "mailFolder"), entity(p+"/mailFolders/"+f.WellKnown, "mailFolder"))
			}
			for _, r := range mb.Rules {
				gets = append(gets, entity(p+"/mailFolders/inbox/messageRules/"+r.ID, "messageRule"))
			}
		}
		if u.RiskState != "" {
			// Identity Protection knows only users it has seen at risk.
			gets = append(gets, entity("/identityProtection/riskyUsers/"+u.ID, "riskyUser"))
		}
		for _, m := range u.AuthMethods {
			gets = append(gets,
				collection(p+"/authentication/"+m.Type+"Methods", m.Type+"AuthenticationMethod"),
				entity(p+"/authentication/"+m.Type+"Methods/"+m.ID, m.Type+"AuthenticationMethod"))
		}
	}
	for _, v := range d.Devices {
		gets = append(gets, entity("/devices/"+v.ID, "device"))
	}
	for _, v := range d.ManagedDevices {
		gets = append(gets, entity("/deviceManagement/managedDevices/"+v.ID, "managedDevice"))
	}
	for _, g := range d.Groups {
		gets = append(gets, entity("/groups/"+g.ID, "group"), collection("/groups/"+g.ID+"/members", "directoryObject"),
			collection("/groups/"+g.ID+"/appRoleAssignments", "appRoleAssignment"),
			collection("/groups/"+g.ID+"/members?$select="+strings.Join(memberProps.names, ","), "directoryObject"))
	}
	d.Unlock()

	tok := token(t, tn, revokeClientID, revokeSecret)
	for _, g := range gets {
		status, _, body := do(t, tn, tok, "GET", g.path, "")
		if status != 200 {
			t.Errorf("GET %s: %d %v", g.path, status, body)
			continue
		}
		if ctx, _ := body["@odata.context"].(string); !strings.HasPrefix(ctx, metadata) {
			t.Errorf("GET %s: @odata.context %q, want one under %s", g.path, body["@odata.context"], metadata)
		}
		if strings.HasPrefix(g.typ, "Collection(") {
			if _, ok := body["value"].([]any); !ok {
				t.Errorf("GET %s: no value array: %v", g.path, body)
			}
			model.check(body["value"], g.typ, "GET "+g.path+" value", func(s string) { t.Error(s) })
			continue
		}
		model.check(body, g.typ, "GET "+g.path, func(s string) { t.Error(s) })
	}
	// The answers to writes that return an object.
	status, _, body := do(t, tn, tok, "POST", "/users/"+adeleID+"/assignLicense", `{"addLicenses":[],"removeLicenses":[]}`)
	if ctx, _ := body["@odata.context"].(string); status != 200 || ctx != metadata+"users/$entity" {
		t.Errorf("assignLicense: %d %v", status, body)
	}
	model.check(body, "microsoft.graph.user", "POST assignLicense", func(s string) { t.Error(s) })
	for _, w := range []struct{ path, body, typ string }{
		{"/roleManagement/directory/roleEligibilityScheduleRequests",
			`{"action":"adminRemove","principalId":"` + adeleID + `","roleDefinitionId":"29232cdf-9323-42fd-ade2-1d097af3e4de","directoryScopeId":"/","justification":"left"}`,
			"unifiedRoleEligibilityScheduleRequest"},
		{"/roleManagement/directory/roleAssignmentScheduleRequests",
			`{"action":"adminRemove","principalId":"` + breakglassID + `","roleDefinitionId":"62e90394-69f5-4237-9190-012177145e10","directoryScopeId":"/"}`,
			"unifiedRoleAssignmentScheduleRequest"},
	} {
		status, _, body := do(t, tn, tok, "POST", w.path, w.body)
		if ctx, _ := body["@odata.context"].(string); status != 201 || !strings.HasPrefix(ctx, metadata) {
			t.Errorf("POST %s: %d %v", w.path, status, body)
		}
		model.check(body, "microsoft.graph."+w.typ, "POST "+w.path, func(s string) { t.Error(s) })
	}
}

// The checker itself finds what it must: a property the type lacks, one a
// base type declares, a wrong @odata.type, a nested complex value.
func TestMetadataCheckerFindsMismatches(t *testing.T) {
	model := loadCSDL(t)
	tests := []struct {
		name string
		v    any
		typ  string
		want []string
	}{
		{"displayName on a software OATH method", map[string]any{"@odata.type": "#microsoft.graph.softwareOathAuthenticationMethod", "id": "x", "displayName": "softwareOath"},
			"microsoft.graph.authenticationMethod", []string{"m.displayName: type microsoft.graph.softwareOathAuthenticationMethod has no property displayName"}},
		{"a base type's property", map[string]any{"@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod", "id": "x", "createdDateTime": nil, "lifetimeInMinutes": 60},
			"microsoft.graph.authenticationMethod", nil},
		{"a user is no device", map[string]any{"@odata.type": "#microsoft.graph.user"}, "microsoft.graph.device",
			[]string{"m: @odata.type #microsoft.graph.user is not a microsoft.graph.device"}},
		{"a complex collection", map[string]any{"assignedLicenses": []any{map[string]any{"skuId": "s", "disabledPlans": []any{}, "plan": "x"}}},
			"microsoft.graph.user", []string{"m.assignedLicenses[0].plan: type microsoft.graph.assignedLicense has no property plan"}},
		{"an expanded navigation property", map[string]any{"roleDefinition": map[string]any{"id": "r", "displayName": "Global Administrator", "color": "red"}},
			"microsoft.graph.unifiedRoleAssignment", []string{"m.roleDefinition.color: type microsoft.graph.unifiedRoleDefinition has no property color"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			model.check(tc.v, tc.typ, "m", func(s string) { got = append(got, s) })
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
