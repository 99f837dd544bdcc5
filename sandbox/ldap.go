package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"
)

// The sandbox's LDAP face: an AD-like directory server that the real
// go-ldap client (and ldapsearch) talk to over loopback, on a plain port
// that offers StartTLS and on an LDAPS port.
//
// The protocol is served by gldap. gldap's Server listens on an address of
// its own choosing, gives no access to the listener or to the connections it
// accepted, and its Stop waits for every client to hang up. Fault injection
// needs the opposite (fixed ports across restarts, dropping live clients),
// so the two public ports belong to a small front door (ldapDoor): it
// accepts, remembers and relays each client connection to gldap on an
// internal loopback port, one whole LDAP message at a time. Before
// relaying, the door opens every backend connection with a private search
// (the "hello") that tells the handlers who the client is and whether its
// connection is already encrypted: gldap does not expose either.
//
// The door terminates TLS, LDAPS and StartTLS alike, so it always reads the
// client's messages in the clear: gldap v0.1.14 (the newest release) cannot
// parse a ModifyDN request and drops the connection on one, so the door
// answers ModifyDN itself (ldap_modifydn.go) and relays everything else.
// The link to gldap stays unencrypted loopback: the StartTLS handler
// answers, the door then makes the handshake with the client and tells the
// handler how it went (doorConn.awaitTLS).

// helloBaseDN marks the door's hello search. Only the first request of a
// backend connection can be a hello, and clients never send that one.
const helloBaseDN = "cn=sandbox-front-door"

// ldapServer is the LDAP face of a tenant.
type ldapServer struct {
	dir     *Directory
	tlsCfg  *tls.Config
	log     *RequestLog
	started time.Time

	// mu serializes Restart and Close.
	mu      sync.Mutex
	closed  bool
	plain   *ldapDoor
	ldaps   *ldapDoor
	backend atomic.Pointer[ldapBackend]

	latencyMu     sync.Mutex
	latencyFixed  time.Duration
	latencyJitter time.Duration

	// changed holds whenChanged of the accounts and groups this server
	// modified (keyed by *ADAccount or *ADGroup); guarded by dir's lock.
	changed map[any]time.Time
	// entryCache is guarded by dir's lock.
	entryCache *ldapEntryCache
	// containers holds every OU and container this server has served
	// (dnKey → DN), guarded by dir's lock: they are implied by the DNs of
	// the objects in them, and an OU must not vanish when a move takes
	// its last account away.
	containers map[string]string
	// notes are the accounts' description and info (ldap_notes.go),
	// guarded by dir's lock.
	notes map[*ADAccount]*accountNotes
}

// startLDAP serves dir on 127.0.0.1: a plain port offering StartTLS and an
// LDAPS port, both presenting tlsCfg's certificate, logging every
// operation to log.
func startLDAP(dir *Directory, tlsCfg *tls.Config, log *RequestLog) (*ldapServer, error) {
	if dir == nil || tlsCfg == nil {
		return nil, errors.New("start LDAP: a directory and a TLS configuration are required")
	}
	s := &ldapServer{dir: dir, tlsCfg: tlsCfg, log: log, started: time.Now().UTC(), changed: map[any]time.Time{},
		containers: map[string]string{}, notes: map[*ADAccount]*accountNotes{}}
	// The doors exist before gldap runs: its handlers look them up.
	s.plain = &ldapDoor{s: s, name: "ldap"}
	s.ldaps = &ldapDoor{s: s, name: "ldaps", tls: true}
	b, err := s.startBackend()
	if err != nil {
		return nil, fmt.Errorf("start LDAP: %w", err)
	}
	s.backend.Store(b)
	for _, d := range []*ldapDoor{s.plain, s.ldaps} {
		if err := d.open(); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("start LDAP: %w", err)
		}
	}
	return s, nil
}

