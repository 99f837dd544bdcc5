package engine

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/revoke-dev/revoke/steps"
)

// optionalRegistry has a required backend "dir" and an optional one
// "tickets", both in hybrid environments; opens counts the optional one's.
func optionalRegistry(opens *atomic.Int32) *steps.Registry {
	r := steps.NewRegistry()
	r.RegisterBackend(steps.BackendSpec{Name: "dir", Summary: "a directory", Kinds: []string{"hybrid"},
		Open: func(context.Context, *steps.Env) (steps.Conn, error) { return &stubConn{}, nil }})
	r.RegisterBackend(steps.BackendSpec{Name: "tickets", Summary: "a ticketing system", Kinds: []string{"hybrid"}, Optional: true,
		Fields: []steps.Param{{Name: "url", Type: steps.String, Required: true, Description: "where"}},
		Open:   func(context.Context, *steps.Env) (steps.Conn, error) { opens.Add(1); return &stubConn{}, nil }})
	return r
}

func TestOptionalBackend(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		lints []string
		opens int32
	}{
		{"without its section the environment is complete and it is not opened",
			"version: 1\nname: e\nkind: hybrid\ndir: {}\n", nil, 0},
		{"with it, it is checked and opened",
			"version: 1\nname: e\nkind: hybrid\ndir: {}\ntickets: {url: https://x.example}\n", nil, 1},
		{"with it, its own fields are still required",
			"version: 1\nname: e\nkind: hybrid\ndir: {}\ntickets: {}\n",
			[]string{`env.yaml:5:1: error: tickets section needs parameter "url"`}, 0},
		{"a required backend's section is still required",
			"version: 1\nname: e\nkind: hybrid\n",
			[]string{"env.yaml:1:1: error: missing dir section (a hybrid environment needs one)"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opens atomic.Int32
			reg := optionalRegistry(&opens)
			env, lints := DecodeEnvironment("env.yaml", []byte(tt.yaml), reg)
			var got []string
			for _, l := range lints {
				got = append(got, l.String())
			}
			if len(got) != len(tt.lints) || (len(got) > 0 && got[0] != tt.lints[0]) {
				t.Fatalf("lints = %q, want %q", got, tt.lints)
			}
			if len(got) > 0 {
				return
			}
			conns, err := Connect(t.Context(), reg, env, nil)
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			defer conns.Close()
			if opens.Load() != tt.opens || (conns["tickets"] != nil) != (tt.opens == 1) || conns["dir"] == nil {
				t.Errorf("opens %d, conns %v; want %d opens", opens.Load(), conns, tt.opens)
			}
		})
	}
}

// A reference found nowhere names the backends that keep people, not a
// ticketing backend that never knows anyone.
func TestNotFoundNamesDirectoriesOnly(t *testing.T) {
	reg := steps.NewRegistry()
	open := func(context.Context, *steps.Env) (steps.Conn, error) { return &stubConn{}, nil }
	reg.RegisterBackend(steps.BackendSpec{Name: "dir", Summary: "a directory", Kinds: []string{"hybrid"}, Open: open,
		Identify: func(map[string]any) steps.Identity { return steps.Identity{} }})
	reg.RegisterBackend(steps.BackendSpec{Name: "tickets", Summary: "tickets", Kinds: []string{"hybrid"}, Optional: true, Open: open})
	tests := []struct {
		name  string
		reg   *steps.Registry
		conns Conns
		where string
	}{
		{"a directory and a ticketing backend", reg, Conns{"dir": &stubConn{}, "tickets": &stubConn{}}, "dir"},
		{"no backend declares Identify: all of them", reg, Conns{"tickets": &stubConn{}}, "tickets"},
		{"no registry: all of them", nil, Conns{"dir": &stubConn{}, "tickets": &stubConn{}}, "dir or tickets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.conns.Resolve(t.Context(), tt.reg, "nobody@contoso.test")
			want := "nobody@contoso.test was not found in " + tt.where + ": check the reference (UPN, object id, sAMAccountName, DOMAIN\\user, DN or SID)"
			if steps.ClassOf(err) != steps.NotFound || err.Error() != want {
				t.Errorf("Resolve: %v\nwant %s", err, want)
			}
		})
	}
}
