package ad

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/steps"
)

// Conn is an open, bound connection to a domain controller: the value the ad
// backend's Open returns and the ad steps receive in Call.Conn.
//
// It holds one LDAP connection and runs one operation at a time. go-ldap can
// multiplex requests on a connection, but the steps of one run make a handful
// of millisecond operations each, and serialising them keeps three things
// simple and race-free: the per-operation timeout (go-ldap's is a setting of
// the whole connection), the redial and rebind after a dropped connection (no
// two callers redial at once, none sends on a half-rebuilt connection), and the
// check that a password operation goes out over TLS (the connection checked is
// the one the request is sent on).
type Conn struct {
	cfg    config
	logger *slog.Logger

	mu     sync.Mutex
	lc     *ldap.Conn // nil until dialled, and after a drop until redialled
	closed bool

	// nbMu guards nbName, the NetBIOS name read from the directory.
	nbMu   sync.Mutex
	nbName string
}

var _ steps.Conn = (*Conn)(nil)

// config is the environment section, checked and resolved.
type config struct {
	url      string // as written, for messages
	scheme   string // ldap or ldaps
	addr     string // host:port
	host     string // what the certificate must name
	baseDN   string
	netbios  string // the section's netbios_domain, "" to read it from the directory
	bindDN   string
	password string // kept for rebinding after a dropped connection
	startTLS bool
	insecure bool
	roots    *x509.CertPool
	timeout  time.Duration
}

// defaultTimeout bounds one LDAP operation when the section says nothing
// (the spec's default; Section normally has it filled).
const defaultTimeout = 10 * time.Second

// open is the ad backend's Open: it checks the section, dials, upgrades to
// TLS and binds, so that a wrong password or an untrusted certificate shows
// up when the run starts rather than at its first step.
func open(ctx context.Context, env *steps.Env) (steps.Conn, error) {
	cfg, err := newConfig(env)
	if err != nil {
		return nil, err
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.insecure {
		logger.Warn("ad: insecure_skip_verify is set: the domain controller's certificate is NOT verified; anyone on the path can read the bind password and the new passwords", "url", cfg.url)
	}
	if cfg.scheme == "ldap" && !cfg.startTLS {
		logger.Warn("ad: the connection is not encrypted (ldap:// without start_tls); password resets will be refused", "url", cfg.url)
	}
	c := &Conn{cfg: cfg, logger: logger}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func newConfig(env *steps.Env) (config, error) {
	s := env.Section
	cfg := config{
		url:      s.String(fieldURL),
		baseDN:   s.String(fieldBaseDN),
		netbios:  s.String(fieldNetBIOS),
		bindDN:   s.String(fieldBindDN),
		startTLS: s.Bool(fieldStartTLS),
		insecure: s.Bool(fieldInsecureSkipVerify),
		timeout:  s.Duration(fieldTimeout),
	}
	if cfg.timeout <= 0 {
		cfg.timeout = defaultTimeout
	}
	u, err := url.Parse(cfg.url)
	if err != nil || u.Host == "" {
		return cfg, steps.Errorf(steps.Invalid, "ad url %q is not an LDAP URL such as ldaps://dc01.contoso.com:636", cfg.url)
	}
	cfg.scheme = u.Scheme
	port := u.Port()
	switch u.Scheme {
	case "ldaps":
		if cfg.startTLS {
			return cfg, steps.Errorf(steps.Invalid, "ad url %s is already TLS: start_tls applies to ldap:// URLs only", cfg.url)
		}
		if port == "" {
			port = ldap.DefaultLdapsPort
		}
	case "ldap":
		if port == "" {
			port = ldap.DefaultLdapPort
		}
	default:
		return cfg, steps.Errorf(steps.Invalid, "ad url %s: scheme must be ldaps or ldap, not %q", cfg.url, u.Scheme)
	}
	cfg.host = u.Hostname()
	cfg.addr = net.JoinHostPort(cfg.host, port)
	if cfg.baseDN == "" || cfg.bindDN == "" {
		return cfg, steps.Errorf(steps.Invalid, "ad: base_dn and bind_dn are required")
	}
	if env.Secret == nil {
		return cfg, steps.Errorf(steps.Invalid, "ad: no way to read bind_password (the environment gave no secret reader)")
	}
	pw, err := env.Secret(fieldBindPassword)
	if err != nil {
		if steps.ClassOf(err) == steps.Other {
			err = steps.Classify(steps.Invalid, err)
		}
		return cfg, fmt.Errorf("ad bind_password: %w", err)
	}
	if pw == "" {
		return cfg, steps.Errorf(steps.Invalid, "ad bind_password is empty: an empty simple bind is anonymous in AD")
	}
	cfg.password = pw

	ca := s.String(fieldCAFile)
	if ca != "" && env.Path != nil {
		ca = env.Path(ca)
	}
	if cfg.roots, err = steps.RootCAs("ad", ca); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// tlsConfig returns the client TLS configuration of one dial. The chain is
// verified in VerifyConnection rather than by crypto/tls itself (the pattern
// of crypto/tls's own VerifyConnection example) so that the verification
// error reaches *verr intact: go-ldap's StartTLS flattens the handshake error
// into a string, and a user who sees "certificate signed by unknown
// authority; set ca_file …" knows what to do. InsecureSkipVerify is set only
// to hand the check over; it is skipped for real only when the user asked.
func (c *Conn) tlsConfig(verr *error) *tls.Config {
	cfg := &tls.Config{
		ServerName:         c.cfg.host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified below unless insecure_skip_verify
	}
	if c.cfg.insecure {
		return cfg
	}
	roots, host := c.cfg.roots, c.cfg.host
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			*verr = errors.New("the server sent no certificate")
			return *verr
		}
		opts := x509.VerifyOptions{Roots: roots, DNSName: host, Intermediates: x509.NewCertPool()}
		for _, ic := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(ic)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			*verr = err
			return err
		}
		return nil
	}
	return cfg
}