// URL is the plain port's URL (StartTLS required before a simple bind).
func (s *ldapServer) URL() string { return "ldap://" + s.plain.addr }

// LDAPSURL is the LDAPS port's URL.
func (s *ldapServer) LDAPSURL() string { return "ldaps://" + s.ldaps.addr }

// SetLatency delays every LDAP operation by fixed plus a random duration
// in [0, jitter), on top of the Directory's latency for both faces
// (Directory.SetLatency); outside the Directory lock, like a distant
// domain controller.
func (s *ldapServer) SetLatency(fixed, jitter time.Duration) {
	s.latencyMu.Lock()
	defer s.latencyMu.Unlock()
	s.latencyFixed, s.latencyJitter = max(fixed, 0), max(jitter, 0)
}

func (s *ldapServer) delay() {
	s.latencyMu.Lock()
	d, j := s.latencyFixed, s.latencyJitter
	s.latencyMu.Unlock()
	d += s.dir.Delay()
	if j > 0 {
		d += rand.N(j)
	}
	if d > 0 {
		time.Sleep(d)
	}
}

// DropConnections closes every open client connection; the ports stay open.
func (s *ldapServer) DropConnections() {
	s.plain.dropAll()
	s.ldaps.dropAll()
}

// Restart stops the server (closing every connection) and listens again
// on the same ports, as a domain controller restarted mid-run would.
func (s *ldapServer) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("restart LDAP: server is closed")
	}
	s.plain.shut()
	s.ldaps.shut()
	errStop := s.stopBackend()
	b, err := s.startBackend()
	if err != nil {
		return fmt.Errorf("restart LDAP: %w", errors.Join(errStop, err))
	}
	s.backend.Store(b)
	for _, d := range []*ldapDoor{s.plain, s.ldaps} {
		if err := d.open(); err != nil {
			return fmt.Errorf("restart LDAP: %w", errors.Join(errStop, err))
		}
	}
	if errStop != nil {
		return fmt.Errorf("restart LDAP: %w", errStop)
	}
	return nil
}

// Close stops the server for good. Closing twice is harmless.
func (s *ldapServer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.plain != nil {
		s.plain.shut()
	}
	if s.ldaps != nil {
		s.ldaps.shut()
	}
	if err := s.stopBackend(); err != nil {
		return fmt.Errorf("close LDAP: %w", err)
	}
	return nil
}

// logEntry records one operation, before its response is sent, so a
// client that got an answer finds the entry in the log. Callers never pass
// a password: details name attributes and operations, not values.
func (s *ldapServer) logEntry(sess *ldapSession, method, dn string, code int, detail string) {
	if s.log == nil {
		return
	}
	s.log.Add(Entry{Client: sess.client, Protocol: "ldap", Method: method, Path: dn, Status: code, Detail: detail})
}

// changedAt is an entry's whenChanged: when this server last modified it,
// else when the server started. Callers hold the Directory lock.
func (s *ldapServer) changedAt(obj any) time.Time {
	if t, ok := s.changed[obj]; ok {
		return t
	}
	return s.started
}

// ldapBackend is one run of the gldap server on its internal port.
// Restart replaces it, so connection ids (which gldap restarts at 1) never
// mix between runs.
type ldapBackend struct {
	srv    *gldap.Server
	addr   string
	done   chan struct{} // closed when Run returns
	runErr error

	mu       sync.Mutex
	sessions map[int]*ldapSession
}

// ldapSession is the per-connection state: who the client is, whether the
// connection is encrypted, and as whom it is bound.
type ldapSession struct {
	client string
	door   *doorConn

	mu      sync.Mutex
	tls     bool
	bound   *ADAccount // nil: anonymous
	service bool       // bound as one of Directory.ServiceAccounts
}

func (sess *ldapSession) state() (tlsOn bool, bound *ADAccount, service bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.tls, sess.bound, sess.service
}

func (sess *ldapSession) setBound(a *ADAccount, service bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.bound, sess.service = a, service
}

