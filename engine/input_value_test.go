package engine

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/revoke-dev/revoke/steps"
)

// Decisions are made on inputValue, the contract is written as
// policyInput: the two must be the same value for every kind of input, or
// a plan would decide on something other than what the docs and
// PolicyInput show.
func TestInputValueIsPolicyInput(t *testing.T) {
	type port uint16
	at := time.Date(2026, 12, 7, 3, 4, 5, 600, time.FixedZone("CET", 3600))
	odd := &steps.Subject{Ref: "odd@contoso.com", Gaps: []string{"ad: not asked"}, Facts: map[string]map[string]any{
		"entra": {
			"int8": int8(-3), "uint": uint(7), "port": port(636), "float32": float32(1.5), "float": 2.25,
			"big": uint64(1 << 63), "number": json.Number("12.50"), "text": "12", "null": nil, "func": func() {}, "grace": 90 * time.Second, "seen": at,
			"strings": []string{"a", "b"}, "none": []string{}, "maps": []map[string]any{{"id": "r1", "n": 1}},
			"nested": map[string]any{"list": []any{1, "x", true, nil, map[string]any{"d": time.Minute}}},
			"values": steps.Values{"times": 2}, "labels": map[string]string{"k": "v"},
			"struct": struct {
				A int    `json:"a"`
				B string `json:"b,omitempty"`
			}{A: 1},
		},
		"ad":        {"disabled": false, "memberOf": []string{"CN=Sales,OU=Groups,DC=contoso,DC=com"}},
		"ref":       {"shadow": "a backend named ref cannot replace subject.ref"},
		"protected": {"shadow": true},
		"empty":     nil,
	}}
	custom := &Runbook{Name: "custom"} // no scenario, no steps
	tests := []struct {
		name      string
		rb        *Runbook
		env       EnvironmentFacts
		subject   *steps.Subject
		req       Request
		protected []string
	}{
		{name: "a synced subject and the test runbook", rb: policyTestRunbook(t), env: contosoFacts,
			subject: syncedSubject(), req: Request{RequestedBy: "soc", Reason: "INC-1"}},
		{name: "no subject, a runbook without scenario or steps", rb: custom, env: EnvironmentFacts{Name: "e", Kind: "cloud"}},
		{name: "a subject found nowhere", rb: custom, subject: &steps.Subject{Ref: "nobody"}},
		{name: "facts of every Go type a backend may hold", rb: policyTestRunbook(t), subject: odd,
			env: EnvironmentFacts{Name: "contoso", Kind: "hybrid", Protected: []string{"bg@contoso.com"},
				Backends: map[string]map[string]any{
					"ad":    {"leavers_ou": "OU=Leavers,DC=contoso,DC=com", "timeout": 30 * time.Second},
					"entra": {"tenant_id": "t1"},
				}},
			req:       Request{RequestedBy: "a", Reason: "b", Ticket: "T-1", ApprovedBy: "ciso", AllowProtected: true},
			protected: []string{"holds the Global Administrator role"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := ast.InterfaceToValue(policyInput(tt.rb, tt.env, tt.subject, tt.req, tt.protected))
			if err != nil {
				t.Fatal(err)
			}
			got, err := inputValue(mustRunbookValue(t, tt.rb), tt.env, tt.subject, tt.req, tt.protected)
			if err != nil {
				t.Fatal(err)
			}
			if got.Compare(want) != 0 {
				t.Errorf("inputValue:\n%v\npolicyInput:\n%v", got, want)
			}
		})
	}
}

func mustRunbookValue(tb testing.TB, rb *Runbook) ast.Object {
	tb.Helper()
	v, err := runbookValue(rb)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// Keys are shared, but never more than maxInputKeys of them, and a key
// past the bound is still the right term.
func TestInputKeysAreBounded(t *testing.T) {
	shared := inputKey("subject") // kept before the bound is reached, if not already
	for i := range maxInputKeys + 100 {
		k := fmt.Sprintf("bound-test-key-%d", i)
		if got := inputKey(k); got.Value.Compare(ast.String(k)) != 0 {
			t.Fatalf("inputKey(%q) = %v", k, got)
		}
	}
	if n := inputKeysCount.Load(); n > maxInputKeys {
		t.Errorf("%d keys kept, want at most %d", n, maxInputKeys)
	}
	if inputKey("subject") != shared {
		t.Error("a key kept before the bound is not shared after it")
	}
}
