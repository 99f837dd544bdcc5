package ad

// ad.disable_account's conditional modify: what it logs when the directory
// refuses it, what an unanswered one leaves for the retry, and the same
// against Samba.

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/steps"
)

// fallbackLog is the Info line of a refused conditional disable.
const fallbackLog = "ad: conditional disable refused; reading userAccountControl and replacing it"

// records keeps what a logger was given, as "message key=value …".
type records struct {
	mu    sync.Mutex
	lines []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, b.String())
	return nil
}

func (r *records) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

// openLogged opens a connection to the sandbox as open does, logging to
// the returned records.
func (s *sandboxDC) openLogged(t *testing.T) (*Conn, *records) {
	t.Helper()
	log := &records{}
	env := &steps.Env{Name: "sandbox", Kind: "hybrid",
		Section: steps.Values{
			fieldURL: s.tenant.LDAPSURL(), fieldBaseDN: "DC=contoso,DC=test", fieldBindDN: s.bindDN,
			fieldBindPassword + "_env": "REVOKE_AD_PASSWORD", fieldCAFile: s.caFile, fieldTimeout: 5 * time.Second,
		},
		Secret: func(string) (string, error) { return s.pw, nil },
		Path:   func(p string) string { return p },
		Logger: slog.New(log),
	}
	conn, err := Backend.Open(t.Context(), env)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn.(*Conn), log
}

// The fallback says why in one Info line, with the directory's answer; a
// conditional modify that went through logs nothing.
func TestDisableAccountLogsARefusedConditionalModify(t *testing.T) {
	tests := []struct {
		name      string
		meanwhile int // adele's userAccountControl set after Check; 0 leaves it
		want      []string
	}{
		{name: "taken: nothing logged", want: []string{}},
		{name: "refused: the fallback is logged", meanwhile: 66048, want: []string{
			"INFO " + fallbackLog + " dn=" + adeleDN + " userAccountControl=512 result=no such attribute (LDAP 16): " +
				"00002080: AtrErr: DSID-03151818, #1:\n\t0: 00002080: DSID-03151818, problem 1001 (NO_ATTRIBUTE_OR_VAL), data 0, Att 9 (userAccountControl)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSandbox(t)
			c, log := s.openLogged(t)
			call, _ := callFor(t, c, "adele", steps.Values{})
			step := disableAccount.New()
			if _, err := step.Check(t.Context(), call); err != nil {
				t.Fatal(err)
			}
			if tt.meanwhile != 0 {
				s.setUAC(t, tt.meanwhile)
			}
			if _, err := step.Apply(t.Context(), call); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got := log.all(); !slices.Equal(got, tt.want) {
				t.Errorf("logged %q, want %q", got, tt.want)
			}
		})
	}
}

// A conditional modify that got no answer may have landed or not: Apply
// reports it (no fallback on a guess), and the retry decides on a read.
func TestDisableAccountUnansweredConditionalModifyIsRetriedOnARead(t *testing.T) {
	s := startSandbox(t)
	c, log := s.openLogged(t)
	call, _ := callFor(t, c, "adele", steps.Values{})
	step := disableAccount.New()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var err error
	wantOps(t, "cancelled Apply", s.during(func() { _, err = step.Apply(ctx, call) }))
	if want := "disable " + adeleDN + ": context canceled"; err == nil || err.Error() != want {
		t.Fatalf("cancelled Apply = %v, want %q", err, want)
	}
	var ch steps.Change
	wantOps(t, "retried Apply", s.during(func() { ch, err = step.Apply(t.Context(), call) }), opSearch, opReplaceUAC)
	if err != nil || ch.Summary != "userAccountControl: 512 → 514 (disabled)" {
		t.Errorf("retried Apply = %+v, %v", ch, err)
	}
	if got := log.all(); len(got) != 0 {
		t.Errorf("logged %q, want nothing", got)
	}
}

// Samba takes the conditional modify (delete the old value, add the
// disabled one), and refuses it when the value moved since resolution; the
// step then reads and replaces.
func TestSambaDisableAccountConditional(t *testing.T) {
	dc := needSamba(t)
	admin := dc.admin(t)
	tests := []struct {
		name      string
		uac       int // when resolved
		meanwhile int // set between resolution and Apply; 0 leaves it
		apply     string
		satisfied bool
		after     int
		// refused is the log line's start when the conditional modify
		// was refused.
		refused string
	}{
		{name: "unchanged: one modify", uac: 66048,
			apply: "userAccountControl: 66048 → 66050 (disabled)", after: 66050},
		{name: "another bit set since: refused, then read and replaced", uac: 512, meanwhile: 66048,
			apply: "userAccountControl: 66048 → 66050 (disabled)", after: 66050,
			refused: "INFO " + fallbackLog + " dn=%s userAccountControl=512 result=no such attribute (LDAP 16): "},
		{name: "disabled since with another bit: refused, then found done", uac: 512, meanwhile: 546,
			apply: "already disabled", satisfied: true, after: 546,
			refused: "INFO " + fallbackLog + " dn=%s userAccountControl=512 result=no such attribute (LDAP 16): "},
		// Samba matches the deleted value ignoring ACCOUNTDISABLE, so a
		// disable made meanwhile lets the modify through: harmless, the
		// result is the same account disabled with the same bits.
		{name: "disabled since, same bits: Samba lets it through", uac: 512, meanwhile: 514,
			apply: "userAccountControl: 512 → 514 (disabled)", after: 514},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &records{}
			env := dc.env(nil)
			env.Logger = slog.New(log)
			conn, err := Backend.Open(t.Context(), env)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { conn.Close() })
			c := conn.(*Conn)
			sam := unique("rvcas")
			u := dc.addUser(t, admin, sam, sam+"@contoso.test", tt.uac)
			call, _ := callFor(t, c, u.UPN, steps.Values{})
			step := disableAccount.New()
			if _, err := step.Check(t.Context(), call); err != nil {
				t.Fatal(err)
			}
			if tt.meanwhile != 0 {
				dc.setUAC(t, admin, u.DN, tt.meanwhile)
			}
			ch, err := step.Apply(t.Context(), call)
			if err != nil || ch.Summary != tt.apply || ch.Satisfied != tt.satisfied {
				t.Fatalf("Apply = %+v, %v; want %q (satisfied %v)", ch, err, tt.apply, tt.satisfied)
			}
			if err := step.(steps.Verifier).Verify(t.Context(), call); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if got := attr(t, admin, u.DN, attrUAC); !slices.Equal(got, []string{fmt.Sprint(tt.after)}) {
				t.Errorf("userAccountControl = %v, want %d", got, tt.after)
			}
			lines := log.all()
			switch {
			case tt.refused == "" && len(lines) != 0:
				t.Errorf("logged %q, want nothing (no fallback)", lines)
			case tt.refused != "" && (len(lines) != 1 || !strings.HasPrefix(lines[0], fmt.Sprintf(tt.refused, u.DN))):
				t.Errorf("logged %q, want one line starting %q", lines, fmt.Sprintf(tt.refused, u.DN))
			}
		})
	}
}

// setUAC replaces userAccountControl with the admin connection.
func (dc *sambaDC) setUAC(t *testing.T, admin *ldap.Conn, dn string, uac int) {
	t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(attrUAC, []string{fmt.Sprint(uac)})
	if err := admin.Modify(req); err != nil {
		t.Fatalf("set userAccountControl of %s to %d: %v", dn, uac, err)
	}
}