// connect dials, secures and binds a new connection, replacing c.lc. c.mu is
// held.
func (c *Conn) connect(ctx context.Context) error {
	err := c.dialBind(ctx)
	if err != nil && ctx.Err() != nil {
		// Cancelled (a SIGINT): whatever the socket said on being closed,
		// the reason is the cancellation, and it is not worth a retry.
		return fmt.Errorf("connect to %s: %w", c.cfg.url, ctx.Err())
	}
	return err
}

// dialBind is connect's work, bounded by the per-operation timeout and
// ended at once when ctx is: StartTLS and the bind wait on the socket, not
// on a context, so the socket is closed when ctx ends.
func (c *Conn) dialBind(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", c.cfg.addr)
	if err != nil {
		return steps.Errorf(steps.Retryable, "connect to %s: %w", c.cfg.url, err)
	}
	// Deferred after cancel, so it runs first: a connection that bound is
	// not closed by connect's own cancel.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	var verr error
	tlsCfg := c.tlsConfig(&verr)
	var lc *ldap.Conn
	if c.cfg.scheme == "ldaps" {
		tc := tls.Client(raw, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return c.tlsError(verr, err)
		}
		lc = ldap.NewConn(tc, true)
	} else {
		lc = ldap.NewConn(raw, false)
	}
	lc.Start()
	lc.SetTimeout(until(ctx))
	if c.cfg.startTLS {
		// go-ldap runs the handshake without a deadline; one on the socket
		// bounds it.
		if dl, ok := ctx.Deadline(); ok {
			_ = raw.SetDeadline(dl)
		}
		err := lc.StartTLS(tlsCfg)
		_ = raw.SetDeadline(time.Time{})
		if err != nil {
			lc.Close()
			if verr != nil {
				return c.tlsError(verr, err)
			}
			var le *ldap.Error
			if errors.As(err, &le) && le.ResultCode != ldap.ErrorNetwork {
				return steps.Errorf(steps.Invalid, "StartTLS on %s refused: %s", c.cfg.url, describe(err))
			}
			return steps.Errorf(steps.Retryable, "StartTLS on %s: %w", c.cfg.url, err)
		}
	}
	if err := lc.Bind(c.cfg.bindDN, c.cfg.password); err != nil {
		lc.Close()
		return c.bindError(err)
	}
	c.lc = lc
	return nil
}

// tlsError explains a failed TLS handshake: a certificate that does not
// verify is a configuration problem (Invalid) said plainly; anything else is
// the network's.
func (c *Conn) tlsError(verr, err error) error {
	if verr == nil {
		var netErr net.Error
		if errors.As(err, &netErr) || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) ||
			errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) {
			return steps.Errorf(steps.Retryable, "TLS handshake with %s: %w", c.cfg.url, err)
		}
		return steps.Errorf(steps.Invalid, "TLS handshake with %s: %w", c.cfg.url, err)
	}
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.As(verr, &unknown):
		return steps.Errorf(steps.Invalid, "%s: certificate signed by unknown authority; set ca_file to the CA that issued it", c.cfg.url)
	case errors.As(verr, &hostname):
		return steps.Errorf(steps.Invalid, "%s: %s; use a host name the certificate carries", c.cfg.url, trimX509(hostname.Error()))
	case errors.As(verr, &invalid):
		return steps.Errorf(steps.Invalid, "%s: %s", c.cfg.url, trimX509(invalid.Error()))
	}
	return steps.Errorf(steps.Invalid, "%s: certificate not trusted: %v", c.cfg.url, verr)
}

