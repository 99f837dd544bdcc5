package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/sandbox"
)

// syncBuffer is a bytes.Buffer safe to write from the command's goroutine
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// `revoke sandbox --write-env DIR` serves until interrupted, writes an
// environment file with its secrets in private files beside it, and says
// how to use it; revoke pointed at that file plans and shows state, and
// the tenant pages Graph collections as --page-size says.
func TestSandboxCommandServesUntilInterrupted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sb")
	log := filepath.Join(t.TempDir(), "requests.jsonl")
	var out, errOut syncBuffer
	c := newCLI(strings.NewReader(""), &out, &errOut)
	c.getenv = func(k string) string {
		if k == "USER" {
			return "tester"
		}
		return ""
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- c.Main(ctx, []string{"sandbox", "--write-env", dir, "--page-size", "1", "--log", log}) }()

	env := filepath.Join(dir, "environment.yaml")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "Serving until interrupted") {
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox did not come up:\nstdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, want := range []string{
		"Sandbox tenant 7a3e9f1c-2b4d-4e8a-9c61-0d5f3b2a1e47 is up (nothing real lives here)\n",
		"\nEnvironment file: " + env + " (secrets in files beside it, mode 0600)\n",
		"  revoke run compromised --user adele@contoso.test --env " + env + "\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	for name, mode := range map[string]os.FileMode{"environment.yaml": 0o600, "client-secret": 0o600, "ad-bind-password": 0o600, "ca.pem": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v, want %v", name, err, fi, mode)
		}
	}
	// The banner names the CA file it wrote, and the secret files hold the
	// secret alone: ldapsearch -y FILE sends every byte, a newline too.
	if want := "  state:       curl --cacert " + filepath.Join(dir, "ca.pem") + " https://"; !strings.Contains(out.String(), want) {
		t.Errorf("stdout lacks %q:\n%s", want, out.String())
	}
	for name, want := range map[string]string{"client-secret": "sandbox-only-secret-revoke-7Qm2", "ad-bind-password": "Sandbox-Only-Bind-Pw-2f9c!"} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != want {
			t.Errorf("%s holds %q (%v), want exactly the secret", name, got, err)
		}
	}
	// Locally the check needs ldap-utils; CI has it (scripts/test), so
	// there its absence fails rather than passing silently.
	_, noLDAPSearch := exec.LookPath("ldapsearch")
	if noLDAPSearch != nil && os.Getenv("CI") == "true" {
		t.Error("ldapsearch not on PATH: scripts/test installs ldap-utils")
	}
	if noLDAPSearch == nil {
		ldapsURL := regexp.MustCompile(`ldaps://[0-9.:]+`).FindString(out.String())
		cmd := exec.Command("ldapsearch", "-LLL", "-x", "-H", ldapsURL, "-D", "CN=svc-revoke,OU=Service Accounts,DC=contoso,DC=test",
			"-y", filepath.Join(dir, "ad-bind-password"), "-b", "DC=contoso,DC=test", "-s", "base", "dn")
		cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+filepath.Join(dir, "ca.pem"), "LDAPTLS_REQCERT=demand", "LDAPRC=/nonexistent", "LDAPCONF=/nonexistent")
		if got, err := cmd.CombinedOutput(); err != nil || string(got) != "dn: DC=contoso,DC=test\n\n" {
			t.Errorf("ldapsearch -y ad-bind-password against %s: %v\n%s", ldapsURL, err, got)
		}
	}
	data, err := os.ReadFile(env)
	if err != nil || strings.Contains(string(data), "sandbox-only-secret") ||
		!strings.Contains(string(data), "protected: [\"breakglass@contoso.test\"]\n") {
		t.Errorf("environment file (%v):\n%s", err, data)
	}

	// One item a Graph page: the plan's device Check pages alex's two devices.
	stdout, stderr, code := runCLI(t, "plan", "compromised", "--user", "alex@contoso.test", "--env", env)
	if code != 0 || !strings.Contains(stdout, "Plan: compromised for alex@contoso.test in sandbox (hybrid)") {
		t.Errorf("plan against the served sandbox: exit %d\n%s\n%s", code, stdout, stderr)
	}
	stdout, stderr, code = runCLI(t, "sandbox", "state", "--env", env, "--user", "adele@contoso.test")
	if code != 0 || !strings.Contains(stdout, "adele@contoso.test: accountEnabled true") {
		t.Errorf("sandbox state: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if reqs, err := os.ReadFile(log); err != nil || !bytes.Contains(reqs, []byte("/ownedDevices?$skiptoken=")) {
		t.Errorf("request log (%v) lacks the plan's requests:\n%s", err, reqs)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 || !strings.HasSuffix(out.String(), "Sandbox stopped.\n") {
			t.Errorf("after the interrupt: exit %d, stdout ends %q", code, out.String()[max(0, len(out.String())-40):])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sandbox did not stop when interrupted")
	}
}

func TestSandboxCommandUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"sandbox", "--page-size", "1000"}, "revoke: --page-size: want 1 to 999 (0: the default), got 1000\n"},
		{[]string{"sandbox", "--throttle", "lots"}, "revoke: --throttle: "},
		{[]string{"sandbox", "extra"}, "revoke: sandbox takes no arguments but 'state' (got \"extra\")\n"},
		{[]string{"sandbox", "--write-quota", "3000"}, "revoke: --write-quota \"3000\": want WRITES/WINDOW such as 3000/150s (or 0 for none)\n"},
		{[]string{"sandbox", "--write-quota", "lots/150s"}, "revoke: --write-quota \"lots/150s\": the number of writes \"lots\" is not a whole number of at least 1\n"},
		{[]string{"sandbox", "--write-quota", "0/150s"}, "revoke: --write-quota \"0/150s\": the number of writes \"0\" is not a whole number of at least 1\n"},
		{[]string{"sandbox", "--write-quota", "3000/150"}, "revoke: --write-quota \"3000/150\": the window \"150\" is not a duration such as 150s or 2m30s\n"},
		{[]string{"sandbox", "--write-quota", "3000/0s"}, "revoke: --write-quota \"3000/0s\": the window must be longer than zero\n"},
		{[]string{"sandbox", "--users", "-1"}, "revoke: --users: want 0 to 10000, got -1\n"},
		{[]string{"sandbox", "--users", "10001"}, "revoke: --users: want 0 to 10000, got 10001\n"},
		{[]string{"sandbox", "--users", "many"}, "revoke: sandbox: invalid argument \"many\" for \"--users\" flag: "},
	}
	for _, tc := range tests {
		_, stderr, code := runCLI(t, tc.args...)
		if code != 2 || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q…", tc.args, code, stderr, tc.want)
		}
	}
}

