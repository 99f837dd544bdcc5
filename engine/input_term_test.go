package engine

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/revoke-dev/revoke/steps"
)

// jsonTerm hands back OPA's interned terms for the commonest facts
// (booleans, the empty string, small ints, empty lists) and must still
// make of every value exactly what OPA's own conversion makes, the ints
// outside OPA's interned range included.
func TestJSONTermIsOPAsConversion(t *testing.T) {
	tests := []struct {
		name   string
		v      any
		allocs float64 // most allocations one conversion may make
	}{
		{"true", true, 0},
		{"false", false, 0},
		{"the empty string", "", 0},
		{"an interned int", 512, 0},
		{"zero", 0, 0},
		{"an empty list of strings", []string{}, 0},
		{"a nil list of strings", []string(nil), 0},
		{"an int above the interned range", 100000, 3},
		{"a negative int below it", -1000, 3},
		{"an int64", int64(7), 3},
		{"a string", "adele", 2},
		{"facts", map[string]any{"enabled": true, "uac": 512, "groups": []string{}, "mail": ""}, 20},
		{"values", steps.Values{"times": 2}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := ast.InterfaceToValue(plainJSON(tt.v))
			if err != nil {
				t.Fatal(err)
			}
			got, err := jsonTerm(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if got.Value.Compare(want) != 0 {
				t.Fatalf("jsonTerm(%#v) = %v, want %v", tt.v, got, want)
			}
			if n := testing.AllocsPerRun(100, func() { _, _ = jsonTerm(tt.v) }); n > tt.allocs {
				t.Errorf("jsonTerm(%#v) made %v allocations, want at most %v", tt.v, n, tt.allocs)
			}
		})
	}
}

// TestInputTermsShareABlock: the subject's terms come from one block, not
// one allocation each. A synced hybrid subject's part of the input (its
// two backends' facts, ref, gaps and protection; the runbook, environment
// and request parts come built) took 53 allocations with a term apiece;
// the block takes 43, and its terms are the same values
// (TestInputValueIsPolicyInput).
func TestInputTermsShareABlock(t *testing.T) {
	rb, err := runbookValue(policyTestRunbook(t))
	if err != nil {
		t.Fatal(err)
	}
	env, err := environmentTerm(contosoFacts)
	if err != nil {
		t.Fatal(err)
	}
	subject := syncedSubject()
	request := requestTerm(Request{RequestedBy: "soc-oncall", Reason: "INC-4711"})
	n := testing.AllocsPerRun(100, func() {
		if _, err := inputValueWith(rb, env, request, subject, nil); err != nil {
			t.Fatal(err)
		}
	})
	if n > 43 {
		t.Errorf("building a synced subject's input made %v allocations, want at most 43", n)
	}
}
