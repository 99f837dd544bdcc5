package serve

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Secrets in the format senders show them; test values only.
const (
	hookSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	hookSecretNew = "whsec_c2FuZGJveC1vbmx5LXJvbGxlZC1zZWNyZXQtMDI="
	hookSecretBad = "whsec_bm90LXRoZS1ob29rcy1zZWNyZXQtYXQtYWxsIQ=="
)

// referenceSigner returns a function that signs with the npm
// standardwebhooks package (serve/testdata/standardwebhooks, installed by
// `npm ci` there, which scripts/test runs): a reference implementation no
// one here wrote. Without node or the package the test is skipped, and
// fails in CI, where both must be there.
func referenceSigner(t *testing.T) func(secret, id string, ts int64, body string) string {
	t.Helper()
	dir, err := filepath.Abs("testdata/standardwebhooks")
	if err != nil {
		t.Fatal(err)
	}
	missing := func(what string) {
		msg := what + ": run `npm ci --prefix serve/testdata/standardwebhooks` (scripts/test does)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "standardwebhooks", "package.json")); err != nil {
		missing("the standardwebhooks package is not installed")
	}
	return func(secret, id string, ts int64, body string) string {
		t.Helper()
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
}

func hookRequest(id string, ts int64, sig, body string) *http.Request {
	r := httptest.NewRequest("POST", "/v1/hooks/hr", strings.NewReader(body))
	if id != "" {
		r.Header.Set("webhook-id", id)
	}
	if ts != 0 {
		r.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	}
	if sig != "" {
		r.Header.Set("webhook-signature", sig)
	}
	return r
}

func newHooks(t *testing.T, secrets ...string) *StandardWebhooks {
	t.Helper()
	w, err := NewStandardWebhooks(map[string][]string{"hr": secrets})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestStandardWebhooksReferenceSigner: deliveries signed by the npm
// standardwebhooks package verify; the same message again is a replay;
// a changed body, a stale timestamp or another secret are refused; a
// sender's retry (same id, new timestamp and signature) is accepted; and
// while a secret is rolled, either secret signs.
func TestStandardWebhooksReferenceSigner(t *testing.T) {
	sign := referenceSigner(t)
	w := newHooks(t, hookSecret, hookSecretNew)
	now := time.Now().Unix()
	// Signing starts node each time: the service's clock stays at now.
	w.Now = func() time.Time { return time.Unix(now, 0) }
	body := `{"user":"adele@contoso.test","reason":"leaver","ticket":"HR-1"}`
	sig := sign(hookSecret, "msg_2Ktl", now, body)
	steps := []struct {
		name string
		r    *http.Request
		body string
		err  string
	}{
		{"a signed delivery", hookRequest("msg_2Ktl", now, sig, body), body, ""},
		{"the same message again", hookRequest("msg_2Ktl", now, sig, body), body,
			"webhook hr: this message (webhook-id and webhook-timestamp) was already received: a replay"},
		{"the signature over another body", hookRequest("msg_3Xyz", now, sign(hookSecret, "msg_3Xyz", now, body), strings.Replace(body, "adele", "alex", 1)), strings.Replace(body, "adele", "alex", 1),
			"webhook hr: no v1 signature in webhook-signature matches the body with the hook's secrets"},
		{"a stale timestamp", hookRequest("msg_4Old", now-6*60, sign(hookSecret, "msg_4Old", now-6*60, body), body), body,
			"webhook hr: webhook-timestamp is 6m0s off the service's clock (at most 5m0s)"},
		{"another secret", hookRequest("msg_5Bad", now, sign(hookSecretBad, "msg_5Bad", now, body), body), body,
			"webhook hr: no v1 signature in webhook-signature matches the body with the hook's secrets"},
		{"the sender's retry, signed afresh", hookRequest("msg_2Ktl", now+1, sign(hookSecret, "msg_2Ktl", now+1, body), body), body, ""},
		{"the new secret while rolling", hookRequest("msg_6New", now, sign(hookSecretNew, "msg_6New", now, body), body), body, ""},
	}
	for _, s := range steps {
		err := w.Verify("hr", s.r, []byte(s.body))
		switch {
		case s.err == "" && err != nil:
			t.Errorf("%s: %v", s.name, err)
		case s.err != "" && (err == nil || err.Error() != s.err):
			t.Errorf("%s: %v, want %s", s.name, err, s.err)
		}
	}
}

// goSign signs as the specification says, for the Go-only tests.
func goSign(secret, id string, ts int64, body string) string {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "." + body))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TestStandardWebhooksVerify checks each refusal's text, and what counts
// as signed: one good v1 signature among several, whatever else is there.
func TestStandardWebhooksVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := `{"user":"adele@contoso.test"}`
	good := goSign(hookSecret, "m1", now.Unix(), body)
	tests := []struct {
		name string
		hook string
		r    *http.Request
		err  string
	}{
		{"good", "hr", hookRequest("m1", now.Unix(), good, body), ""},
		{"one good signature among others", "hr", hookRequest("m1", now.Unix(), "v1a,bm9wZQ== v1,AAAA "+good+" v2,x", body), ""},
		{"a timestamp within the tolerance", "hr", hookRequest("m1", now.Unix()+299, goSign(hookSecret, "m1", now.Unix()+299, body), body), ""},
		{"an unknown hook", "payroll", hookRequest("m1", now.Unix(), good, body), "webhook payroll has no secret configured"},
		{"no id", "hr", hookRequest("", now.Unix(), good, body), "webhook hr: no webhook-id header (Standard Webhooks)"},
		{"no timestamp", "hr", hookRequest("m1", 0, good, body), "webhook hr: no webhook-timestamp header (Standard Webhooks)"},
		{"no signature", "hr", hookRequest("m1", now.Unix(), "", body), "webhook hr: no webhook-signature header (Standard Webhooks)"},
		{"a long id", "hr", hookRequest(strings.Repeat("m", 257), now.Unix(), good, body), "webhook hr: webhook-id is longer than 256 bytes"},
		{"a timestamp in milliseconds", "hr", hookRequest("m1", now.UnixMilli(), good, body), "webhook hr: webhook-timestamp is decades off the service's clock: it must be Unix seconds"},
		{"a timestamp from the future", "hr", hookRequest("m1", now.Unix()+301, goSign(hookSecret, "m1", now.Unix()+301, body), body),
			"webhook hr: webhook-timestamp is 5m1s off the service's clock (at most 5m0s)"},
		{"a signature of another id", "hr", hookRequest("m2", now.Unix(), good, body), "webhook hr: no v1 signature in webhook-signature matches the body with the hook's secrets"},
		{"a signature under another version", "hr", hookRequest("m1", now.Unix(), "v1a,"+strings.TrimPrefix(good, "v1,"), body), "webhook hr: no v1 signature in webhook-signature matches the body with the hook's secrets"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newHooks(t, hookSecret)
			w.Now = func() time.Time { return now }
			err := w.Verify(tc.hook, tc.r, []byte(body))
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("%v", err)
			case tc.err != "" && (err == nil || err.Error() != tc.err):
				t.Errorf("%v, want %s", err, tc.err)
			}
		})
	}
	r := hookRequest("m1", now.Unix(), "v1,"+strings.Repeat("A", 44), body)
	r.Header.Set("webhook-timestamp", "soon")
	if err := newHooks(t, hookSecret).Verify("hr", r, []byte(body)); err == nil || err.Error() != "webhook hr: webhook-timestamp is not Unix seconds" {
		t.Errorf("a timestamp that is no number: %v", err)
	}
}

