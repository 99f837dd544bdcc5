package sandbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// Options tune a tenant at Start; zero values keep the seed's options.
type Options struct {
	// Latency and Jitter delay every request on both faces (fixed plus a
	// uniformly random part of Jitter).
	Latency, Jitter time.Duration
	// Throttle turns on per-app resource-unit throttling (off by default).
	Throttle *ThrottleConfig
	// WriteQuota is the directory write quota per app (quota.go); the
	// zero value is none, or Graph's 3,000 per 150 s with Throttle.
	WriteQuota WriteQuota
	// SyncEvery runs a directory sync periodically (0: only on demand).
	SyncEvery time.Duration
	// LogWriter, when set, receives every request log entry as a JSON line.
	LogWriter io.Writer
	// Faults are injected from the start (added to the seed's).
	Faults []FaultRule
	// PageSize is how many items a Graph collection page holds when the
	// client sends no $top (0: the seed's, else Graph's 100; at most 999).
	PageSize int
}

// Tenant is a running sandbox: HTTPS Graph v1.0 and the Entra OAuth
// endpoints on one loopback port, LDAP (plain with StartTLS) and LDAPS on
// two others, all trusting one CA made at Start. Tenants are independent.
type Tenant struct {
	dir    *Directory
	log    *RequestLog
	certs  *tenantCerts
	graph  *graphServer
	http   *http.Server
	ln     net.Listener
	ldap   *ldapServer
	snow   *snowServer // nil without a servicenow section (servicenow.go)
	cancel context.CancelFunc
	once   sync.Once
}

