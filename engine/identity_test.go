package engine

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/revoke-dev/revoke/steps"
)

// dirConn is a directory of records for the linking tests: Resolve matches
// a reference against the record's keys for its kind, ResolveIDs by SID.
type dirConn struct {
	records []map[string]any
	// keys maps a reference kind to the fact it is looked up by.
	keys  map[steps.RefKind]string
	calls atomic.Int32
}

func (d *dirConn) Resolve(_ context.Context, ref string) (map[string]any, error) {
	d.calls.Add(1)
	r, err := steps.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	return d.find(d.keys[r.Kind], r.Name)
}

func (d *dirConn) ResolveIDs(_ context.Context, ids map[string]string) (map[string]any, error) {
	return d.find("sid", ids[steps.IDSID])
}

func (d *dirConn) find(key, v string) (map[string]any, error) {
	for _, rec := range d.records {
		if s, _ := rec[key].(string); key != "" && v != "" && strings.EqualFold(s, v) {
			return rec, nil
		}
	}
	return nil, steps.Errorf(steps.NotFound, "no such user")
}

func (d *dirConn) Close() error { return nil }

// identityRegistry has an ad-like and an entra-like backend whose Identify
// reads the test records' plain keys.
func identityRegistry() *steps.Registry {
	r := steps.NewRegistry()
	open := func(context.Context, *steps.Env) (steps.Conn, error) { return nil, nil }
	ids := func(f map[string]any, keys map[string]string) map[string]string {
		out := map[string]string{}
		for kind, k := range keys {
			if v, _ := f[k].(string); v != "" {
				out[kind] = v
			}
		}
		return out
	}
	r.RegisterBackend(steps.BackendSpec{Name: "ad", Summary: "x", Kinds: []string{"hybrid"}, Open: open,
		Identify: func(f map[string]any) steps.Identity {
			id := steps.Identity{Anchors: []string{steps.IDSID}, IDs: ids(f, map[string]string{
				steps.IDSID: "sid", steps.IDUPN: "upn", steps.IDSAM: "sam", steps.IDDN: "dn", steps.IDGUID: "guid", steps.IDDomainUser: "domain_user"})}
			if f["adminCount"] == 1 {
				id.Privileged = []string{"its on-premises account has adminCount=1"}
			}
			return id
		}})
	r.RegisterBackend(steps.BackendSpec{Name: "entra", Summary: "x", Kinds: []string{"hybrid", "cloud"}, Open: open,
		Identify: func(f map[string]any) steps.Identity {
			id := steps.Identity{Anchors: []string{steps.IDSID}, IDs: ids(f, map[string]string{
				steps.IDSID: "sid", steps.IDUPN: "upn", steps.IDObjectID: "id"})}
			if f["synced"] == true {
				id.MasteredIn = "ad"
			}
			return id
		}})
	return r
}

var (
	adAlex = map[string]any{"sid": "S-1-5-21-1-2-3-1104", "upn": "alex@contoso.test", "sam": "alex",
		"dn": "CN=Alex,OU=Staff,DC=contoso,DC=test", "guid": "0a0a0a0a-0000-4000-8000-000000000001", "domain_user": `CONTOSO\alex`}
	entraAlex = map[string]any{"id": "5f1c2b3a-0000-4000-8000-00000000abcd", "upn": "alex@contoso.test",
		"sid": "S-1-5-21-1-2-3-1104", "synced": true}
	adOther = map[string]any{"sid": "S-1-5-21-1-2-3-2001", "upn": "alex.other@contoso.test", "sam": "alex2"}
	// entraLookalike is synced but points at another SID than AD's alex2.
	entraLookalike = map[string]any{"id": "6f1c2b3a-0000-4000-8000-00000000abcd", "upn": "alex2@contoso.test",
		"sid": "S-1-5-21-1-2-3-9999", "synced": true, "sam": "alex2"}
	entraCloud = map[string]any{"id": "7f1c2b3a-0000-4000-8000-00000000abcd", "upn": "casey@contoso.test"}
)

