package engine

import (
	"context"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// subjectWith builds a subject whose backends' identities are ids.
func subjectWith(ref string, ids map[string]map[string]string) *steps.Subject {
	s := &steps.Subject{Ref: ref, Facts: map[string]map[string]any{}, Identities: map[string]steps.Identity{}}
	for b, m := range ids {
		s.Facts[b] = map[string]any{}
		s.Identities[b] = steps.Identity{IDs: m}
	}
	return s
}

func TestSameSubject(t *testing.T) {
	const (
		oid  = "4c6d2a8e-1f3b-4a5c-9d7e-0b1a2c3d4e01"
		guid = "aed37c78-d3fa-5f38-93db-4c25d2756e23"
		sid  = "S-1-5-21-1-2-3-1104"
	)
	started := map[string]map[string]string{
		"entra": {steps.IDObjectID: oid, steps.IDSID: sid, steps.IDUPN: "adele@contoso.test"},
		"ad":    {steps.IDGUID: guid, steps.IDSID: sid, steps.IDSAM: "adele"},
	}
	for _, tc := range []struct {
		name string
		now  map[string]map[string]string
		want string
	}{
		{name: "the same person passes", now: started},
		{name: "case and a renamed UPN and logon name do not count",
			now: map[string]map[string]string{
				"entra": {steps.IDObjectID: "4C6D2A8E-1F3B-4A5C-9D7E-0B1A2C3D4E01", steps.IDSID: "s-1-5-21-1-2-3-1104", steps.IDUPN: "adele.vance@contoso.test"},
				"ad":    {steps.IDGUID: guid, steps.IDSID: sid, steps.IDSAM: "avance"},
			}},
		{name: "an id missing on one side is not compared",
			now: map[string]map[string]string{
				"entra": {steps.IDObjectID: oid},
				"ad":    {steps.IDGUID: guid, steps.IDSID: sid},
			}},
		{name: "a backend that finds the subject only now is not a difference",
			now: map[string]map[string]string{
				"entra": started["entra"], "ad": started["ad"], "other": {steps.IDObjectID: "x"},
			}},
		{name: "another object id in Entra ID",
			now: map[string]map[string]string{
				"entra": {steps.IDObjectID: "11111111-2222-4333-8444-555555555555", steps.IDSID: sid},
				"ad":    started["ad"],
			},
			want: "adele@contoso.test now resolves to someone else than when the run started: in entra the object_id was " + oid +
				" and is now 11111111-2222-4333-8444-555555555555; resume acts only on whom the run started on"},
		{name: "another objectGUID and SID in AD",
			now: map[string]map[string]string{
				"entra": started["entra"],
				"ad":    {steps.IDGUID: "00000000-0000-4000-8000-000000000001", steps.IDSID: "S-1-5-21-1-2-3-2001"},
			},
			want: "adele@contoso.test now resolves to someone else than when the run started: in ad the guid was " + guid +
				" and is now 00000000-0000-4000-8000-000000000001; in ad the sid was " + sid +
				" and is now S-1-5-21-1-2-3-2001; resume acts only on whom the run started on"},
		{name: "a backend that found the subject finds no one now",
			now: map[string]map[string]string{"entra": started["entra"]},
			want: "adele@contoso.test now resolves to someone else than when the run started: ad found guid=" + guid +
				" sam=adele sid=" + sid + " when the run started and finds no one now; resume acts only on whom the run started on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := SameSubject(subjectWith("adele@contoso.test", started), subjectWith("adele@contoso.test", tc.now))
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want || steps.ClassOf(err) != steps.Invalid) {
				t.Errorf("SameSubject: %v\nwant %q", err, tc.want)
			}
		})
	}
}