// TestStandardWebhooksSeenBound: the replay store holds at most MaxSeen
// messages; older than twice the tolerance they are forgotten (their
// timestamps refuse them anyway), and when the window is full a new
// message is refused rather than a replay let through.
func TestStandardWebhooksSeenBound(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	w := newHooks(t, hookSecret)
	w.MaxSeen = 2
	w.Now = func() time.Time { return now }
	send := func(id string) error {
		return w.Verify("hr", hookRequest(id, now.Unix(), goSign(hookSecret, id, now.Unix(), "{}"), "{}"), []byte("{}"))
	}
	for _, id := range []string{"a", "b"} {
		if err := send(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := send("c"); err == nil || err.Error() != "webhook hr: too many webhooks in the last minutes to tell a replay; try again later" {
		t.Errorf("a third message in the window: %v", err)
	}
	now = now.Add(11 * time.Minute)
	if err := send("c"); err != nil {
		t.Errorf("after the window: %v", err)
	}
	if len(w.seen) != 1 {
		t.Errorf("seen: %d messages, want 1", len(w.seen))
	}
}

// TestNewStandardWebhooksSecrets: a secret must be whsec_ and base64 of
// at least 16 bytes.
func TestNewStandardWebhooksSecrets(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		err     string
	}{
		{"two secrets while rolling", []string{hookSecret, hookSecretNew}, ""},
		{"without the prefix", []string{strings.TrimPrefix(hookSecret, "whsec_")}, ""},
		{"none", nil, "webhook hr: no secret"},
		{"not base64", []string{"whsec_not base64!"}, "webhook hr: secret 1 is not whsec_ followed by base64"},
		{"too short", []string{hookSecret, "whsec_c2hvcnQ="}, "webhook hr: secret 2 has 5 bytes, fewer than 16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewStandardWebhooks(map[string][]string{"hr": tc.secrets})
			if (tc.err == "" && err != nil) || (tc.err != "" && (err == nil || err.Error() != tc.err)) {
				t.Errorf("%v, want %q", err, tc.err)
			}
		})
	}
}

