package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
)

// environment is where a command acts: an environment file, or the
// embedded sandbox started for this command alone.
type environment struct {
	*engine.Environment
	// tenant is the in-process sandbox when no --env was given, and
	// tempDir the folder of its environment file and secrets.
	tenant  *sandbox.Tenant
	tempDir string
}

// Close stops the embedded sandbox, if any, and removes its files.
func (e *environment) Close() {
	if e.tenant != nil {
		e.tenant.Close()
	}
	if e.tempDir != "" {
		os.RemoveAll(e.tempDir)
	}
}

// openEnvironment reads --env FILE, or starts the embedded sandbox seeded
// with the default seed so that nothing real is touched by accident.
func (c *cli) openEnvironment(ctx context.Context, file, stateDir string) (*environment, error) {
	env := &environment{}
	if file == "" {
		seed := sandbox.DefaultSeed()
		t, err := sandbox.Start(ctx, seed, sandbox.Options{})
		if err != nil {
			return nil, fmt.Errorf("start the embedded sandbox: %w", err)
		}
		dir, err := os.MkdirTemp("", "revoke-sandbox-")
		if err != nil {
			t.Close()
			return nil, err
		}
		// The files live as long as the command: the tenant is gone when
		// it ends anyway.
		env.tenant, env.tempDir = t, dir
		file, err = writeSandboxEnv(dir, t, seed, sandboxStateDir(c.getenv))
		if err != nil {
			env.Close()
			return nil, err
		}
	}
	data, err := engine.ReadFile(file)
	if err != nil {
		env.Close()
		return nil, usageErrorf("--env: %v", err)
	}
	decoded, lints := engine.DecodeEnvironment(file, data, c.reg)
	for _, l := range lints {
		fmt.Fprintln(c.stderr, l.String())
	}
	if lints.Errors() > 0 {
		env.Close()
		return nil, fmt.Errorf("%s: %s", file, plural(lints.Errors(), "error"))
	}
	env.Environment = decoded
	if stateDir == "" {
		stateDir = envStateDir(decoded, c.getenv)
	}
	env.StateDir = stateDir
	for _, section := range env.Insecure() {
		fmt.Fprintf(c.stderr, "WARNING: %s: TLS certificate verification is OFF for %s (insecure_skip_verify): anyone on the path can impersonate the server\n", file, section)
	}
	return env, nil
}

// stateDirFor is where runs, show and resume look without opening any
// backend: --state-dir, the environment file's state_dir, or the embedded
// sandbox's.
func (c *cli) stateDirFor(file, stateDir string) (string, error) {
	if stateDir != "" {
		return stateDir, nil
	}
	if file == "" {
		return sandboxStateDir(c.getenv), nil
	}
	data, err := engine.ReadFile(file)
	if err != nil {
		return "", usageErrorf("--env: %v", err)
	}
	env, lints := engine.DecodeEnvironment(file, data, c.reg)
	if lints.Errors() > 0 {
		return "", fmt.Errorf("%s: %s (revoke validate %s shows them)", file, plural(lints.Errors(), "error"), file)
	}
	return envStateDir(env, c.getenv), nil
}

// envStateDir is where an environment's journals go: its state_dir,
// relative to the file's folder, or the default.
func envStateDir(env *engine.Environment, getenv func(string) string) string {
	switch {
	case env.StateDir == "":
		return defaultStateDir(getenv)
	case !filepath.IsAbs(env.StateDir):
		return filepath.Join(env.Dir, env.StateDir)
	}
	return env.StateDir
}

// defaultStateDir is $XDG_STATE_HOME/revoke, or ~/.local/state/revoke.
func defaultStateDir(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "revoke")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "state", "revoke")
	}
	return filepath.Join(os.TempDir(), "revoke-state")
}

// sandboxStateDir keeps the embedded sandbox's journals apart from real ones.
func sandboxStateDir(getenv func(string) string) string {
	return filepath.Join(defaultStateDir(getenv), "sandbox")
}

