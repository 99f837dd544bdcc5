package serve

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/revoke-dev/revoke/engine"
)

func runbooksNamed(names ...string) map[string]*engine.Runbook {
	out := map[string]*engine.Runbook{}
	for _, n := range names {
		out[n] = &engine.Runbook{Name: n}
	}
	return out
}

func newTestLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// fakeWriter is a ResponseWriter that keeps only the headers.
type fakeWriter struct{ h http.Header }

func (f *fakeWriter) Header() http.Header         { return f.h }
func (f *fakeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (f *fakeWriter) WriteHeader(int)             {}