// The before/after view shows whole dates in UTC to the millisecond: two
// moments a day apart at the same time of day must read differently.
func TestWriteUserStateShowsFullDates(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	before := time.Date(2026, 12, 6, 23, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		us   sandbox.UserState
		want string
	}{
		{
			name: "a synced user, times in another zone shown in UTC",
			us: sandbox.UserState{
				Entra: &sandbox.EntraState{UserPrincipalName: "adele@contoso.test", AccountEnabled: true,
					SignInSessionsValidFromDateTime: before.In(paris), RiskState: "atRisk"},
				AD: &sandbox.ADState{SAMAccountName: "adele", UserAccountControl: 514, Disabled: true,
					PwdLastSet: before.Add(24*time.Hour + 7*time.Millisecond), MemberOf: []string{"CN=Staff,OU=Groups,DC=contoso,DC=test"}},
			},
			want: "  Entra ID  adele@contoso.test: accountEnabled true, sessions valid from 2026-12-06T23:04:05.000Z, risk atRisk, cloud password set never\n" +
				"  AD        adele: userAccountControl 514 (disabled), pwdLastSet 2026-12-07T23:04:05.007Z, member of 1 group(s): Staff\n",
		},
		{
			name: "a cloud-only user with a cloud password, never signed in",
			us: sandbox.UserState{Entra: &sandbox.EntraState{UserPrincipalName: "contractor@contoso.test",
				CloudPasswordSetAt: &before}},
			want: "  Entra ID  contractor@contoso.test: accountEnabled false, sessions valid from never, risk none, cloud password set 2026-12-06T23:04:05.000Z\n" +
				"  AD        no on-premises account\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			writeUserState(&b, &tc.us)
			if b.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tc.want)
			}
		})
	}
}

