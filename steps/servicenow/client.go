package servicenow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// Conn is an instance's Table API: the value the servicenow backend's Open
// returns and its steps receive in Call.Conn. It is safe for concurrent
// use; an OAuth token is fetched on first use and again before it expires.
type Conn struct {
	base       *url.URL
	table      string
	group      string
	credential string
	manualApps []string
	http       *http.Client

	username, password     string // basic
	clientID, clientSecret string // oauth_client_credentials

	mu      sync.Mutex
	token   string
	expires time.Time
}

var _ steps.Conn = (*Conn)(nil)

// Resolve answers NotFound: ServiceNow keeps tickets, not the people they
// are about, so it never names who a reference is.
func (c *Conn) Resolve(context.Context, string) (map[string]any, error) {
	return nil, steps.Errorf(steps.NotFound, "servicenow keeps no people")
}

// Close releases idle connections.
func (c *Conn) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// maxResponse bounds what is read of an answer: a ticket is a few KiB,
// and an instance (or whatever answers in its place) must not fill memory.
const maxResponse = 1 << 20

// tokenMargin is how long before its expiry a token is replaced, so that
// one is never sent in its last seconds.
const tokenMargin = time.Minute

// record is a Table API record as revoke reads it: the fields it asks for
// with sysparm_fields, strings (references without links).
type record map[string]any

// get returns a string field, or "" for one absent or of another type.
func (r record) get(field string) string { s, _ := r[field].(string); return s }

// do sends one Table API request and decodes its "result" into out.
// query carries sysparm_*; body, when not nil, is sent as JSON.
func (c *Conn) do(ctx context.Context, method, path string, query url.Values, body any, want int, out any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return steps.Errorf(steps.Invalid, "servicenow: %v", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := c.authorize(ctx, req); err != nil {
		return err
	}
	op := method + " " + path
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(ctx, op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return transportError(ctx, op, err)
	}
	if resp.StatusCode != want {
		return statusError(op, resp, data)
	}
	if len(data) > maxResponse {
		return steps.Errorf(steps.Other, "servicenow: %s: the answer is larger than %s", op, steps.SizeText(maxResponse))
	}
	var env struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &env); err != nil || len(env.Result) == 0 {
		return steps.Errorf(steps.Other, "servicenow: %s: %d without a JSON result (is %s a ServiceNow instance?)", op, resp.StatusCode, c.base.Host)
	}
	if err := json.Unmarshal(env.Result, out); err != nil {
		return steps.Errorf(steps.Other, "servicenow: %s: result: %v", op, err)
	}
	return nil
}

// authorize sets the request's credential: basic, or a bearer token.
func (c *Conn) authorize(ctx context.Context, req *http.Request) error {
	if c.credential == credBasic {
		req.SetBasicAuth(c.username, c.password)
		return nil
	}
	tok, err := c.bearer(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// bearer returns a token that is not about to expire, fetching one with
// the client credentials grant when needed.
func (c *Conn) bearer(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && time.Now().Add(tokenMargin).Before(c.expires) {
		return c.token, nil
	}
	u := *c.base
	u.Path += "/oauth_token.do"
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.clientID}, "client_secret": {c.clientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", steps.Errorf(steps.Invalid, "servicenow: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	const op = "POST /oauth_token.do"
	resp, err := c.http.Do(req)
	if err != nil {
		return "", transportError(ctx, op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return "", transportError(ctx, op, err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(data, &tok)
	switch {
	case resp.StatusCode == http.StatusOK && tok.AccessToken != "":
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusBadRequest:
		// The instance's words, not the secret: "access_denied".
		return "", steps.Errorf(steps.Forbidden, "servicenow: %s: %d %s: the instance refused client_id %s and its secret",
			op, resp.StatusCode, clean(strings.TrimSpace(tok.Error+" "+tok.Description)), c.clientID)
	default:
		return "", statusError(op, resp, data)
	}
	c.token = tok.AccessToken
	c.expires = time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	return c.token, nil
}

// statusError classifies an answer that was not the one wanted, with the
// instance's message and detail.
func statusError(op string, resp *http.Response, data []byte) error {
	var body struct {
		Error struct {
			Message string `json:"message"`
			Detail  string `json:"detail"`
		} `json:"error"`
	}
	_ = json.Unmarshal(data, &body)
	text := clean(body.Error.Message)
	if d := clean(body.Error.Detail); d != "" {
		text += " (" + d + ")"
	}
	if text == "" {
		text = http.StatusText(resp.StatusCode)
	}
	err := fmt.Errorf("servicenow: %s: %d %s", op, resp.StatusCode, text)
	switch code := resp.StatusCode; {
	case code == http.StatusUnauthorized:
		return steps.Classify(steps.Forbidden, fmt.Errorf("%w: check the credential", err))
	case code == http.StatusForbidden:
		return steps.ForbiddenNeeding(err, "a ServiceNow role that may read and create the table's records (itil)")
	case code == http.StatusNotFound:
		return steps.Classify(steps.NotFound, err)
	case code == http.StatusTooManyRequests || code >= 500:
		return steps.RetryableAfter(err, retryAfter(resp.Header.Get("Retry-After")))
	case code == http.StatusBadRequest:
		return steps.Classify(steps.Invalid, err)
	}
	return err
}

// retryAfter reads Retry-After (steps.RetryAfterHeader); 0 when absent
// or unreadable.
func retryAfter(v string) time.Duration { return steps.RetryAfterHeader([]string{v}, 0) }

// transportError classifies a request that got no answer: a certificate
// that does not verify is the configuration's problem; a timeout or a
// dropped connection may pass.
func transportError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if steps.CertificateUntrusted(err) {
		return steps.Errorf(steps.Invalid, "servicenow: %s: server certificate not trusted: set ca_file to the CA that signed it (%v)", op, trimURL(err))
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return steps.Errorf(steps.Retryable, "servicenow: %s: %v", op, trimURL(err))
	}
	return steps.Errorf(steps.Other, "servicenow: %s: %v", op, trimURL(err))
}

// trimURL drops the *url.Error wrapper, whose text repeats the URL.
func trimURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// clean makes an instance's free text safe for one line of a terminal
// and the journal: control characters become spaces, and it is cut at
// 300 characters.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return s
}
