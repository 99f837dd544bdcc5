package sandbox

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCurlScript runs scripts/sandbox-curl.sh: curl gets a token and
// disables a user, as it would against the real Graph.
func TestCurlScript(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not on PATH")
	}
	tn := startTenant(t, Options{})
	dir := t.TempDir()
	caFile, secretFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "secret")
	if err := os.WriteFile(caFile, tn.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, []byte(revokeSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", filepath.Join("..", "scripts", "sandbox-curl.sh"))
	cmd.Env = append(os.Environ(), "AUTHORITY="+tn.AuthorityHost(), "GRAPH_URL="+tn.GraphURL(),
		"TENANT_ID="+tn.TenantID(), "CLIENT_ID="+revokeClientID, "CLIENT_SECRET_FILE="+secretFile,
		"CA_FILE="+caFile, "UPN=o'brien@contoso.test", "CURL_HOME=/nonexistent")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script: %v\n%s", err, out)
	}
	want := "token: ok\nPATCH /users/o'brien@contoso.test: 204\naccountEnabled: false\n"
	if string(out) != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	if strings.Contains(string(out), revokeSecret) {
		t.Error("the script printed the secret")
	}
	if st := userState(t, tn, "o'brien@contoso.test"); st.Entra.AccountEnabled {
		t.Error("o'brien is still enabled in the directory")
	}
}
