package sandbox

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBody bounds a request body, after gzip decompression too.
const maxBody = 4 << 20

// graphServer is the tenant's HTTPS face: the Microsoft Graph v1.0
// emulator under /v1.0, the OAuth endpoints Entra serves at the authority
// host, and the sandbox's own /_sandbox endpoints.
type graphServer struct {
	dir      *Directory
	log      *RequestLog
	tokens   *tokenIssuer
	oauth    *oauthServer
	throttle throttler
	faults   faults
	pages    pager
	now      func() time.Time
	// sync runs a directory sync for POST /_sandbox/sync.
	sync func()

	// riskMu and riskLast hold Identity Protection's per-tenant rate of
	// about one request a second.
	riskMu   sync.Mutex
	riskLast time.Time
}

func newGraphServer(dir *Directory, log *RequestLog, tokens *tokenIssuer, now func() time.Time) *graphServer {
	s := &graphServer{dir: dir, log: log, tokens: tokens, now: now}
	s.oauth = &oauthServer{dir: dir, tokens: tokens, now: now}
	s.throttle.set(nil)
	s.sync = func() { dir.Sync(now()) }
	return s
}

// statusWriter remembers the status a handler wrote, for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ServeHTTP routes a request to Graph, OAuth or the sandbox endpoints.
func (s *graphServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	segs := splitPath(r.URL.EscapedPath())
	if len(segs) > 0 && segs[0] == "_sandbox" {
		s.serveSandbox(rw, r, segs[1:])
		return
	}
	w := &statusWriter{ResponseWriter: rw}
	entry := Entry{Client: r.RemoteAddr, Protocol: "graph", Method: r.Method, Path: r.URL.RequestURI()}
	defer func() {
		entry.Status = w.status
		entry.Time = s.now().UTC()
		s.log.Add(entry)
	}()

	if d := s.dir.Delay(); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	}
	if f, ok := s.faults.pick(r.Method, r.URL.Path, false); ok {
		entry.Detail = "fault injected"
		if f.Reset {
			entry.Detail = "fault injected: connection reset"
			// ErrAbortHandler makes net/http drop the connection (HTTP/1)
			// or reset the stream (HTTP/2) without logging a panic; the
			// deferred log entry is still written, with status 0.
			panic(http.ErrAbortHandler)
		}
		ids := newIDs(r)
		resp := faultResponse(f, ids, s.now())
		resp.write(w, ids)
		return
	}

	if len(segs) == 0 || !strings.EqualFold(segs[0], "v1.0") {
		if client, ok := s.oauth.serve(w, r, segs); ok {
			if client != "" {
				entry.Client = client
			}
			return
		}
		ids := newIDs(r)
		seg := ""
		if len(segs) > 0 {
			seg = segs[0]
		}
		errResp(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid version: %s", seg), ids, s.now()).write(w, ids)
		return
	}

	ids := newIDs(r)
	claims, err := s.tokens.validate(bearer(r))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="`+graphAppID+`"`)
		errResp(http.StatusUnauthorized, "InvalidAuthenticationToken", err.Error(), ids, s.now()).write(w, ids)
		return
	}
	entry.Client = claims.AppID
	body, resp := readBody(r, ids, s.now())
	if resp != nil {
		resp.write(w, ids)
		return
	}
	rel := strings.TrimPrefix(r.URL.EscapedPath(), "/"+segs[0])
	if r.URL.RawQuery != "" {
		rel += "?" + r.URL.RawQuery
	}
	// nextLinks point at the host and version the client called.
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	base := scheme + "://" + r.Host + "/" + segs[0]
	if len(segs) == 2 && segs[1] == "$batch" {
		if r.Method != http.MethodPost {
			methodNotAllowed(ids, s.now()).write(w, ids)
			return
		}
		s.batch(claims, body, ids, r.RemoteAddr, base).write(w, ids)
		return
	}
	resp = s.dispatch(claims, r.Method, base, rel, r.Header, body, ids)
	entry.Detail = resp.detail
	resp.write(w, ids)
}

// requestIDs are the ids every Graph answer carries: request-id made here,
// client-request-id echoed from the request (or made here too).
type requestIDs struct{ request, client string }

func newIDs(r *http.Request) requestIDs {
	ids := requestIDs{request: newRequestID(), client: r.Header.Get("client-request-id")}
	if ids.client == "" || len(ids.client) > 100 {
		ids.client = ids.request
	}
	return ids
}

// newRequestID is a random GUID.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// readBody reads the request body, inflating Content-Encoding: gzip (the
// SDK compresses bodies), bounded by maxBody.
func readBody(r *http.Request, ids requestIDs, now time.Time) ([]byte, *response) {
	if r.Body == nil {
		return nil, nil
	}
	var src io.Reader = io.LimitReader(r.Body, maxBody+1)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, errResp(http.StatusBadRequest, "BadRequest", "The request body could not be decompressed.", ids, now)
		}
		defer zr.Close()
		src = io.LimitReader(zr, maxBody+1)
	default:
		return nil, errResp(http.StatusUnsupportedMediaType, "BadRequest", fmt.Sprintf("Content-Encoding '%s' is not supported.", enc), ids, now)
	}
	b, err := io.ReadAll(src)
	if err != nil {
		return nil, errResp(http.StatusBadRequest, "BadRequest", "The request body could not be read.", ids, now)
	}
	if len(b) > maxBody {
		return nil, errResp(http.StatusRequestEntityTooLarge, "BadRequest", "The request body is too large.", ids, now)
	}
	return b, nil
}

// response is one Graph answer, built before it is written so $batch can
// embed it.
type response struct {
	status int
	header http.Header
	body   []byte // JSON, or nil for no content
	// detail goes to the request log (never a body or a secret).
	detail string
}

const odataJSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

func (r *response) write(w http.ResponseWriter, ids requestIDs) {
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	h.Set("request-id", ids.request)
	h.Set("client-request-id", ids.client)
	if r.body != nil && h.Get("Content-Type") == "" {
		h.Set("Content-Type", odataJSON)
	}
	w.WriteHeader(r.status)
	if r.body != nil {
		_, _ = w.Write(r.body)
	}
}

// jsonResp answers status with v as JSON.
func jsonResp(status int, v any) *response {
	b, err := json.Marshal(v)
	if err != nil {
		return &response{status: http.StatusInternalServerError, body: []byte(`{"error":{"code":"InternalServerError","message":"could not encode the response"}}`)}
	}
	return &response{status: status, body: b}
}

func noContent() *response { return &response{status: http.StatusNoContent} }

// graphError is Graph's error body.
type graphError struct {
	Error graphErrorBody `json:"error"`
}

type graphErrorBody struct {
	Code       string          `json:"code"`
	Message    string          `json:"message"`
	InnerError graphInnerError `json:"innerError"`
}

type graphInnerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// errResp is a Graph error answer, shaped exactly as Graph sends it.
func errResp(status int, code, msg string, ids requestIDs, now time.Time) *response {
	r := jsonResp(status, graphError{Error: graphErrorBody{Code: code, Message: msg, InnerError: graphInnerError{
		Date: now.UTC().Format("2006-01-02T15:04:05"), RequestID: ids.request, ClientRequestID: ids.client,
	}}})
	r.header = http.Header{"Content-Type": {"application/json"}}
	return r
}

func methodNotAllowed(ids requestIDs, now time.Time) *response {
	return errResp(http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri.", ids, now)
}

func faultResponse(f FaultRule, ids requestIDs, now time.Time) *response {
	var r *response
	switch f.Status {
	case http.StatusTooManyRequests:
		r = errResp(f.Status, "TooManyRequests", "Please retry again later.", ids, now)
	case http.StatusServiceUnavailable:
		r = errResp(f.Status, "ServiceUnavailable", "The service is temporarily unavailable. Please retry later.", ids, now)
	case http.StatusGatewayTimeout:
		r = errResp(f.Status, "GatewayTimeout", "The gateway did not receive a response in time.", ids, now)
	default:
		r = errResp(f.Status, strings.ReplaceAll(http.StatusText(f.Status), " ", ""), "Injected fault.", ids, now)
	}
	if f.RetryAfter > 0 {
		r.header.Set("Retry-After", strconv.Itoa(retryAfterSeconds(f.RetryAfter)))
	}
	r.detail = "fault injected"
	return r
}

// splitPath splits an escaped URL path into unescaped segments; a segment
// that does not unescape is kept as sent.
func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if u, err := url.PathUnescape(s); err == nil {
			parts[i] = u
		}
	}
	return parts
}

// call is one Graph request being served (a top-level one or a $batch item).
type call struct {
	s      *graphServer
	claims *accessClaims
	method string
	segs   []string // unescaped, after /v1.0
	query  url.Values
	header http.Header // the request's (a $batch item's own)
	body   []byte
	ids    requestIDs
	now    time.Time

	// base, path and rawQuery are the request as the client wrote it
	// (https://HOST/v1.0, escaped path after it, raw query), for nextLinks.
	base, path, rawQuery string
}

func (c *call) err(status int, code, msg string) *response {
	return errResp(status, code, msg, c.ids, c.now)
}

func (c *call) forbidden() *response {
	return c.err(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
}

func (c *call) notFound(ref string) *response {
	return c.err(http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", ref))
}

func (c *call) badJSON() *response {
	return c.err(http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
}

// decode reads the JSON object body into v; an empty body is an error.
func (c *call) decode(v any) *response {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return c.badJSON()
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return c.badJSON()
	}
	return nil
}

// object reads the JSON object body as raw members.
func (c *call) object() (map[string]json.RawMessage, *response) {
	var m map[string]json.RawMessage
	if r := c.decode(&m); r != nil {
		return nil, r
	}
	if m == nil {
		return nil, c.badJSON()
	}
	return m, nil
}

// appRoles are the directory roles of the calling app's service principal.
// Callers hold the directory lock.
func (c *call) appRoles() []string {
	if a := c.s.dir.Apps[c.claims.AppID]; a != nil {
		return a.DirectoryRoles
	}
	return nil
}

// dispatch serves one Graph request (base is https://HOST/v1.0 as the
// client called it, rel the path and query after it): route, throttle,
// permission, handler.
func (s *graphServer) dispatch(claims *accessClaims, method, base, rel string, header http.Header, body []byte, ids requestIDs) *response {
	now := s.now()
	u, err := url.Parse(rel)
	if err != nil {
		return errResp(http.StatusBadRequest, "BadRequest", "The request URI is not valid.", ids, now)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return errResp(http.StatusBadRequest, "BadRequest", "The query string is not valid.", ids, now)
	}
	c := &call{s: s, claims: claims, method: method, segs: splitPath(u.EscapedPath()), query: q, header: header,
		base: base, path: u.EscapedPath(), rawQuery: u.RawQuery, body: body, ids: ids, now: now}
	rt, resp := findRoute(c)
	if resp != nil {
		return resp
	}
	_, selected := q["$select"]
	cost := requestCost(method, rt.list, selected)
	t := s.throttle.take(claims.AppID, cost, directoryWrite(method, c.segs), now)
	if !t.ok {
		return t.refuse(c)
	}
	resp = s.serveRoute(c, rt)
	t.annotate(resp, cost)
	return resp
}

func (s *graphServer) serveRoute(c *call, rt *route) *response {
	if len(rt.perms) > 0 && !c.claims.hasAny(rt.perms) {
		return c.forbidden()
	}
	return rt.handle(c)
}

// unknownSegment is Graph's answer to a path it has no resource for.
func (c *call) unknownSegment(seg string) *response {
	return c.err(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", seg))
}
