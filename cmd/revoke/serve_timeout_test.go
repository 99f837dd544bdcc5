package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/sandbox"
)

// A client that sends half a request's headers and then nothing is cut
// off after --header-timeout: it cannot hold a connection open. A client
// that finishes in time is answered.
func TestServeCutsOffASlowClient(t *testing.T) {
	e := newE2E(t, nil, sandbox.Options{})
	s := startServe(t, e, "--header-timeout", "300ms")
	tc := s.client.Transport.(*http.Transport).TLSClientConfig.Clone()
	addr := strings.TrimPrefix(s.base, "https://")
	dial := func(t *testing.T) *tls.Conn {
		t.Helper()
		c, err := tls.Dial("tcp", addr, tc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	slow := dial(t)
	if _, err := io.WriteString(slow, "GET /healthz HTTP/1.1\r\nHost: revoke\r\n"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// Far longer than the timeout: without it the read would wait for the
	// rest of the headers this long and fail the test.
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(slow)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection was still open after %v", time.Since(start).Round(time.Millisecond))
	}
	if strings.Contains(string(b), "200 OK") {
		t.Errorf("half a request was answered: %q", b)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("cut off after %v, want about 300ms", took.Round(time.Millisecond))
	}

	quick := dial(t)
	if _, err := io.WriteString(quick, "GET /healthz HTTP/1.1\r\nHost: revoke\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	quick.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(quick), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a whole request: %v %v", resp, err)
	}
	resp.Body.Close()

	if _, stderr, code := e.cli(t, "serve", "--header-timeout", "0s", "--insecure-http", "--listen", "127.0.0.1:0"); code != exitUsage || !strings.Contains(stderr, "--header-timeout must be more than 0") {
		t.Errorf("--header-timeout 0s: exit %d, %s", code, stderr)
	}
}