// session returns the connection's state. A connection the door did not
// introduce (it cannot happen, but gldap would not tell) is treated as an
// unknown, unencrypted client.
func (b *ldapBackend) session(r *gldap.Request) *ldapSession {
	b.mu.Lock()
	defer b.mu.Unlock()
	sess, ok := b.sessions[r.ConnectionID()]
	if !ok {
		sess = &ldapSession{client: "unknown"}
		b.sessions[r.ConnectionID()] = sess
	}
	return sess
}

func (b *ldapBackend) forget(connID int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.sessions, connID)
}

// startBackend runs gldap on a free internal port. gldap picks no port
// itself and does not report the one it got, so the port is found first
// (listen on :0, close) and the rare loss of that race is retried.
func (s *ldapServer) startBackend() (*ldapBackend, error) {
	var errs []error
	for range 3 {
		b, err := s.tryBackend()
		if err == nil {
			return b, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("start gldap: %w", errors.Join(errs...))
}

func (s *ldapServer) tryBackend() (*ldapBackend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return nil, err
	}
	b := &ldapBackend{addr: addr, done: make(chan struct{}), sessions: map[int]*ldapSession{}}
	srv, err := gldap.NewServer(gldap.WithLogger(hclog.NewNullLogger()), gldap.WithOnClose(b.forget))
	if err != nil {
		return nil, err
	}
	if err := srv.Router(s.newMux(b)); err != nil {
		return nil, err
	}
	b.srv = srv
	go func() {
		b.runErr = srv.Run(addr)
		close(b.done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-b.done:
			return nil, fmt.Errorf("listen on %s: %w", addr, b.runErr)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			_ = c.Close()
			return b, nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	_ = srv.Stop()
	return nil, fmt.Errorf("gldap on %s not listening after 5s", addr)
}

// stopBackend stops the current gldap run. The doors have closed every
// backend connection by now, so gldap's Stop does not wait on clients.
func (s *ldapServer) stopBackend() error {
	b := s.backend.Load()
	if b == nil {
		return nil
	}
	stopped := make(chan error, 1)
	go func() { stopped <- b.srv.Stop() }()
	select {
	case err := <-stopped:
		<-b.done
		return err
	case <-time.After(5 * time.Second):
		return fmt.Errorf("gldap on %s did not stop within 5s", b.addr)
	}
}

// newMux routes the operations the sandbox serves to handlers bound to
// one backend run.
func (s *ldapServer) newMux(b *ldapBackend) *gldap.Mux {
	mux, _ := gldap.NewMux() // NewMux never fails
	// Registration errors only come from nil handlers.
	_ = mux.Bind(func(w *gldap.ResponseWriter, r *gldap.Request) { s.handleBind(b, w, r) })
	_ = mux.Search(func(w *gldap.ResponseWriter, r *gldap.Request) { s.handleSearch(b, w, r) })
	_ = mux.Modify(func(w *gldap.ResponseWriter, r *gldap.Request) { s.handleModify(b, w, r) })
	_ = mux.Add(func(w *gldap.ResponseWriter, r *gldap.Request) { s.handleAdd(b, w, r) })
	_ = mux.Delete(func(w *gldap.ResponseWriter, r *gldap.Request) { s.handleDelete(b, w, r) })
	_ = mux.ExtendedOperation(func(w *gldap.ResponseWriter, r *gldap.Request) { s.handleStartTLS(b, w, r) },
		gldap.ExtendedOperationStartTLS)
	_ = mux.Unbind(func(w *gldap.ResponseWriter, r *gldap.Request) { s.handleUnbind(b, w, r) })
	_ = mux.DefaultRoute(func(w *gldap.ResponseWriter, r *gldap.Request) { s.handleUnsupported(b, w, r) })
	return mux
}

// ldapDoor owns one public port: it accepts clients, remembers their
// connections so they can be dropped, and splices each to gldap.
type ldapDoor struct {
	s    *ldapServer
	name string // "ldap" or "ldaps"
	tls  bool   // terminate TLS here (LDAPS)
	addr string // 127.0.0.1:PORT, set by the first open and kept

	mu     sync.Mutex
	ln     net.Listener
	conns  map[uint64]*doorConn
	nextID uint64
	wg     sync.WaitGroup
}

// doorConn is one client connection and its backend connection.
type doorConn struct {
	id     uint64
	client net.Conn // the socket; out and the reader may wrap it in TLS
	// done is closed by close: whoever waits on the connection stops.
	done chan struct{}
	// upgraded hands the client reader the connection to read from once
	// gldap answered a StartTLS (nil: unchanged, the StartTLS was refused).
	upgraded chan net.Conn
	// tlsDone tells the StartTLS handler whether the handshake succeeded.
	tlsDone chan bool

	mu      sync.Mutex
	backend net.Conn
	closed  bool
	sess    *ldapSession // set by the hello
	// startTLS is the message id of a StartTLS request sent to gldap and
	// not yet answered (0: none; clients number messages from 1).
	startTLS int64

	writeMu sync.Mutex
	out     net.Conn // where responses go: client, or its TLS layer
}

func newDoorConn(id uint64, c net.Conn) *doorConn {
	return &doorConn{id: id, client: c, out: c, done: make(chan struct{}),
		upgraded: make(chan net.Conn, 1), tlsDone: make(chan bool, 1)}
}

// session is the gldap session the hello registered for this connection.
func (c *doorConn) session() *ldapSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

func (c *doorConn) setSession(sess *ldapSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sess = sess
}

// write sends one whole message to the client: responses relayed from
// gldap and the door's own ModifyDN answers never interleave.
func (c *doorConn) write(b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_, err := c.out.Write(b)
	return err
}

func (c *doorConn) setOut(out net.Conn) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.out = out
}

// expectStartTLS notes the id of a StartTLS request on its way to gldap.
func (c *doorConn) expectStartTLS(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.startTLS = id
}

// answersStartTLS reports whether a response with this id answers the
// pending StartTLS, and clears it if so.
func (c *doorConn) answersStartTLS(id int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.startTLS == 0 || c.startTLS != id {
		return false
	}
	c.startTLS = 0
	return true
}

// awaitTLS waits for the door's handshake with the client after a
// StartTLS answer: true once the connection is encrypted.
func (c *doorConn) awaitTLS() bool {
	select {
	case ok := <-c.tlsDone:
		return ok
	case <-c.done:
		return false
	case <-time.After(15 * time.Second):
		return false
	}
}

func (c *doorConn) setBackend(b net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.backend = b
	return true
}

func (c *doorConn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	close(c.done)
	_ = c.client.Close()
	if c.backend != nil {
		_ = c.backend.Close()
	}
}

// open listens on a free port the first time and on that same port after
// (Go sets SO_REUSEADDR, so a restart is not blocked by TIME_WAIT).
func (d *ldapDoor) open() error {
	addr := d.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s on %s: %w", d.name, addr, err)
	}
	if d.addr == "" {
		// Written once, before anything reads it (URL, LDAPSURL).
		d.addr = ln.Addr().String()
	}
	d.mu.Lock()
	d.ln = ln
	d.conns = map[uint64]*doorConn{}
	d.mu.Unlock()
	d.wg.Add(1)
	go d.accept(ln)
	return nil
}

func (d *ldapDoor) accept(ln net.Listener) {
	defer d.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, keep serving.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		d.mu.Lock()
		if d.ln != ln {
			d.mu.Unlock()
			_ = c.Close()
			return
		}
		d.nextID++
		dc := newDoorConn(d.nextID, c)
		d.conns[dc.id] = dc
		d.wg.Add(1)
		d.mu.Unlock()
		go d.serve(dc)
	}
}

