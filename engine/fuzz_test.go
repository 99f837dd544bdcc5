package engine

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// fuzzSeeds adds the samples in testdata/decode matching pattern and a few
// broken files to the seed corpus. Inputs the fuzzer found are kept in
// testdata/fuzz/<Target> and replayed by `go test`.
func fuzzSeeds(f *testing.F, pattern string) {
	paths, err := filepath.Glob(filepath.Join("testdata/decode", pattern))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed samples for %s: %v", pattern, err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"", "---\n", "a: 1\n---\nb: 2\n", "version: 1\n\tname: x\n", "a: &x [*x]\n", "version: *v\n",
		"- 1\n", "version: 99999999999999999999\n", "version: 1\nname: a\nsteps:\n  - {id: a, needs: [a, b]}\n",
		"? [a]\n: b\n", "version: !!int x\n", "steps: [{with: {times: 1.5}, retry: {attempts: -1}}]\n",
		"\xff\xfe\x00", "kind: hybrid\nad: {bind_password: x, bind_password_env: '', url: 'ldap://%zz'}\n",
	} {
		f.Add([]byte(s))
	}
}

// checkLintShape is the property both decoders keep on any input.
func checkLintShape(t *testing.T, file string, lints Lints) {
	t.Helper()
	for _, l := range lints {
		if l.File != file || l.Line < 0 || l.Column < 0 || l.Code == "" || l.Message == "" ||
			(l.Level != Error && l.Level != Warning) {
			t.Fatalf("malformed lint %#v", l)
		}
	}
}

func FuzzDecodeRunbook(f *testing.F) {
	fuzzSeeds(f, "runbook-*.yaml")
	reg := testRegistry(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		rb, lints := DecodeRunbook("fuzz.yaml", data, reg)
		checkLintShape(t, "fuzz.yaml", lints)
		if rb == nil || rb.File != "fuzz.yaml" || len(rb.Digest) != 64 {
			t.Fatalf("runbook %+v", rb)
		}
		if _, again := DecodeRunbook("fuzz.yaml", data, reg); !reflect.DeepEqual(lints, again) {
			t.Fatalf("decoding twice gave %v, then %v", lints, again)
		}
		if lints.Errors() > 0 {
			return
		}
		// A runbook without errors is complete.
		if rb.Version != 1 || !identRE.MatchString(rb.Name) || !identRE.MatchString(rb.Scenario) || len(rb.Steps) == 0 {
			t.Fatalf("valid runbook with a bad header: %+v", rb)
		}
		for _, s := range rb.Steps {
			if !identRE.MatchString(s.ID) || s.Spec == nil || s.Spec.Name != s.Uses || s.Timeout <= 0 ||
				s.Retry.Attempts < 1 || s.Retry.MaxWait <= 0 || !slices.Contains([]OnError{Block, Continue, Abort}, s.OnError) {
				t.Fatalf("valid runbook with a bad step: %+v", s)
			}
			for _, p := range s.Spec.Params {
				if _, ok := s.With[p.Name]; !ok && p.Default != nil {
					t.Fatalf("step %s: default of %s not filled", s.ID, p.Name)
				}
			}
		}
	})
}

func FuzzDecodeEnvironment(f *testing.F) {
	fuzzSeeds(f, "env-*.yaml")
	reg := testRegistry(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		env, lints := DecodeEnvironment("fuzz.yaml", data, reg)
		checkLintShape(t, "fuzz.yaml", lints)
		if env == nil || env.File != "fuzz.yaml" || env.Sections == nil {
			t.Fatalf("environment %+v", env)
		}
		if lints.Errors() > 0 {
			return
		}
		if env.Version != 1 || !identRE.MatchString(env.Name) || env.Sections["entra"] == nil ||
			(env.Kind == "hybrid") != (env.Sections["ad"] != nil) {
			t.Fatalf("valid environment is incomplete: %+v", env)
		}
		for name, section := range env.Sections {
			if _, literal := section["bind_password"]; literal {
				t.Fatalf("section %s holds a literal secret", name)
			}
		}
		if Recognize("fuzz.yaml", data) != KindEnvironment {
			t.Fatalf("a valid environment is not recognised as one")
		}
	})
}