// TestSecretRefRead reads a secret from a variable or a file (relative to
// the configuration's folder), and words each problem without the value.
func TestSecretRefRead(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hr.secret"), []byte(hookSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty.secret"), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REVOKE_TEST_HOOK_SECRET", hookSecretNew)
	tests := []struct {
		name string
		ref  SecretRef
		want string
		err  string
	}{
		{"a variable", SecretRef{Env: "REVOKE_TEST_HOOK_SECRET"}, hookSecretNew, ""},
		{"a file beside the configuration", SecretRef{File: "hr.secret"}, hookSecret, ""},
		{"an unset variable", SecretRef{Env: "REVOKE_TEST_NO_SUCH_VARIABLE"}, "", "webhook secret: environment variable REVOKE_TEST_NO_SUCH_VARIABLE is not set or empty"},
		{"an empty file", SecretRef{File: "empty.secret"}, "", "webhook secret: " + filepath.Join(dir, "empty.secret") + " is empty"},
		{"both", SecretRef{Env: "X", File: "y"}, "", "a webhook secret is read from env or from file, not both"},
		{"neither", SecretRef{}, "", "a webhook secret needs env or file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.ref.Read(dir)
			if got != tc.want || (tc.err == "" && err != nil) || (tc.err != "" && (err == nil || err.Error() != tc.err)) {
				t.Errorf("%q, %v; want %q, %q", got, err, tc.want, tc.err)
			}
		})
	}
}

// TestStandardWebhooksConcurrentReplay: the same message delivered ten
// times at once is accepted once.
func TestStandardWebhooksConcurrentReplay(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	w := newHooks(t, hookSecret)
	w.Now = func() time.Time { return now }
	sig := goSign(hookSecret, "m1", now.Unix(), "{}")
	errs := make(chan error, 10)
	for range 10 {
		go func() { errs <- w.Verify("hr", hookRequest("m1", now.Unix(), sig, "{}"), []byte("{}")) }()
	}
	accepted := 0
	for range 10 {
		if err := <-errs; err == nil {
			accepted++
		} else if err.Error() != "webhook hr: this message (webhook-id and webhook-timestamp) was already received: a replay" {
			t.Error(err)
		}
	}
	if accepted != 1 {
		t.Errorf("accepted %d times, want once", accepted)
	}
}
