package engine

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRecognize(t *testing.T) {
	tests := []struct {
		name, path, data string
		want             FileKind
	}{
		{"a rego file is a policy", "policies/deny.rego", "package revoke\n", KindPolicy},
		{"a _test.rego file is a policy test", "policies/deny_test.rego", "package revoke\n", KindPolicyTest},
		{"a _test.yaml file is a runbook test, whatever it holds", "runbooks/compromised_test.yaml", "steps: []\n", KindRunbookTest},
		{"a _test.yml file too", "x_test.yml", "", KindRunbookTest},
		{"top-level steps make a runbook", "a.yaml", "version: 1\nname: a\nsteps: []\n", KindRunbook},
		{"in a file named anything", "a.txt", "steps: []\n", KindRunbook},
		{"kind hybrid makes an environment", "prod.yaml", "version: 1\nkind: hybrid\n", KindEnvironment},
		{"kind cloud in JSON too", "prod.json", `{"version": 1, "kind": "cloud"}`, KindEnvironment},
		{"steps win over kind", "a.yml", "kind: cloud\nsteps: []\n", KindRunbook},
		{"any top-level kind makes an environment, whose decoder refuses a bad one", "e.yaml", "kind: on-prem-only\n", KindEnvironment},
		{"a kind beside apiVersion is a Kubernetes manifest", "k8s.yaml", "apiVersion: apps/v1\nkind: Deployment\n", KindUnknown},
		{"even when it does not parse", "k8s.yaml", "apiVersion: v1\nkind: Pod\nspec: [\n", KindUnknown},
		{"a UTF-16 runbook is recognised", "u.yaml", "\xff\xfes\x00t\x00e\x00p\x00s\x00:\x00 \x00[\x00]\x00\n\x00", KindRunbook},
		{"steps below the top level do not count", "ci.yaml", "jobs:\n  build:\n    steps: []\n", KindUnknown},
		{"other YAML is unknown", "x.yaml", "a: 1\n", KindUnknown},
		{"an empty file is unknown", "x.yaml", "", KindUnknown},
		{"a runbook with a syntax error is still a runbook", "a.yaml", "version: 1\nsteps:\n\t- id: a\n", KindRunbook},
		{"an environment with a syntax error is still an environment", "e.yaml", "kind: 'hybrid' # prod\nentra: [\n", KindEnvironment},
		{"a broken file of no known shape is unknown", "x.yaml", "a: [\n", KindUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Recognize(tt.path, []byte(tt.data)); got != tt.want {
				t.Errorf("Recognize(%q) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

func TestFileKindString(t *testing.T) {
	got := []string{KindUnknown.String(), KindRunbook.String(), KindEnvironment.String(),
		KindRunbookTest.String(), KindPolicy.String(), KindPolicyTest.String()}
	want := []string{"unknown", "runbook", "environment", "runbook test", "policy", "policy test"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestCollectFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{
		"runbooks/b.yaml", "runbooks/a.yml", "runbooks/nested/c.yaml", "runbooks/README.md",
		"runbooks/.hidden.yaml", "runbooks/.git/config.yaml", "runbooks/testdata/broken.yaml",
		"policies/p.rego", "policies/p_test.rego", "facts.json", "notes.txt",
	} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := func(f string) string { return filepath.Join(dir, f) }
	if err := os.Symlink(in("policies"), in("linked")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		paths []string
		want  []string
	}{
		{"a directory expands recursively and sorted, skipping hidden files, hidden dirs and testdata",
			[]string{in("runbooks")},
			[]string{in("runbooks/a.yml"), in("runbooks/b.yaml"), in("runbooks/nested/c.yaml")}},
		{"files are kept as given, in the order given, whatever their extension",
			[]string{in("notes.txt"), in("runbooks/testdata/broken.yaml"), in("facts.json")},
			[]string{in("notes.txt"), in("runbooks/testdata/broken.yaml"), in("facts.json")}},
		{"a testdata directory given explicitly is walked",
			[]string{in("runbooks/testdata")}, []string{in("runbooks/testdata/broken.yaml")}},
		{"each file appears once",
			[]string{in("policies/p.rego"), in("policies"), in("policies/../policies/p_test.rego")},
			[]string{in("policies/p.rego"), in("policies/p_test.rego")}},
		{"a link to a directory is followed",
			[]string{in("linked")}, []string{in("linked/p.rego"), in("linked/p_test.rego")}},
		{"the root picks up .json files, and links to directories are not followed inside it",
			[]string{dir},
			[]string{in("facts.json"), in("policies/p.rego"), in("policies/p_test.rego"),
				in("runbooks/a.yml"), in("runbooks/b.yaml"), in("runbooks/nested/c.yaml")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CollectFiles(tt.paths)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CollectFiles = %q, %v\nwant %q", got, err, tt.want)
			}
		})
	}
	missing := in("nope")
	if got, err := CollectFiles([]string{in("facts.json"), missing}); err == nil || got != nil ||
		err.Error() != "stat "+missing+": no such file or directory" {
		t.Errorf("CollectFiles(missing) = %q, %v; want the stat error", got, err)
	}
}

// A policy over the limit used to be cut at 1 MiB, its last rules lost
// without a word; now it is an error naming the file and the limit, and
// nothing of it is compiled.
func TestLoadRefusesAFileOverTheLimit(t *testing.T) {
	dir := t.TempDir()
	rule := "warn contains \"kept\"\n"
	pkg := "package revoke\n\n"
	pad := strings.Repeat("#", MaxFileSize+1-len(pkg)-len(rule)-1) + "\n"
	big := filepath.Join(dir, "big.rego")
	if err := os.WriteFile(big, []byte(pkg+pad+rule), 0o600); err != nil {
		t.Fatal(err)
	}
	_, lints, err := Load(specMirrorRegistry(), []string{big}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkLints(t, lints, []string{big + ": error: " + big + " is larger than the 1 MiB limit"})
}
