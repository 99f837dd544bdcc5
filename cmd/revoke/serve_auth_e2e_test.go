package main

// revoke serve with its real security: Entra ID tokens from the sandbox's
// authority (discovery, keys, signatures), the data.revoke.authz policy,
// and Standard Webhooks signed by the npm reference package.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/serve"
)

// The sandbox seed's revoke serve API and callers (default_seed.yaml).
const (
	apiClientID    = "77777777-7777-7777-7777-777777777777"
	playbookApp    = "88888888-8888-8888-8888-888888888801"
	approverApp    = "88888888-8888-8888-8888-888888888802"
	leadApp        = "88888888-8888-8888-8888-888888888803"
	helpdeskApp    = "88888888-8888-8888-8888-888888888804"
	testHookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

var appSecrets = map[string]string{
	playbookApp: "sandbox-only-secret-playbook-3Hv7",
	approverApp: "sandbox-only-secret-approver-8Tn2",
	leadApp:     "sandbox-only-secret-lead-5Wq9",
	helpdeskApp: "sandbox-only-secret-helpdesk-6Jc4",
}

// bearerFor gets app's token for revoke-api from tn's token endpoint, as
// a playbook's HTTP action with a client credential does.
func bearerFor(t *testing.T, tn *sandbox.Tenant, app string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app}, "client_secret": {appSecrets[app]}, "scope": {"api://revoke-api/.default"}}
	resp, err := sandboxClient(tn).PostForm(tn.AuthorityHost()+tn.TenantID()+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token for %s: %d %v", app, resp.StatusCode, err)
	}
	return "Bearer " + body.AccessToken
}

func sandboxClient(tn *sandbox.Tenant) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tn.ClientTLS()}}
}

// startSecureServe runs `revoke serve` in-process with the security it
// ships with (serveSecurity), unlike startServe's test authentication.
func startSecureServe(t *testing.T, e *e2eEnv, extra ...string) *service {
	t.Helper()
	args, base, client := serveArgs(t, e, extra...)
	s := &service{base: base, client: client, e: e, args: args, secure: true}
	s.start(t)
	return s
}

// npmSign signs a webhook with the npm standardwebhooks package
// (serve/testdata/standardwebhooks); without node or the package the test
// is skipped, and fails in CI.
func npmSign(t *testing.T, secret, id string, ts int64, body string) string {
	t.Helper()
	dir, err := filepath.Abs("../../serve/testdata/standardwebhooks")
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "standardwebhooks"))
	}
	if err != nil {
		msg := "node or the standardwebhooks package is missing: run `npm ci --prefix serve/testdata/standardwebhooks` (scripts/test does)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cmd := exec.Command(node, "sign.mjs", id, strconv.FormatInt(ts, 10))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret)
	cmd.Stdin = strings.NewReader(body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node sign.mjs: %v\n%s", err, stderr.String())
	}
	return string(out)
}

