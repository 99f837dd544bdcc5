package ad

// ad.move_to_ou and ad.annotate against two directories: a real one
// (Samba: skipped without REVOKE_SAMBA locally, failed without it in CI,
// like the rest of samba_test.go) and the sandbox's LDAP face, which must
// answer them as a domain controller does.

import (
	"crypto/tls"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
)

// moveFixture is one directory, ready for a test: revoke's connection, an
// administrator's for fixtures and checks, and what the tests act on.
type moveFixture struct {
	conn  *Conn
	admin *ldap.Conn
	// subject is an account to act on: a new one on Samba, the seed's
	// leaver in a fresh sandbox.
	subject func(t *testing.T) testUser
	// ou is an existing OU the subject is not in.
	ou func(t *testing.T) string
	// clash is an existing OU holding another account whose RDN is the
	// subject's, and that account's DN.
	clash func(t *testing.T, u testUser) (ou, dn string)
	// sent lists the LDAP operations the directory logged, as
	// sandboxDC.sent does (nil: the directory keeps no such log).
	sent func(method string) []string
	// tooLong is the result code of a value over an attribute's
	// rangeUpper: Windows AD says constraintViolation (19), and so does
	// the sandbox; Samba says invalidAttributeSyntax (21).
	tooLong uint16
}

// moveDirectories are the directories the tests run against.
var moveDirectories = []struct {
	name  string
	start func(t *testing.T) *moveFixture
}{
	{"samba", startSambaMoveFixture},
	{"sandbox", startSandboxMoveFixture},
}

func startSambaMoveFixture(t *testing.T) *moveFixture {
	dc := needSamba(t)
	admin := dc.admin(t)
	return &moveFixture{
		conn:  dc.open(t, nil),
		admin: admin,
		subject: func(t *testing.T) testUser {
			sam := unique("rvmv")
			return dc.addUser(t, admin, sam, sam+"@contoso.test", 514)
		},
		ou:      func(t *testing.T) string { return dc.addOU(t, admin, unique("rvou")) },
		tooLong: ldap.LDAPResultInvalidAttributeSyntax,
		clash: func(t *testing.T, u testUser) (string, string) {
			ou := dc.addOU(t, admin, unique("rvou"))
			dn := firstRDN(u.DN) + "," + ou
			req := ldap.NewAddRequest(dn, nil)
			req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
			req.Attribute("sAMAccountName", []string{unique("rvcl")})
			if err := admin.Add(req); err != nil {
				t.Fatalf("add %s: %v", dn, err)
			}
			t.Cleanup(func() { admin.Del(ldap.NewDelRequest(dn, nil)) })
			return ou, dn
		},
	}
}

// The sandbox's seed has OU=Leavers (Isaiah Langer is in it); its leaver,
// Miriam Graham, is in OU=Staff. For the clash, the test's seed adds an
// AD-only namesake of hers in an OU of its own.
const (
	sandboxLeaversOU = "OU=Leavers,DC=contoso,DC=test"
	sandboxClashOU   = "OU=Former Staff,DC=contoso,DC=test"
)

func startSandboxMoveFixture(t *testing.T) *moveFixture {
	seed := sandbox.DefaultSeed()
	seed.Users = append(seed.Users, sandbox.SeedUser{
		UserPrincipalName: "miriam.graham@contoso.test", DisplayName: "Miriam Graham",
		AD: &sandbox.SeedADAccount{DN: "CN=Miriam Graham," + sandboxClashOU, SAMAccountName: "mgraham",
			UserAccountControl: 514, Password: "Sandbox-Only-Namesake-3!"},
	})
	s := startSandboxSeed(t, seed)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(s.tenant.CAPEM())
	admin, err := ldap.DialURL(s.tenant.LDAPSURL(), ldap.DialWithTLSConfig(&tls.Config{RootCAs: roots}))
	if err != nil {
		t.Fatalf("admin dial: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.Bind(s.bindDN, s.pw); err != nil {
		t.Fatalf("admin bind: %v", err)
	}
	miriam := testUser{DN: "CN=Miriam Graham,OU=Staff,DC=contoso,DC=test", SAM: "miriam", UPN: "miriam@contoso.test"}
	return &moveFixture{
		conn:    s.open(t, nil),
		admin:   admin,
		subject: func(*testing.T) testUser { return miriam },
		ou:      func(*testing.T) string { return sandboxLeaversOU },
		clash: func(*testing.T, testUser) (string, string) {
			return sandboxClashOU, "CN=Miriam Graham," + sandboxClashOU
		},
		sent:    s.sent,
		tooLong: ldap.LDAPResultConstraintViolation,
	}
}

// addOU creates an OU under the base DN, removed when the test ends (after
// anything moved into it, whose clean-ups run first).
func (dc *sambaDC) addOU(t *testing.T, admin *ldap.Conn, name string) string {
	t.Helper()
	dn := "OU=" + name + "," + dc.BaseDN
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "organizationalUnit"})
	if err := admin.Add(req); err != nil {
		t.Fatalf("add OU %s: %v", dn, err)
	}
	t.Cleanup(func() { admin.Del(ldap.NewDelRequest(dn, nil)) })
	return dn
}

