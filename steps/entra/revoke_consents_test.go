package entra

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

const consentUser = "0f1e2d3c-0000-4000-8000-000000000003"

// fakeGrants serves a user's delegated grants and the apps they name.
type fakeGrants struct {
	mu     sync.Mutex
	grants []map[string]any
	apps   map[string]string // service principal id → displayName
}

func (f *fakeGrants) handler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v1.0/users/"+consentUser+"/oauth2PermissionGrants":
			b, _ := json.Marshal(map[string]any{"value": f.grants})
			writeJSON(w, 200, string(b))
		case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/v1.0/oauth2PermissionGrants/"):
			id := strings.TrimPrefix(r.URL.Path, "/v1.0/oauth2PermissionGrants/")
			i := slices.IndexFunc(f.grants, func(m map[string]any) bool { return m["id"] == id })
			if i < 0 {
				writeJSON(w, 404, graphErrorBody("Request_ResourceNotFound", "Resource '"+id+"' does not exist or one of its queried reference-property objects are not present."))
				return
			}
			f.grants = slices.Delete(f.grants, i, i+1)
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1.0/servicePrincipals/"):
			id := strings.TrimPrefix(r.URL.Path, "/v1.0/servicePrincipals/")
			name, ok := f.apps[id]
			if !ok {
				writeJSON(w, 404, graphErrorBody("Request_ResourceNotFound", "Resource '"+id+"' does not exist."))
				return
			}
			b, _ := json.Marshal(map[string]any{"id": id, "displayName": name})
			writeJSON(w, 200, string(b))
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			writeJSON(w, 500, graphErrorBody("unexpected", "unexpected request"))
		}
	}
}

const graphSP = "5e1f0000-0000-4000-8000-00000000aaaa"

func seedGrants() *fakeGrants {
	return &fakeGrants{
		apps: map[string]string{"sp-mail": "Mail Helper Pro", "sp-crm": "Contoso CRM"},
		grants: []map[string]any{
			{"id": "g-own-1", "clientId": "sp-mail", "consentType": "Principal", "principalId": consentUser,
				"resourceId": graphSP, "scope": " Mail.ReadWrite offline_access "},
			{"id": "g-tenant", "clientId": "sp-crm", "consentType": "AllPrincipals", "principalId": nil,
				"resourceId": graphSP, "scope": "User.Read"},
			{"id": "g-own-2", "clientId": "sp-deleted", "consentType": "Principal", "principalId": consentUser,
				"resourceId": graphSP, "scope": "Files.Read.All"},
		},
	}
}

func consentsCall(t *testing.T, fg *fakeGrants) (*fakeGraph, *steps.Call, *[]steps.Progress) {
	t.Helper()
	f := newFakeGraph(t, fg.handler(t))
	c := f.conn(t, &staticCred{token: fakeToken(t, map[string]any{"roles": []string{entraspec.PermConsents}})})
	call, progress := newCall(c, consentUser, steps.Values{})
	return f, call, progress
}

