package serve

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestOpenAPIMatchesRoutes: every route is documented with its method, and
// every documented path and method is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	s := &Server{}
	s.metrics = newMetrics(s)
	var served, documented []string
	for _, rt := range s.routes() {
		served = append(served, rt.method+" "+rt.pattern)
	}
	for path, ops := range doc.Paths {
		for op := range ops {
			if op == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(op)+" "+path)
		}
	}
	sort.Strings(served)
	sort.Strings(documented)
	if !slices.Equal(served, documented) {
		t.Errorf("routes:\n%s\ndocumented:\n%s", strings.Join(served, "\n"), strings.Join(documented, "\n"))
	}
}

// TestStoreSurvivesATornLine: the records written before a crash are read
// back; a last line torn by the crash is cut off, and appending goes on
// after the good ones. A bad line before the last is an error.
func TestStoreSurvivesATornLine(t *testing.T) {
	dir := t.TempDir()
	st, recs, err := OpenStore(dir)
	if err != nil || len(recs) != 0 {
		t.Fatalf("open: %v %v", recs, err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := st.Append(record{Type: recAccepted, Time: now, ID: "a"}, record{Type: recStarted, Time: now, ID: "a"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	path := filepath.Join(dir, "serve", "requests.jsonl")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"type":"finished","id":"a","outc`)
	f.Close()

	st, recs, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[1].Type != recStarted {
		t.Fatalf("records %+v", recs)
	}
	if err := st.Append(record{Type: recFinished, Time: now, ID: "a", Outcome: "contained", Contained: true}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, recs, err = OpenStore(dir)
	if err != nil || len(recs) != 3 || recs[2].Outcome != "contained" {
		t.Fatalf("after the repair: %+v %v", recs, err)
	}
	st.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v %v", fi.Mode(), err)
	}

	b, _ := os.ReadFile(path)
	os.WriteFile(path, append([]byte("not json\n"), b...), 0o600)
	if _, _, err := OpenStore(dir); err == nil || !strings.Contains(err.Error(), "line 1 is not a request record") {
		t.Errorf("a bad first line: %v", err)
	}
}

// TestStoreIsHeldByOneProcess: a second service on the same state
// directory is refused, since it would run every run twice.
func TestStoreIsHeldByOneProcess(t *testing.T) {
	dir := t.TempDir()
	st, _, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, _, err := OpenStore(dir); err == nil || !strings.Contains(err.Error(), "is held by another revoke serve") {
		t.Errorf("second open: %v", err)
	}
}

// TestLimiter: a caller gets its burst, then waits 1/rate for each more;
// another caller has its own bucket.
func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(2, 3, func() time.Time { return now })
	for i := range 3 {
		if w := l.take("a"); w != 0 {
			t.Fatalf("request %d waited %v", i, w)
		}
	}
	if w := l.take("a"); w != 500*time.Millisecond {
		t.Errorf("fourth request: wait %v, want 500ms", w)
	}
	if w := l.take("b"); w != 0 {
		t.Errorf("another caller waited %v", w)
	}
	now = now.Add(500 * time.Millisecond)
	if w := l.take("a"); w != 0 {
		t.Errorf("after 500ms: wait %v", w)
	}
}

// TestLocalDriver: at most Max runs at once, in the order of their start
// time; a cancelled run never starts; a run due later starts then.
func TestLocalDriver(t *testing.T) {
	d := &LocalDriver{Max: 2}
	started := make(chan string, 10)
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	now := time.Now()
	d.Submit("c", now.Add(-time.Second))
	d.Submit("a", now.Add(-3*time.Second))
	d.Submit("b", now.Add(-2*time.Second))
	d.Submit("x", now.Add(-4*time.Second))
	d.Cancel("x")
	d.Submit("later", now.Add(300*time.Millisecond))
	go func() {
		defer close(done)
		d.Run(ctx, func(ctx context.Context, id string) {
			started <- id
			<-release
		})
	}()
	first := []string{<-started, <-started}
	sort.Strings(first)
	select {
	case id := <-started:
		t.Fatalf("%s started while two ran", id)
	case <-time.After(100 * time.Millisecond):
	}
	release <- struct{}{}
	third := <-started
	release <- struct{}{}
	fourth := <-started
	if took := time.Since(now); took < 300*time.Millisecond {
		t.Errorf("later started after %v", took)
	}
	release <- struct{}{}
	release <- struct{}{}
	cancel()
	<-done
	if got := append(first, third, fourth); !slices.Equal(got, []string{"a", "b", "c", "later"}) {
		t.Errorf("order %v", got)
	}
}

// TestValidate: the request's fields, with the exact complaint.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		req  RunRequest
		want string
	}{
		{RunRequest{User: "a", Reason: "r"}, "runbook is required"},
		{RunRequest{Runbook: "../x", User: "a", Reason: "r"}, `unknown runbook "../x"`},
		{RunRequest{Runbook: "compromised", Reason: "r"}, "user or users is required"},
		{RunRequest{Runbook: "compromised", User: "a"}, "reason is required: the journal records why a run was asked for"},
		{RunRequest{Runbook: "compromised", Users: []string{"a", " A "}, Reason: "r"}, "users names A twice"},
		{RunRequest{Runbook: "compromised", Users: []string{"a", ""}, Reason: "r"}, "users[1] is empty"},
		{RunRequest{Runbook: "compromised", User: " a ", Reason: "r"}, ""},
	} {
		if got := validate(&tc.req, runbooksNamed("compromised")); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.req, got, tc.want)
		}
	}
}