// writeSandboxEnv writes an environment file for a running tenant into dir,
// the secrets in files beside it (mode 0600) referenced with *_file, and
// returns its path. writeEnvFiles says how it stays safe in a shared dir.
func writeSandboxEnv(dir string, t *sandbox.Tenant, seed *sandbox.Seed, stateDir string) (string, error) {
	if len(seed.Apps) == 0 || len(seed.AD.ServiceAccounts) == 0 {
		return "", fmt.Errorf("the seed needs an app and an AD service account for revoke to use")
	}
	app := seed.Apps[0]
	for _, a := range seed.Apps {
		if a.Name == "revoke" {
			app = a
		}
	}
	svc := seed.AD.ServiceAccounts[0]
	// Secrets without a trailing newline: ldapsearch -y sends a file's
	// every byte as the password.
	files := []envFile{
		{"ca.pem", t.CAPEM(), 0o644},
		{"client-secret", []byte(app.Secret), 0o600},
		{"ad-bind-password", []byte(svc.Password), 0o600},
	}
	var protected []string
	for _, ra := range seed.RoleAssignments {
		for _, r := range ra.Roles {
			// A group's members are protected by the policy, through the
			// roles resolution reads; the list names people.
			if r == "Global Administrator" && ra.User != "" {
				protected = append(protected, ra.User)
			}
		}
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var b strings.Builder
	fmt.Fprintf(&b, "# The sandbox tenant started by revoke sandbox: nothing real lives here.\n")
	fmt.Fprintf(&b, "version: 1\nname: sandbox\nkind: hybrid\n")
	fmt.Fprintf(&b, "protected: [%s]\n", strings.Join(mapStrings(protected, q), ", "))
	fmt.Fprintf(&b, "entra:\n  tenant_id: %s\n  client_id: %s\n  credential: client_secret\n  client_secret_file: client-secret\n", q(t.TenantID()), q(app.ClientID))
	fmt.Fprintf(&b, "  graph_url: %s\n  authority_host: %s\n  ca_file: ca.pem\n", q(t.GraphURL()), q(t.AuthorityHost()))
	fmt.Fprintf(&b, "ad:\n  url: %s\n  base_dn: %s\n  bind_dn: %s\n  bind_password_file: ad-bind-password\n  ca_file: ca.pem\n",
		q(t.LDAPSURL()), q(seed.AD.BaseDN), q(svc.DN))
	if ou := sandboxLeaversOU(seed); ou != "" {
		fmt.Fprintf(&b, "  leavers_ou: %s\n", q(ou))
	}
	fmt.Fprintf(&b, "state_dir: %s\n", q(stateDir))
	section, snowFiles := sandboxServiceNow(t, seed, q)
	b.WriteString(section)
	files = append(files, snowFiles...)
	files = append(files, envFile{"environment.yaml", []byte(b.String()), 0o600})
	if err := writeEnvFiles(dir, files); err != nil {
		return "", err
	}
	return filepath.Join(dir, "environment.yaml"), nil
}

// sandboxLeaversOU is the seed's OU=Leavers under its base DN when an
// account lives there (the directory serves only the OUs its objects
// imply), so that the termination runbook moves leavers somewhere real.
func sandboxLeaversOU(seed *sandbox.Seed) string {
	ou := "OU=Leavers," + seed.AD.BaseDN
	for _, u := range seed.Users {
		if u.AD != nil && strings.HasSuffix(strings.ToLower(u.AD.DN), ","+strings.ToLower(ou)) {
			return ou
		}
	}
	return ""
}

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// sandboxUserState asks a sandbox tenant for one person's two faces over
// its /_sandbox/state endpoint, trusting the environment's CA file.
func sandboxUserState(ctx context.Context, env *engine.Environment, ref string) (*sandbox.UserState, error) {
	entra := env.Sections["entra"]
	graphURL, _ := entra["graph_url"].(string)
	u, err := url.Parse(graphURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("environment %s has no usable entra.graph_url", env.Name)
	}
	pool := x509.NewCertPool()
	if caFile, _ := entra["ca_file"].(string); caFile != "" {
		pem, err := steps.ReadFile(resolvePath(env, caFile), steps.MaxFileSize)
		if err != nil {
			return nil, err
		}
		pool.AppendCertsFromPEM(pem)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	state := url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/_sandbox/state", RawQuery: url.Values{"user": {ref}}.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, state.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask the sandbox at %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the sandbox at %s has no user %s (%s)", u.Host, ref, resp.Status)
	}
	var us sandbox.UserState
	if err := json.NewDecoder(resp.Body).Decode(&us); err != nil {
		return nil, fmt.Errorf("sandbox state: %w", err)
	}
	return &us, nil
}

func resolvePath(env *engine.Environment, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(env.Dir, p)
}