// TestServeWithEntraTokensAndWebhooks runs revoke serve as shipped against
// the sandbox: a playbook's token runs a containment to the end; a tool
// without the role is refused with the policy's reason; missing, foreign,
// expired and wrongly addressed tokens are 401 saying why; a webhook
// signed by the npm reference package is accepted once, and a replay or
// a bad signature is refused.
func TestServeWithEntraTokensAndWebhooks(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	other, err := sandbox.Start(context.Background(), sandbox.DefaultSeed(), sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	secretFile := filepath.Join(e.dir, "hr-hook-secret")
	if err := os.WriteFile(secretFile, []byte(testHookSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startSecureServe(t, e, "--api-audience", apiClientID, "--hook", "hr=compromised", "--hook-secret", "hr=file:"+secretFile)
	tn := e.tenant

	playbook := bearerFor(t, tn, playbookApp)
	ref := s.post(t, playbook, adeleRequest, http.StatusAccepted)
	code, b := s.do(t, "GET", "/v1/runs/"+ref.ID, playbook, nil)
	if code != http.StatusOK {
		t.Fatalf("GET with the playbook's token: %d %s", code, b)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var v serve.RunView
		_, b := s.do(t, "GET", "/v1/runs/"+ref.ID, playbook, nil)
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		if v.Status == serve.StatusCompleted {
			if !v.Contained || v.RequestedBy != playbookApp {
				t.Errorf("run %+v", v)
			}
			break
		}
		if time.Now().After(deadline) || v.Status == serve.StatusFailed {
			t.Fatalf("run %s: %s", ref.ID, b)
		}
	}

	sign := func(claims map[string]any) string {
		now := time.Now()
		c := map[string]any{"aud": apiClientID, "iss": tn.Issuer(), "tid": tn.TenantID(), "oid": "o", "azp": playbookApp,
			"roles": []string{"Revoke.Run"}, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		for k, v := range claims {
			c[k] = v
		}
		tok, err := tn.SignToken(c)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	expired := time.Now().Add(-10 * time.Minute).Unix()
	for _, tc := range []struct {
		name, auth string
		code       int
		msg        string
		reasons    []string
	}{
		{"no token", "", 401, "unauthenticated: no bearer token (send Authorization: Bearer with an Entra ID access token for the API)", nil},
		{"a token for another audience", sign(map[string]any{"aud": "api://another-api"}), 401, "unauthenticated: the token is for another audience (accepted: " + apiClientID + ")", nil},
		{"an expired token", sign(map[string]any{"exp": expired}), 401, "unauthenticated: the token expired at " + time.Unix(expired, 0).UTC().Format(time.RFC3339), nil},
		{"a token from another issuer", bearerFor(t, other, playbookApp), 401, "unauthenticated: the token was issued by another authority (tokens from " + tn.Issuer() + " are accepted)", nil},
		{"a caller without the role", bearerFor(t, tn, helpdeskApp), 403, "forbidden", []string{"run needs the app role Revoke.Run, which caller " + helpdeskApp + " does not have"}},
	} {
		code, b := s.do(t, "POST", "/v1/runs", tc.auth, adeleRequest)
		msg, reasons := errorOf(t, b)
		if code != tc.code || msg != tc.msg || !slices.Equal(reasons, tc.reasons) {
			t.Errorf("%s: %d %s, want %d %q %q", tc.name, code, b, tc.code, tc.msg, tc.reasons)
		}
	}

	body := `{"user":"alex@contoso.test","reason":"HR leaver","ticket":"HR-7"}`
	now := time.Now().Unix()
	sig := npmSign(t, testHookSecret, "msg_hr_7", now, body)
	hook := func(id, sig string) (int, []byte) {
		return s.do(t, "POST", "/v1/hooks/hr", "", body, "webhook-id", id, "webhook-timestamp", strconv.FormatInt(now, 10), "webhook-signature", sig)
	}
	if code, b := hook("msg_hr_7", sig); code != http.StatusAccepted {
		t.Errorf("a signed webhook: %d %s", code, b)
	}
	if code, b := hook("msg_hr_7", sig); code != http.StatusUnauthorized || !strings.Contains(string(b), "a replay") {
		t.Errorf("the same webhook again: %d %s", code, b)
	}
	m := hmac.New(sha256.New, []byte("not the hook's secret at all!"))
	m.Write([]byte("msg_hr_8." + strconv.FormatInt(now, 10) + "." + body))
	if code, b := hook("msg_hr_8", "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil))); code != http.StatusUnauthorized || !strings.Contains(string(b), "no v1 signature") {
		t.Errorf("a webhook signed with another secret: %d %s", code, b)
	}
}

// TestServeTwoPersonRuleWithTokens: the two-person rule with real tokens:
// the lead (Revoke.Run and Revoke.Approve) asks for a run on a protected
// subject, which waits; the lead cannot approve it; the approver can, and
// the run completes.
func TestServeTwoPersonRuleWithTokens(t *testing.T) {
	e := newE2E(t, protectedSeed(), sandbox.Options{})
	s := startSecureServe(t, e, "--api-audience", apiClientID)
	lead, approver := bearerFor(t, e.tenant, leadApp), bearerFor(t, e.tenant, approverApp)
	ref := s.post(t, lead, map[string]any{"runbook": "compromised", "user": "breakglass@contoso.test", "reason": "INC-9"}, http.StatusAccepted)
	if ref.Status != serve.StatusAwaitingApproval {
		t.Fatalf("status %s, want awaiting_approval", ref.Status)
	}
	code, b := s.do(t, "POST", "/v1/runs/"+ref.ID+"/approve", lead, nil)
	if _, reasons := errorOf(t, b); code != http.StatusForbidden || !slices.Equal(reasons, []string{"two-person rule: the caller who asked for the run cannot approve it"}) {
		t.Errorf("approval by the lead: %d %s", code, b)
	}
	if code, b := s.do(t, "POST", "/v1/runs/"+ref.ID+"/approve", approver, nil); code != http.StatusOK {
		t.Fatalf("approval: %d %s", code, b)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var v serve.RunView
		_, b := s.do(t, "GET", "/v1/runs/"+ref.ID, approver, nil)
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		if v.Status == serve.StatusCompleted {
			if !v.Contained || v.ApprovedBy != approverApp {
				t.Errorf("run %+v", v)
			}
			return
		}
		if time.Now().After(deadline) || v.Status == serve.StatusFailed {
			t.Fatalf("run %s: %s", ref.ID, b)
		}
	}
}

// TestServeSecurityUsageErrors: revoke serve does not start without an
// audience to accept tokens for, with a webhook nobody could sign for, or
// with a secret given any other way than by reference.
func TestServeSecurityUsageErrors(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	secretFile := filepath.Join(e.dir, "hr-hook-secret")
	if err := os.WriteFile(secretFile, []byte("whsec_c2hvcnQ=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"serve", "--listen", "127.0.0.1:0", "--insecure-http"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no audience", nil, "serve needs --api-audience: the client id of the API app whose tokens it accepts"},
		{"a hook without a secret", []string{"--api-audience", apiClientID, "--hook", "hr=compromised"},
			"--hook needs --hook-secret NAME=env:VARIABLE (Standard Webhooks)"},
		{"a secret on the command line", []string{"--api-audience", apiClientID, "--hook", "hr=compromised", "--hook-secret", "hr=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
			"--hook-secret hr: want NAME=env:VARIABLE or NAME=file:PATH"},
		{"a weak secret", []string{"--api-audience", apiClientID, "--hook", "hr=compromised", "--hook-secret", "hr=file:" + secretFile},
			"webhook hr: secret 1 has 5 bytes, fewer than 16"},
		{"another tenant's authority", []string{"--api-audience", apiClientID, "--api-tenant", "00000000-0000-0000-0000-000000000bad"},
			"entra authentication: read " + e.tenant.AuthorityHost() + "00000000-0000-0000-0000-000000000bad/v2.0/.well-known/openid-configuration: 400 Bad Request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := e.cli(t, append(slices.Clone(base), tc.args...)...)
			if code == 0 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") {
				t.Errorf("exit %d, stderr:\n%s\nwant %s", code, stderr, tc.want)
			}
		})
	}
}

// TestServeCurlScriptWithEntraToken: scripts/serve-curl.sh, plain curl,
// against revoke serve as shipped, with a token the sandbox's authority
// issued to the playbook: 202, the retry the same run, contained.
func TestServeCurlScriptWithEntraToken(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	s := startSecureServe(t, e, "--api-audience", apiClientID)
	runServeCurl(t, e, s.base, bearerFor(t, e.tenant, playbookApp), "curl-entra-1")
}
