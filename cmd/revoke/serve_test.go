package main

// End-to-end tests of `revoke serve`: the command runs in-process (or as a
// child process, for the crash test) against a sandbox tenant, over a real
// TLS listener, and Go's HTTP client talks to it. Authentication is a test
// Authenticator reading "Authorization: Test <caller> <roles>" until the
// Entra ID one is wired in; the Authorizer asks for the app roles the
// default policy asks for.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/serve"
	"github.com/revoke-dev/revoke/steps"
)

// serveTestAuthEnv, set to "header" in a child process's environment,
// makes `revoke serve` in that child use the test authentication.
const serveTestAuthEnv = "REVOKE_TEST_SERVE_AUTH"

func init() {
	// Only in a child this test binary starts (the crash test): the
	// in-process tests set serveCmd.security instead.
	if os.Getenv(serveTestAuthEnv) == "header" {
		serveSecurity = testServeSecurity
	}
}

func testServeSecurity(context.Context, *cli, *serveCmd, *session) (serve.Authenticator, serve.Authorizer, serve.WebhookVerifier, error) {
	return headerAuth{}, roleAuthz{}, nil, nil
}

// headerAuth is the test Authenticator: "Authorization: Test <id>
// [role,role]".
type headerAuth struct{}

func (headerAuth) Authenticate(r *http.Request) (*serve.Caller, error) {
	rest, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Test ")
	if !ok || rest == "" {
		return nil, errors.New("no credentials")
	}
	id, roles, _ := strings.Cut(rest, " ")
	c := &serve.Caller{ID: id, Name: id, App: true}
	if roles != "" {
		c.Roles = strings.Split(roles, ",")
	}
	return c, nil
}

// roleAuthz allows run with Revoke.Run, approve with Revoke.Approve, read
// and cancel with either, as the default authz policy does.
type roleAuthz struct{}

func (roleAuthz) Authorize(_ context.Context, c *serve.Caller, action string, _ *serve.RunRequest, _ *steps.Subject) (bool, bool, []string, error) {
	want := map[string][]string{serve.ActionRun: {"Revoke.Run"}, serve.ActionApprove: {"Revoke.Approve"},
		serve.ActionRead: {"Revoke.Run", "Revoke.Approve"}, serve.ActionCancel: {"Revoke.Run", "Revoke.Approve"}}[action]
	for _, r := range want {
		if slices.Contains(c.Roles, r) {
			return true, false, nil, nil
		}
	}
	return false, false, []string{fmt.Sprintf("%s needs the app role %s", action, strings.Join(want, " or "))}, nil
}

// Callers of the tests.
const (
	soar     = "Test soar Revoke.Run"
	approver = "Test ciso Revoke.Approve"
	nobody   = "Test intern"
	// reader polls runs: a caller of its own, so that polling does not
	// spend the others' rate.
	reader = "Test watcher Revoke.Run"
)

// testCert writes a self-signed certificate for 127.0.0.1 and returns
// the files and a pool trusting it.
func testCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "revoke serve test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "serve.crt"), filepath.Join(dir, "serve.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// service is a running `revoke serve` and a client for it.
type service struct {
	base   string
	client *http.Client
	stop   func() (stdout, stderr string, code int)
	e      *e2eEnv
	args   []string
	// webhooks is the verifier the service gets (nil: none).
	webhooks serve.WebhookVerifier
	// secure keeps the security serve ships with (serveSecurity) instead
	// of the test authentication.
	secure bool
}

// serveArgs are the command line of `revoke serve` on a fresh address
// with a fresh certificate, for e.
func serveArgs(t *testing.T, e *e2eEnv, extra ...string) (args []string, base string, client *http.Client) {
	t.Helper()
	certFile, keyFile, pool := testCert(t, e.dir)
	addr := freeAddr(t)
	args = append([]string{"serve", "--listen", addr, "--tls-cert", certFile, "--tls-key", keyFile}, extra...)
	client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return args, "https://" + addr, client
}

// startServe runs `revoke serve` in-process against e until the test ends
// (or stop), and waits until it is ready.
func startServe(t *testing.T, e *e2eEnv, extra ...string) *service {
	t.Helper()
	args, base, client := serveArgs(t, e, extra...)
	s := &service{base: base, client: client, e: e, args: args}
	s.start(t)
	return s
}

// start runs the command with s's arguments.
func (s *service) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		c := newCLI(strings.NewReader(""), &out, &errOut)
		c.getenv = func(k string) string {
			switch k {
			case "USER":
				return "tester"
			case "XDG_STATE_HOME":
				return filepath.Join(s.e.dir, "xdg")
			}
			return ""
		}
		for _, cmd := range c.commands {
			if sc, ok := cmd.(*serveCmd); ok && !s.secure {
				sc.security = func(context.Context, *cli, *serveCmd, *session) (serve.Authenticator, serve.Authorizer, serve.WebhookVerifier, error) {
					return headerAuth{}, roleAuthz{}, s.webhooks, nil
				}
			}
		}
		done <- c.Main(ctx, append(slices.Clone(s.args), "--env", s.e.file))
	}()
	var once sync.Once
	var code int
	s.stop = func() (string, string, int) {
		once.Do(func() { cancel(); code = <-done })
		return out.String(), errOut.String(), code
	}
	t.Cleanup(func() { s.stop() })
	s.waitReady(t, done)
}

