package sandbox

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// The value-level changes of userAccountControl AD takes besides Replace:
// Delete of the value the account has and Add of the new one in one modify
// is a conditional write, refused whole (noSuchAttribute) when the value
// moved. Every case starts from alexw at 66048 (NORMAL_ACCOUNT |
// DONT_EXPIRE_PASSWORD).
func TestLDAPModifyUserAccountControlValues(t *testing.T) {
	f := newLDAPFixture(t)
	c := f.bindSvc(t, "ldaps")
	const (
		del  = "delete userAccountControl"
		add  = "add userAccountControl"
		cond = del + ", " + add
	)
	tests := []struct {
		name   string
		uac    int // alexw's value before the modify
		change func(*ldap.ModifyRequest)
		code   int
		diag   string
		after  int // alexw's value after it
		detail string
	}{
		{name: "replace", uac: 66048,
			change: func(m *ldap.ModifyRequest) { m.Replace("userAccountControl", []string{"66050"}) },
			after:  66050, detail: "replace userAccountControl"},
		{name: "delete the current value, add the new one", uac: 66048,
			change: func(m *ldap.ModifyRequest) {
				m.Delete("userAccountControl", []string{"66048"})
				m.Add("userAccountControl", []string{"66050"})
			},
			after: 66050, detail: cond},
		{name: "delete a value it no longer has: refused, nothing changed", uac: 66048,
			change: func(m *ldap.ModifyRequest) {
				m.Delete("userAccountControl", []string{"512"})
				m.Add("userAccountControl", []string{"514"})
			},
			code: 16, diag: diagNoUACValue, after: 66048, detail: cond},
		{name: "the whole value must match, ACCOUNTDISABLE too (Samba ignores that bit)", uac: 66050,
			change: func(m *ldap.ModifyRequest) {
				m.Delete("userAccountControl", []string{"66048"})
				m.Add("userAccountControl", []string{"66050"})
			},
			code: 16, diag: diagNoUACValue, after: 66050, detail: cond},
		{name: "the attribute's name in any case, the value with spaces", uac: 66048,
			change: func(m *ldap.ModifyRequest) {
				m.Delete("UserAccountControl", []string{" 66048"})
				m.Add("useraccountcontrol", []string{"66050"})
			},
			after: 66050, detail: "delete UserAccountControl, add useraccountcontrol"},
		{name: "replace, then a conditional write on the replaced value", uac: 66048,
			change: func(m *ldap.ModifyRequest) {
				m.Replace("userAccountControl", []string{"512"})
				m.Delete("userAccountControl", []string{"512"})
				m.Add("userAccountControl", []string{"514"})
			},
			after: 514, detail: "replace userAccountControl, " + cond},
		{name: "delete two values of a single-valued attribute", uac: 66048,
			change: func(m *ldap.ModifyRequest) {
				m.Delete("userAccountControl", []string{"66048", "66048"})
				m.Add("userAccountControl", []string{"66050"})
			},
			code: 16, diag: diagNoUACValue, after: 66048, detail: cond},
		{name: "delete without a value", uac: 66048,
			change: func(m *ldap.ModifyRequest) {
				m.Delete("userAccountControl", nil)
				m.Add("userAccountControl", []string{"66050"})
			},
			code: 53, diag: diagWillNotPerform, after: 66048, detail: cond},
		{name: "delete the value and add none", uac: 66048,
			change: func(m *ldap.ModifyRequest) { m.Delete("userAccountControl", []string{"66048"}) },
			code:   53, diag: diagWillNotPerform, after: 66048, detail: del},
		{name: "add the value it has", uac: 66048,
			change: func(m *ldap.ModifyRequest) { m.Add("userAccountControl", []string{"66048"}) },
			code:   20, diag: diagUACValueExists, after: 66048, detail: add},
		{name: "add a second value", uac: 66048,
			change: func(m *ldap.ModifyRequest) { m.Add("userAccountControl", []string{"66050"}) },
			code:   19, diag: diagUACSingleValue, after: 66048, detail: add},
		{name: "add before the delete", uac: 66048,
			change: func(m *ldap.ModifyRequest) {
				m.Add("userAccountControl", []string{"66050"})
				m.Delete("userAccountControl", []string{"66048"})
			},
			code: 19, diag: diagUACSingleValue, after: 66048, detail: add + ", " + del},
		{name: "delete, then add two values", uac: 66048,
			change: func(m *ldap.ModifyRequest) {
				m.Delete("userAccountControl", []string{"66048"})
				m.Add("userAccountControl", []string{"66050", "514"})
			},
			code: 19, diag: diagUACSingleValue, after: 66048, detail: cond},
		{name: "a value that is not an integer", uac: 66048,
			change: func(m *ldap.ModifyRequest) {
				m.Delete("userAccountControl", []string{"enabled"})
				m.Add("userAccountControl", []string{"66050"})
			},
			code: 21, diag: diagAttrConversion, after: 66048, detail: cond},
		{name: "increment", uac: 66048,
			change: func(m *ldap.ModifyRequest) { m.Increment("userAccountControl", "2") },
			code:   53, diag: diagWillNotPerform, after: 66048, detail: "increment userAccountControl"},
		{name: "all or nothing: a later change refused undoes the conditional write", uac: 66048,
			change: func(m *ldap.ModifyRequest) {
				m.Delete("userAccountControl", []string{"66048"})
				m.Add("userAccountControl", []string{"66050"})
				m.Replace("objectGUID", []string{"x"})
			},
			code: 53, diag: diagWillNotPerform, after: 66048, detail: cond + ", replace objectGUID"},
	}
	alex := f.dir.Users[1].AD
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.dir.Lock()
			alex.UserAccountControl = tt.uac
			delete(f.srv.changed, alex)
			f.dir.Unlock()
			f.log.Reset()

			err := modify(c, alexDN, tt.change)
			if ldapCode(err) != tt.code || ldapDiag(err) != tt.diag {
				t.Errorf("got %d %q, want %d %q", ldapCode(err), ldapDiag(err), tt.code, tt.diag)
			}
			f.dir.Lock()
			got := alex.UserAccountControl
			_, changed := f.srv.changed[alex]
			f.dir.Unlock()
			if got != tt.after {
				t.Errorf("userAccountControl = %d, want %d", got, tt.after)
			}
			if changed != (tt.code == 0) {
				t.Errorf("whenChanged moved: %v, want %v", changed, tt.code == 0)
			}
			entries := f.log.Entries()
			if len(entries) != 1 {
				t.Fatalf("logged %d entries, want the modify alone: %+v", len(entries), entries)
			}
			if e := entries[0]; e.Method != "modify" || e.Path != alexDN || e.Status != tt.code || e.Detail != tt.detail {
				t.Errorf("logged %s %s %d %q, want modify %s %d %q", e.Method, e.Path, e.Status, e.Detail, alexDN, tt.code, tt.detail)
			}
		})
	}
}

