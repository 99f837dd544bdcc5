package steps

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRootCAs(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, want string
	}{
		{"no file: the system's roots", "", ""},
		{"a file with no PEM certificate", notPEM, "servicenow ca_file " + notPEM + " holds no PEM certificate"},
		{"a missing file", filepath.Join(dir, "nope.pem"), "servicenow ca_file: stat " + filepath.Join(dir, "nope.pem") + ": no such file or directory"},
		{"a directory", dir, "servicenow ca_file: " + dir + " is a directory, not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool, err := RootCAs("servicenow", tc.file)
			if tc.want == "" {
				if err != nil || pool == nil {
					t.Fatalf("pool %v, err %v", pool, err)
				}
				return
			}
			if err == nil || err.Error() != tc.want || ClassOf(err) != Invalid {
				t.Errorf("err %v (class %v), want %q (invalid)", err, ClassOf(err), tc.want)
			}
		})
	}
}

func TestTLSFields(t *testing.T) {
	f := TLSFields("the instance", 20*time.Second, "Timeout of one request.")
	if len(f) != 3 || f[0].Name != "ca_file" || f[1].Name != "insecure_skip_verify" || f[2].Name != "timeout" ||
		f[2].Default != 20*time.Second || f[0].Description != "PEM roots to verify the instance's certificate, added to the system's (a sandbox, a private CA, a TLS-inspecting proxy)." {
		t.Errorf("fields %+v", f)
	}
	if err := validateParams("backend x", f); err != nil {
		t.Error(err)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 groups", 1: "1 group", 2: "2 groups"} {
		if got := Count(n, "group"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
