package entra

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// The SDK percent-encodes an id in the path, sends the bearer token to the
// graph_url's host (port and all) and asks for the worldwide Graph scope.
func TestResolveThroughTheSDK(t *testing.T) {
	f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/roleEligibilityScheduleInstances"):
			writeJSON(w, 200, `{"value":[{"id":"e1","principalId":"5f1c","roleDefinitionId":"62e90394",`+
				`"roleDefinition":{"id":"62e90394","displayName":"Global Administrator"}}]}`)
		case strings.HasSuffix(r.URL.Path, "/transitiveMemberOf/microsoft.graph.directoryRole"):
			writeJSON(w, 200, `{"value":[{"@odata.type":"#microsoft.graph.directoryRole","id":"r2","displayName":"User Administrator"},`+
				`{"@odata.type":"#microsoft.graph.directoryRole","id":"r1","displayName":"Global Administrator"}]}`)
		case strings.HasSuffix(r.URL.Path, "/appRoleAssignments"):
			writeJSON(w, 200, `{"value":[{"id":"a1","principalType":"User","resourceDisplayName":"Slack"},`+
				`{"id":"a2","principalType":"User","resourceDisplayName":"Dropbox Business"}]}`)
		default:
			writeJSON(w, 200, `{"id":"5f1c","userPrincipalName":"o'brien@contoso.test","displayName":"Pat O'Brien",`+
				`"accountEnabled":true,"onPremisesSyncEnabled":null,"signInSessionsValidFromDateTime":"2026-11-01T08:00:00Z","userType":"Member"}`)
		}
	})
	cred := &staticCred{token: fakeToken(t, map[string]any{"roles": []string{"User.Read.All"}})}
	c := f.conn(t, cred)

	facts, err := c.Resolve(context.Background(), " o'brien@contoso.test ")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": "5f1c", "userPrincipalName": "o'brien@contoso.test", "displayName": "Pat O'Brien",
		"accountEnabled": true, "onPremisesSyncEnabled": false, "userType": "Member",
		"signInSessionsValidFromDateTime": "2026-11-01T08:00:00Z",
		"privilegedRoles":                 []any{"Global Administrator", "User Administrator"},
		"eligibleRoles":                   []any{"Global Administrator"},
		"app_assignments":                 []any{"Dropbox Business", "Slack"},
	}
	if !reflect.DeepEqual(facts, want) {
		t.Errorf("facts:\n got %#v\nwant %#v", facts, want)
	}
	// The user and their roles are read at once, both by the reference,
	// escaped alike, and the tenant's eligibilities beside them (kept by
	// the id the user's read returns); they reach the server in any order.
	reqs := f.requests()
	slices.SortFunc(reqs, func(a, b seen) int { return strings.Compare(a.URI, b.URI) })
	wantURIs := []string{
		"/v1.0/roleManagement/directory/roleEligibilityScheduleInstances?$expand=roleDefinition",
		"/v1.0/users/o%27brien%40contoso.test/appRoleAssignments",
		"/v1.0/users/o%27brien%40contoso.test/transitiveMemberOf/microsoft.graph.directoryRole",
		"/v1.0/users/o%27brien%40contoso.test?$select=id,userPrincipalName,displayName,accountEnabled,onPremisesSyncEnabled,signInSessionsValidFromDateTime,userType,onPremisesSecurityIdentifier,onPremisesImmutableId,onPremisesSamAccountName,onPremisesDomainName,onPremisesDistinguishedName",
	}
	if len(reqs) != len(wantURIs) {
		t.Fatalf("requests: %+v", reqs)
	}
	for i, r := range reqs {
		if r.Method != "GET" || r.URI != wantURIs[i] {
			t.Errorf("request %d: %s %s, want GET %s", i, r.Method, r.URI, wantURIs[i])
		}
		if r.Auth != "Bearer "+cred.token {
			t.Errorf("request %d: Authorization %q", i, r.Auth)
		}
	}
	if len(cred.scopes) == 0 || !reflect.DeepEqual(cred.scopes[0], []string{"https://graph.microsoft.com/.default"}) {
		t.Errorf("scopes asked for: %v", cred.scopes)
	}
}

