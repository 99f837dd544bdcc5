package ad

// ad.move_to_ou and ad.annotate against a real directory (Samba), skipped
// without REVOKE_SAMBA like the rest of samba_test.go.

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/revoke-dev/revoke/steps"
)

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

func TestSambaMoveToOU(t *testing.T) {
	dc := needSamba(t)
	admin := dc.admin(t)
	c := dc.open(t, nil)
	ou := dc.addOU(t, admin, unique("rvou"))
	sam := unique("rvmv")
	u := dc.addUser(t, admin, sam, sam+"@contoso.test", 514)
	moved := "CN=" + sam + "," + ou
	t.Cleanup(func() { admin.Del(ldap.NewDelRequest(moved, nil)) })
	call, reports := callFor(t, c, u.UPN, steps.Values{paramOU: ou})
	guid := call.Subject.FactString("ad", attrObjectGUID)

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
}

func TestSambaMoveToOURefusals(t *testing.T) {
	dc := needSamba(t)
	admin := dc.admin(t)
	c := dc.open(t, nil)
	ou := dc.addOU(t, admin, unique("rvou"))
	sam := unique("rvmv")
	u := dc.addUser(t, admin, sam, sam+"@contoso.test", 514)
	// Someone else of the same name in the OU already.
	clash := "CN=" + sam + "," + ou
	req := ldap.NewAddRequest(clash, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	req.Attribute("sAMAccountName", []string{unique("rvcl")})
	if err := admin.Add(req); err != nil {
		t.Fatalf("add %s: %v", clash, err)
	}
	t.Cleanup(func() { admin.Del(ldap.NewDelRequest(clash, nil)) })

	tests := []struct {
		name, ou string
		class    steps.Class
		prefix   string
	}{
		{"an OU that does not exist", "OU=nowhere," + dc.BaseDN, steps.Invalid, "ou OU=nowhere," + dc.BaseDN + " does not exist"},
		{"an OU outside the base DN", "OU=Elsewhere,DC=example,DC=org", steps.Invalid, `ou "OU=Elsewhere,DC=example,DC=org" is not under the base DN ` + dc.BaseDN},
		{"not a DN", "Disabled Users", steps.Invalid, `ou "Disabled Users" is not a distinguished name`},
		{"a same-named object in the OU", ou, steps.Invalid, "move " + u.DN + " to " + ou + ": " + clash + " already exists there: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call, _ := callFor(t, c, u.UPN, steps.Values{paramOU: tt.ou})
			step := moveToOU.New()
			_, err := step.Apply(t.Context(), call)
			if err == nil || steps.ClassOf(err) != tt.class || !strings.HasPrefix(err.Error(), tt.prefix) {
				t.Fatalf("Apply: %v (%v); want %v starting %q", err, steps.ClassOf(err), tt.class, tt.prefix)
			}
			if got := attr(t, admin, u.DN, "sAMAccountName"); !slices.Equal(got, []string{sam}) {
				t.Errorf("the account is no longer at %s: %q", u.DN, got)
			}
		})
	}
}

func TestSambaAnnotate(t *testing.T) {
	dc := needSamba(t)
	admin := dc.admin(t)
	c := dc.open(t, nil)
	started := time.Date(2025, 3, 4, 23, 30, 0, 0, time.FixedZone("X", -3*3600))
	want := "Disabled by revoke run r-1 on 2025-03-05 for hr@contoso.test; ticket none; reason: leaver"
	for _, attribute := range []string{attrInfo, attrDescription} {
		t.Run(attribute, func(t *testing.T) {
			sam := unique("rvan")
			u := dc.addUser(t, admin, sam, sam+"@contoso.test", 514)
			call, _ := callFor(t, c, u.UPN, steps.Values{paramAttribute: attribute, paramText: defaultAnnotation})
			call.RunID, call.RunStarted, call.RequestedBy, call.Reason = "r-1", started, "hr@contoso.test", "leaver"
			step := annotate.New()
			ch, err := step.Check(t.Context(), call)
			if s := attribute + `: "" → "` + want + `"`; err != nil || ch.Satisfied || ch.Summary != s {
				t.Fatalf("Check = %+v, %v; want %q", ch, err, s)
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
		})
	}
}