// A conditional write that disabled the account has the effect a Replace
// has: the account can no longer bind, and a search on the disabled bit
// finds it.
func TestLDAPConditionalDisableTakesEffect(t *testing.T) {
	f := newLDAPFixture(t)
	c := f.bindSvc(t, "ldaps")
	err := modify(c, alexDN, func(m *ldap.ModifyRequest) {
		m.Delete("userAccountControl", []string{"66048"})
		m.Add("userAccountControl", []string{"66050"})
	})
	if err != nil {
		t.Fatalf("conditional disable: %v", err)
	}
	if got := searchDNs(t, c, "(&(sAMAccountName=alexw)(userAccountControl:1.2.840.113556.1.4.803:=2))"); len(got) != 1 || got[0] != alexDN {
		t.Errorf("disabled alexw = %q, want %q", got, alexDN)
	}
	if err := f.dial(t, "ldaps").Bind(alexDN, "Alex-Pa55word-1"); ldapCode(err) != 49 || ldapDiag(err) != diagInvalidCredentials("533") {
		t.Errorf("bind after the conditional disable = %d %q, want 49 %q", ldapCode(err), ldapDiag(err), diagInvalidCredentials("533"))
	}
	// Sent again (a client resending after a lost answer), it is refused:
	// the value it deletes is gone.
	err = modify(c, alexDN, func(m *ldap.ModifyRequest) {
		m.Delete("userAccountControl", []string{"66048"})
		m.Add("userAccountControl", []string{"66050"})
	})
	if ldapCode(err) != 16 || ldapDiag(err) != diagNoUACValue {
		t.Errorf("resent = %d %q, want 16 %q", ldapCode(err), ldapDiag(err), diagNoUACValue)
	}
}