// bindError explains a failed bind.
func (c *Conn) bindError(err error) error {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return steps.Errorf(steps.Retryable, "bind as %s: %w", c.cfg.bindDN, err)
	}
	switch le.ResultCode {
	case ldap.LDAPResultInvalidCredentials:
		msg := fmt.Sprintf("bind as %s failed: invalid credentials", c.cfg.bindDN)
		if why := adBindReason(le.Err.Error()); why != "" {
			msg += " (" + why + ")"
		}
		return steps.Classify(steps.Invalid, errors.New(msg))
	case ldap.LDAPResultStrongAuthRequired, ldap.LDAPResultConfidentialityRequired:
		return steps.Errorf(steps.Invalid, "bind as %s refused: %s requires an encrypted connection; use ldaps:// or start_tls: true",
			c.cfg.bindDN, c.cfg.url)
	}
	return classify(fmt.Sprintf("bind as %s", c.cfg.bindDN), "", err)
}

// do runs fn on the connection, dialling it first when it is missing or was
// dropped. After a connection lost mid-operation it redials once and runs fn
// again when retrySafe (reads, and writes whose repetition is harmless);
// otherwise, and when the second attempt fails too, the loss is Retryable
// and the engine decides. Errors fn returns are passed through unclassified
// for the caller, who knows the operation, to classify.
func (c *Conn) do(ctx context.Context, retrySafe bool, fn func(lc *ldap.Conn) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return steps.Errorf(steps.Other, "ad: connection to %s is closed", c.cfg.url)
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if c.lc == nil || c.lc.IsClosing() {
			if c.lc != nil {
				c.logger.Info("ad: connection dropped; reconnecting", "url", c.cfg.url)
			}
			c.lc = nil
			if err := c.connect(ctx); err != nil {
				return err
			}
		}
		lc := c.lc
		timeout := min(c.cfg.timeout, until(ctx))
		lc.SetTimeout(timeout)
		// go-ldap's operations take no context: closing the connection is
		// how a cancelled run stops one that is waiting.
		stop := context.AfterFunc(ctx, func() { lc.Close() })
		start := time.Now()
		err := fn(lc)
		stop()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			c.drop()
			return fmt.Errorf("ad: %w", ctx.Err())
		}
		if !lost(lc, err) {
			return err
		}
		c.drop()
		if time.Since(start) >= timeout {
			return steps.Errorf(steps.Retryable, "no answer from %s within %s", c.cfg.url, timeout)
		}
		if !retrySafe || attempt == 2 {
			return steps.Errorf(steps.Retryable, "connection to %s lost: %w", c.cfg.url, err)
		}
		c.logger.Info("ad: connection lost during an operation; reconnecting", "url", c.cfg.url, "error", err.Error())
	}
}

// lost reports whether err means the connection is gone (or no longer
// trustworthy) rather than the server answering with a result code.
func lost(lc *ldap.Conn, err error) bool {
	if lc.IsClosing() {
		return true
	}
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode == ldap.ErrorNetwork
}

// drop forgets the current connection. c.mu is held.
func (c *Conn) drop() {
	if c.lc != nil {
		c.lc.Close()
		c.lc = nil
	}
}

// Encrypted reports whether the connection the next operation will use is
// protected by TLS (LDAPS, or StartTLS done). A connection not yet
// re-established after a drop counts as what the configuration makes it.
func (c *Conn) Encrypted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lc == nil || c.lc.IsClosing() {
		return c.cfg.scheme == "ldaps" || c.cfg.startTLS
	}
	return tlsActive(c.lc)
}

func tlsActive(lc *ldap.Conn) bool {
	st, ok := lc.TLSConnectionState()
	return ok && st.HandshakeComplete
}

// Close unbinds and closes the connection. Operations after Close fail.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.lc == nil {
		return nil
	}
	err := c.lc.Unbind()
	c.lc.Close()
	c.lc = nil
	if err != nil && !ldap.IsErrorWithCode(err, ldap.ErrorNetwork) {
		return fmt.Errorf("ad: unbind from %s: %w", c.cfg.url, err)
	}
	return nil
}

// until is the time left before ctx's deadline, or a long time.
func until(ctx context.Context) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return time.Hour
	}
	if d := time.Until(dl); d > time.Millisecond {
		return d
	}
	return time.Millisecond
}