// Start builds a directory from seed and serves it until ctx is done or
// Close is called.
func Start(ctx context.Context, seed *Seed, opts Options) (*Tenant, error) {
	if seed == nil {
		return nil, errors.New("sandbox: start: nil seed")
	}
	now := time.Now()
	dir := seed.NewDirectory(now)
	lat, jit := seed.Options.Latency, seed.Options.Jitter
	if opts.Latency > 0 || opts.Jitter > 0 {
		lat, jit = opts.Latency, opts.Jitter
	}
	dir.SetLatency(lat, jit)

	certs, err := newTenantCerts(now)
	if err != nil {
		return nil, fmt.Errorf("sandbox: start: %w", err)
	}
	tokens, err := newTokenIssuer(dir.TenantID, time.Now)
	if err != nil {
		return nil, fmt.Errorf("sandbox: start: %w", err)
	}
	reqLog := NewRequestLog(opts.LogWriter)
	g := newGraphServer(dir, reqLog, tokens, time.Now)
	throttle := seed.Options.Throttle
	if opts.Throttle != nil {
		throttle = opts.Throttle
	}
	g.throttle.set(throttle)
	g.throttle.setQuota(opts.WriteQuota)
	pageSize := seed.Options.PageSize
	if opts.PageSize != 0 {
		pageSize = opts.PageSize
	}
	if err := checkPageSize(pageSize); err != nil {
		return nil, fmt.Errorf("sandbox: start: %w", err)
	}
	g.pages.setSize(pageSize)
	if err := g.faults.set(append(append([]FaultRule(nil), seed.Options.Faults...), opts.Faults...)); err != nil {
		return nil, fmt.Errorf("sandbox: start: %w", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen for graph: %w", err)
	}
	srv := newHTTPSServer(g, certs.serverTLS())
	ldapSrv, err := startLDAP(dir, certs.serverTLS(), reqLog)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("sandbox: start ldap: %w", err)
	}
	var snow *snowServer
	if seed.ServiceNow != nil {
		if snow, err = startServiceNow(seed.ServiceNow, certs.serverTLS(), reqLog, time.Now); err != nil {
			ln.Close()
			ldapSrv.Close()
			return nil, fmt.Errorf("sandbox: start servicenow: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	t := &Tenant{dir: dir, log: reqLog, certs: certs, graph: g, http: srv, ln: ln, ldap: ldapSrv, snow: snow, cancel: cancel}
	go func() {
		_ = srv.ServeTLS(ln, "", "")
	}()
	every := seed.Options.SyncEvery
	if opts.SyncEvery > 0 {
		every = opts.SyncEvery
	}
	go func() {
		var tick <-chan time.Time
		if every > 0 {
			tk := time.NewTicker(every)
			defer tk.Stop()
			tick = tk.C
		}
		for {
			select {
			case <-ctx.Done():
				_ = t.Close()
				return
			case now := <-tick:
				dir.Sync(now)
			}
		}
	}()
	return t, nil
}

// GraphURL is the Graph base URL clients use, https://127.0.0.1:PORT/v1.0.
func (t *Tenant) GraphURL() string { return "https://" + t.ln.Addr().String() + "/v1.0" }

// AuthorityHost is the Entra authority host for azidentity's
// cloud.Configuration, https://127.0.0.1:PORT/.
func (t *Tenant) AuthorityHost() string { return "https://" + t.ln.Addr().String() + "/" }

// TenantID is the tenant's id (the {tenant} of the authority).
func (t *Tenant) TenantID() string { return t.dir.TenantID }

// LDAPURL is the plain LDAP (StartTLS capable) URL, ldap://127.0.0.1:PORT.
func (t *Tenant) LDAPURL() string { return t.ldap.URL() }

// LDAPSURL is the LDAP over TLS URL, ldaps://127.0.0.1:PORT.
func (t *Tenant) LDAPSURL() string { return t.ldap.LDAPSURL() }

// CAPEM is the PEM certificate of the CA both faces' certificate chains
// to; add it to a client's roots.
func (t *Tenant) CAPEM() []byte { return append([]byte(nil), t.certs.caPEM...) }

// ClientTLS is a client TLS configuration that trusts the tenant's CA.
func (t *Tenant) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: t.certs.pool, MinVersion: tls.VersionTLS12}
}

// Log is the request log of both faces.
func (t *Tenant) Log() *RequestLog { return t.log }

// Directory is the tenant's live state; lock it to read or change it.
func (t *Tenant) Directory() *Directory { return t.dir }

// Sync runs a directory sync now (AD → Entra, as Entra Connect does).
func (t *Tenant) Sync() { t.dir.Sync(time.Now()) }

// LDAP is the LDAP server, for fault injection (Restart, DropConnections).
func (t *Tenant) LDAP() *ldapServer { return t.ldap }

// RestartLDAP stops the LDAP face and listens again on the same ports.
func (t *Tenant) RestartLDAP() error { return t.ldap.Restart() }

// DropLDAPConnections closes every open LDAP client connection.
func (t *Tenant) DropLDAPConnections() { t.ldap.DropConnections() }

// SetFaults replaces the Graph fault rules (nil: none); counts restart.
func (t *Tenant) SetFaults(rules ...FaultRule) error { return t.graph.faults.set(rules) }

// SetThrottle turns throttling on with cfg, or off with nil; buckets refill.
func (t *Tenant) SetThrottle(cfg *ThrottleConfig) { t.graph.throttle.set(cfg) }

// SetLatency changes the delay of every request on both faces.
func (t *Tenant) SetLatency(latency, jitter time.Duration) { t.dir.SetLatency(latency, jitter) }

// Close stops both faces. It is safe to call more than once.
func (t *Tenant) Close() error {
	var err error
	t.once.Do(func() {
		t.cancel()
		shutdownHTTPS(t.http)
		err = t.ldap.Close()
		if t.snow != nil {
			t.snow.close()
		}
	})
	return err
}

// Handler is the tenant's HTTP handler (Graph, OAuth, /_sandbox), for
// driving it without the network (fuzzing).
func (t *Tenant) Handler() http.Handler { return t.graph }

// newHTTPSServer is the server of one of the tenant's HTTPS faces (Graph
// and its authority, ServiceNow).
func newHTTPSServer(h http.Handler, tc *tls.Config) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         tc,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// Clients that drop TLS handshakes (scanners, tests of bad CAs)
		// are not the tenant's problem to report.
		ErrorLog: log.New(io.Discard, "", 0),
	}
}

// shutdownHTTPS stops srv, waiting up to 2 s for requests in flight.
func shutdownHTTPS(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
}
