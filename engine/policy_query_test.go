package engine

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestPrepareQuery: a query prepared against the policies sees their
// rules but not their tests' (a test's helper must never change a
// decision), and is bounded by the policy's time limit.
func TestPrepareQuery(t *testing.T) {
	p, lints := CompilePolicies([]PolicySource{
		{File: "a.rego", Data: []byte("package revoke.extra\n\nanswer := input.x * 2\n")},
		{File: "a_test.rego", Data: []byte("package revoke.extra\n\nhelper := 1\n\ntest_answer if answer == 4 with input as {\"x\": 2}\n")},
		{File: "slow.rego", Data: []byte("package revoke.slow\n\nn := count([x | some x in numbers.range(1, 100000000)])\n")},
	})
	if len(lints) > 0 {
		t.Fatal(lints)
	}
	q, err := p.PrepareQuery(context.Background(), `answer := [x | x := data.revoke.extra.answer]; helper := [x | x := data.revoke.extra.helper]`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := q.Eval(context.Background(), map[string]any{"x": 21})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"answer": []any{json.Number("42")}, "helper": []any{}}; !reflect.DeepEqual(got, want) {
		t.Errorf("bindings %#v, want %#v", got, want)
	}
	p.Timeout = 50 * time.Millisecond
	slow, err := p.PrepareQuery(context.Background(), `n := [x | x := data.revoke.slow.n]`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = slow.Eval(context.Background(), map[string]any{})
	var pe *PolicyError
	if !errors.As(err, &pe) || pe.Message != "policy evaluation took longer than 50ms: a rule iterates over too much" {
		t.Errorf("slow query: %v", err)
	}
}
