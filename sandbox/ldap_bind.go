package sandbox

import (
	"crypto/subtle"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/jimlambrt/gldap"
)

func (s *ldapServer) handleBind(b *ldapBackend, w *gldap.ResponseWriter, r *gldap.Request) {
	s.delay()
	sess := b.session(r)
	m, err := r.GetSimpleBindMessage()
	if err != nil {
		s.logEntry(sess, "bind", "", gldap.ResultProtocolError, "not a simple bind")
		_ = w.Write(r.NewBindResponse(gldap.WithResponseCode(gldap.ResultProtocolError)))
		return
	}
	code, diag := s.bind(sess, m.UserName, string(m.Password))
	resp := r.NewBindResponse(gldap.WithResponseCode(code))
	resp.SetDiagnosticMessage(diag)
	s.logEntry(sess, "bind", m.UserName, code, "")
	_ = w.Write(resp)
}

// bind authenticates a simple bind; it never echoes the password.
func (s *ldapServer) bind(sess *ldapSession, name, password string) (int, string) {
	// Any bind, failed or not, first drops the connection's identity.
	sess.setBound(nil, false)
	if name == "" && password == "" {
		return gldap.ResultSuccess, "" // anonymous: allowed, but only the root DSE is readable
	}
	tlsOn, _, _ := sess.state()
	if !tlsOn {
		return gldap.ResultStrongAuthRequired, diagStrongAuthRequired
	}
	if password == "" {
		// An "unauthenticated" bind (name, no password) is refused, as
		// RFC 4513 §5.1.2 recommends, rather than silently anonymous.
		return gldap.ResultUnwillingToPerform, diagUnauthenticated
	}
	s.dir.Lock()
	defer s.dir.Unlock()
	acct, service := s.bindAccount(name)
	if acct == nil || subtle.ConstantTimeCompare([]byte(acct.Password), []byte(password)) != 1 {
		return gldap.ResultInvalidCredentials, diagInvalidCredentials("52e")
	}
	if acct.Disabled() {
		// AD only says "disabled" once the password was right.
		return gldap.ResultInvalidCredentials, diagInvalidCredentials("533")
	}
	sess.setBound(acct, service)
	return gldap.ResultSuccess, ""
}

// bindAccount resolves a bind name the ways AD accepts: a DN, a UPN (or
// the implicit sam@dns-domain), or DOMAIN\sam. Callers hold the lock.
func (s *ldapServer) bindAccount(name string) (*ADAccount, bool) {
	match := func(ok func(a *ADAccount) bool) (*ADAccount, bool) {
		for _, u := range s.dir.Users {
			if u.AD != nil && ok(u.AD) {
				return u.AD, false
			}
		}
		for _, a := range s.dir.ServiceAccounts {
			if ok(a) {
				return a, true
			}
		}
		return nil, false
	}
	if domain, sam, ok := strings.Cut(name, `\`); ok {
		if !strings.EqualFold(domain, s.dir.NetBIOS) || sam == "" {
			return nil, false
		}
		return match(func(a *ADAccount) bool { return strings.EqualFold(a.SAMAccountName, sam) })
	}
	if !strings.Contains(name, "=") && strings.Contains(name, "@") {
		if a, service := match(func(a *ADAccount) bool { return strings.EqualFold(a.UserPrincipalName, name) }); a != nil {
			return a, service
		}
		sam, domain, _ := strings.Cut(name, "@")
		if strings.EqualFold(domain, dnsDomain(s.dir.BaseDN)) && sam != "" {
			return match(func(a *ADAccount) bool { return strings.EqualFold(a.SAMAccountName, sam) })
		}
		return nil, false
	}
	key, err := dnKey(name)
	if err != nil || key == "" {
		return nil, false
	}
	return match(func(a *ADAccount) bool { k, err := dnKey(a.DN); return err == nil && k == key })
}

// dnsDomain turns DC=contoso,DC=test into contoso.test.
func dnsDomain(baseDN string) string {
	parsed, err := ldap.ParseDN(baseDN)
	if err != nil {
		return ""
	}
	var labels []string
	for _, r := range parsed.RDNs {
		for _, a := range r.Attributes {
			if strings.EqualFold(a.Type, "dc") {
				labels = append(labels, a.Value)
			}
		}
	}
	return strings.Join(labels, ".")
}
