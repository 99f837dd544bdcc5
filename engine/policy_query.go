package engine

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Query is a Rego query prepared against a Policy's modules, for a
// decision other than the runbook's (revoke serve's data.revoke.authz):
// it is compiled as decisions are, without the test modules and with the
// same capabilities (no network, no host state, nothing
// non-deterministic), and evaluated within the Policy's time limit.
type Query struct {
	p *Policy
	q rego.PreparedEvalQuery
}

// PrepareQuery compiles query (which must give exactly one result: wrap a
// rule that may be undefined in a comprehension) against the policy's
// modules.
func (p *Policy) PrepareQuery(ctx context.Context, query string) (*Query, error) {
	decide := make(map[string]*ast.Module, len(p.modules))
	for file, mod := range p.modules {
		if !IsPolicyTest(file) {
			decide[file] = mod
		}
	}
	c := newPolicyCompiler()
	c.Compile(decide)
	if c.Failed() {
		// CompilePolicies compiled these very modules already.
		return nil, fmt.Errorf("compile policies for %s: %v", query, c.Errors)
	}
	q, err := prepare(ctx, c, query)
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", query, err)
	}
	return &Query{p: p, q: q}, nil
}

// Eval evaluates the query on input (plain JSON values) and returns its
// one result's bindings. An error locates the policy's problem when it
// can (*PolicyError).
func (q *Query) Eval(ctx context.Context, input map[string]any) (map[string]any, error) {
	v, err := ast.InterfaceToValue(input)
	if err != nil {
		return nil, inputError(err)
	}
	vars, err := q.p.eval(ctx, q.q, v)
	if err != nil {
		return nil, err
	}
	return vars, nil
}
