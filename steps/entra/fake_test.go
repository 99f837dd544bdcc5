package entra

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/revoke-dev/revoke/steps"
)

// fakeToken is a JWT with the given payload and a meaningless signature.
func fakeToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(p) + "." + enc([]byte("sig"))
}

// staticCred hands out one token and records the scopes it was asked for.
type staticCred struct {
	token  string
	mu     sync.Mutex
	scopes [][]string
}

func (c *staticCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, o.Scopes)
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// seen is one request the fake Graph received.
type seen struct {
	Method, URI, Auth, ContentEncoding string
	// Batched is set for a request that came inside a $batch.
	Batched bool
}

// fakeGraph is an HTTPS server standing in for Graph, answering with
// handler, recording every request.
type fakeGraph struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []seen
	// refuseBatch, when set, answers every $batch itself, as Graph
	// refusing the batch as a whole.
	refuseBatch func(http.ResponseWriter)
	// onBatch, when set, is called as a $batch's serving starts (true)
	// and ends (false).
	onBatch func(enter bool)
}

func newFakeGraph(t *testing.T, handler http.HandlerFunc) *fakeGraph {
	t.Helper()
	f := &fakeGraph{}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		refuse, onBatch := f.refuseBatch, f.onBatch
		f.mu.Unlock()
		if r.Method == http.MethodPost && r.URL.Path == "/v1.0/$batch" && refuse != nil {
			refuse(w)
		} else if r.Method == http.MethodPost && r.URL.Path == "/v1.0/$batch" {
			if onBatch != nil {
				onBatch(true)
				time.Sleep(20 * time.Millisecond) // long enough for the others in flight to overlap
				defer onBatch(false)
			}
			serveBatch(t, w, r, func(w http.ResponseWriter, item *http.Request) {
				f.mu.Lock()
				f.reqs = append(f.reqs, seen{item.Method, item.RequestURI, r.Header.Get("Authorization"), "", true})
				f.mu.Unlock()
				handler(w, item)
			})
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, seen{r.Method, r.RequestURI, r.Header.Get("Authorization"), r.Header.Get("Content-Encoding"), false})
		f.mu.Unlock()
		if r.URL.Path != "/v1.0/$batch" {
			handler(w, r)
		}
	}))
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are tested, not news
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGraph) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

// caFile writes the fake server's certificate to a PEM file.
func (f *fakeGraph) caFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// conn opens a Conn to the fake Graph with cred, trusting its certificate.
func (f *fakeGraph) conn(t *testing.T, cred azcore.TokenCredential) *Conn {
	t.Helper()
	tc, err := steps.TLSConfig("entra", f.caFile(t), false)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(f.srv.URL + "/v1.0")
	c, err := newConn(cred, u, baseTransport(tc), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// writeJSON answers status with a JSON body.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// graphErrorBody is an OData error as Graph writes it.
func graphErrorBody(code, msg string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]any{"date": "2026-11-30T10:17:06", "request-id": "r1", "client-request-id": "c1"}}})
	return string(b)
}

// serveBatch answers a $batch as Graph does, each item handed to handler
// as a request of its own (its url under /v1.0), in the order sent, and
// recorded before the batch itself, as the sandbox logs them.
func serveBatch(t *testing.T, w http.ResponseWriter, r *http.Request, handler http.HandlerFunc) {
	var in struct {
		Requests []struct {
			ID      string            `json:"id"`
			Method  string            `json:"method"`
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
			Body    json.RawMessage   `json:"body"`
		} `json:"requests"`
	}
	var src io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" { // the SDK compresses request bodies
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Errorf("batch body: %v", err)
			return
		}
		src = zr
	}
	if err := json.NewDecoder(src).Decode(&in); err != nil || len(in.Requests) == 0 || len(in.Requests) > 20 {
		t.Errorf("bad batch (%d requests): %v", len(in.Requests), err)
		writeJSON(w, 400, graphErrorBody("BadRequest", "Invalid batch payload format."))
		return
	}
	var out []map[string]any
	for _, item := range in.Requests {
		var body io.Reader = http.NoBody
		if len(item.Body) > 0 && string(item.Body) != "null" {
			body = bytes.NewReader(item.Body)
		}
		req := httptest.NewRequest(item.Method, "/v1.0"+item.URL, body)
		for k, v := range item.Headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		handler(rec, req)
		headers := map[string]string{}
		for k := range rec.Header() {
			headers[k] = rec.Header().Get(k)
		}
		resp := map[string]any{"id": item.ID, "status": rec.Code, "headers": headers}
		if rec.Body.Len() > 0 {
			resp["body"] = json.RawMessage(rec.Body.Bytes())
		}
		out = append(out, resp)
	}
	b, _ := json.Marshal(map[string]any{"responses": out})
	writeJSON(w, 200, string(b))
}