// A sAMAccountName becomes an advanced-query filter with the quote doubled.
func TestResolveBySAMAccountName(t *testing.T) {
	var consistency string
	f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1.0/users" {
			consistency = r.Header.Get("ConsistencyLevel")
			writeJSON(w, 200, `{"value":[{"id":"a1","userPrincipalName":"obrien@contoso.test","onPremisesSyncEnabled":true}]}`)
			return
		}
		writeJSON(w, 200, `{"value":[]}`)
	})
	c := f.conn(t, &staticCred{token: fakeToken(t, nil)})
	facts, err := c.Resolve(context.Background(), `o'brien`)
	if err != nil {
		t.Fatal(err)
	}
	if facts["id"] != "a1" || facts["onPremisesSyncEnabled"] != true || !reflect.DeepEqual(facts["privilegedRoles"], []any{}) {
		t.Errorf("facts %#v", facts)
	}
	got := f.requests()[0].URI
	want := "/v1.0/users?$count=true&$filter=onPremisesSamAccountName%20eq%20%27o%27%27brien%27&$select=id,userPrincipalName,displayName,accountEnabled,onPremisesSyncEnabled,signInSessionsValidFromDateTime,userType,onPremisesSecurityIdentifier,onPremisesImmutableId,onPremisesSamAccountName,onPremisesDomainName,onPremisesDistinguishedName"
	if got != want {
		t.Errorf("URI\n got %s\nwant %s", got, want)
	}
	if consistency != "eventual" {
		t.Errorf("ConsistencyLevel %q", consistency)
	}
}

func TestResolveBySAMAccountNameNotFoundOrAmbiguous(t *testing.T) {
	tests := []struct {
		name, body string
		class      steps.Class
		msg        string
	}{
		{"no user has the name", `{"value":[]}`, steps.NotFound,
			`entra: resolve "adele": no user has onPremisesSamAccountName 'adele'`},
		{"two users share the name", `{"value":[{"id":"a","userPrincipalName":"a@x"},{"id":"b","userPrincipalName":"b@y"}]}`, steps.Invalid,
			`entra: resolve "adele": onPremisesSamAccountName 'adele' is ambiguous (a@x, b@y): name the user by UPN or object id`},
		{"more users share it than a page holds", `{"value":[{"id":"a","userPrincipalName":"a@x"}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/users?$skiptoken=x"}`, steps.Invalid,
			`entra: resolve "adele": onPremisesSamAccountName 'adele' is ambiguous (a@x, …): name the user by UPN or object id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, tt.body) })
			_, err := f.conn(t, &staticCred{token: fakeToken(t, nil)}).Resolve(context.Background(), "adele")
			if steps.ClassOf(err) != tt.class || err.Error() != tt.msg {
				t.Errorf("got %v (%v), want %v (%v)", err, steps.ClassOf(err), tt.msg, tt.class)
			}
		})
	}
}

// Entra ID keeps no NetBIOS name: DOMAIN\user and a DN are left to the
// AD account to link (NotFound here) in a hybrid environment, and refused
// in a cloud-only one. Neither sends a request.
func TestResolveLeavesOnPremisesNamesToAD(t *testing.T) {
	for _, cloud := range []bool{false, true} {
		for _, ref := range []string{`CONTOSO\adele`, "CN=Adele Vance,OU=Staff,DC=contoso,DC=test"} {
			f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{}`) })
			c := f.conn(t, &staticCred{token: fakeToken(t, nil)})
			c.cloudOnly = cloud
			_, err := c.Resolve(context.Background(), ref)
			want, class := "entra: "+strconv.Quote(ref)+" is an on-premises name: the user is found through their AD account", steps.NotFound
			if cloud {
				want, class = "entra: "+strconv.Quote(ref)+" is an on-premises name, which a cloud-only environment cannot check: name the user by UPN or object id", steps.Invalid
			}
			if err == nil || err.Error() != want || steps.ClassOf(err) != class {
				t.Errorf("cloud %v, Resolve(%q) = %v, want %q (%v)", cloud, ref, err, want, class)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		}
	}
}

