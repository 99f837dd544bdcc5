package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/revoke-dev/revoke/sandbox"
)

// TestNoGeneratedPasswordLeaks runs compromised on a synced user (two AD
// resets) and on a cloud-only one (two Entra resets), then looks for the
// passwords the tenant now holds in everything revoke wrote: stdout,
// stderr, debug-level slog output, every file under the environment's
// folder (journals included), and the sandbox's request log.
func TestNoGeneratedPasswordLeaks(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	var logs bytes.Buffer
	var outputs []string
	for _, user := range []string{"adele@contoso.test", "diego@contoso.test"} {
		stdout, stderr, code := e.cliWith(t, debugLogger(&logs), "run", "compromised", "--user", user, "--yes")
		if code != 0 {
			t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", user, code, stdout, stderr)
		}
		outputs = append(outputs, stdout, stderr)
	}
	if !strings.Contains(logs.String(), "level=DEBUG") && !strings.Contains(logs.String(), "level=INFO") {
		t.Fatalf("the debug logger logged nothing below warning level, so it proves nothing:\n%s", logs.String())
	}

	// Both resets of each were made (the tenant keeps only the last value).
	all := e.tenant.Log().Entries()
	if n := count(all, func(en sandbox.Entry) bool { return en.Path == adeleDN && en.Detail == "replace unicodePwd" }); n != 2 {
		t.Errorf("%d AD resets for adele, want 2", n)
	}
	if n := count(all, func(en sandbox.Entry) bool {
		return en.Method == "PATCH" && en.Path == "/v1.0/users/"+diegoID && en.Detail == "passwordProfile"
	}); n != 2 {
		t.Errorf("%d Entra resets for diego, want 2", n)
	}
	dir := e.tenant.Directory()
	dir.Lock()
	adele, diego := dir.UserByRef("adele@contoso.test"), dir.UserByRef("diego@contoso.test")
	secrets := map[string]string{"adele's AD password": adele.AD.Password, "diego's cloud password": diego.CloudPassword}
	dir.Unlock()
	for what, pw := range secrets {
		if len(pw) < 16 || strings.HasPrefix(pw, "Sandbox-Only-") {
			t.Fatalf("%s %q is not a generated password: the run did not reset it", what, pw)
		}
	}

	places := map[string]string{"slog output": logs.String()}
	for i, o := range outputs {
		places[[]string{"adele stdout", "adele stderr", "diego stdout", "diego stderr"}[i]] = o
	}
	entries, err := json.Marshal(e.tenant.Log().Entries())
	if err != nil {
		t.Fatal(err)
	}
	places["request log"] = string(entries)
	journals := 0
	err = filepath.WalkDir(e.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if strings.HasSuffix(path, ".jsonl") {
			journals++
		}
		places[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if journals != 2 {
		t.Fatalf("%d journals under %s, want 2", journals, e.dir)
	}
	for what, pw := range secrets {
		// As written, and as JSON would escape it (<, >, & and quotes).
		quoted, _ := json.Marshal(pw)
		forms := []string{pw, strings.Trim(string(quoted), `"`)}
		for where, text := range places {
			for _, f := range forms {
				if strings.Contains(text, f) {
					t.Errorf("%s appears in %s", what, where)
				}
			}
		}
	}
}
