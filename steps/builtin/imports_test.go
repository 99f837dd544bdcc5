package builtin

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/revoke-dev/revoke"

// imports maps every Go file of the module (tests included: a test that
// reaches into another plugin couples them as much as code does), by its
// path from the module root, to the module packages it imports.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	out := map[string][]string{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		out[rel] = []string{}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			out[rel] = append(out[rel], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// plugin is the backend folder a module package belongs to (steps/entra
// for steps/entra/entraspec), or "" for a package that is no plugin.
func plugin(pkg string) string {
	rest, ok := strings.CutPrefix(pkg, "steps/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	if name == "builtin" {
		return ""
	}
	return "steps/" + name
}

// TestImportDirections enforces the arrows docs/design.md draws: the
// engine and the plugin API know no backend, backends know only the
// plugin API (never each other, never the engine), the sandbox imports
// neither engine nor steps, and only steps/entra links the Graph SDK.
// Test files may reach further (a backend's tests start the sandbox)
// except across backends.
func TestImportDirections(t *testing.T) {
	files := imports(t)
	if len(files) < 50 {
		t.Fatalf("read %d Go files: the walk did not reach the module", len(files))
	}
	for file, imps := range files {
		dir := filepath.ToSlash(filepath.Dir(file))
		test := strings.HasSuffix(file, "_test.go")
		for _, imp := range imps {
			// The sandbox's tests drive it with the SDK as a client nobody
			// here wrote; only production code is bound.
			if strings.HasPrefix(imp, "github.com/microsoftgraph/") && plugin(dir) != "steps/entra" && !test {
				t.Errorf("%s imports %s: only steps/entra links the Graph SDK", file, imp)
			}
			pkg, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			switch {
			case dir == "engine" || dir == "steps":
				// The engine's tests check it against the shipped specs.
				if !test && (plugin(pkg) != "" || pkg == "steps/builtin" || pkg == "sandbox" || strings.HasPrefix(pkg, "cmd/")) {
					t.Errorf("%s imports %s: the engine and the plugin API import no backend", file, imp)
				}
			case plugin(dir) != "":
				if p := plugin(pkg); p != "" && p != plugin(dir) {
					t.Errorf("%s imports %s: backends do not import each other", file, imp)
				}
				// A backend's tests may load an environment (engine) or
				// start the sandbox; its code depends on the plugin API
				// alone.
				if !test && (pkg == "engine" || pkg == "sandbox" || pkg == "steps/builtin" || strings.HasPrefix(pkg, "cmd/")) {
					t.Errorf("%s imports %s: a backend depends on the plugin API alone", file, imp)
				}
			case dir == "sandbox" || strings.HasPrefix(dir, "sandbox/"):
				if pkg == "engine" || pkg == "steps" || strings.HasPrefix(pkg, "steps/") || strings.HasPrefix(pkg, "cmd/") {
					t.Errorf("%s imports %s: the sandbox imports neither engine nor steps, so it cannot cheat", file, imp)
				}
			}
		}
	}
}

func TestPlugin(t *testing.T) {
	tests := []struct{ pkg, want string }{
		{"steps", ""},
		{"steps/builtin", ""},
		{"steps/ad", "steps/ad"},
		{"steps/entra/entraspec", "steps/entra"},
		{"engine", ""},
		{"stepsx/a", ""},
	}
	for _, tc := range tests {
		if got := plugin(tc.pkg); got != tc.want {
			t.Errorf("plugin(%q) = %q, want %q", tc.pkg, got, tc.want)
		}
	}
}