// The SID an AD account publishes finds the synced user it was synced to.
func TestResolveIDsBySID(t *testing.T) {
	f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1.0/users" {
			writeJSON(w, 200, `{"value":[{"id":"a1","userPrincipalName":"adele@contoso.test","onPremisesSyncEnabled":true,"onPremisesSecurityIdentifier":"S-1-5-21-1-2-3-1104"}]}`)
			return
		}
		writeJSON(w, 200, `{"value":[]}`)
	})
	facts, err := f.conn(t, &staticCred{token: fakeToken(t, nil)}).ResolveIDs(context.Background(),
		map[string]string{steps.IDSID: "S-1-5-21-1-2-3-1104", steps.IDUPN: "someone-else@contoso.test"})
	if err != nil || facts["id"] != "a1" || facts["onPremisesSecurityIdentifier"] != "S-1-5-21-1-2-3-1104" {
		t.Fatalf("facts %#v, %v", facts, err)
	}
	got := f.requests()[0].URI
	want := "/v1.0/users?$count=true&$filter=onPremisesSecurityIdentifier%20eq%20%27S-1-5-21-1-2-3-1104%27&$select=" + strings.Join(userSelect, ",")
	if got != want {
		t.Errorf("URI\n got %s\nwant %s", got, want)
	}
}

