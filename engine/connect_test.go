package engine

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/revoke-dev/revoke/steps"
)

type stubConn struct{ facts map[string]any }

func (c *stubConn) Resolve(context.Context, string) (map[string]any, error) {
	if c.facts == nil {
		return nil, steps.Errorf(steps.NotFound, "no such user")
	}
	return c.facts, nil
}
func (c *stubConn) Close() error { return nil }

// connectRegistry has one backend whose Open fails with the given errors
// in turn, then succeeds.
func connectRegistry(opens *atomic.Int32, failures ...error) *steps.Registry {
	r := steps.NewRegistry()
	r.RegisterBackend(steps.BackendSpec{Name: "dir", Summary: "a directory", Kinds: []string{"hybrid"},
		Open: func(context.Context, *steps.Env) (steps.Conn, error) {
			n := int(opens.Add(1))
			if n <= len(failures) {
				return nil, failures[n-1]
			}
			return &stubConn{facts: map[string]any{"id": "u1"}}, nil
		}})
	return r
}

func TestConnectRetriesRetryableOpens(t *testing.T) {
	env := &Environment{Name: "test", Kind: "hybrid", Sections: map[string]steps.Values{"dir": {}}}
	tests := []struct {
		name     string
		failures []error
		opens    int32
		err      string
	}{
		{"a dropped connection is tried again", []error{steps.Errorf(steps.Retryable, "bind: EOF")}, 2, ""},
		{"twice is still fine", []error{steps.Errorf(steps.Retryable, "a"), steps.Errorf(steps.Retryable, "b")}, 3, ""},
		{"four times is still fine", []error{steps.Errorf(steps.Retryable, "a"), steps.Errorf(steps.Retryable, "b"), steps.Errorf(steps.Retryable, "c"),
			steps.Errorf(steps.Retryable, "d")}, 5, ""},
		{"five retryable failures give up", []error{steps.Errorf(steps.Retryable, "a"), steps.Errorf(steps.Retryable, "b"), steps.Errorf(steps.Retryable, "c"),
			steps.Errorf(steps.Retryable, "d"), steps.Errorf(steps.Retryable, "e")}, 5, "open dir: e"},
		{"a bad password is not retried", []error{steps.Errorf(steps.Invalid, "invalid credentials")}, 1, "open dir: invalid credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opens atomic.Int32
			conns, err := Connect(t.Context(), connectRegistry(&opens, tt.failures...), env, nil)
			if got := opens.Load(); got != tt.opens {
				t.Errorf("%d opens, want %d", got, tt.opens)
			}
			if tt.err == "" {
				if err != nil || conns["dir"] == nil {
					t.Fatalf("Connect: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.err {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestResolveFoundNowhere(t *testing.T) {
	conns := Conns{"ad": &stubConn{}, "entra": &stubConn{}}
	_, err := conns.Resolve(t.Context(), steps.NewRegistry(), "nobody@contoso.test")
	if steps.ClassOf(err) != steps.NotFound || !strings.Contains(err.Error(), "nobody@contoso.test was not found in ad or entra: check the reference (UPN, object id, sAMAccountName, DOMAIN\\user, DN or SID)") {
		t.Errorf("err = %v", err)
	}
	conns["entra"] = &stubConn{facts: map[string]any{"id": "u1"}}
	s, err := conns.Resolve(t.Context(), steps.NewRegistry(), "x")
	if err != nil || !s.Found("entra") || s.Found("ad") {
		t.Errorf("subject %+v, %v", s, err)
	}
}
