package engine

import (
	"sync/atomic"
	"testing"
	"time"
)

// The environment's part of the input is built once and reused while the
// environment is unchanged; an environment changed in place (its lists
// and sections are shared maps and slices) or a different one is built
// again, and one whose sections hold values that cannot be compared
// exactly is never cached.
func TestEnvironmentTermFollowsTheEnvironment(t *testing.T) {
	protected := []string{"bg@contoso.com"}
	ad := map[string]any{"leavers_ou": "OU=Leavers,DC=contoso,DC=com", "timeout": 30 * time.Second, "apps": []string{"a"}}
	env := EnvironmentFacts{Name: "contoso", Kind: "hybrid", Protected: protected,
		Backends: map[string]map[string]any{"ad": ad}}
	var c atomic.Pointer[environmentCache]
	cases := []struct {
		name   string
		change func()
		reused bool // the cached term is handed back
		cached bool // a term is remembered afterwards
	}{
		{"the first decision builds it", func() {}, false, true},
		{"unchanged, it is reused", func() {}, true, true},
		{"a protected entry changed in place", func() { protected[0] = "other@contoso.com" }, false, true},
		{"a backend field changed in place", func() { ad["leavers_ou"] = "OU=Gone,DC=contoso,DC=com" }, false, true},
		{"a field's list changed in place", func() { ad["apps"].([]string)[0] = "b" }, false, true},
		{"a field of another type, same text", func() { ad["timeout"] = int64(30 * time.Second) }, false, true},
		{"a field added", func() { ad["extra"] = true }, false, true},
		{"another backend", func() { env.Backends["entra"] = map[string]any{"tenant_id": "t1"} }, false, true},
		{"another kind", func() { env.Kind = "cloud" }, false, true},
		{"a field that is a map is never cached", func() { ad["nested"] = map[string]any{"k": "v"} }, false, false},
	}
	var last *environmentCache
	for _, s := range cases {
		s.change()
		got, err := cachedEnvironmentTerm(&c, env)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		want, err := environmentTerm(env)
		if err != nil {
			t.Fatal(err)
		}
		if got.Value.Compare(want.Value) != 0 {
			t.Errorf("%s: got %v, want %v", s.name, got, want)
		}
		if reused := last != nil && got == last.value; reused != s.reused {
			t.Errorf("%s: reused %v, want %v", s.name, reused, s.reused)
		}
		now := c.Load()
		if cached := now != nil && now.value == got; cached != s.cached {
			t.Errorf("%s: cached %v, want %v", s.name, cached, s.cached)
		}
		last = now
	}
}
