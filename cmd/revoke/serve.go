package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/revoke-dev/revoke/serve"
)

// serveCmd is `revoke serve`: the HTTP service (package serve).
type serveCmd struct {
	envFile     string
	stateDir    string
	runbookDirs []string
	policyDirs  []string
	listen      string
	tlsCert     string
	tlsKey      string
	insecure    bool
	maxRuns     int
	maxQueued   int
	maxParallel int
	approvalTTL time.Duration
	headerTO    time.Duration
	maxBody     int64
	rate        float64
	burst       int
	hooks       []string
	// auth holds the authentication flags (serve_security.go).
	auth serveAuthFlags
	// security, when set, is used instead of serveSecurity (tests).
	security func(ctx context.Context, c *cli, s *serveCmd, sess *session) (serve.Authenticator, serve.Authorizer, serve.WebhookVerifier, error)
}

func (*serveCmd) Name() string { return "serve" }
func (*serveCmd) Synopsis() string {
	return "serve the HTTP API: SOAR playbooks, HR systems and tickets ask for runs (docs/serve.md)"
}
func (*serveCmd) Usage() string {
	return "--env FILE --listen ADDR --tls-cert FILE --tls-key FILE"
}

func (s *serveCmd) SetFlags(fs *pflag.FlagSet) {
	fs.StringVar(&s.envFile, "env", "", "environment file (required: the service's runs must be resumable)")
	fs.StringVar(&s.stateDir, "state-dir", "", "where journals and the request journal go (default: the environment's state_dir)")
	fs.StringArrayVar(&s.runbookDirs, "runbooks", nil, "directory of runbooks, added to the built-ins (repeatable)")
	fs.StringArrayVar(&s.policyDirs, "policies", nil, "directory of Rego policies, added to the defaults (repeatable)")
	fs.StringVar(&s.listen, "listen", "127.0.0.1:8443", "address to listen on")
	fs.StringVar(&s.tlsCert, "tls-cert", "", "TLS certificate file (PEM, with its chain)")
	fs.StringVar(&s.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	fs.BoolVar(&s.insecure, "insecure-http", false, "serve plain HTTP (only on a loopback address: for a local proxy or tests)")
	fs.IntVar(&s.maxRuns, "max-runs", serve.DefaultMaxRuns, "how many runs may run at once (the others queue)")
	fs.IntVar(&s.maxQueued, "max-queued", serve.DefaultMaxQueued, "how many runs may wait (queued, scheduled or awaiting approval) before requests are refused with 503")
	fs.IntVar(&s.maxParallel, "max-parallel", 8, "how many steps of one run may run at once")
	fs.DurationVar(&s.approvalTTL, "approval-ttl", serve.DefaultApprovalTTL, "how long a run waits for approval before it expires")
	fs.DurationVar(&s.headerTO, "header-timeout", serve.DefaultHeaderTimeout, "how long a client may take to send a request's headers before its connection is cut (a body may take three times as long)")
	fs.Int64Var(&s.maxBody, "max-body", serve.DefaultMaxBody, "largest request body, in bytes")
	fs.Float64Var(&s.rate, "rate", serve.DefaultRate, "requests a second per caller")
	fs.IntVar(&s.burst, "burst", serve.DefaultBurst, "requests a caller may send at once")
	fs.StringArrayVar(&s.hooks, "hook", nil, "a webhook NAME=RUNBOOK served at POST /v1/hooks/NAME (repeatable)")
	if serveSecurityFlags != nil {
		serveSecurityFlags(s, fs)
	}
}

// serveSecurity builds the service's authentication, authorization and
// webhook verification from the command's flags and session; the
// authentication code (Entra ID tokens, Standard Webhooks, the authz
// policy) sets it, with serveSecurityFlags for its flags. Without it
// revoke serve refuses to start: a service nobody authenticates is not
// one to run.
var (
	serveSecurity      func(ctx context.Context, c *cli, s *serveCmd, sess *session) (serve.Authenticator, serve.Authorizer, serve.WebhookVerifier, error)
	serveSecurityFlags func(s *serveCmd, fs *pflag.FlagSet)
)

func (s *serveCmd) Run(ctx context.Context, c *cli, args []string) error {
	if len(args) > 0 {
		return usageErrorf("serve takes no arguments")
	}
	if s.envFile == "" {
		return usageErrorf("serve needs --env FILE: runs against the embedded sandbox could not be resumed after a restart")
	}
	if s.maxRuns < 1 || s.maxParallel < 1 || s.maxQueued < 1 {
		return usageErrorf("--max-runs, --max-queued and --max-parallel must be at least 1")
	}
	if s.headerTO <= 0 {
		return usageErrorf("--header-timeout must be more than 0")
	}
	hooks := map[string]serve.Hook{}
	for _, h := range s.hooks {
		name, runbook, ok := strings.Cut(h, "=")
		if !ok || name == "" || runbook == "" || strings.ContainsAny(name, "/?#") {
			return usageErrorf("--hook %q: want NAME=RUNBOOK", h)
		}
		hooks[name] = serve.Hook{Runbook: runbook, Roles: []string{"Revoke.Run"}}
	}
	var cfg *tls.Config
	switch {
	case s.insecure && (s.tlsCert != "" || s.tlsKey != ""):
		return usageErrorf("--insecure-http and --tls-cert/--tls-key exclude each other")
	case s.insecure:
		if !loopback(s.listen) {
			return usageErrorf("--insecure-http only on a loopback address (127.0.0.1, ::1, localhost), not %s", s.listen)
		}
	case s.tlsCert == "" || s.tlsKey == "":
		return usageErrorf("serve needs --tls-cert and --tls-key (or --insecure-http on a loopback address)")
	default:
		cert, err := tls.LoadX509KeyPair(s.tlsCert, s.tlsKey)
		if err != nil {
			return usageErrorf("--tls-cert/--tls-key: %v", err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	security := s.security
	if security == nil {
		security = serveSecurity
	}
	if security == nil {
		return fmt.Errorf("serve: this build has no authentication configured; refusing to serve")
	}
	ws, lints, err := loadWorkspace(c, s.runbookDirs, s.policyDirs)
	if err != nil {
		return err
	}
	if err := refuseErrors(c, lints); err != nil {
		return err
	}
	for name, h := range hooks {
		if ws.Runbooks[h.Runbook] == nil {
			return usageErrorf("--hook %s: unknown runbook %s", name, h.Runbook)
		}
	}
	level, format := c.getenv("REVOKE_LOG_LEVEL"), c.getenv("REVOKE_LOG_FORMAT")
	if level == "" {
		level = "info" // a service's access log is its record of who asked
	}
	if format == "" {
		format = "json"
	}
	logger, err := newLogger(c.stderr, level, format)
	if err != nil {
		return usageErrorf("%v", err)
	}
	sess, err := c.openSession(ctx, s.envFile, s.stateDir)
	if err != nil {
		return err
	}
	defer sess.Close()
	authn, authz, hooksVerifier, err := security(ctx, c, s, sess)
	if err != nil {
		return err
	}
	srv := &serve.Server{
		Env: serve.Env{Registry: c.reg, Conns: sess.conns, Runbooks: ws.Runbooks, Policy: ws.Policy,
			Facts: sess.facts(), StateDir: sess.env.StateDir, MaxParallel: s.maxParallel},
		Authn: authn, Authz: authz, Webhooks: hooksVerifier, Hooks: hooks, Logger: logger,
		MaxRuns: s.maxRuns, MaxQueued: s.maxQueued, ApprovalTTL: s.approvalTTL, HeaderTimeout: s.headerTO, MaxBody: s.maxBody, Rate: s.rate, Burst: s.burst,
		WrapEvents: wrapRunEvents,
	}
	if err := srv.Open(); err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		return err
	}
	scheme := "https"
	if cfg == nil {
		scheme = "http"
	}
	fmt.Fprintf(c.stdout, "revoke serve: listening on %s://%s\n", scheme, ln.Addr())
	return srv.Serve(ctx, ln, cfg)
}

// loopback reports whether addr's host is a loopback address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