// waitReady polls /readyz until it answers 200; done reports an early end.
func (s *service) waitReady(t *testing.T, done chan int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case code := <-done:
			done <- code
			stdout, stderr, _ := s.stop()
			t.Fatalf("revoke serve ended early: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		default:
		}
		if resp, err := s.client.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("revoke serve did not become ready in 20 s")
}

// do sends a request as auth ("" for none) and returns the status and
// body.
func (s *service) do(t *testing.T, method, path, auth string, body any, headers ...string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// post asks for a run and wants wantCode; it returns the answer.
func (s *service) post(t *testing.T, auth string, body any, wantCode int, headers ...string) serve.RunRef {
	t.Helper()
	code, b := s.do(t, "POST", "/v1/runs", auth, body, headers...)
	if code != wantCode {
		t.Fatalf("POST /v1/runs: %d, want %d: %s", code, wantCode, b)
	}
	var ref serve.RunRef
	if code == http.StatusAccepted {
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatalf("answer %s: %v", b, err)
		}
	}
	return ref
}

// get reads a run.
func (s *service) get(t *testing.T, id string) serve.RunView {
	t.Helper()
	code, b := s.do(t, "GET", "/v1/runs/"+id, reader, nil)
	if code != http.StatusOK {
		t.Fatalf("GET /v1/runs/%s: %d %s", id, code, b)
	}
	var v serve.RunView
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("answer %s: %v", b, err)
	}
	return v
}

