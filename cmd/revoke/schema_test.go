package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// compileSchema compiles `revoke schema`'s output with a JSON Schema library.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	stdout, stderr, code := runCLI(t, "schema")
	if code != 0 {
		t.Fatalf("schema: exit %d: %s", code, stderr)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("runbook.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("runbook.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// yamlInstance turns YAML into the JSON values a schema validates.
func yamlInstance(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func TestSchemaAcceptsShippedRunbooks(t *testing.T) {
	sch := compileSchema(t)
	files, _ := filepath.Glob(repo + "/runbooks/*.yaml")
	examples, _ := filepath.Glob(repo + "/examples/runbooks/*.yaml")
	files = append(files, examples...)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.yaml") {
			continue
		}
		n++
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(yamlInstance(t, data)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if n < 2 {
		t.Fatalf("found %d runbooks, want the two built-ins at least", n)
	}
}

func TestSchemaRejects(t *testing.T) {
	sch := compileSchema(t)
	tests := []struct {
		name, runbook, want string
	}{
		{"an unknown parameter", `
version: 1
name: x
steps:
  - {id: a, uses: ad.reset_password, with: {times: 2, colour: red}}
`, "colour"},
		{"a parameter out of range", `
version: 1
name: x
steps:
  - {id: a, uses: ad.reset_password, with: {times: 9}}
`, "maximum"},
		{"an unknown step", `
version: 1
name: x
steps:
  - {id: a, uses: ad.nope}
`, "uses"},
		{"an unknown key", `
version: 1
name: x
steps:
  - {id: a, uses: ad.disable_account, when: always}
`, "when"},
		{"a bad on_error", `
version: 1
name: x
steps:
  - {id: a, uses: ad.disable_account, on_error: ignore}
`, "on_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sch.Validate(yamlInstance(t, []byte(tt.runbook)))
			if err == nil {
				t.Fatal("schema accepted it")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}
