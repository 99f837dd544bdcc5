package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/steps"
)

// Env is the environment the service acts in, with its backends connected:
// the same pieces `revoke run` plans and executes with.
type Env struct {
	Registry *steps.Registry
	Conns    engine.Conns
	// Runbooks are the runbooks a request may name, by name. A request
	// never names a file: the network does not choose what code runs.
	Runbooks map[string]*engine.Runbook
	Policy   *engine.Policy
	Facts    engine.EnvironmentFacts
	// StateDir holds the run journals, the subject locks and the request
	// journal (serve/requests.jsonl).
	StateDir string
	// MaxParallel is how many steps of one run may run at once (default 8).
	MaxParallel int
}

// Hook is what a signed webhook (POST /v1/hooks/{name}) is mapped to: its
// body is a run request for this runbook, and it is authorized as a caller
// "webhook:<name>" with these roles.
type Hook struct {
	Runbook string   `json:"runbook" yaml:"runbook"`
	Roles   []string `json:"roles,omitempty" yaml:"roles"`
}

// Defaults of Server's limits.
const (
	DefaultMaxRuns     = 4
	DefaultMaxQueued   = 1000
	DefaultApprovalTTL = time.Hour
	// DefaultHeaderTimeout is how long a client may take to send a
	// request's headers before the connection is cut (a slow client would
	// otherwise hold it open).
	DefaultHeaderTimeout = 10 * time.Second
	DefaultMaxBody       = 64 << 10
	DefaultRate          = 5.0
	DefaultBurst         = 20
	// maxUsers bounds the subjects of one request.
	maxUsers = 100
)

// Server is revoke's HTTP service. Set the fields, call Open, then either
// Serve (a listener, graceful shutdown) or Handler and Drive separately
// (tests). Authn and Authz are required; Webhooks only for Hooks.
type Server struct {
	Env      Env
	Authn    Authenticator
	Authz    Authorizer
	Webhooks WebhookVerifier
	Hooks    map[string]Hook
	Logger   *slog.Logger
	// Driver runs accepted runs; nil is a LocalDriver with MaxRuns.
	Driver Driver
	// MaxRuns is how many runs may run at once (the others queue).
	MaxRuns int
	// MaxQueued bounds the runs accepted and not yet started (queued,
	// scheduled, awaiting approval): beyond it a request is 503.
	MaxQueued int
	// ApprovalTTL is how long a run waits for approval before it expires.
	ApprovalTTL time.Duration
	// MaxBody bounds a request's body in bytes.
	MaxBody int64
	// Rate and Burst are each caller's request rate (per second) and burst.
	Rate  float64
	Burst int
	// WrapEvents, when set, wraps each run's event hook: the crash tests
	// use it to kill the service after a given journal line.
	WrapEvents func(next func(engine.Event)) func(engine.Event)
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
	// HeaderTimeout bounds how long a client may take to send a request's
	// headers; 0 is DefaultHeaderTimeout. Reading a body is bounded by
	// three times as long.
	HeaderTimeout time.Duration

	mu      sync.Mutex
	probeMu sync.Mutex // heldElsewhere's
	runs    map[string]*runState
	order   []string // run ids, oldest first
	idem    map[string]*idemEntry
	store   *Store
	metrics *metrics
	limiter *limiter
	ready   atomic.Bool
	opened  bool
	// closing is closed when the service starts shutting down: event
	// streams end then, so that they do not hold the shutdown up.
	closing   chan struct{}
	closeOnce sync.Once
}

// idemEntry is what an Idempotency-Key was first used for.
type idemEntry struct {
	hash string
	ids  []string
	one  bool // the request named one user: the answer is one run
}

