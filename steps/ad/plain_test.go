package ad

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"

	"github.com/revoke-dev/revoke/steps"
)

// plainServer is an LDAP server without TLS that accepts any simple bind,
// the kind of DC (or a misconfigured proxy) revoke must not send a password
// to. It records the operations it receives.
type plainServer struct {
	url string
	mu  sync.Mutex
	ops []string
}

func (p *plainServer) record(op string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ops = append(p.ops, op)
}

func (p *plainServer) received() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.ops...)
}

func startPlainServer(t *testing.T) *plainServer {
	t.Helper()
	p := &plainServer{}
	srv, err := gldap.NewServer(gldap.WithLogger(hclog.NewNullLogger()))
	if err != nil {
		t.Fatal(err)
	}
	mux, err := gldap.NewMux()
	if err != nil {
		t.Fatal(err)
	}
	mux.Bind(func(w *gldap.ResponseWriter, r *gldap.Request) {
		p.record("bind")
		w.Write(r.NewBindResponse(gldap.WithResponseCode(gldap.ResultSuccess)))
	})
	mux.Search(func(w *gldap.ResponseWriter, r *gldap.Request) {
		p.record("search")
		w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultSuccess)))
	})
	mux.Modify(func(w *gldap.ResponseWriter, r *gldap.Request) {
		p.record("modify")
		w.Write(r.NewModifyResponse(gldap.WithResponseCode(gldap.ResultSuccess)))
	})
	if err := srv.Router(mux); err != nil {
		t.Fatal(err)
	}
	// gldap listens itself: find a free port first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	go srv.Run(addr)
	t.Cleanup(func() { srv.Stop() })
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i == 100 {
			t.Fatalf("the plain LDAP server did not start on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.url = "ldap://" + addr
	return p
}

func TestResetPasswordRefusesAnUnencryptedConnection(t *testing.T) {
	srv := startPlainServer(t)
	env := &steps.Env{
		Section: steps.Values{fieldURL: srv.url, fieldBaseDN: "DC=contoso,DC=test",
			fieldBindDN: "CN=svc-revoke,DC=contoso,DC=test", fieldTimeout: 5 * time.Second},
		Secret: func(string) (string, error) { return "service-password", nil },
	}
	conn, err := Backend.Open(t.Context(), env)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer conn.Close()
	c := conn.(*Conn)
	if c.Encrypted() {
		t.Fatal("a plain ldap:// connection reports itself encrypted")
	}
	dn := "CN=Adele Vance,CN=Users,DC=contoso,DC=test"
	call := &steps.Call{
		StepID:  "reset",
		Subject: &steps.Subject{Ref: "adele", Facts: map[string]map[string]any{"ad": {"distinguishedName": dn}}},
		With:    steps.Values{"times": 2, "length": 32},
		Conn:    c,
	}
	want := "reset password of " + dn + " refused: the connection to " + srv.url +
		" is not encrypted; use ldaps:// or start_tls: true"
	step := resetPassword.New()
	if _, err := step.Check(t.Context(), call); err == nil || err.Error() != want || steps.ClassOf(err) != steps.Invalid {
		t.Errorf("Check = %v (%v), want %q (invalid)", err, steps.ClassOf(err), want)
	}
	if _, err := step.Apply(t.Context(), call); err == nil || err.Error() != want || steps.ClassOf(err) != steps.Invalid {
		t.Errorf("Apply = %v (%v), want %q (invalid)", err, steps.ClassOf(err), want)
	}
	// The same guard sits on the connection the request would go out on.
	err = (&resetPasswordStep{generate: newPassword}).reset(t.Context(), c, dn, "adele", 32)
	if err == nil || err.Error() != want {
		t.Errorf("reset = %v, want %q", err, want)
	}
	if got := srv.received(); len(got) != 1 || got[0] != "bind" {
		t.Errorf("the server received %v, want only the bind", got)
	}
}
