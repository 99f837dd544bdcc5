package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzGraphRequest drives the Graph handler with arbitrary methods, paths
// and bodies: it must never panic, and every answer must be a Graph answer
// (an error is a JSON body with error.code and error.message).
func FuzzGraphRequest(f *testing.F) {
	seeds := []struct{ method, path, body string }{
		{"GET", "/v1.0/users/adele@contoso.test?$select=id,accountEnabled", ""},
		{"PATCH", "/v1.0/users/" + adeleID, `{"accountEnabled":false}`},
		{"PATCH", "/v1.0/users/" + diegoID, `{"passwordProfile":{"password":"Xy7!kdl20-aZ93&qq","forceChangePasswordNextSignIn":true}}`},
		{"POST", "/v1.0/users/o%27brien@contoso.test/revokeSignInSessions", ""},
		{"GET", "/v1.0/users?$filter=userPrincipalName%20eq%20'o''brien@contoso.test'", ""},
		{"POST", "/v1.0/$batch", `{"requests":[{"id":"1","method":"PATCH","url":"/users/x","headers":{"Content-Type":"application/json"},"body":{"accountEnabled":false}},{"id":"2","method":"GET","url":"/users/x","dependsOn":["1"]}]}`},
		{"POST", "/v1.0/users/" + alexID + "/assignLicense", `{"addLicenses":[{"skuId":"x"}],"removeLicenses":[]}`},
		{"DELETE", "/v1.0/groups/2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d01/members/" + adeleID + "/$ref", ""},
		{"POST", "/v1.0/deviceManagement/managedDevices/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c01/wipe", `{"keepUserData":false}`},
		{"POST", "/v1.0/identityProtection/riskyUsers/confirmCompromised", `{"userIds":["` + diegoID + `"]}`},
		{"GET", "/v1.0/roleManagement/directory/roleAssignments?$filter=principalId%20eq%20'x'&$expand=roleDefinition", ""},
		{"POST", "/7a3e9f1c-2b4d-4e8a-9c61-0d5f3b2a1e47/oauth2/v2.0/token", "grant_type=client_credentials&client_id=x"},
		{"GET", "/_sandbox/state?user=adele", ""},
		{"GET", "/v1.0/users?$select=id&$top=2", ""},
		{"GET", "/v1.0/groups?$top=1&$skiptoken=AAAAAAAAAAKe1KoZ47bOJgAAAAE", ""},
		{"GET", "/v1.0/users/nestor@contoso.test/transitiveMemberOf/microsoft.graph.directoryRole?$top=1", ""},
		{"GET", "/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fgraph.microsoft.com&client_id=55555555-5555-5555-5555-555555555555", ""},
		{"POST", "/7a3e9f1c-2b4d-4e8a-9c61-0d5f3b2a1e47/oauth2/v2.0/token",
			"grant_type=client_credentials&client_id=11111111-1111-1111-1111-111111111111&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=e30.e30.x&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, []byte(s.body))
	}
	dir := DefaultSeed().NewDirectory(time.Now())
	issuer, err := newTokenIssuer(dir.TenantID, time.Now)
	if err != nil {
		f.Fatal(err)
	}
	log := NewRequestLog(nil)
	g := newGraphServer(dir, log, issuer, time.Now)
	tok, err := issuer.issue(dir.Apps[revokeClientID])
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "https://127.0.0.1"+path, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "127.0.0.1:1"
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		log.Reset()
		if w.Code < 200 || w.Code > 599 {
			t.Fatalf("%s %s: status %d", method, path, w.Code)
		}
		isGraph := strings.HasPrefix(strings.ToLower(req.URL.EscapedPath()), "/v1.0/")
		if isGraph && w.Code >= 400 {
			var e graphError
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %s: %d with body %q", method, path, w.Code, w.Body.Bytes())
			}
			if w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("%s %s: error Content-Type %q", method, path, w.Header().Get("Content-Type"))
			}
		}
	})
}

// FuzzParseSeed feeds the seed decoder arbitrary YAML: it must return a
// seed or positioned problems, never panic, and a seed it accepts must
// build a directory.
func FuzzParseSeed(f *testing.F) {
	f.Add([]byte(defaultSeedYAML))
	f.Add([]byte("tenant: {id: t1}\nusers:\n  - userPrincipalName: a@x.test\ngroups:\n  - {displayName: G, role_assignable: true, members: [a@x.test]}\nrole_assignments:\n  - {group: G, roles: [Global Reader]}\n"))
	f.Add([]byte("tenant: {id: t1}\noptions: {page_size: 0, latency: 5ms, throttle: 10/1s}\n"))
	f.Add([]byte("tenant: {id: t1}\nmanaged_identities:\n  - {name: m, client_id: c, type: system_assigned, permissions: [User.Read.All]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		seed, err := ParseSeed("fuzz.yaml", data)
		if err != nil {
			var se *SeedError
			if !errors.As(err, &se) && !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("an error that names no position: %v", err)
			}
			return
		}
		seed.NewDirectory(time.Now())
	})
}
