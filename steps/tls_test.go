package steps

import (
	"crypto/tls"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
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

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	srv.Close()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		file     string
		insecure bool
		roots    bool // RootCAs set (not the system's pool by nil)
		want     string
	}{
		{"no file: verified against the system's roots", "", false, false, ""},
		{"a CA file: its roots added", ca, false, true, ""},
		{"insecure: not verified, the file not read", notPEM, true, false, ""},
		{"a file with no PEM certificate", notPEM, false, false, "servicenow ca_file " + notPEM + " holds no PEM certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := TLSConfig("servicenow", tc.file, tc.insecure)
			if tc.want != "" {
				if err == nil || err.Error() != tc.want || ClassOf(err) != Invalid {
					t.Errorf("err %v (class %v), want %q (invalid)", err, ClassOf(err), tc.want)
				}
				return
			}
			if err != nil || cfg.MinVersion != tls.VersionTLS12 || cfg.InsecureSkipVerify != tc.insecure || (cfg.RootCAs != nil) != tc.roots {
				t.Errorf("TLSConfig = %+v, %v", cfg, err)
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