// wait polls run id until its status is not active (or 60 s pass), five
// times a second: the default rate a caller has.
func (s *service) wait(t *testing.T, id string) serve.RunView {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		v := s.get(t, id)
		switch v.Status {
		case serve.StatusQueued, serve.StatusScheduled, serve.StatusRunning:
		default:
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %s after 60 s", id, v.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// errorOf decodes an error answer.
func errorOf(t *testing.T, b []byte) (msg string, reasons []string) {
	t.Helper()
	var e struct {
		Error   string   `json:"error"`
		Reasons []string `json:"reasons"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error answer %s: %v", b, err)
	}
	return e.Error, e.Reasons
}

var adeleRequest = map[string]any{"runbook": "compromised", "user": "adele@contoso.test", "reason": "INC-1 token theft", "ticket": "INC-1"}

// TestServeContainsOverHTTPS: a run asked for over TLS is accepted (202),
// runs without the caller, and GET shows it contained with each step's
// result; the same Idempotency-Key gets the same run, another body with
// it 422; every change reaches the tenant once; the events stream is the
// journal; the metrics count the run.
func TestServeContainsOverHTTPS(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	s := startServe(t, e)

	ref := s.post(t, soar, adeleRequest, http.StatusAccepted, "Idempotency-Key", "inc-1")
	if ref.ID == "" || ref.URL != "/v1/runs/"+ref.ID || ref.Status != serve.StatusQueued && ref.Status != serve.StatusRunning || ref.Existing {
		t.Fatalf("answer %+v", ref)
	}
	again := s.post(t, soar, adeleRequest, http.StatusAccepted, "Idempotency-Key", "inc-1")
	if again.ID != ref.ID || !again.Existing {
		t.Errorf("retry with the same key: %+v, want run %s", again, ref.ID)
	}
	other := map[string]any{"runbook": "compromised", "user": "adele@contoso.test", "reason": "another reason"}
	code, b := s.do(t, "POST", "/v1/runs", soar, other, "Idempotency-Key", "inc-1")
	if msg, _ := errorOf(t, b); code != http.StatusUnprocessableEntity || msg != "this Idempotency-Key was used with a different request body" {
		t.Errorf("same key, other body: %d %s", code, b)
	}
	// Another caller asking for the same person and runbook while the run
	// goes gets that run, not a second one.
	dup := s.post(t, "Test sentinel Revoke.Run", other, http.StatusAccepted)
	if dup.ID != ref.ID || !dup.Existing {
		t.Errorf("a second caller's request for the same subject: %+v, want run %s", dup, ref.ID)
	}

	v := s.wait(t, ref.ID)
	if v.Status != serve.StatusCompleted || v.Outcome != engine.OutcomeContained || !v.Contained || v.TimeToContainment <= 0 {
		t.Fatalf("run ended %s/%s contained=%v: %+v", v.Status, v.Outcome, v.Contained, v)
	}
	if v.RequestedBy != "soar" || v.Reason != "INC-1 token theft" || v.Ticket != "INC-1" || len(v.Plan) == 0 {
		t.Errorf("view %+v", v)
	}
	for _, st := range v.Steps {
		if st.Status != engine.StatusSucceeded && st.Status != engine.StatusSatisfied && st.Status != engine.StatusSkipped {
			t.Errorf("step %s %s: %s", st.ID, st.Status, st.Error)
		}
	}
	if len(v.Steps) != len(v.Plan) {
		t.Errorf("%d step results for %d planned steps", len(v.Steps), len(v.Plan))
	}
	adeleWrites(t, e.tenant.Log().Entries())
	log := e.journal(t, ref.ID)
	if got := log.Record().Request; got.RequestedBy != "soar" || got.Reason != "INC-1 token theft" || got.Ticket != "INC-1" || got.ApprovedBy != "" {
		t.Errorf("journaled request %+v", got)
	}

	// The events stream: every journal line, in order, then the end.
	resp := s.stream(t, ref.ID, "")
	var types []string
	var ids []string
	for _, ev := range resp {
		types = append(types, ev.event)
		ids = append(ids, ev.id)
	}
	if len(types) != len(log.Events)+1 || types[0] != "run_started" || types[len(types)-2] != "run_finished" || types[len(types)-1] != "end" {
		t.Errorf("event stream %v, journal has %d lines", types, len(log.Events))
	}
	if ids[0] != "1" {
		t.Errorf("first event id %q", ids[0])
	}
	if rest := s.stream(t, ref.ID, fmt.Sprint(len(log.Events)-1)); len(rest) != 2 || rest[0].event != "run_finished" {
		t.Errorf("stream after Last-Event-ID: %+v", rest)
	}

	code, b = s.do(t, "GET", "/metrics", "", nil)
	if code != http.StatusOK || !strings.Contains(string(b), `revoke_runs_total{outcome="contained"} 1`) ||
		!strings.Contains(string(b), "revoke_time_to_containment_seconds_count 1") ||
		!strings.Contains(string(b), `revoke_step_duration_seconds_count{step="entra.disable_user"} 1`) {
		t.Errorf("metrics %d:\n%s", code, b)
	}
	code, b = s.do(t, "GET", "/v1/runs?status=completed&runbook=compromised", soar, nil)
	var list struct{ Runs []serve.RunView }
	if err := json.Unmarshal(b, &list); code != http.StatusOK || err != nil || len(list.Runs) != 1 || list.Runs[0].ID != ref.ID {
		t.Errorf("list: %d %s", code, b)
	}

	code, b = s.do(t, "GET", "/healthz", "", nil)
	if code != http.StatusOK || string(b) != "{\"status\":\"ok\"}\n" {
		t.Errorf("healthz: %d %s", code, b)
	}
	code, b = s.do(t, "GET", "/v1/openapi.json", "", nil)
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); code != http.StatusOK || err != nil || doc.OpenAPI != "3.1.0" || doc.Paths["/v1/runs/{id}"] == nil {
		t.Errorf("openapi.json: %d %.200s", code, b)
	}

	// The access log names the caller and never a credential.
	_, stderr, code2 := s.stop()
	if code2 != 0 {
		t.Errorf("revoke serve ended with %d:\n%s", code2, stderr)
	}
	if !strings.Contains(stderr, `"caller":"soar"`) || strings.Contains(stderr, "Revoke.Run") || strings.Contains(stderr, "Test soar") {
		t.Errorf("access log:\n%s", stderr)
	}
}

// sseEvent is one Server-Sent Event.
type sseEvent struct{ id, event, data string }

// stream reads run id's event stream to its end.
func (s *service) stream(t *testing.T, id, lastID string) []sseEvent {
	t.Helper()
	req, err := http.NewRequest("GET", s.base+"/v1/runs/"+id+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", soar)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			out = append(out, cur)
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
	return out
}

// TestServeRefusals: what the service refuses, with the exact answer.
func TestServeRefusals(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	s := startServe(t, e, "--max-body", "512")
	big := map[string]any{"runbook": "compromised", "user": "adele@contoso.test", "reason": strings.Repeat("x", 600)}
	for _, tc := range []struct {
		name, auth string
		body       any
		headers    []string
		code       int
		msg        string
		reasons    []string
	}{
		{"no credentials", "", adeleRequest, nil, 401, "no credentials", nil},
		{"a caller without the role", nobody, adeleRequest, nil, 403, "forbidden", []string{"run needs the app role Revoke.Run"}},
		{"an unknown field", soar, `{"runbook":"compromised","user":"adele@contoso.test","reason":"x","allow_protected":true}`, nil, 400,
			`the body is not a run request: json: unknown field "allow_protected"`, nil},
		{"a runbook file", soar, map[string]any{"runbook": "/etc/passwd", "user": "adele@contoso.test", "reason": "x"}, nil, 422, `unknown runbook "/etc/passwd"`, nil},
		{"no reason", soar, map[string]any{"runbook": "compromised", "user": "adele@contoso.test"}, nil, 422, "reason is required: the journal records why a run was asked for", nil},
		{"user and users", soar, map[string]any{"runbook": "compromised", "user": "a", "users": []string{"b"}, "reason": "x"}, nil, 422, "give user or users, not both", nil},
		{"nobody", soar, map[string]any{"runbook": "compromised", "user": "nobody@contoso.test", "reason": "x"}, nil, 404, "", nil},
		{"a body too large", soar, big, nil, 413, "the body is larger than 512 bytes", nil},
		{"a bad Idempotency-Key", soar, adeleRequest, []string{"Idempotency-Key", "a b"}, 400, "Idempotency-Key must be 1 to 255 printable ASCII characters", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, b := s.do(t, "POST", "/v1/runs", tc.auth, tc.body, tc.headers...)
			msg, reasons := errorOf(t, b)
			if code != tc.code || (tc.msg != "" && msg != tc.msg) || !slices.Equal(reasons, tc.reasons) {
				t.Errorf("%d %s, want %d %q %q", code, b, tc.code, tc.msg, tc.reasons)
			}
		})
	}
	if w := writes(e.tenant.Log().Entries()); len(w) != 0 {
		t.Errorf("writes sent for refused requests:\n%s", fmtEntries(w))
	}
	if ids := e.runIDs(t); len(ids) != 0 {
		t.Errorf("journals for refused requests: %v", ids)
	}
}

// protectedSeed is the default seed with the app allowed to disable an
// administrator, so that an approved run on breakglass can succeed.
func protectedSeed() *sandbox.Seed {
	seed := sandbox.DefaultSeed()
	seed.Apps[0].DirectoryRoles = append(seed.Apps[0].DirectoryRoles, "Privileged Authentication Administrator")
	return seed
}

// TestServeTwoPersonRule: a run on a protected subject waits for approval
// showing its plan; the caller who asked cannot approve it, nor can a
// caller without Revoke.Approve; another approver's approval runs it,
// recorded as approved_by in the journal.
func TestServeTwoPersonRule(t *testing.T) {
	e := newE2E(t, protectedSeed(), sandbox.Options{})
	s := startServe(t, e)
	const lead = "Test lead Revoke.Run,Revoke.Approve"
	req := map[string]any{"runbook": "compromised", "user": "breakglass@contoso.test", "reason": "INC-9"}
	ref := s.post(t, lead, req, http.StatusAccepted)
	if ref.Status != serve.StatusAwaitingApproval {
		t.Fatalf("status %s, want awaiting_approval", ref.Status)
	}
	v := s.get(t, ref.ID)
	if len(v.Plan) == 0 || len(v.Protected) == 0 || v.ApprovalExpires == nil || len(v.Steps) != 0 {
		t.Errorf("waiting run's view %+v", v)
	}
	if w := writes(e.tenant.Log().Entries()); len(w) != 0 {
		t.Fatalf("writes before approval:\n%s", fmtEntries(w))
	}
	for _, tc := range []struct {
		name, auth string
		reasons    []string
	}{
		{"by the caller who asked", lead, []string{"two-person rule: the caller who asked for the run cannot approve it"}},
		{"by a caller without the role", soar, []string{"approve needs the app role Revoke.Approve"}},
	} {
		code, b := s.do(t, "POST", "/v1/runs/"+ref.ID+"/approve", tc.auth, nil)
		if msg, reasons := errorOf(t, b); code != http.StatusForbidden || msg != "forbidden" || !slices.Equal(reasons, tc.reasons) {
			t.Errorf("approval %s: %d %s", tc.name, code, b)
		}
	}
	code, b := s.do(t, "POST", "/v1/runs/"+ref.ID+"/approve", approver, nil)
	if code != http.StatusOK {
		t.Fatalf("approval: %d %s", code, b)
	}
	v = s.wait(t, ref.ID)
	if v.Status != serve.StatusCompleted || !v.Contained || v.ApprovedBy != "ciso" {
		t.Fatalf("approved run: %+v", v)
	}
	got := e.journal(t, ref.ID).Record().Request
	if got.ApprovedBy != "ciso" || !got.AllowProtected || got.RequestedBy != "lead" {
		t.Errorf("journaled request %+v", got)
	}
	code, b = s.do(t, "POST", "/v1/runs/"+ref.ID+"/approve", approver, nil)
	if msg, _ := errorOf(t, b); code != http.StatusConflict || msg != "run "+ref.ID+" is completed: only a run awaiting approval can be approved" {
		t.Errorf("second approval: %d %s", code, b)
	}
}

// TestServeApprovalsExpireAndRejections: an approval after the TTL is
// refused and the run is expired; a rejected run never runs.
func TestServeApprovalsExpireAndRejections(t *testing.T) {
	e := newE2E(t, protectedSeed(), sandbox.Options{})
	s := startServe(t, e, "--approval-ttl", "2s")
	req := map[string]any{"runbook": "compromised", "user": "breakglass@contoso.test", "reason": "INC-9"}
	ref := s.post(t, soar, req, http.StatusAccepted)
	// Rejected well within the TTL, however slow the machine.
	rej := s.post(t, soar, map[string]any{"runbook": "termination", "user": "breakglass@contoso.test", "reason": "leaver"}, http.StatusAccepted)
	code, b := s.do(t, "POST", "/v1/runs/"+rej.ID+"/reject", approver, nil)
	if code != http.StatusOK {
		t.Fatalf("reject: %d %s", code, b)
	}
	time.Sleep(2100 * time.Millisecond)
	code, b = s.do(t, "POST", "/v1/runs/"+ref.ID+"/approve", approver, nil)
	if msg, _ := errorOf(t, b); code != http.StatusConflict || msg != "run "+ref.ID+" is expired: only a run awaiting approval can be approved" {
		t.Errorf("late approval: %d %s", code, b)
	}
	if v := s.get(t, rej.ID); v.Status != serve.StatusRejected || v.EndedBy != "ciso" {
		t.Errorf("rejected run %+v", v)
	}
	if w := writes(e.tenant.Log().Entries()); len(w) != 0 || len(e.runIDs(t)) != 0 {
		t.Errorf("an expired or rejected run acted:\n%s", fmtEntries(w))
	}
	_, b = s.do(t, "GET", "/metrics", "", nil)
	for _, want := range []string{`revoke_runs_total{outcome="expired"} 1`, `revoke_runs_total{outcome="rejected"} 1`, "revoke_approvals_pending 0"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s:\n%s", want, b)
		}
	}
}

// TestServeScheduledRuns: a run with not_before waits, survives a restart
// of the service, and can be cancelled until it starts; one whose time
// comes runs then.
func TestServeScheduledRuns(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	s := startServe(t, e)
	later := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	held := s.post(t, soar, map[string]any{"runbook": "compromised", "user": "adele@contoso.test", "reason": "leaver", "not_before": later}, http.StatusAccepted)
	soon := time.Now().Add(1500 * time.Millisecond)
	due := s.post(t, soar, map[string]any{"runbook": "compromised", "user": "alex@contoso.test", "reason": "leaver", "not_before": soon}, http.StatusAccepted)
	if held.Status != serve.StatusScheduled || due.Status != serve.StatusScheduled {
		t.Fatalf("statuses %s %s, want scheduled", held.Status, due.Status)
	}

	if _, stderr, code := s.stop(); code != 0 {
		t.Fatalf("stop: exit %d\n%s", code, stderr)
	}
	s.start(t)
	if v := s.get(t, held.ID); v.Status != serve.StatusScheduled || v.NotBefore == nil || !v.NotBefore.Equal(later) {
		t.Errorf("after a restart: %+v", v)
	}
	v := s.wait(t, due.ID)
	if v.Status != serve.StatusCompleted || !v.Contained {
		t.Errorf("the run due soon: %+v", v)
	}
	if started := e.journal(t, due.ID).Events[0].Time; started.Before(soon) {
		t.Errorf("started at %v, before its not_before %v", started, soon)
	}

	code, b := s.do(t, "DELETE", "/v1/runs/"+held.ID, nobody, nil)
	if code != http.StatusForbidden {
		t.Errorf("cancel without a role: %d %s", code, b)
	}
	code, b = s.do(t, "DELETE", "/v1/runs/"+held.ID, soar, nil)
	if code != http.StatusOK {
		t.Fatalf("cancel: %d %s", code, b)
	}
	code, b = s.do(t, "DELETE", "/v1/runs/"+held.ID, soar, nil)
	if msg, _ := errorOf(t, b); code != http.StatusConflict || msg != "run "+held.ID+" is cancelled: only a queued, scheduled or waiting run can be cancelled" {
		t.Errorf("second cancel: %d %s", code, b)
	}
	s.stop()
	s.start(t)
	if v := s.get(t, held.ID); v.Status != serve.StatusCancelled || v.EndedBy != "soar" {
		t.Errorf("cancelled run after a restart: %+v", v)
	}
	if ids := e.runIDs(t); !slices.Equal(ids, []string{due.ID}) {
		t.Errorf("journals %v, want only %s", ids, due.ID)
	}
}

// TestServeCrashMidRunThenRestart: the service is SIGKILLed right after
// journal line k of a run it accepted; started again, it resumes the run,
// which finishes contained with every change made exactly once across
// both processes.
func TestServeCrashMidRunThenRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs revoke serve as a child process")
	}
	for _, k := range []int{1, 4, 8} {
		t.Run(fmt.Sprintf("after-line-%d", k), func(t *testing.T) {
			e := newE2E(t, nil, sandbox.Options{})
			s, _, exited, errOut := startChild(t, e, crashAfterEnv+"="+fmt.Sprint(k))
			ref := s.post(t, soar, adeleRequest, http.StatusAccepted)
			select {
			case err := <-exited:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("the child was not killed: %v\n%s", err, errOut.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("the child was not killed after line %d:\n%s", k, errOut.String())
			}
			if n := len(e.journal(t, ref.ID).Events); n != k {
				t.Fatalf("the killed service left %d journal lines, want %d", n, k)
			}

			s.start(t)
			v := s.wait(t, ref.ID)
			if v.Status != serve.StatusCompleted || v.Outcome != engine.OutcomeContained || !v.Contained {
				_, stderr, _ := s.stop()
				t.Fatalf("after the restart: %+v\n%s", v, stderr)
			}
			log := e.journal(t, ref.ID)
			if err := log.VerifyChain(); err != nil {
				t.Error(err)
			}
			if countType(log, engine.EventRunResumed) != 1 {
				t.Errorf("no run_resumed in the journal")
			}
			adeleWrites(t, e.tenant.Log().Entries())
		})
	}
}

// countType counts a journal's events of one type.
func countType(log *engine.JournalLog, typ engine.EventType) int {
	n := 0
	for _, ev := range log.Events {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

// TestServeCurlScript runs scripts/serve-curl.sh (curl, as a playbook
// would call the service) against revoke serve: accepted, the retried
// request the same run, contained.
func TestServeCurlScript(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	s := startServe(t, e)
	runServeCurl(t, e, s.base, soar, "curl-1")
	adeleWrites(t, e.tenant.Log().Entries())
}

// runServeCurl runs scripts/serve-curl.sh (skipped without curl, failed
// on CI) against base with auth as its Authorization header, asking for
// adele under key, and wants it to print accepted, the retry the same
// run, contained, and that run the only one journalled.
func runServeCurl(t *testing.T, e *e2eEnv, base, auth, key string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is not installed (scripts/test installs it)")
		}
		t.Skip("curl is not installed")
	}
	header := filepath.Join(e.dir, "auth-header")
	if err := os.WriteFile(header, []byte("Authorization: "+auth+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", filepath.Join("..", "..", "scripts", "serve-curl.sh"))
	cmd.Env = append(os.Environ(), "BASE="+base, "CA_FILE="+filepath.Join(e.dir, "serve.crt"),
		"AUTH_HEADER_FILE="+header, "UPN=adele@contoso.test", "KEY="+key)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("serve-curl.sh: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "accepted ") || lines[1] != "retried: same run" || lines[2] != "contained" {
		t.Fatalf("serve-curl.sh printed:\n%s", out)
	}
	id := strings.TrimPrefix(lines[0], "accepted ")
	if ids := e.runIDs(t); !slices.Equal(ids, []string{id}) {
		t.Errorf("journals %v, want only %s", ids, id)
	}
}

// fakeVerifier accepts a webhook whose webhook-signature is "good":
// the real Standard Webhooks verification is tested with it.
type fakeVerifier struct{}

func (fakeVerifier) Verify(name string, r *http.Request, body []byte) error {
	if r.Header.Get("webhook-signature") != "good" {
		return errors.New("no valid signature")
	}
	return nil
}

// TestServeWebhook: a verified webhook is a run request for its hook's
// runbook from the caller webhook:<name>; its webhook-id makes a
// redelivery the same run; a bad signature, another runbook or an unknown
// hook are refused.
func TestServeWebhook(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	args, base, client := serveArgs(t, e, "--hook", "hr=compromised")
	s := &service{base: base, client: client, e: e, args: args, webhooks: fakeVerifier{}}
	s.start(t)
	body := map[string]any{"user": "adele@contoso.test", "reason": "HR: leaver", "ticket": "HR-7"}
	for _, tc := range []struct {
		name, path string
		body       any
		headers    []string
		code       int
		msg        string
	}{
		{"a bad signature", "/v1/hooks/hr", body, []string{"webhook-signature", "bad"}, 401, "no valid signature"},
		{"an unknown hook", "/v1/hooks/payroll", body, []string{"webhook-signature", "good"}, 404, "no webhook payroll"},
		{"another runbook", "/v1/hooks/hr", map[string]any{"runbook": "termination", "user": "adele@contoso.test", "reason": "x"},
			[]string{"webhook-signature", "good"}, 422, "webhook hr runs runbook compromised only"},
	} {
		code, b := s.do(t, "POST", tc.path, "", tc.body, tc.headers...)
		if msg, _ := errorOf(t, b); code != tc.code || msg != tc.msg {
			t.Errorf("%s: %d %s, want %d %q", tc.name, code, b, tc.code, tc.msg)
		}
	}
	code, b := s.do(t, "POST", "/v1/hooks/hr", "", body, "webhook-signature", "good", "webhook-id", "msg_1")
	var ref serve.RunRef
	if err := json.Unmarshal(b, &ref); code != http.StatusAccepted || err != nil {
		t.Fatalf("webhook: %d %s", code, b)
	}
	code, b = s.do(t, "POST", "/v1/hooks/hr", "", body, "webhook-signature", "good", "webhook-id", "msg_1")
	var again serve.RunRef
	if err := json.Unmarshal(b, &again); code != http.StatusAccepted || err != nil || again.ID != ref.ID {
		t.Errorf("redelivery: %d %s, want run %s", code, b, ref.ID)
	}
	v := s.wait(t, ref.ID)
	if v.Status != serve.StatusCompleted || !v.Contained || v.RequestedBy != "webhook:hr" || v.Runbook != "compromised" || v.Ticket != "HR-7" {
		t.Errorf("webhook's run %+v", v)
	}
	if got := e.journal(t, ref.ID).Record().Request.RequestedBy; got != "hr (webhook:hr)" {
		t.Errorf("journaled requested_by %q", got)
	}
}

// TestServeUsers: one request for several people is one run each, and a
// person found nowhere refuses the whole request before any run.
func TestServeUsers(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	s := startServe(t, e)
	code, b := s.do(t, "POST", "/v1/runs", soar, map[string]any{"runbook": "compromised", "users": []string{"adele@contoso.test", "nobody@contoso.test"}, "reason": "x"})
	if code != http.StatusNotFound {
		t.Errorf("a request naming somebody found nowhere: %d %s", code, b)
	}
	// Adele twice, by her UPN and her pre-Windows 2000 name: one run.
	body := map[string]any{"runbook": "compromised", "users": []string{"adele@contoso.test", "alex@contoso.test", `CONTOSO\adele`}, "reason": "INC-3"}
	code, b = s.do(t, "POST", "/v1/runs", soar, body, "Idempotency-Key", "inc-3")
	var ans struct{ Runs []serve.RunRef }
	if err := json.Unmarshal(b, &ans); code != http.StatusAccepted || err != nil || len(ans.Runs) != 3 || ans.Runs[0].ID == ans.Runs[1].ID || ans.Runs[2].ID != ans.Runs[0].ID {
		t.Fatalf("three references to two people: %d %s", code, b)
	}
	code, b = s.do(t, "POST", "/v1/runs", soar, body, "Idempotency-Key", "inc-3")
	var again struct{ Runs []serve.RunRef }
	if err := json.Unmarshal(b, &again); code != http.StatusAccepted || err != nil || len(again.Runs) != 3 ||
		again.Runs[0].ID != ans.Runs[0].ID || again.Runs[1].ID != ans.Runs[1].ID || again.Runs[2].ID != ans.Runs[0].ID {
		t.Errorf("the retried request: %d %s", code, b)
	}
	for i, want := range []string{"adele@contoso.test", "alex@contoso.test"} {
		if v := s.wait(t, ans.Runs[i].ID); v.User != want || !v.Contained {
			t.Errorf("run %d: %+v", i, v)
		}
	}
	if n := len(e.runIDs(t)); n != 2 {
		t.Errorf("%d journals, want 2", n)
	}
}

// TestServeSIGTERM: SIGTERM mid-run stops the service cleanly (exit 0):
// the run is interrupted at a journal boundary, and the next start
// resumes it to containment, each change once.
func TestServeSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("runs revoke serve as a child process")
	}
	e := newE2E(t, nil, sandbox.Options{})
	s, cmd, exited, errOut := startChild(t, e)
	ref := s.post(t, soar, adeleRequest, http.StatusAccepted)
	// Identity Protection's step waits a second between calls: the run is
	// mid-way when a step has ended.
	for deadline := time.Now().Add(20 * time.Second); ; {
		if log, err := engine.ReadRun(e.stateDir, ref.ID); err == nil && countType(log, engine.EventStepSucceeded) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run did not get going")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, errOut.String())
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("shutdown took %v", took)
	}
	log := e.journal(t, ref.ID)
	if log.Finished() != nil || log.Events[len(log.Events)-1].Type != engine.EventRunInterrupted {
		t.Fatalf("the journal does not end interrupted: last %s", log.Events[len(log.Events)-1].Type)
	}
	s.start(t)
	if v := s.wait(t, ref.ID); v.Status != serve.StatusCompleted || !v.Contained {
		t.Fatalf("after the restart: %+v", v)
	}
	adeleWrites(t, e.tenant.Log().Entries())
}

// startChild runs `revoke serve` for e as a child process with extra
// environment variables and waits until it is ready; exited reports its
// end.
func startChild(t *testing.T, e *e2eEnv, env ...string) (s *service, cmd *exec.Cmd, exited chan error, stderr *syncBuffer) {
	t.Helper()
	args, base, client := serveArgs(t, e)
	s = &service{base: base, client: client, e: e, args: args}
	raw, err := json.Marshal(append(slices.Clone(args), "--env", e.file))
	if err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childArgsEnv+"="+string(raw), serveTestAuthEnv+"=header"), env...)
	stderr = &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited = make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, cmd, exited, stderr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child did not become ready:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeKilledAfterAcceptingLosesNothing: what the service answered
// 202 for is on disk before the answer: SIGKILLed right after accepting a
// queued run, a scheduled one and one awaiting approval, the next start
// runs the first, keeps the second until its time and runs it, and keeps
// the third waiting.
func TestServeKilledAfterAcceptingLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs revoke serve as a child process")
	}
	e := newE2E(t, protectedSeed(), sandbox.Options{})
	// The queued run may have started before the kill (then it is
	// resumed); what matters is that each run is there after it.
	s, cmd, exited, _ := startChild(t, e)
	soon := time.Now().Add(2 * time.Second)
	queued := s.post(t, soar, adeleRequest, http.StatusAccepted)
	scheduled := s.post(t, soar, map[string]any{"runbook": "compromised", "user": "alex@contoso.test", "reason": "leaver", "not_before": soon}, http.StatusAccepted)
	waiting := s.post(t, soar, map[string]any{"runbook": "compromised", "user": "breakglass@contoso.test", "reason": "INC-9"}, http.StatusAccepted)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited

	s.start(t)
	if v := s.get(t, waiting.ID); v.Status != serve.StatusAwaitingApproval {
		t.Errorf("the waiting run after the kill: %+v", v)
	}
	for _, id := range []string{queued.ID, scheduled.ID} {
		if v := s.wait(t, id); v.Status != serve.StatusCompleted || !v.Contained {
			t.Errorf("run %s after the kill: %+v", id, v)
		}
	}
	if started := e.journal(t, scheduled.ID).Events[0].Time; started.Before(soon) {
		t.Errorf("the scheduled run started at %v, before %v", started, soon)
	}
	adele := 0
	for _, en := range writes(e.tenant.Log().Entries()) {
		if strings.Contains(en.Path, adeleID) && en.Detail == "accountEnabled=false" {
			adele++
		}
	}
	if adele != 1 {
		t.Errorf("adele disabled %d times, want once", adele)
	}
}

// TestServeStartsARunWhoseJournalHoldsNoLine: killed between creating a
// run's journal and writing its first line, the service left a journal
// that records nothing; the next start runs the run afresh instead of
// failing to resume it ("holds no complete event", seen under load).
func TestServeStartsARunWhoseJournalHoldsNoLine(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	s := startServe(t, e)
	scheduled := s.post(t, soar, map[string]any{"runbook": "compromised", "user": "alex@contoso.test", "reason": "leaver",
		"not_before": time.Now().Add(2 * time.Second)}, http.StatusAccepted)
	s.stop()
	j, err := engine.CreateJournal(e.stateDir, scheduled.ID) // the journal and its seal, then the kill
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	s.start(t)
	if v := s.wait(t, scheduled.ID); v.Status != serve.StatusCompleted || !v.Contained {
		t.Errorf("the run after the restart: %+v", v)
	}
	if n := countType(e.journal(t, scheduled.ID), engine.EventRunStarted); n != 1 {
		t.Errorf("%d run_started events, want the fresh run's one", n)
	}
}

// TestServeQueueBound: beyond --max-queued runs accepted and not started,
// a request is 503 with Retry-After, and nothing is accepted.
func TestServeQueueBound(t *testing.T) {
	e := newE2E(t, protectedSeed(), sandbox.Options{})
	s := startServe(t, e, "--max-queued", "1")
	s.post(t, soar, map[string]any{"runbook": "compromised", "user": "breakglass@contoso.test", "reason": "INC-9"}, http.StatusAccepted)
	code, b := s.do(t, "POST", "/v1/runs", soar, adeleRequest)
	if msg, _ := errorOf(t, b); code != http.StatusServiceUnavailable || msg != "1 runs are queued or waiting, the most the service keeps (--max-queued); nothing was accepted" {
		t.Errorf("over the bound: %d %s", code, b)
	}
	if n := len(e.runIDs(t)); n != 0 {
		t.Errorf("%d journals", n)
	}
}

// TestServeFlags: what `revoke serve` refuses to start with, exit 2 and
// the exact reason.
func TestServeFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "serve needs --env FILE: runs against the embedded sandbox could not be resumed after a restart"},
		{[]string{"serve", "--env", "e.yaml", "--insecure-http", "--listen", "0.0.0.0:8080"},
			"--insecure-http only on a loopback address (127.0.0.1, ::1, localhost), not 0.0.0.0:8080"},
		{[]string{"serve", "--env", "e.yaml", "--listen", "127.0.0.1:8080"},
			"serve needs --tls-cert and --tls-key (or --insecure-http on a loopback address)"},
		{[]string{"serve", "--env", "e.yaml", "--insecure-http", "--tls-cert", "c", "--tls-key", "k"},
			"--insecure-http and --tls-cert/--tls-key exclude each other"},
		{[]string{"serve", "--env", "e.yaml", "--insecure-http", "--hook", "hr"}, `--hook "hr": want NAME=RUNBOOK`},
		{[]string{"serve", "--env", "e.yaml", "--insecure-http", "--max-queued", "0"}, "--max-runs, --max-queued and --max-parallel must be at least 1"},
	} {
		_, stderr, code := runCLI(t, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	if !loopback("[::1]:8443") || !loopback("localhost:1") || loopback("10.0.0.1:80") || loopback("example.com:80") {
		t.Error("loopback")
	}
}

// TestServeRefusesWhileTheCLIActs: while another revoke process (a CLI
// run) holds a person's lock, a request for that person is 409 naming
// that run, not queued behind it to do it again; a run the service
// accepted before the CLI took the lock waits for it, writing nothing;
// once the lock is let go, both go through.
func TestServeRefusesWhileTheCLIActs(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	s := startServe(t, e)
	var out, errOut bytes.Buffer
	c := newCLI(strings.NewReader(""), &out, &errOut)
	sess, err := c.openSession(context.Background(), e.file, "")
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	adele, err := sess.resolve(context.Background(), "CONTOSO\\adele")
	if err != nil {
		t.Fatal(err)
	}
	cliRun := engine.NewRunID()
	lock, err := engine.LockSubject(context.Background(), e.stateDir, adele, cliRun, false)
	if err != nil {
		t.Fatal(err)
	}
	code, b := s.do(t, "POST", "/v1/runs", soar, adeleRequest)
	want := fmt.Sprintf("adele@contoso.test is being acted on by run %s (pid %d) outside this service: ask again once it has ended", cliRun, os.Getpid())
	if msg, _ := errorOf(t, b); code != http.StatusConflict || msg != want {
		t.Errorf("while the CLI acts: %d %s, want 409 %q", code, b, want)
	}
	lock.Release()

	// Accepted first, then the CLI takes the lock before the run starts:
	// the run waits for it.
	held := s.post(t, soar, map[string]any{"runbook": "compromised", "user": "alex@contoso.test", "reason": "INC-2",
		"not_before": time.Now().Add(time.Second)}, http.StatusAccepted)
	alex, err := sess.resolve(context.Background(), "alex@contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	lock, err = engine.LockSubject(context.Background(), e.stateDir, alex, engine.NewRunID(), false)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if v := s.get(t, held.ID); v.Status != serve.StatusRunning || len(v.Steps) != 0 {
		t.Errorf("while the CLI holds the lock: %+v", v)
	}
	if w := writes(e.tenant.Log().Entries()); len(w) != 0 || len(e.runIDs(t)) != 0 {
		t.Errorf("the service acted while the CLI held the lock:\n%s", fmtEntries(w))
	}
	lock.Release()
	if v := s.wait(t, held.ID); v.Status != serve.StatusCompleted || !v.Contained {
		t.Errorf("after the CLI let go: %+v", v)
	}
	ref := s.post(t, soar, adeleRequest, http.StatusAccepted)
	if v := s.wait(t, ref.ID); !v.Contained {
		t.Errorf("adele after the CLI let go: %+v", v)
	}
}

// TestServeMetricsCountThrottling: a 429 with Retry-After during a run is
// counted as a retry wait, with its time.
func TestServeMetricsCountThrottling(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{Faults: []sandbox.FaultRule{
		{Path: "/v1.0/users/", Method: "PATCH", Nth: 1, Status: 429, RetryAfter: time.Second},
	}})
	s := startServe(t, e)
	ref := s.post(t, soar, adeleRequest, http.StatusAccepted)
	if v := s.wait(t, ref.ID); !v.Contained {
		t.Fatalf("run %+v", v)
	}
	_, b := s.do(t, "GET", "/metrics", "", nil)
	if !strings.Contains(string(b), `revoke_retry_waits_total{class="retryable"} 1`) {
		t.Errorf("metrics lack the retry wait:\n%s", b)
	}
	var waited float64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "revoke_retry_wait_seconds_total "); ok {
			fmt.Sscan(v, &waited)
		}
	}
	if waited < 1 {
		t.Errorf("retry wait seconds %v, want at least the Retry-After's 1", waited)
	}
}