// serve runs one client connection to its end.
func (d *ldapDoor) serve(dc *doorConn) {
	defer d.wg.Done()
	defer func() {
		dc.close()
		d.mu.Lock()
		delete(d.conns, dc.id)
		d.mu.Unlock()
	}()
	var client net.Conn = dc.client
	if d.tls {
		tc := tls.Server(dc.client, d.s.tlsCfg)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return // the client gave up or does not trust the CA
		}
		client = tc
	}
	b := d.s.backend.Load()
	backend, err := net.DialTimeout("tcp", b.addr, 5*time.Second)
	if err != nil {
		return
	}
	if !dc.setBackend(backend) {
		_ = backend.Close()
		return
	}
	if err := d.hello(backend, dc, b); err != nil {
		return
	}
	dc.setOut(client)
	done := make(chan struct{})
	go func() {
		d.toClient(dc, backend)
		dc.close()
		close(done)
	}()
	d.fromClient(dc, client, backend)
	dc.close()
	<-done
}

// fromClient relays the client's requests to gldap, one message at a
// time, until either side hangs up. It answers ModifyDN itself; after
// relaying a StartTLS it reads nothing more until toClient has relayed the
// answer (and made the handshake, if it was a yes), as RFC 4511 §4.14.1
// has the client wait too.
func (d *ldapDoor) fromClient(dc *doorConn, in net.Conn, backend net.Conn) {
	for {
		// The client side is read unbuffered: after a StartTLS, no byte
		// of the handshake may be left behind in a buffer.
		raw, p, err := readMessage(in)
		if err != nil {
			return
		}
		id, op, ok := messageParts(p)
		switch {
		case ok && op.Tag == ldap.ApplicationModifyDNRequest:
			if dc.write(d.s.serveModifyDN(dc.session(), id, op)) != nil {
				return
			}
			continue
		case ok && isStartTLS(op):
			dc.expectStartTLS(id)
			if _, err := backend.Write(raw); err != nil {
				return
			}
			select {
			case next := <-dc.upgraded:
				if next != nil {
					in = next
				}
			case <-dc.done:
				return
			}
			continue
		}
		// Anything else, malformed messages included, is gldap's to answer.
		if _, err := backend.Write(raw); err != nil {
			return
		}
	}
}