// Open opens the request journal and rebuilds every run from it: finished
// ones are shown, unfinished ones (accepted, approved, started) are handed
// to the driver by Drive, waiting and scheduled ones wait on.
func (s *Server) Open() error {
	if s.Authn == nil || s.Authz == nil {
		return errors.New("serve: an Authenticator and an Authorizer are required")
	}
	if s.Env.StateDir == "" || s.Env.Policy == nil {
		return errors.New("serve: the environment needs a state directory and policies")
	}
	if s.MaxRuns <= 0 {
		s.MaxRuns = DefaultMaxRuns
	}
	if s.MaxQueued <= 0 {
		s.MaxQueued = DefaultMaxQueued
	}
	if s.ApprovalTTL <= 0 {
		s.ApprovalTTL = DefaultApprovalTTL
	}
	if s.MaxBody <= 0 {
		s.MaxBody = DefaultMaxBody
	}
	if s.Rate <= 0 {
		s.Rate = DefaultRate
	}
	if s.Burst <= 0 {
		s.Burst = DefaultBurst
	}
	if s.Env.MaxParallel <= 0 {
		s.Env.MaxParallel = 8
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Driver == nil {
		s.Driver = &LocalDriver{Max: s.MaxRuns}
	}
	store, recs, err := OpenStore(s.Env.StateDir)
	if err != nil {
		return err
	}
	s.store = store
	s.runs, s.idem = map[string]*runState{}, map[string]*idemEntry{}
	s.limiter = newLimiter(s.Rate, s.Burst, s.now)
	s.metrics = newMetrics(s)
	for _, rec := range recs {
		s.replay(rec)
	}
	s.closing = make(chan struct{})
	s.opened = true
	return nil
}

// Close closes the request journal.
func (s *Server) Close() error {
	if s.store == nil {
		return nil
	}
	return s.store.Close()
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Drive hands the unfinished runs to the driver and drives runs until ctx
// is done; then it waits for the running ones to stop at a journal
// boundary (they are interrupted, and the next start resumes them).
func (s *Server) Drive(ctx context.Context) {
	s.mu.Lock()
	for _, id := range s.order {
		r := s.runs[id]
		switch r.Status {
		case StatusQueued, StatusScheduled:
			s.Driver.Submit(id, r.startAt())
		case StatusRunning:
			// The service stopped (or died) while it ran: resume it.
			r.Status = StatusQueued
			s.Driver.Submit(id, time.Time{})
		}
	}
	s.mu.Unlock()
	s.ready.Store(true)
	s.Driver.Run(ctx, s.execute)
	s.ready.Store(false)
}

func (s *Server) headerTimeout() time.Duration {
	if s.HeaderTimeout > 0 {
		return s.HeaderTimeout
	}
	return DefaultHeaderTimeout
}

// shutdownGrace is how long a shutdown lets requests in flight end: less
// than the CLI's grace after SIGTERM (5 s), so that the runs' journals are
// closed before the process is ended anyway.
const shutdownGrace = 4 * time.Second

// Serve serves the API on ln (TLS when cfg is not nil) and drives runs
// until ctx is done; then it stops accepting, interrupts the running runs
// at a journal boundary (the next start resumes them), ends the event
// streams, and lets the requests in flight end (up to shutdownGrace).
func (s *Server) Serve(ctx context.Context, ln net.Listener, cfg *tls.Config) error {
	if !s.opened {
		if err := s.Open(); err != nil {
			return err
		}
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.headerTimeout(),
		ReadTimeout:       3 * s.headerTimeout(),
		// Long enough for any answer but an event stream, which extends
		// its own deadline as it writes.
		WriteTimeout:   60 * time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 32 << 10,
		TLSConfig:      cfg,
		ErrorLog:       slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	driveCtx, stopDriving := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDriving()
	driven := make(chan struct{})
	go func() { defer close(driven); s.Drive(driveCtx) }()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.Logger.Info("serving", "address", ln.Addr().String(), "tls", cfg != nil)
	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		s.ready.Store(false)
		s.closeOnce.Do(func() { close(s.closing) })
		stopDriving()
		shut, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		err = srv.Shutdown(shut)
		cancel()
	}
	stopDriving()
	<-driven
	s.Logger.Info("stopped")
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Handler is the service's HTTP handler: every route of routes, with the
// access log around it.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.HandleFunc(rt.method+" "+rt.pattern, rt.handle)
	}
	return s.accessLog(mux)
}

// route is one endpoint: the OpenAPI test compares this list with the
// document.
type route struct {
	method, pattern string
	handle          http.HandlerFunc
}

func (s *Server) routes() []route {
	return []route{
		{"GET", "/healthz", s.healthz},
		{"GET", "/readyz", s.readyz},
		{"GET", "/metrics", s.metrics.handler().ServeHTTP},
		{"GET", "/v1/openapi.json", serveOpenAPI},
		{"POST", "/v1/runs", s.postRuns},
		{"GET", "/v1/runs", s.listRuns},
		{"GET", "/v1/runs/{id}", s.getRun},
		{"DELETE", "/v1/runs/{id}", s.cancelRun},
		{"GET", "/v1/runs/{id}/events", s.runEvents},
		{"POST", "/v1/runs/{id}/approve", s.approveRun},
		{"POST", "/v1/runs/{id}/reject", s.rejectRun},
		{"POST", "/v1/hooks/{name}", s.postHook},
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is 200 once the unfinished runs are handed to the driver, and 503
// again while the service shuts down.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// ctxTimeout bounds the work of one request that is not an event stream.
const ctxTimeout = 30 * time.Second