func TestRevokeConsentsCheckNamesTheApps(t *testing.T) {
	f, call, _ := consentsCall(t, seedGrants())
	ch, err := revokeConsentsStep{}.Check(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	want := `2 delegated consents: app "Mail Helper Pro" (Mail.ReadWrite offline_access), app "sp-deleted" (Files.Read.All); ` +
		`left alone, tenant-wide (an administrator's to judge): app "Contoso CRM" (User.Read)`
	if ch.Satisfied || ch.Summary != want {
		t.Errorf("summary %q\nwant    %q", ch.Summary, want)
	}
	var paths []string
	for _, r := range f.requests() {
		paths = append(paths, r.Method+" "+r.URI)
	}
	wantPaths := []string{"GET /v1.0/users/" + consentUser + "/oauth2PermissionGrants",
		"GET /v1.0/servicePrincipals/sp-mail?$select=id,appId,displayName",
		"GET /v1.0/servicePrincipals/sp-crm?$select=id,appId,displayName",
		"GET /v1.0/servicePrincipals/sp-deleted?$select=id,appId,displayName"}
	if !reflect.DeepEqual(paths, wantPaths) {
		t.Errorf("requests\n got %q\nwant %q", paths, wantPaths)
	}
}

// Only the user's own grants are deleted; the tenant-wide one never is,
// nor another user's that a listing might carry.
func TestRevokeConsentsApplyDeletesOnlyPrincipalGrants(t *testing.T) {
	fg := seedGrants()
	fg.grants = append(fg.grants, map[string]any{"id": "g-other-user", "clientId": "sp-mail", "consentType": "Principal",
		"principalId": "someone-else", "resourceId": graphSP, "scope": "Mail.Read"})
	f, call, progress := consentsCall(t, fg)
	ch, err := revokeConsentsStep{}.Apply(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	var dels []string
	for _, r := range f.requests() {
		if r.Method == http.MethodDelete {
			dels = append(dels, r.URI)
		}
	}
	if want := []string{"/v1.0/oauth2PermissionGrants/g-own-1", "/v1.0/oauth2PermissionGrants/g-own-2"}; !reflect.DeepEqual(dels, want) {
		t.Errorf("DELETEs %q, want %q", dels, want)
	}
	if len(*progress) != 2 || (*progress)[0].Message != `deleted the consent to app "Mail Helper Pro" (Mail.ReadWrite offline_access)` {
		t.Errorf("progress %+v", *progress)
	}
	want := `deleted 2 delegated consents: app "Mail Helper Pro" (Mail.ReadWrite offline_access), app "sp-deleted" (Files.Read.All); ` +
		`left alone, tenant-wide (an administrator's to judge): app "Contoso CRM" (User.Read), app "Mail Helper Pro" (Mail.Read)`
	if ch.Summary != want {
		t.Errorf("summary %q\nwant    %q", ch.Summary, want)
	}
	if err := (revokeConsentsStep{}).Verify(context.Background(), call); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if n := len(fg.grants); n != 2 {
		t.Errorf("%d grants left, want the tenant-wide one and the other user's", n)
	}
}

func TestRevokeConsentsApplyCountsAGoneGrantAsDone(t *testing.T) {
	fg := seedGrants()
	// An earlier attempt deleted g-own-1; a grant deleted by someone else
	// between the listing and the DELETE answers 404.
	fg.apps["sp-deleted"] = "Files Sync"
	f := newFakeGraph(t, (&fakeGraphVanish{h: fg.handler(t), fg: fg, id: "g-own-2"}).ServeHTTP)
	call, progress := newCall(f.conn(t, &staticCred{token: fakeToken(t, map[string]any{"roles": []string{entraspec.PermConsents}})}), consentUser, steps.Values{})
	call.Prior = []steps.Progress{{Details: map[string]any{progressRemoved: "g-own-1"}}}
	if _, err := (revokeConsentsStep{}).Apply(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	if len(*progress) != 1 || (*progress)[0].Message != `the consent to app "Files Sync" (Files.Read.All) was already gone` {
		t.Errorf("progress %+v", *progress)
	}
	for _, r := range f.requests() {
		if r.Method == http.MethodDelete && strings.HasSuffix(r.URI, "/g-own-1") {
			t.Errorf("deleted g-own-1 again")
		}
	}
}

// fakeGraphVanish removes a grant as its DELETE arrives.
type fakeGraphVanish struct {
	h  http.HandlerFunc
	fg *fakeGrants
	id string
}

func (v *fakeGraphVanish) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/"+v.id) {
		v.fg.mu.Lock()
		v.fg.grants = slices.DeleteFunc(v.fg.grants, func(m map[string]any) bool { return m["id"] == v.id })
		v.fg.mu.Unlock()
	}
	v.h(w, r)
}
