package entra

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
)

// tokenRequests counts the requests to the tenant's token endpoint.
func tokenRequests(tn *sandbox.Tenant) int {
	n := 0
	for _, e := range tn.Log().Entries() {
		if strings.HasSuffix(strings.SplitN(e.Path, "?", 2)[0], "/oauth2/v2.0/token") {
			n++
		}
	}
	return n
}

// Opening the backend starts fetching the token, so that its round trips
// overlap the other backends' connecting (an LDAP bind) instead of
// following it; resolution then uses that token rather than fetching one
// more.
func TestOpenFetchesTheTokenAtOnce(t *testing.T) {
	tn := startTenant(t)
	c := openSandbox(t, tn, appID, appSecret)
	deadline := time.Now().Add(5 * time.Second)
	for tokenRequests(tn) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := tokenRequests(tn); n != 1 {
		t.Fatalf("token requests before any call: %d, want 1", n)
	}
	if _, err := c.Resolve(context.Background(), "adele@contoso.test"); err != nil {
		t.Fatal(err)
	}
	if n := tokenRequests(tn); n != 1 {
		t.Errorf("token requests after resolving: %d, want 1 (the one open started)", n)
	}
}

// A token open could not fetch fails the first call in that call's words
// (classified), without a second request at once; the next call asks
// again.
func TestOpenTokenFailureReportedByFirstCall(t *testing.T) {
	tn := startTenant(t)
	c := openSandbox(t, tn, appID, "not-the-secret")
	_, err := c.Resolve(context.Background(), "adele@contoso.test")
	if err == nil || steps.ClassOf(err) != steps.Forbidden && steps.ClassOf(err) != steps.Invalid {
		t.Fatalf("Resolve with a wrong secret: %v (class %v)", err, steps.ClassOf(err))
	}
	if !strings.Contains(err.Error(), `resolve "adele@contoso.test"`) {
		t.Errorf("error %q does not name the call", err)
	}
	if n := tokenRequests(tn); n != 1 {
		t.Errorf("token requests after the first call: %d, want 1", n)
	}
	if _, err := c.Resolve(context.Background(), "adele@contoso.test"); err == nil {
		t.Fatal("second Resolve with a wrong secret succeeded")
	}
	if n := tokenRequests(tn); n != 2 {
		t.Errorf("token requests after the second call: %d, want 2", n)
	}
}

// Resolving a UPN reads the tenant's PIM eligibilities beside the user and
// keeps the subject's by the id the user's read returns: another user's
// are not theirs. When the eligibilities take more than one page, the
// first page is not taken for all of them: they are asked for by id, as
// before, and every page of that read followed.
func TestSandboxResolveTenantEligibilities(t *testing.T) {
	const (
		eliID = "00000000-0000-4000-8000-000000000001"
		olaID = "00000000-0000-4000-8000-000000000002"
	)
	seed := strings.Replace(pimSeed, "role_eligibilities:\n", "  - {id: "+olaID+", userPrincipalName: ola@pim.test}\nrole_eligibilities:\n  - {user: ola@pim.test, roles: [Security Administrator]}\n", 1)
	tests := []struct {
		name     string
		pageSize int
		ref, id  string
		want     []any
		byID     []string // the eligibility reads by id, after the tenant's
	}{
		{"one page", 0, "eli@pim.test", eliID, []any{"Exchange Administrator", "Global Administrator"}, nil},
		{"another user's", 0, "ola@pim.test", olaID, []any{"Security Administrator"}, nil},
		{"more than one page", 1, "eli@pim.test", eliID, []any{"Exchange Administrator", "Global Administrator"},
			[]string{"GET " + eligibilityPath(eliID) + " 200", "GET " + eligibilityPath(eliID) + "&$skiptoken=T 200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sandbox.ParseSeed("pim.yaml", []byte(seed))
			if err != nil {
				t.Fatal(err)
			}
			tn := startPagedTenant(t, s, tt.pageSize)
			c := openSandbox(t, tn, appID, appSecret)
			tn.Log().Reset()
			facts, err := c.Resolve(context.Background(), tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if facts["id"] != tt.id || !reflect.DeepEqual(facts["eligibleRoles"], tt.want) {
				t.Errorf("id %v, eligible %#v; want %s, %#v", facts["id"], facts["eligibleRoles"], tt.id, tt.want)
			}
			var reads []string
			for _, e := range graphLog(tn) {
				if strings.Contains(e, "/roleEligibilityScheduleInstances") {
					reads = append(reads, skipTokenRE.ReplaceAllString(e, "$$skiptoken=T"))
				}
			}
			want := append([]string{"GET " + tenantEligibilityPath + " 200"}, tt.byID...)
			if !reflect.DeepEqual(reads, want) {
				t.Errorf("eligibility reads:\n got %s\nwant %s", strings.Join(reads, "\n     "), strings.Join(want, "\n     "))
			}
		})
	}
}

// A token fetch cut short because the context the backend was opened with
// ended (a caller that opens with a short-lived context and keeps the
// connection) does not fail the next call, whose context is live: it
// fetches the token itself.
func TestOpenTokenCutShortByOpensContext(t *testing.T) {
	tn, err := sandbox.Start(context.Background(), sandbox.DefaultSeed(), sandbox.Options{Latency: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	sc, err := Backend.Open(ctx, sandboxEnv(t, tn, appID, appSecret, true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	cancel() // the token's discovery document is still 100 ms away
	facts, err := sc.Resolve(context.Background(), "adele@contoso.test")
	if err != nil {
		t.Fatalf("Resolve after open's context ended: %v", err)
	}
	if facts["id"] != adeleID {
		t.Errorf("id %v, want %s", facts["id"], adeleID)
	}
}

// Every form of reference uses the token open fetched: one token request,
// whichever way the user is found (by UPN, by object id, by
// sAMAccountName, through the SID an AD account carries). The token open
// fetches must be asked for as the SDK's auth provider asks (with
// EnableCAE): azidentity caches the two kinds apart, and the SDK would
// fetch a second one for its first request.
func TestResolveWaitsForTheTokenOpenFetches(t *testing.T) {
	tn, err := sandbox.Start(context.Background(), sandbox.DefaultSeed(), sandbox.Options{Latency: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	for _, tt := range []struct {
		name    string
		resolve func(*Conn) (map[string]any, error)
	}{
		{"UPN", func(c *Conn) (map[string]any, error) { return c.Resolve(context.Background(), "o'brien@contoso.test") }},
		{"object id", func(c *Conn) (map[string]any, error) { return c.Resolve(context.Background(), obrienID) }},
		{"sAMAccountName", func(c *Conn) (map[string]any, error) { return c.Resolve(context.Background(), "obrien") }},
		{"SID", func(c *Conn) (map[string]any, error) {
			f, err := c.Resolve(context.Background(), "obrien")
			if err != nil {
				return nil, err
			}
			c2 := openSandbox(t, tn, appID, appSecret)
			tn.Log().Reset()
			return c2.ResolveIDs(context.Background(), map[string]string{steps.IDSID: f["onPremisesSecurityIdentifier"].(string)})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tn.Log().Reset()
			c := openSandbox(t, tn, appID, appSecret)
			if _, err := tt.resolve(c); err != nil {
				t.Fatal(err)
			}
			if n := tokenRequests(tn); n != 1 {
				t.Errorf("token requests: %d, want 1", n)
			}
		})
	}
}