func TestMoveToOU(t *testing.T) {
	for _, d := range moveDirectories {
		t.Run(d.name, func(t *testing.T) {
			f := d.start(t)
			admin, c := f.admin, f.conn
			ou := f.ou(t)
			u := f.subject(t)
			moved := firstRDN(u.DN) + "," + ou
			// Samba's clean-up of the user runs at its old DN.
			t.Cleanup(func() { admin.Del(ldap.NewDelRequest(moved, nil)) })
			call, reports := callFor(t, c, u.UPN, steps.Values{paramOU: ou})
			guid := call.Subject.FactString("ad", attrObjectGUID)
			sid := call.Subject.FactString("ad", attrObjectSid)
			groups := attr(t, admin, u.DN, "memberOf")

			step := moveToOU.New()
			ch, err := step.Check(t.Context(), call)
			if want := "move " + u.DN + " to " + ou; err != nil || ch.Satisfied || ch.Summary != want {
				t.Fatalf("Check = %+v, %v; want %q", ch, err, want)
			}
			ch, err = step.Apply(t.Context(), call)
			if want := "moved " + u.DN + " to " + ou; err != nil || ch.Summary != want ||
				ch.Details["from"] != u.DN || ch.Details["to"] != moved {
				t.Fatalf("Apply = %+v, %v; want %q", ch, err, want)
			}
			if len(*reports) != 1 || (*reports)[0].Message != "moved to "+ou || (*reports)[0].Details["dn"] != moved {
				t.Errorf("progress = %+v; want one \"moved to %s\" naming %s", *reports, ou, moved)
			}
			if err := step.(steps.Verifier).Verify(t.Context(), call); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got := attr(t, admin, moved, "objectGUID"); len(got) != 1 || formatGUID([]byte(got[0])) != guid {
				t.Errorf("objectGUID at %s = %x, want the subject's %s", moved, got, guid)
			}
			if got := attr(t, admin, moved, "objectSid"); len(got) != 1 || !sidIs(got[0], sid) {
				t.Errorf("objectSid at %s = %x, want the subject's %s", moved, got, sid)
			}
			if got := attr(t, admin, moved, "memberOf"); !slices.Equal(got, groups) {
				t.Errorf("memberOf at %s = %q, want %q as before", moved, got, groups)
			}
			if f.sent != nil {
				want := "modifydn " + u.DN + ": newrdn=" + firstRDN(u.DN) + " deleteoldrdn=true newsuperior=" + ou
				if got := f.sent("modifydn"); !slices.Equal(got, []string{want}) {
					t.Errorf("sent %q, want %q", got, want)
				}
			}

			// A resume: the facts still name the old DN, the account is found by
			// its objectGUID, already in the OU.
			again := moveToOU.New()
			for name, op := range map[string]func() (steps.Change, error){
				"Check": func() (steps.Change, error) { return again.Check(t.Context(), call) },
				"Apply": func() (steps.Change, error) { return again.Apply(t.Context(), call) },
			} {
				ch, err := op()
				if err != nil || !ch.Satisfied || ch.Summary != "already in "+ou || ch.Details["dn"] != moved {
					t.Errorf("resumed %s = %+v, %v; want satisfied, already in %s", name, ch, err, ou)
				}
			}
			if err := again.(steps.Verifier).Verify(t.Context(), call); err != nil {
				t.Errorf("resumed Verify: %v", err)
			}
			// The next step of the run (after the move) still finds the account.
			note := annotate.New()
			call.With = steps.Values{paramAttribute: attrInfo, paramText: "moved {ticket}"}
			call.Ticket = "INC7"
			if _, err := note.Apply(t.Context(), call); err != nil {
				t.Fatalf("annotate after the move: %v", err)
			}
			if got := attr(t, admin, moved, "info"); !slices.Equal(got, []string{"moved INC7"}) {
				t.Errorf("info after the move = %q", got)
			}
		})
	}
}

func TestMoveToOURefusals(t *testing.T) {
	for _, d := range moveDirectories {
		t.Run(d.name, func(t *testing.T) {
			f := d.start(t)
			u := f.subject(t)
			// Someone else of the same name in the OU already.
			ou, clash := f.clash(t, u)
			base := f.conn.cfg.baseDN
			tests := []struct {
				name, ou string
				class    steps.Class
				prefix   string
			}{
				{"an OU that does not exist", "OU=nowhere," + base, steps.Invalid, "ou OU=nowhere," + base + " does not exist"},
				{"an OU outside the base DN", "OU=Elsewhere,DC=example,DC=org", steps.Invalid, `ou "OU=Elsewhere,DC=example,DC=org" is not under the base DN ` + base},
				{"not a DN", "Disabled Users", steps.Invalid, `ou "Disabled Users" is not a distinguished name`},
				{"no OU at all", "", steps.Invalid, "no target OU: give the step's with.ou, or the ad section's leavers_ou"},
				{"a same-named object in the OU", ou, steps.Invalid, "move " + u.DN + " to " + ou + ": " + clash + " already exists there: "},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					call, _ := callFor(t, f.conn, u.UPN, steps.Values{paramOU: tt.ou})
					step := moveToOU.New()
					_, err := step.Apply(t.Context(), call)
					if err == nil || steps.ClassOf(err) != tt.class || !strings.HasPrefix(err.Error(), tt.prefix) {
						t.Fatalf("Apply: %v (%v); want %v starting %q", err, steps.ClassOf(err), tt.class, tt.prefix)
					}
					if got := attr(t, f.admin, u.DN, "sAMAccountName"); !slices.Equal(got, []string{u.SAM}) {
						t.Errorf("the account is no longer at %s: %q", u.DN, got)
					}
				})
			}
		})
	}
}