// --write-env never writes through a link, and never changes a file it
// did not create: a planted link is refused before anything is written
// (its target untouched), and an existing file is replaced by a new one,
// so the old file keeps its content and mode wherever else it is linked.
func TestWriteEnvFilesNeverFollowsLinks(t *testing.T) {
	files := []envFile{{"ca.pem", []byte("CA"), 0o644}, {"client-secret", []byte("s3cret"), 0o600}, {"environment.yaml", []byte("version: 1\n"), 0o600}}
	tests := []struct {
		name    string
		plant   func(t *testing.T, dir, outside string) // outside: a file not in dir
		wantErr string                                  // "%s" is dir
		check   func(t *testing.T, dir, outside string)
	}{
		{
			name: "a link planted as the environment file is refused",
			plant: func(t *testing.T, dir, outside string) {
				mustOK(t, os.Mkdir(dir, 0o700))
				mustOK(t, os.Symlink(outside, filepath.Join(dir, "environment.yaml")))
			},
			wantErr: "--write-env: %s/environment.yaml is not a regular file (a link?): refusing to write through it; remove it first",
		},
		{
			name: "a dangling link planted as a secret file is refused, and nothing is created through it",
			plant: func(t *testing.T, dir, outside string) {
				mustOK(t, os.Mkdir(dir, 0o700))
				mustOK(t, os.Symlink(outside+".new", filepath.Join(dir, "client-secret")))
			},
			wantErr: "--write-env: %s/client-secret is not a regular file (a link?): refusing to write through it; remove it first",
			check: func(t *testing.T, dir, outside string) {
				if _, err := os.Lstat(outside + ".new"); !os.IsNotExist(err) {
					t.Errorf("the link's target was created: %v", err)
				}
				if _, err := os.Lstat(filepath.Join(dir, "ca.pem")); !os.IsNotExist(err) {
					t.Errorf("ca.pem was written before the refusal: %v", err)
				}
			},
		},
		{
			name: "a link as the directory itself is refused",
			plant: func(t *testing.T, dir, outside string) {
				mustOK(t, os.Symlink(filepath.Dir(outside), dir))
			},
			wantErr: "--write-env: %s is a symbolic link: give the directory itself",
		},
		{
			name: "an existing world-readable file is replaced, not rewritten or chmod'ed",
			plant: func(t *testing.T, dir, outside string) {
				mustOK(t, os.Mkdir(dir, 0o700))
				mustOK(t, os.Remove(outside))
				mustOK(t, os.WriteFile(outside, []byte("theirs"), 0o644))
				mustOK(t, os.Chmod(outside, 0o644))
				mustOK(t, os.Link(outside, filepath.Join(dir, "client-secret")))
			},
			check: func(t *testing.T, dir, outside string) {
				fi, err := os.Stat(filepath.Join(dir, "client-secret"))
				if got, _ := os.ReadFile(filepath.Join(dir, "client-secret")); err != nil || fi.Mode().Perm() != 0o600 || string(got) != "s3cret" {
					t.Errorf("client-secret: %v, mode %v, %q; want a new 0600 file holding the secret", err, fi.Mode().Perm(), got)
				}
			},
		},
		{
			name: "an existing private file is not widened to the CA's 0644",
			plant: func(t *testing.T, dir, outside string) {
				mustOK(t, os.Mkdir(dir, 0o700))
				mustOK(t, os.Link(outside, filepath.Join(dir, "ca.pem")))
			},
			check: func(t *testing.T, dir, outside string) {
				if fi, err := os.Stat(filepath.Join(dir, "ca.pem")); err != nil || fi.Mode().Perm() != 0o644 {
					t.Errorf("ca.pem: %v %v, want a new 0644 file", err, fi)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dir, outside := filepath.Join(base, "env"), filepath.Join(base, "precious")
			mustOK(t, os.WriteFile(outside, []byte("precious"), 0o600))
			tc.plant(t, dir, outside)
			before, err := os.Stat(outside)
			mustOK(t, err)
			content, _ := os.ReadFile(outside)

			err = writeEnvFiles(dir, files)
			want := ""
			if tc.wantErr != "" {
				want = strings.ReplaceAll(tc.wantErr, "%s", dir)
			}
			if got := fmt.Sprint(err); (err == nil) != (want == "") || (err != nil && got != want) {
				t.Fatalf("error %v, want %q", err, want)
			}
			after, err := os.Stat(outside)
			if now, _ := os.ReadFile(outside); err != nil || after.Mode() != before.Mode() || string(now) != string(content) {
				t.Errorf("the file outside changed: mode %v → %v, content %q → %q (%v)", before.Mode(), after.Mode(), content, now, err)
			}
			if tc.check != nil {
				tc.check(t, dir, outside)
			}
			if want == "" {
				for _, f := range files {
					if got, err := os.ReadFile(filepath.Join(dir, f.name)); err != nil || string(got) != string(f.data) {
						t.Errorf("%s: %q (%v), want %q", f.name, got, err, f.data)
					}
				}
				if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
					t.Errorf("temporary files left behind: %v", left)
				}
			}
		})
	}
}