// toClient relays gldap's responses to the client, one message at a time.
// When one answers the pending StartTLS with success, it makes the TLS
// handshake with the client, tells the handler the outcome, and hands the
// encrypted connection to fromClient.
func (d *ldapDoor) toClient(dc *doorConn, backend net.Conn) {
	r := bufio.NewReader(backend)
	for {
		raw, p, err := readMessage(r)
		if err != nil {
			return
		}
		if err := dc.write(raw); err != nil {
			return
		}
		id, op, ok := messageParts(p)
		if !ok || op.Tag != ldap.ApplicationExtendedResponse || !dc.answersStartTLS(id) {
			continue
		}
		var next net.Conn
		if code, _ := resultCode(op); code == ldap.LDAPResultSuccess {
			tc := tls.Server(dc.client, d.s.tlsCfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := tc.HandshakeContext(ctx)
			cancel()
			dc.tlsDone <- err == nil
			if err != nil {
				return // the stream is unusable after a failed handshake
			}
			dc.setOut(tc)
			next = tc
		}
		dc.upgraded <- next
	}
}

// readMessage reads one LDAP message: its bytes as sent and its parse.
func readMessage(r io.Reader) ([]byte, *ber.Packet, error) {
	var buf bytes.Buffer
	p, err := ber.ReadPacket(io.TeeReader(r, &buf))
	if err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), p, nil
}

// messageParts splits an LDAPMessage into its id and protocol operation.
func messageParts(p *ber.Packet) (int64, *ber.Packet, bool) {
	if p == nil || len(p.Children) < 2 {
		return 0, nil, false
	}
	id, ok := p.Children[0].Value.(int64)
	op := p.Children[1]
	return id, op, ok && op.ClassType == ber.ClassApplication
}

