package runbooks_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/runbooks"
)

// Every built-in runbook has a test file beside it, and every test file
// decodes and names a built-in runbook. Running them needs the step specs
// and is done in the engine's tests.
func TestEveryRunbookHasTests(t *testing.T) {
	names, err := fs.Glob(runbooks.FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	runbookNames := map[string]bool{}
	for _, n := range names {
		if !strings.HasSuffix(n, "_test.yaml") {
			runbookNames[strings.TrimSuffix(n, ".yaml")] = true
		}
	}
	if !runbookNames["termination"] || !runbookNames["compromised"] {
		t.Fatalf("embedded runbooks %v, want termination and compromised", names)
	}
	for rb := range runbookNames {
		file := rb + "_test.yaml"
		data, err := fs.ReadFile(runbooks.FS, file)
		if err != nil {
			t.Errorf("runbook %s has no %s: %v", rb, file, err)
			continue
		}
		cases, lints := engine.DecodeRunbookTests(file, data)
		if len(lints) > 0 {
			t.Errorf("%s: %v", file, lints)
		}
		if len(cases) == 0 {
			t.Errorf("%s holds no cases", file)
		}
		for _, c := range cases {
			if c.Runbook != rb {
				t.Errorf("%s:%d: case %q tests runbook %q; keep a runbook's cases in its own file", file, c.Line, c.Name, c.Runbook)
			}
		}
	}
}