// TestAccessLogHasNoCredentials: the access log names the method, path,
// status and caller, never the query or a header.
func TestAccessLogHasNoCredentials(t *testing.T) {
	var buf strings.Builder
	s := &Server{Logger: newTestLogger(&buf)}
	h := s.accessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		infoOf(r.Context()).caller = "soar"
		w.WriteHeader(http.StatusTeapot)
	}))
	req, _ := http.NewRequest("GET", "/v1/runs?code=secret-in-query", nil)
	req.Header.Set("Authorization", "Bearer eyJsecret")
	req.Header.Set("X-Request-Id", "req-1")
	rec := &fakeWriter{h: http.Header{}}
	h.ServeHTTP(rec, req)
	line := buf.String()
	for _, want := range []string{"method=GET", "path=/v1/runs", "status=418", "caller=soar", "request_id=req-1"} {
		if !strings.Contains(line, want) {
			t.Errorf("log lacks %s: %s", want, line)
		}
	}
	if strings.Contains(line, "secret") {
		t.Errorf("log holds a secret: %s", line)
	}
	if rec.h.Get("X-Request-Id") != "req-1" {
		t.Errorf("X-Request-Id %q", rec.h.Get("X-Request-Id"))
	}
}

// TestRateLimitAnswers: beyond its burst a caller gets 429 with
// Retry-After in whole seconds; failed authentications count against the
// remote address, so guessing credentials is slowed too.
func TestRateLimitAnswers(t *testing.T) {
	now := time.Unix(1000, 0)
	s := &Server{Rate: 0.5, Burst: 2, Authn: denyAll{}}
	s.limiter = newLimiter(s.Rate, s.Burst, func() time.Time { return now })
	var codes []int
	var retry string
	for range 3 {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/v1/runs", nil)
		req.RemoteAddr = "192.0.2.7:50000"
		s.authenticate(rec, req)
		codes = append(codes, rec.Code)
		retry = rec.Header().Get("Retry-After")
	}
	if !slices.Equal(codes, []int{401, 401, 429}) || retry != "2" {
		t.Errorf("codes %v, Retry-After %q", codes, retry)
	}
}

// denyAll authenticates nobody.
type denyAll struct{}

func (denyAll) Authenticate(*http.Request) (*Caller, error) { return nil, errors.New("no credentials") }
