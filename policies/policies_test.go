package policies_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/policies"
)

// Every shipped module has its tests, and they pass when compiled together
// as the engine compiles them.
func TestEmbeddedPoliciesAndTheirTests(t *testing.T) {
	names, err := fs.Glob(policies.FS, "*.rego")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	for _, want := range []string{"skip_backend", "synced", "passwords", "guests", "lint", "authz"} {
		if !have[want+".rego"] || !have[want+"_test.rego"] {
			t.Errorf("%s.rego and %s_test.rego must both be embedded (have %v)", want, want, names)
		}
	}
	for _, n := range names {
		if !strings.HasSuffix(n, "_test.rego") && !have[strings.TrimSuffix(n, ".rego")+"_test.rego"] {
			t.Errorf("%s has no tests", n)
		}
	}
	p, lints := engine.CompilePolicies(engine.BuiltinPolicies())
	if len(lints) > 0 {
		t.Fatalf("compile: %v", lints)
	}
	passed, failed, lints := p.Test(context.Background())
	if failed > 0 || len(lints) > 0 || passed == 0 {
		t.Errorf("%d passed, %d failed: %v", passed, failed, lints)
	}
}

// The shipped policies are what `opa fmt` would write, so users who copy
// them start from the canonical layout.
func TestEmbeddedPoliciesAreFormatted(t *testing.T) {
	names, err := fs.Glob(policies.FS, "*.rego")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		src, err := fs.ReadFile(policies.FS, n)
		if err != nil {
			t.Fatal(err)
		}
		out, err := format.SourceWithOpts(n, src, format.Opts{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if string(out) != string(src) {
			t.Errorf("%s is not formatted as opa fmt would:\n%s", n, out)
		}
	}
}