// A planted link makes `revoke sandbox --write-env` fail before it serves.
func TestSandboxCommandRefusesAPlantedLink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "elsewhere")
	mustOK(t, os.Symlink(target, filepath.Join(dir, "ad-bind-password")))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	code := newCLI(strings.NewReader(""), &out, &errOut).Main(ctx, []string{"sandbox", "--write-env", dir})
	want := "revoke: --write-env: " + filepath.Join(dir, "ad-bind-password") + " is not a regular file (a link?): refusing to write through it; remove it first\n"
	if code != 1 || errOut.String() != want || strings.Contains(out.String(), "Serving") {
		t.Errorf("exit %d, stderr %q, want 1 and %q\nstdout:\n%s", code, errOut.String(), want, out.String())
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("the link's target exists: %v", err)
	}
}

// mustOK stops a test whose setup failed.
func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// `revoke sandbox --users 3 --write-quota 2/1m` serves the three synthetic
// users (the odd ones synced, under OU=Bulk) beside the seed's, says so
// and where the quota's use is shown, and that endpoint reports the
// quota the flag set.
func TestSandboxCommandSyntheticUsersAndWriteQuota(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sb")
	var out, errOut syncBuffer
	c := newCLI(strings.NewReader(""), &out, &errOut)
	c.getenv = func(k string) string {
		if k == "USER" {
			return "tester"
		}
		return ""
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- c.Main(ctx, []string{"sandbox", "--write-env", dir, "--users", "3", "--write-quota", "2/1m"})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "Serving until interrupted") {
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox did not come up:\nstdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	authority := regexp.MustCompile(`Authority    (https://127\.0\.0\.1:[0-9]+/)\n`).FindStringSubmatch(out.String())
	if authority == nil {
		t.Fatalf("no authority in:\n%s", out.String())
	}
	for _, want := range []string{
		"  Write quota  2 directory writes per 1m0s per app (use: " + authority[1] + "_sandbox/throttle)\n",
		"  Users        3 synthetic, user00001@contoso.test to user00003@contoso.test (odd ones synced, in OU=Bulk,DC=contoso,DC=test)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	env := filepath.Join(dir, "environment.yaml")
	for _, tc := range []struct{ user, want string }{
		{"user00003@contoso.test", "  AD        user00003: userAccountControl 512 (enabled), pwdLastSet "},
		{"user00002@contoso.test", "  AD        no on-premises account\n"},
	} {
		stdout, stderr, code := runCLI(t, "sandbox", "state", "--env", env, "--user", tc.user)
		if code != 0 || !strings.Contains(stdout, "  Entra ID  "+tc.user+": accountEnabled true") || !strings.Contains(stdout, tc.want) {
			t.Errorf("sandbox state --user %s: exit %d\n%s\n%s", tc.user, code, stdout, stderr)
		}
	}

	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := client.Get(authority[1] + "_sandbox/throttle")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `{"write_quota":{"budget":2,"window":"1m0s","window_seconds":60},"resource_units":null,"apps":[]}`; resp.StatusCode != 200 || string(body) != want {
		t.Errorf("GET /_sandbox/throttle: %d %s, want %s", resp.StatusCode, body, want)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("after the interrupt: exit %d\n%s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sandbox did not stop when interrupted")
	}
}