// isStartTLS reports whether op is an ExtendedRequest for StartTLS.
func isStartTLS(op *ber.Packet) bool {
	return op.Tag == ldap.ApplicationExtendedRequest && len(op.Children) > 0 &&
		op.Children[0].ClassType == ber.ClassContext && op.Children[0].Tag == 0 &&
		op.Children[0].Data.String() == oidStartTLS
}

// resultCode is an LDAPResult's resultCode.
func resultCode(op *ber.Packet) (uint16, bool) {
	if len(op.Children) == 0 {
		return 0, false
	}
	n, ok := op.Children[0].Value.(int64)
	return uint16(n), ok
}

// hello introduces the client to gldap (see helloBaseDN) and waits for
// the answer, so the client's own requests find the session in place.
func (d *ldapDoor) hello(backend net.Conn, dc *doorConn, b *ldapBackend) error {
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(1), "MessageID"))
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchRequest, nil, "Search Request")
	req.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, helloBaseDN, "Base DN"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(ldap.ScopeBaseObject), "Scope"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(ldap.NeverDerefAliases), "Deref Aliases"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(0), "Size Limit"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(0), "Time Limit"))
	req.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, "Types Only"))
	req.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, ldap.FilterPresent, "objectClass", "Present"))
	attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
	for _, a := range []string{
		"client=" + dc.client.RemoteAddr().String(),
		"tls=" + strconv.FormatBool(d.tls),
		"door=" + d.name + ":" + strconv.FormatUint(dc.id, 10),
	} {
		attrs.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a, "Attribute"))
	}
	req.AppendChild(attrs)
	env.AppendChild(req)

	if err := backend.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := backend.Write(env.Bytes()); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	// ReadPacket reads exactly one message, leaving nothing buffered.
	resp, err := ber.ReadPacket(backend)
	if err != nil {
		return fmt.Errorf("read hello: %w", err)
	}
	if len(resp.Children) < 2 || resp.Children[1].Tag != ldap.ApplicationSearchResultDone ||
		len(resp.Children[1].Children) == 0 || resp.Children[1].Children[0].Value != int64(0) {
		return errors.New("hello refused")
	}
	return backend.SetDeadline(time.Time{})
}

// conn finds a live connection by id (for the hello).
func (d *ldapDoor) conn(id uint64) *doorConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns[id]
}

// dropAll closes every client connection, leaving the port open.
func (d *ldapDoor) dropAll() {
	d.mu.Lock()
	conns := make([]*doorConn, 0, len(d.conns))
	for _, c := range d.conns {
		conns = append(conns, c)
	}
	d.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// shut closes the port and every connection and waits for them to end.
func (d *ldapDoor) shut() {
	d.mu.Lock()
	ln := d.ln
	d.ln = nil
	d.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	d.dropAll()
	d.wg.Wait()
}

// registerHello handles the door's hello: it records the client's address
// and encryption state for the connection.
func (s *ldapServer) registerHello(b *ldapBackend, r *gldap.Request, attrs []string) bool {
	sess := &ldapSession{}
	for _, a := range attrs {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "client":
			sess.client = v
		case "tls":
			sess.tls = v == "true"
		case "door":
			name, id, _ := strings.Cut(v, ":")
			n, err := strconv.ParseUint(id, 10, 64)
			if err != nil {
				return false
			}
			door := s.plain
			if name == "ldaps" {
				door = s.ldaps
			}
			sess.door = door.conn(n)
		}
	}
	if sess.client == "" {
		return false
	}
	if sess.door != nil {
		sess.door.setSession(sess)
	}
	b.mu.Lock()
	b.sessions[r.ConnectionID()] = sess
	b.mu.Unlock()
	return true
}