func linkConns(ad, entra []map[string]any) Conns {
	return Conns{
		"ad": &dirConn{records: ad, keys: map[steps.RefKind]string{steps.RefUPN: "upn", steps.RefSAM: "sam",
			steps.RefDomainUser: "sam", steps.RefDN: "dn", steps.RefGUID: "guid", steps.RefSID: "sid"}},
		"entra": &dirConn{records: entra, keys: map[steps.RefKind]string{steps.RefUPN: "upn", steps.RefGUID: "id",
			steps.RefSAM: "sam", steps.RefSID: "sid"}},
	}
}

func TestResolveLinksOnePersonAcrossBothDirectories(t *testing.T) {
	tests := []struct {
		name, ref string
		ad, entra []map[string]any
		// found lists the backends that hold the subject afterwards.
		found []string
		gaps  int
		err   string
	}{
		{name: "an Entra object id finds the AD account through the SID", ref: "5F1C2B3A-0000-4000-8000-00000000ABCD",
			ad: []map[string]any{adAlex}, entra: []map[string]any{entraAlex}, found: []string{"ad", "entra"}},
		{name: "DOMAIN\\user finds the Entra user through the SID", ref: `CONTOSO\alex`,
			ad: []map[string]any{adAlex}, entra: []map[string]any{entraAlex}, found: []string{"ad", "entra"}},
		{name: "a DN finds both", ref: "CN=Alex,OU=Staff,DC=contoso,DC=test",
			ad: []map[string]any{adAlex}, entra: []map[string]any{entraAlex}, found: []string{"ad", "entra"}},
		{name: "a SID finds both", ref: "S-1-5-21-1-2-3-1104",
			ad: []map[string]any{adAlex}, entra: []map[string]any{entraAlex}, found: []string{"ad", "entra"}},
		{name: "an objectGUID finds both", ref: "0a0a0a0a-0000-4000-8000-000000000001",
			ad: []map[string]any{adAlex}, entra: []map[string]any{entraAlex}, found: []string{"ad", "entra"}},
		{name: "surrounding white space is trimmed", ref: "  alex@contoso.test\t",
			ad: []map[string]any{adAlex}, entra: []map[string]any{entraAlex}, found: []string{"ad", "entra"}},
		{name: "a synced user whose AD account is missing is a gap", ref: "alex@contoso.test",
			entra: []map[string]any{entraAlex}, found: []string{"entra"}, gaps: 1},
		{name: "a cloud-only user has no AD account and no gap", ref: "casey@contoso.test",
			ad: []map[string]any{adAlex}, entra: []map[string]any{entraCloud}, found: []string{"entra"}},
		{name: "an AD-only account is found in AD alone", ref: "alex2",
			ad: []map[string]any{adOther}, found: []string{"ad"}},
		{name: "two records that disagree on the SID are two people", ref: "alex2",
			ad: []map[string]any{adOther}, entra: []map[string]any{entraLookalike},
			err: "alex2 names two different people: in ad it is sam=alex2 sid=S-1-5-21-1-2-3-2001 upn=alex.other@contoso.test, in entra object_id=6f1c2b3a-0000-4000-8000-00000000abcd sid=S-1-5-21-1-2-3-9999 upn=alex2@contoso.test (sid S-1-5-21-1-2-3-2001 against S-1-5-21-1-2-3-9999): name the person by a reference both directories agree on, such as the object id"},
		{name: "a second backslash is refused before any directory is asked", ref: `CONTOSO\evil\alex`,
			ad: []map[string]any{adAlex}, entra: []map[string]any{entraAlex},
			err: `subject reference "CONTOSO\\evil\\alex": a logon name (sAMAccountName) cannot contain "\\"`},
		{name: "a control character is refused", ref: "alex\x1b[2J@contoso.test",
			err: `subject reference "alex\x1b[2J@contoso.test" has a control character at byte 4`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conns := linkConns(tt.ad, tt.entra)
			s, err := conns.Resolve(t.Context(), identityRegistry(), tt.ref)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err || steps.ClassOf(err) != steps.Invalid {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if strings.Contains(tt.ref, `\evil`) && conns["ad"].(*dirConn).calls.Load() != 0 {
					t.Error("a malformed reference reached a directory")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var found []string
			for _, b := range []string{"ad", "entra"} {
				if s.Found(b) {
					found = append(found, b)
				}
			}
			if !slices.Equal(found, tt.found) || len(s.Gaps) != tt.gaps {
				t.Errorf("found %v gaps %q; want %v and %d gaps", found, s.Gaps, tt.found, tt.gaps)
			}
			if s.Ref != strings.TrimSpace(tt.ref) {
				t.Errorf("ref %q", s.Ref)
			}
		})
	}
}

func TestResolveGapNamesWhatIsMissing(t *testing.T) {
	s, err := linkConns(nil, []map[string]any{entraAlex}).Resolve(t.Context(), identityRegistry(), "alex@contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"the entra account of alex@contoso.test is synced from ad (sid S-1-5-21-1-2-3-1104), but ad has no such account: a change made in entra alone is undone by the next directory sync; find the ad account and disable it there"}
	if !slices.Equal(s.Gaps, want) {
		t.Errorf("gaps = %q\nwant %q", s.Gaps, want)
	}
}

// A cloud-only environment file for a tenant that syncs: the cloud block
// lasts until the next sync all the same, so that is a gap too.
func TestResolveGapWhenTheEnvironmentDoesNotReachTheMaster(t *testing.T) {
	conns := linkConns(nil, []map[string]any{entraAlex})
	delete(conns, "ad")
	s, err := conns.Resolve(t.Context(), identityRegistry(), "alex@contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"the entra account of alex@contoso.test is synced from ad (sid S-1-5-21-1-2-3-1104), which this environment does not reach: a change made in entra alone is undone by the next directory sync; disable the ad account too"}
	if !slices.Equal(s.Gaps, want) {
		t.Errorf("gaps = %q\nwant %q", s.Gaps, want)
	}
}

func TestProtectionMatchesTheResolvedIdentity(t *testing.T) {
	subject := &steps.Subject{Ref: "alex", Facts: map[string]map[string]any{"ad": adAlex, "entra": entraAlex}}
	Identify(identityRegistry(), subject)
	tests := []struct {
		entry string
		want  bool
	}{
		{"alex@contoso.test", true},
		{"ALEX@CONTOSO.TEST", true},
		{"alex", true},
		{`CONTOSO\alex`, true},
		{`contoso\ALEX`, true},
		{`FABRIKAM\alex`, false},
		{"cn=alex, ou=staff, dc=contoso, dc=test", true},
		{"S-1-5-21-1-2-3-1104", true},
		{"5f1c2b3a-0000-4000-8000-00000000abcd", true},
		{"{0A0A0A0A-0000-4000-8000-000000000001}", true},
		{"someone@contoso.test", false},
		{"S-1-5-21-1-2-3-1105", false},
		{`not\a\ref`, false},
	}
	for _, tt := range tests {
		t.Run(tt.entry, func(t *testing.T) {
			env := EnvironmentFacts{Name: "contoso", Kind: "hybrid", Protected: []string{tt.entry}}
			got := Protection(env, subject)
			if want := []string{"environment contoso lists " + tt.entry + " as protected"}; tt.want != slices.Equal(got, want) {
				t.Errorf("Protection = %q, want listed: %v", got, tt.want)
			}
		})
	}
}

func TestProtectionIncludesWhatTheBackendsSay(t *testing.T) {
	admin := map[string]any{"sid": "S-1-5-21-1-2-3-500", "sam": "admin", "adminCount": 1}
	subject := &steps.Subject{Ref: "admin", Facts: map[string]map[string]any{"ad": admin}}
	Identify(identityRegistry(), subject)
	got := Protection(EnvironmentFacts{Name: "contoso", Protected: []string{"admin"}}, subject)
	want := []string{"environment contoso lists admin as protected", "its on-premises account has adminCount=1"}
	if !slices.Equal(got, want) {
		t.Errorf("Protection = %q, want %q", got, want)
	}
}