func TestSameEnvironment(t *testing.T) {
	const id = "01JD3Q4Z8X6V2N0K5T7W9YB1CM"
	started := EnvironmentFacts{Name: "prod", Kind: "hybrid", Identity: map[string]map[string]string{
		"entra": {"tenant_id": "0e1f2a3b-0000-4000-8000-000000000001", "graph_url": "https://graph.microsoft.com/v1.0"},
		"ad":    {"url": "ldaps://dc1.contoso.test:636", "base_dn": "DC=contoso,DC=test"},
	}}
	with := func(f func(*EnvironmentFacts)) EnvironmentFacts {
		e := started
		e.Identity = map[string]map[string]string{}
		for b, m := range started.Identity {
			e.Identity[b] = maps.Clone(m)
		}
		f(&e)
		return e
	}
	for _, tc := range []struct {
		name string
		now  EnvironmentFacts
		want string
	}{
		{name: "the same environment passes", now: started},
		{name: "case and a trailing slash do not count", now: with(func(e *EnvironmentFacts) {
			e.Identity["entra"]["graph_url"] = "https://GRAPH.microsoft.com/v1.0/"
			e.Identity["ad"]["base_dn"] = "dc=contoso,dc=test"
		})},
		{name: "another tenant with the same name", now: with(func(e *EnvironmentFacts) {
			e.Identity["entra"]["tenant_id"] = "0e1f2a3b-0000-4000-8000-000000000002"
		}), want: "run " + id + " was against entra tenant_id 0e1f2a3b-0000-4000-8000-000000000001, now 0e1f2a3b-0000-4000-8000-000000000002: resume acts only where the run started, with the environment file it used"},
		{name: "another domain and directory server", now: with(func(e *EnvironmentFacts) {
			e.Identity["ad"]["base_dn"] = "DC=fabrikam,DC=test"
			e.Identity["ad"]["url"] = "ldaps://dc1.fabrikam.test:636"
		}), want: "run " + id + " was against ad base_dn DC=contoso,DC=test, now DC=fabrikam,DC=test; ad url ldaps://dc1.contoso.test:636, now ldaps://dc1.fabrikam.test:636: resume acts only where the run started, with the environment file it used"},
		{name: "another name and kind, one backend fewer", now: with(func(e *EnvironmentFacts) {
			e.Name, e.Kind = "test", "cloud"
			delete(e.Identity, "ad")
		}), want: "run " + id + " was against environment prod, not test; a hybrid environment, not cloud; ad was part of it (it is not now): resume acts only where the run started, with the environment file it used"},
		{name: "a field recorded on one side only", now: with(func(e *EnvironmentFacts) {
			delete(e.Identity["entra"], "graph_url")
		}), want: "run " + id + " was against entra graph_url https://graph.microsoft.com/v1.0, now (none): resume acts only where the run started, with the environment file it used"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := SameEnvironment(id, started, tc.now)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want || steps.ClassOf(err) != steps.Invalid) {
				t.Errorf("SameEnvironment: %v\nwant %q", err, tc.want)
			}
		})
	}
}

// Only fields marked Identity are collected, never a secret, and only for
// the sections the environment has.
func TestEnvironmentIdentity(t *testing.T) {
	reg := steps.NewRegistry()
	open := func(context.Context, *steps.Env) (steps.Conn, error) { return nil, nil }
	reg.RegisterBackend(steps.BackendSpec{Name: "dir", Kinds: []string{"hybrid"}, Open: open, Fields: []steps.Param{
		{Name: "url", Type: steps.String, Identity: true, Description: "d"},
		{Name: "base", Type: steps.String, Identity: true, Description: "d"},
		{Name: "timeout", Type: steps.Duration, Description: "d"},
		{Name: "password", Type: steps.String, Secret: true, Identity: true, Description: "d"},
	}})
	reg.RegisterBackend(steps.BackendSpec{Name: "absent", Kinds: []string{"hybrid"}, Open: open, Fields: []steps.Param{
		{Name: "url", Type: steps.String, Identity: true, Description: "d"},
	}})
	env := &Environment{Sections: map[string]steps.Values{
		"dir": {"url": "ldaps://dc1:636", "base": "", "timeout": "30s", "password_env": "PW"},
	}}
	got := EnvironmentIdentity(reg, env)
	want := map[string]map[string]string{"dir": {"url": "ldaps://dc1:636"}}
	if len(got) != 1 || !maps.Equal(got["dir"], want["dir"]) {
		t.Errorf("EnvironmentIdentity = %v, want %v", got, want)
	}
	// What policies see: every field of a present section but the secret,
	// whose reference (password_env) is left out too.
	env.Sections["dir"]["timeout"] = 30 * time.Second
	backends := EnvironmentBackends(reg, env)
	wantBackends := map[string]map[string]any{"dir": {"url": "ldaps://dc1:636", "base": "", "timeout": "30s"}}
	if !reflect.DeepEqual(backends, wantBackends) {
		t.Errorf("EnvironmentBackends = %v, want %v", backends, wantBackends)
	}
}