func TestResolveRefusesAnEmptyReference(t *testing.T) {
	f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{}`) })
	for _, ref := range []string{"", "  ", `CONTOSO\`} {
		_, err := f.conn(t, &staticCred{token: fakeToken(t, nil)}).Resolve(context.Background(), ref)
		if steps.ClassOf(err) != steps.Invalid {
			t.Errorf("Resolve(%q): %v, want Invalid", ref, err)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent for empty references", n)
	}
}

// Each Graph answer becomes one classified error, after exactly one request:
// the SDK's retry handler is off.
func TestGraphErrorsAreClassifiedAndNotRetried(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		ec         errorContext
		class      steps.Class
		retryAfter time.Duration
		permission string
		msg        string
	}{
		{name: "a 429 with Retry-After is retryable after that wait", status: 429, header: map[string]string{"Retry-After": "7"},
			body: graphErrorBody("TooManyRequests", "Please retry again later."), class: steps.Retryable, retryAfter: 7 * time.Second,
			msg: "entra: get user u1: Graph 429 TooManyRequests: Please retry again later."},
		{name: "a 429 without Retry-After takes the call's default wait", status: 429, ec: errorContext{throttleWait: time.Second},
			body: graphErrorBody("TooManyRequests", "Slow down."), class: steps.Retryable, retryAfter: time.Second,
			msg: "entra: get user u1: Graph 429 TooManyRequests: Slow down."},
		{name: "a 429 without Retry-After or default leaves backoff to the engine", status: 429,
			body: graphErrorBody("TooManyRequests", "Slow down."), class: steps.Retryable,
			msg: "entra: get user u1: Graph 429 TooManyRequests: Slow down."},
		{name: "a 503 is retryable", status: 503, header: map[string]string{"Retry-After": "2"},
			body: graphErrorBody("ServiceUnavailable", "Try later."), class: steps.Retryable, retryAfter: 2 * time.Second,
			msg: "entra: get user u1: Graph 503 ServiceUnavailable: Try later."},
		{name: "a 504 without a body is retryable", status: 504, class: steps.Retryable,
			msg: "entra: get user u1: Graph 504: The server returned an unexpected status code with no response body: 504"},
		{name: "a 404 is not found", status: 404,
			body: graphErrorBody("Request_ResourceNotFound", "Resource 'u1' does not exist."), class: steps.NotFound,
			msg: "entra: get user u1: Graph 404 Request_ResourceNotFound: Resource 'u1' does not exist."},
		{name: "a 403 names the permission", status: 403, ec: errorContext{permission: "User.EnableDisableAccount.All"},
			body:  graphErrorBody("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
			class: steps.Forbidden, permission: "User.EnableDisableAccount.All",
			msg: "entra: get user u1: Graph 403 Authorization_RequestDenied: Insufficient privileges to complete the operation. (needs User.EnableDisableAccount.All)"},
		{name: "a 400 is invalid with Graph's message", status: 400,
			body:  graphErrorBody("Request_BadRequest", "Unable to update the specified properties for on-premises mastered Directory Sync objects."),
			class: steps.Invalid,
			msg:   "entra: get user u1: Graph 400 Request_BadRequest: Unable to update the specified properties for on-premises mastered Directory Sync objects."},
		{name: "a 401 is a rejected token", status: 401,
			body: graphErrorBody("InvalidAuthenticationToken", "Access token has expired."), class: steps.Invalid,
			msg: "entra: get user u1: Graph 401 InvalidAuthenticationToken: token rejected: Access token has expired."},
		{name: "a 500 is not retried", status: 500, body: graphErrorBody("generalException", "Boom."), class: steps.Other,
			msg: "entra: get user u1: Graph 500 generalException: Boom."},
		{name: "an error body without a message does not panic", status: 409, body: `{"error":{"code":"Conflict"}}`, class: steps.Other,
			msg: "entra: get user u1: Graph 409 Conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				if tt.body == "" {
					w.WriteHeader(tt.status)
					return
				}
				writeJSON(w, tt.status, tt.body)
			})
			c := f.conn(t, &staticCred{token: fakeToken(t, nil)})
			_, err := c.getUser(context.Background(), "get user u1", "u1", tt.ec, "id")
			if err == nil {
				t.Fatal("no error")
			}
			if got := steps.ClassOf(err); got != tt.class {
				t.Errorf("class %v, want %v", got, tt.class)
			}
			if got := steps.RetryAfterOf(err); got != tt.retryAfter {
				t.Errorf("RetryAfter %v, want %v", got, tt.retryAfter)
			}
			if got := steps.PermissionOf(err); got != tt.permission {
				t.Errorf("Permission %q, want %q", got, tt.permission)
			}
			if err.Error() != tt.msg {
				t.Errorf("message\n got %s\nwant %s", err, tt.msg)
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("%d requests, want 1 (the SDK must not retry)", n)
			}
		})
	}
}

func TestTransportFailures(t *testing.T) {
	t.Run("an untrusted certificate is reported plainly", func(t *testing.T) {
		f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{}`) })
		c := f.conn(t, &staticCred{token: fakeToken(t, nil)})
		// Forget the test CA: trust the system pool only.
		c.base.TLSClientConfig.RootCAs = nil
		_, err := c.getUser(context.Background(), "get user u1", "u1", errorContext{}, "id")
		want := "entra: get user u1: server certificate not trusted (x509: certificate signed by unknown authority): " +
			"set ca_file to the CA that signed it (a sandbox's, a TLS-inspecting proxy's)"
		if steps.ClassOf(err) != steps.Invalid || err.Error() != want {
			t.Errorf("got %v (%v)\nwant %s", err, steps.ClassOf(err), want)
		}
	})
	t.Run("a refused connection is retryable", func(t *testing.T) {
		f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) {})
		c := f.conn(t, &staticCred{token: fakeToken(t, nil)})
		f.srv.Close()
		_, err := c.getUser(context.Background(), "get user u1", "u1", errorContext{}, "id")
		if steps.ClassOf(err) != steps.Retryable || !strings.HasPrefix(err.Error(), "entra: get user u1: ") {
			t.Errorf("got %v (%v), want Retryable", err, steps.ClassOf(err))
		}
	})
	t.Run("a cancelled call is not retryable", func(t *testing.T) {
		f := newFakeGraph(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{}`) })
		c := f.conn(t, &staticCred{token: fakeToken(t, nil)})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.getUser(ctx, "get user u1", "u1", errorContext{}, "id")
		if steps.ClassOf(err) != steps.Other || !errors.Is(err, context.Canceled) {
			t.Errorf("got %v (%v), want Other wrapping context.Canceled", err, steps.ClassOf(err))
		}
	})
}

// The pipeline keeps every SDK middleware, with one retry handler (the
// one that never retries: the 429 and 503 cases above see one request).
func TestGraphMiddlewaresKeepTheSDKHandlers(t *testing.T) {
	var got []string
	for _, m := range graphMiddlewares() {
		got = append(got, reflect.TypeOf(m).String())
	}
	sort.Strings(got)
	want := []string{
		"*msgraphgocore.GraphTelemetryHandler",
		"*nethttplibrary.CompressionHandler",
		"*nethttplibrary.HeadersInspectionHandler",
		"*nethttplibrary.ParametersNameDecodingHandler",
		"*nethttplibrary.RedirectHandler",
		"*nethttplibrary.RetryHandler",
		"*nethttplibrary.UrlReplaceHandler",
		"*nethttplibrary.UserAgentHandler",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("middlewares\n got %v\nwant %v", got, want)
	}
}