func TestAnnotate(t *testing.T) {
	started := time.Date(2025, 3, 4, 23, 30, 0, 0, time.FixedZone("X", -3*3600))
	want := "Disabled by revoke run r-1 on 2025-03-05 for hr@contoso.test; ticket none; reason: leaver"
	for _, d := range moveDirectories {
		for _, attribute := range []string{attrInfo, attrDescription} {
			t.Run(d.name+"/"+attribute, func(t *testing.T) {
				f := d.start(t)
				admin := f.admin
				u := f.subject(t)
				call, _ := callFor(t, f.conn, u.UPN, steps.Values{paramAttribute: attribute, paramText: defaultAnnotation})
				call.RunID, call.RunStarted, call.RequestedBy, call.Reason = "r-1", started, "hr@contoso.test", "leaver"
				step := annotate.New()
				var searches int
				if f.sent != nil {
					searches = len(f.sent("search"))
				}
				ch, err := step.Check(t.Context(), call)
				if s := attribute + `: "" → "` + want + `"`; err != nil || ch.Satisfied || ch.Summary != s {
					t.Fatalf("Check = %+v, %v; want %q", ch, err, s)
				}
				if f.sent != nil {
					// One read of the account, not a read and then a read of the attribute.
					if got := f.sent("search")[searches:]; len(got) != 1 || !strings.HasPrefix(got[0], "search "+u.DN+": scope=base ") {
						t.Errorf("Check searched %q, want one read of %s", got, u.DN)
					}
				}
				if _, err := step.Apply(t.Context(), call); err != nil {
					t.Fatalf("Apply: %v", err)
				}
				if got := attr(t, admin, u.DN, attribute); !slices.Equal(got, []string{want}) {
					t.Errorf("%s = %q, want %q", attribute, got, want)
				}
				if err := step.(steps.Verifier).Verify(t.Context(), call); err != nil {
					t.Errorf("Verify: %v", err)
				}
				ch, err = step.Check(t.Context(), call)
				if err != nil || !ch.Satisfied || ch.Summary != attribute+" already holds the annotation" {
					t.Errorf("Check again = %+v, %v", ch, err)
				}
				// Someone edits it: Verify says so, Apply writes it again.
				mod := ldap.NewModifyRequest(u.DN, nil)
				mod.Replace(attribute, []string{"back from leave"})
				if err := admin.Modify(mod); err != nil {
					t.Fatal(err)
				}
				err = step.(steps.Verifier).Verify(t.Context(), call)
				if w := attribute + " of " + u.DN + ` is "back from leave" after writing "` + want + `"`; err == nil || err.Error() != w {
					t.Errorf("Verify after an edit: %v; want %q", err, w)
				}
				if _, err := step.Apply(t.Context(), call); err != nil {
					t.Fatalf("Apply again: %v", err)
				}
				if got := attr(t, admin, u.DN, attribute); !slices.Equal(got, []string{want}) {
					t.Errorf("%s after writing again = %q, want %q", attribute, got, want)
				}
			})
		}
	}
}

// A text longer than the attribute takes is refused before anything is
// sent, and the directory would refuse it too (constraintViolation).
func TestAnnotateTooLong(t *testing.T) {
	for _, d := range moveDirectories {
		t.Run(d.name, func(t *testing.T) {
			f := d.start(t)
			u := f.subject(t)
			long := strings.Repeat("x", maxAnnotation+1)
			call, _ := callFor(t, f.conn, u.UPN, steps.Values{paramAttribute: attrDescription, paramText: long})
			_, err := annotate.New().Apply(t.Context(), call)
			if w := "the annotation is 1025 characters: description takes at most 1024"; err == nil || err.Error() != w || steps.ClassOf(err) != steps.Invalid {
				t.Errorf("Apply: %v; want Invalid %q", err, w)
			}
			mod := ldap.NewModifyRequest(u.DN, nil)
			mod.Replace(attrDescription, []string{long})
			if err := f.admin.Modify(mod); !ldap.IsErrorWithCode(err, f.tooLong) {
				t.Errorf("the directory took %d characters of description: %v", len(long), err)
			}
		})
	}
}

// sidIs reports whether raw objectSid bytes are the SID s.
func sidIs(raw, s string) bool {
	got, ok := decodeSID([]byte(raw))
	return ok && got == s
}
