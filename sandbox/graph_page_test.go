package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const (
	salesID    = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d01"
	allStaffID = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d02"
)

// tokenRE is the shape of the sandbox's $skiptoken: 20 bytes, base64url.
var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{27}$`)

// manyUsersTenant is the default tenant with 149 more cloud users, so
// /users (159 users) is longer than Graph's default page.
func manyUsersTenant(t *testing.T, opts Options) *Tenant {
	t.Helper()
	seed := DefaultSeed()
	cloud := 0
	for _, u := range seed.Users {
		if u.Cloud {
			cloud++
		}
	}
	for i := range 159 - cloud { // 159 users in the cloud with the seed's
		seed.Users = append(seed.Users, SeedUser{UserPrincipalName: fmt.Sprintf("user%03d@contoso.test", i),
			DisplayName: fmt.Sprintf("User %03d", i), AccountEnabled: true, Cloud: true, UserType: "Member"})
	}
	tn, err := Start(context.Background(), seed, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	return tn
}

// getAbs GETs an absolute URL (a nextLink) with a bearer token.
func getAbs(t *testing.T, tn *Tenant, tok, u string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := httpClient(tn).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: body %q: %v", u, b, err)
	}
	return resp.StatusCode, m
}

// pageIDs are the ids of a page's items.
func pageIDs(body map[string]any) []string {
	vals, _ := body["value"].([]any)
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		m, _ := v.(map[string]any)
		id, _ := m["id"].(string)
		out = append(out, id)
	}
	return out
}

// walk follows a listing's nextLinks from its first page and returns each
// page's ids and the links followed; it fails the test on an error answer
// or a page whose @odata.context differs from the first's.
func walk(t *testing.T, tn *Tenant, tok, first string) (pages [][]string, links []string) {
	t.Helper()
	link := first
	ctx := ""
	for n := 0; link != ""; n++ {
		if n > 200 {
			t.Fatalf("%s: more than 200 pages", first)
		}
		status, body := getAbs(t, tn, tok, link)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %v", link, status, body)
		}
		if c, _ := body["@odata.context"].(string); n == 0 {
			ctx = c
		} else if c != ctx {
			t.Errorf("page %d @odata.context %q, first page's %q", n+1, c, ctx)
		}
		pages = append(pages, pageIDs(body))
		link, _ = body["@odata.nextLink"].(string)
		if link != "" {
			links = append(links, link)
		}
	}
	return pages, links
}

func sizes(pages [][]string) []int {
	out := make([]int, len(pages))
	for i, p := range pages {
		out[i] = len(p)
	}
	return out
}

// TestPagingPageSizes pages /users (159 users) with Graph's default page
// size and with $top: the pages' sizes are exact, every nextLink is the
// request itself plus $skiptoken, the last page has none, and the pages
// together are the unpaged list in its order, each user once.
func TestPagingPageSizes(t *testing.T) {
	tn := manyUsersTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	status, _, all := do(t, tn, tok, "GET", "/users?$select=id&$top=999", "")
	if status != 200 || all["@odata.nextLink"] != nil {
		t.Fatalf("unpaged: %d %v", status, all["@odata.nextLink"])
	}
	want := pageIDs(all)
	if len(want) != 159 {
		t.Fatalf("%d users, want 159", len(want))
	}
	tests := []struct {
		name, query string
		sizes       []int
	}{
		{"Graph's default of 100", "$select=id", []int{100, 59}},
		{"$top=7", "$select=id&$top=7", []int{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 5}},
		{"$top=53 divides the list", "$top=53&$select=id", []int{53, 53, 53}},
		{"$top=159 is one page", "$select=id&$top=159", []int{159}},
		{"$top=999", "$select=id&$top=999", []int{159}},
		{"the client's escaping is kept", "%24select=id&%24top=80", []int{80, 79}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pages, links := walk(t, tn, tok, tn.GraphURL()+"/users?"+tc.query)
			if got := sizes(pages); !slices.Equal(got, tc.sizes) {
				t.Errorf("page sizes %v, want %v", got, tc.sizes)
			}
			if got := slices.Concat(pages...); !slices.Equal(got, want) {
				t.Errorf("pages together differ from the unpaged list:\n got %v\nwant %v", got, want)
			}
			for _, l := range links {
				rest, ok := strings.CutPrefix(l, tn.GraphURL()+"/users?"+tc.query+"&$skiptoken=")
				if !ok || !tokenRE.MatchString(rest) {
					t.Errorf("nextLink %q, want %s/users?%s&$skiptoken=TOKEN", l, tn.GraphURL(), tc.query)
				}
			}
		})
	}
}

// TestPagingEveryCollection pages every collection endpoint one item a
// page (Options.PageSize 1): each page holds one item, the pages together
// are the unpaged list, and the number of requests is the number of items.
func TestPagingEveryCollection(t *testing.T) {
	tn := startTenant(t, Options{PageSize: 1})
	tok := token(t, tn, revokeClientID, revokeSecret)
	tests := []struct {
		path string
		n    int
	}{
		{"/users?$select=id,displayName", 12},
		{"/users?$filter=userType%20eq%20'Member'", 11},
		{"/groups", 8},
		{"/groups/" + salesID + "/members", 4},
		{"/devices", 3},
		{"/devices?$filter=displayName%20eq%20'ALEX-LAPTOP'", 1},
		{"/users/" + alexID + "/registeredDevices", 2},
		{"/users/alex@contoso.test/ownedDevices", 2},
		{"/users/" + alexID + "/managedDevices", 2},
		{"/deviceManagement/managedDevices", 2},
		{"/deviceManagement/managedDevices?$filter=userId%20eq%20'" + alexID + "'", 2},
		{"/users/" + alexID + "/memberOf", 4},
		{"/users/" + breakglassID + "/memberOf", 2},
		{"/users/" + breakglassID + "/memberOf/microsoft.graph.directoryRole", 1},
		{"/users/" + breakglassID + "/transitiveMemberOf/microsoft.graph.group", 1},
		{"/users/" + adeleID + "/authentication/methods", 3},
		{"/roleManagement/directory/roleAssignments?$expand=roleDefinition", 3},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			sep := "?"
			if strings.Contains(tc.path, "?") {
				sep = "&"
			}
			status, _, all := do(t, tn, tok, "GET", tc.path+sep+"$top=999", "")
			if status != 200 {
				t.Fatalf("unpaged: %d %v", status, all)
			}
			want := pageIDs(all)
			if len(want) != tc.n {
				t.Fatalf("unpaged: %d items %v, want %d", len(want), want, tc.n)
			}
			tn.Log().Reset()
			pages, links := walk(t, tn, tok, tn.GraphURL()+tc.path)
			if got := sizes(pages); !slices.Equal(got, slices.Repeat([]int{1}, tc.n)) {
				t.Errorf("page sizes %v, want %d pages of 1", got, tc.n)
			}
			if got := slices.Concat(pages...); !slices.Equal(got, want) {
				t.Errorf("pages together %v, want %v", got, want)
			}
			if len(links) != tc.n-1 {
				t.Errorf("%d nextLinks, want %d", len(links), tc.n-1)
			}
			if got := len(tn.Log().Entries()); got != tc.n {
				t.Errorf("%d requests logged, want %d", got, tc.n)
			}
		})
	}
}

// TestPagingNextLinkHost: the nextLink names the host the client called.
func TestPagingNextLinkHost(t *testing.T) {
	tn := startTenant(t, Options{PageSize: 2})
	tok := token(t, tn, revokeClientID, revokeSecret)
	base := strings.Replace(tn.GraphURL(), "127.0.0.1", "localhost", 1)
	status, body := getAbs(t, tn, tok, base+"/groups")
	link, _ := body["@odata.nextLink"].(string)
	rest, ok := strings.CutPrefix(link, base+"/groups?$skiptoken=")
	if status != 200 || !ok || !tokenRE.MatchString(rest) {
		t.Fatalf("%d, nextLink %q, want %s/groups?$skiptoken=TOKEN", status, link, base)
	}
	status, body = getAbs(t, tn, tok, link)
	if status != 200 || !slices.Equal(pageIDs(body), []string{"2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d03", "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d04"}) || body["@odata.nextLink"] == nil {
		t.Errorf("second page: %d %v", status, body)
	}
}

// A $batch item's nextLink is absolute, on the host the batch went to.
func TestPagingInBatch(t *testing.T) {
	tn := startTenant(t, Options{})
	tok := token(t, tn, revokeClientID, revokeSecret)
	status, _, body := do(t, tn, tok, "POST", "/$batch", `{"requests":[{"id":"1","method":"GET","url":"/groups?$top=2"}]}`)
	resps, _ := body["responses"].([]any)
	if status != 200 || len(resps) != 1 {
		t.Fatalf("%d %v", status, body)
	}
	item, _ := resps[0].(map[string]any)
	inner, _ := item["body"].(map[string]any)
	link, _ := inner["@odata.nextLink"].(string)
	if rest, ok := strings.CutPrefix(link, tn.GraphURL()+"/groups?$top=2&$skiptoken="); !ok || !tokenRE.MatchString(rest) {
		t.Fatalf("nextLink %q", link)
	}
	if status, page := getAbs(t, tn, tok, link); status != 200 || len(pageIDs(page)) != 2 || page["@odata.nextLink"] == nil {
		t.Errorf("second page: %d %v", status, page)
	}
}

// A listing keeps the order its first page saw: removing members already
// read neither skips nor repeats one, and a member added meanwhile is not
// part of it.
func TestPagingWhileTheDirectoryChanges(t *testing.T) {
	tn := startTenant(t, Options{PageSize: 1})
	tok := token(t, tn, revokeClientID, revokeSecret)
	status, body := getAbs(t, tn, tok, tn.GraphURL()+"/groups/"+salesID+"/members")
	if status != 200 || !slices.Equal(pageIDs(body), []string{adeleID}) {
		t.Fatalf("first page: %d %v", status, body)
	}
	if status, _, b := do(t, tn, tok, "DELETE", "/groups/"+salesID+"/members/"+adeleID+"/$ref", ""); status != 204 {
		t.Fatalf("remove adele: %d %v", status, b)
	}
	d := tn.Directory()
	d.Lock()
	g := d.groupByID(salesID)
	g.Members = append(g.Members, breakglassID)
	d.Unlock()
	var got []string
	for link, _ := body["@odata.nextLink"].(string); link != ""; link, _ = body["@odata.nextLink"].(string) {
		if status, body = getAbs(t, tn, tok, link); status != 200 {
			t.Fatalf("%d %v", status, body)
		}
		got = append(got, pageIDs(body)...)
	}
	if want := []string{alexID, diegoID, miriamID}; !slices.Equal(got, want) {
		t.Errorf("later pages %v, want %v", got, want)
	}
	// A listing started now sees the change.
	pages, _ := walk(t, tn, tok, tn.GraphURL()+"/groups/"+salesID+"/members")
	if got, want := slices.Concat(pages...), []string{alexID, diegoID, miriamID, breakglassID}; !slices.Equal(got, want) {
		t.Errorf("new listing %v, want %v", got, want)
	}
}

// TestPagingErrors: a $top out of 1..999 and a $skiptoken this listing
// did not issue are Graph's 400s.
func TestPagingErrors(t *testing.T) {
	tn := startTenant(t, Options{PageSize: 1})
	other := startTenant(t, Options{PageSize: 1})
	tok := token(t, tn, revokeClientID, revokeSecret)
	firstLink := func(tn *Tenant, path string) string {
		t.Helper()
		status, body := getAbs(t, tn, token(t, tn, revokeClientID, revokeSecret), tn.GraphURL()+path)
		link, _ := body["@odata.nextLink"].(string)
		if status != 200 || link == "" {
			t.Fatalf("%s: %d %v", path, status, body)
		}
		return link
	}
	tokenOf := func(link string) string { return link[strings.LastIndex(link, "=")+1:] }
	groupsTok := tokenOf(firstLink(tn, "/groups"))
	otherTok := tokenOf(firstLink(other, "/groups"))
	filteredTok := tokenOf(firstLink(tn, "/users?$filter=userType%20eq%20'Member'"))
	parsed, _ := parseSkipToken(groupsTok)
	pastEnd := skipToken{seq: parsed.seq, nonce: parsed.nonce, offset: 9}.String()
	atEnd := skipToken{seq: parsed.seq, nonce: parsed.nonce, offset: 8}.String()
	forged := skipToken{seq: parsed.seq, offset: 1}.String()

	const invalid = "Invalid Skip Token"
	tests := []struct {
		name, path string
		status     int
		code, msg  string
		items      int  // on a 200: items on the page
		next       bool // on a 200: a nextLink
	}{
		{"$top=0", "/groups?$top=0", 400, "Request_UnsupportedQuery", "Invalid page size specified: '0'. Must be between 1 and 999 inclusive.", 0, false},
		{"$top=1000", "/users?$top=1000", 400, "Request_UnsupportedQuery", "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.", 0, false},
		{"$top=-1", "/devices?$top=-1", 400, "Request_UnsupportedQuery", "Invalid page size specified: '-1'. Must be between 1 and 999 inclusive.", 0, false},
		{"$top=ten", "/users/" + alexID + "/memberOf?$top=ten", 400, "Request_UnsupportedQuery", "Invalid page size specified: 'ten'. Must be between 1 and 999 inclusive.", 0, false},
		{"$top twice", "/groups?$top=1&$top=2", 400, "BadRequest", "Query option '$top' was specified more than once, but it must be specified at most once.", 0, false},
		{"$skiptoken twice", "/groups?$skiptoken=" + groupsTok + "&$skiptoken=" + groupsTok, 400, "BadRequest", "Query option '$skiptoken' was specified more than once, but it must be specified at most once.", 0, false},
		{"not a token", "/groups?$skiptoken=X%27445370740200%27", 400, "BadRequest", invalid, 0, false},
		{"empty token", "/groups?$skiptoken=", 400, "BadRequest", invalid, 0, false},
		{"another listing's token", "/devices?$skiptoken=" + groupsTok, 400, "BadRequest", invalid, 0, false},
		{"another filter's token", "/users?$filter=userType%20eq%20'Guest'&$skiptoken=" + filteredTok, 400, "BadRequest", invalid, 0, false},
		{"another tenant's token", "/groups?$skiptoken=" + otherTok, 400, "BadRequest", invalid, 0, false},
		{"a forged nonce", "/groups?$skiptoken=" + forged, 400, "BadRequest", invalid, 0, false},
		{"an offset past the end", "/groups?$skiptoken=" + pastEnd, 400, "BadRequest", invalid, 0, false},
		{"an offset at the end is an empty last page", "/groups?$skiptoken=" + atEnd, 200, "", "", 0, false},
		{"the token with another $top", "/groups?$top=7&$skiptoken=" + groupsTok, 200, "", "", 7, false},
		{"the token is case-insensitive on the path", "/GROUPS?$skiptoken=" + groupsTok, 200, "", "", 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := do(t, tn, tok, "GET", tc.path, "")
			if status != tc.status || errCode(body) != tc.code || errMessage(body) != tc.msg {
				t.Errorf("%d %q %q, want %d %q %q", status, errCode(body), errMessage(body), tc.status, tc.code, tc.msg)
			}
			if _, next := body["@odata.nextLink"]; status == 200 && (len(pageIDs(body)) != tc.items || next != tc.next) {
				t.Errorf("page %v, want %d items, nextLink %t", body, tc.items, tc.next)
			}
		})
	}
}

// A token whose listing the tenant has forgotten is Graph's expired token.
func TestPagingExpiredToken(t *testing.T) {
	tn := startTenant(t, Options{PageSize: 1})
	tn.graph.pages.mu.Lock()
	tn.graph.pages.limit = 1
	tn.graph.pages.mu.Unlock()
	tok := token(t, tn, revokeClientID, revokeSecret)
	_, first := getAbs(t, tn, tok, tn.GraphURL()+"/groups")
	_, second := getAbs(t, tn, tok, tn.GraphURL()+"/devices")
	status, body := getAbs(t, tn, tok, first["@odata.nextLink"].(string))
	if status != 400 || errCode(body) != "Directory_ExpiredPageToken" ||
		errMessage(body) != "The specified page token value has expired and can no longer be included in your request." {
		t.Errorf("forgotten listing: %d %v", status, body)
	}
	if status, body = getAbs(t, tn, tok, second["@odata.nextLink"].(string)); status != 200 || len(pageIDs(body)) != 1 {
		t.Errorf("live listing: %d %v", status, body)
	}
}

// The default page size comes from Options, else the seed's page_size,
// else Graph's 100; out of range is refused.
func TestPageSizeOptions(t *testing.T) {
	seedWith := func(opts string) *Seed {
		t.Helper()
		s, err := ParseSeed("s.yaml", []byte("tenant: {id: t1}\ngroups:\n  - {displayName: A}\n  - {displayName: B}\n  - {displayName: C}\n"+
			"apps:\n  - {client_id: c1, secret: s1, permissions: [Group.Read.All]}\n"+opts))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name  string
		seed  *Seed
		opts  Options
		sizes []int
	}{
		{"Graph's default", seedWith(""), Options{}, []int{3}},
		{"the seed's page_size", seedWith("options:\n  page_size: 2\n"), Options{}, []int{2, 1}},
		{"Options override the seed", seedWith("options:\n  page_size: 2\n"), Options{PageSize: 1}, []int{1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn, err := Start(context.Background(), tc.seed, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer tn.Close()
			pages, _ := walk(t, tn, token(t, tn, "c1", "s1"), tn.GraphURL()+"/groups")
			if got := sizes(pages); !slices.Equal(got, tc.sizes) {
				t.Errorf("page sizes %v, want %v", got, tc.sizes)
			}
		})
	}
	for _, n := range []int{-1, 1000} {
		if _, err := Start(context.Background(), DefaultSeed(), Options{PageSize: n}); err == nil ||
			err.Error() != fmt.Sprintf("sandbox: start: page size %d: want 1 to 999 (0: Graph's default of 100)", n) {
			t.Errorf("Start with PageSize %d: %v", n, err)
		}
	}
	for _, tc := range []struct{ value, want string }{
		{"0", "s.yaml:3:14: page_size must be 1 to 999, got 0"},
		{"1000", "s.yaml:3:14: page_size must be 1 to 999, got 1000"},
		{"lots", `s.yaml:3:14: expected an integer, got "lots"`},
		{"[1]", `s.yaml:3:14: expected an integer, got ""`},
	} {
		_, err := ParseSeed("s.yaml", []byte("tenant: {id: t1}\noptions:\n  page_size: "+tc.value+"\n"))
		if se, ok := err.(*SeedError); !ok || strings.Join(se.Problems, "\n") != tc.want {
			t.Errorf("page_size %s: %v, want %s", tc.value, err, tc.want)
		}
	}
}
