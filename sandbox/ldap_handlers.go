package sandbox

import (
	"github.com/jimlambrt/gldap"
)

// The operations, with AD's result codes and diagnostic messages, so a
// client's error handling is exercised by the same text a domain
// controller sends.

// AD diagnostic messages.
const (
	diagStrongAuthRequired = `00002028: LdapErr: DSID-0C090259, comment: The server requires binds to turn on integrity checking if SSL\TLS are not already active on the connection, data 0, v4563`
	diagBindRequired       = "000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563"
	diagWillNotPerform     = "0000001F: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM), data 0"
	diagComplexity         = "0000052D: Constraint violation - check_password_restrictions: the password does not meet the complexity criteria!"
	diagPasswordValue      = "00000056: AtrErr: DSID-03190F80, #1:\n\t0: 00000056: DSID-03190F80, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9005a (unicodePwd)\n"
	diagInsufficientAccess = "00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0"
	diagAttrConversion     = "00000057: LdapErr: DSID-0C090D8A, comment: Error in attribute conversion operation, data 0, v4563"
	diagObjectClass        = "00002012: UpdErr: DSID-030F0E9A, problem 6002 (OBJ_CLASS_VIOLATION), data 0"
	diagMemberExists       = "00000562: UpdErr: DSID-031A1262, problem 6005 (ENTRY_EXISTS), data 0"
	diagNotMember          = "00000561: SvcErr: DSID-031A1242, problem 5003 (WILL_NOT_PERFORM), data 0"
	diagTLSActive          = "00000000: LdapErr: DSID-0C0911E4, comment: Error initializing SSL/TLS, data 0, v4563"
	diagUnknownExtended    = "0000203D: LdapErr: DSID-0C090C7D, comment: Unknown extended request OID, data 0, v4563"
	diagUnauthenticated    = "00000057: LdapErr: DSID-0C090A0E, comment: Unauthenticated binds are not allowed, data 0, v4563"
	// AD's answers to value-level changes of userAccountControl that do
	// not fit the value the account has.
	diagNoUACValue     = "00002080: AtrErr: DSID-03151818, #1:\n\t0: 00002080: DSID-03151818, problem 1001 (NO_ATTRIBUTE_OR_VAL), data 0, Att 9 (userAccountControl)\n"
	diagUACValueExists = "00002083: AtrErr: DSID-03151818, #1:\n\t0: 00002083: DSID-03151818, problem 1006 (ATT_OR_VALUE_EXISTS), data 0, Att 9 (userAccountControl)\n"
	diagUACSingleValue = "00002081: AtrErr: DSID-03151818, #1:\n\t0: 00002081: DSID-03151818, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 9 (userAccountControl)\n"
)

// diagInvalidCredentials is AD's bind failure; data says why: 52e bad
// user or password, 533 account disabled.
func diagInvalidCredentials(data string) string {
	return "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data " + data + ", v4563"
}

func diagNoSuchObject(bestMatch string) string {
	return "0000208D: NameErr: DSID-03100288, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'" + bestMatch + "'\n"
}

func diagInvalidDN(dn string) string {
	return "0000208F: NameErr: DSID-03100225, problem 2006 (BAD_NAME), data 8350, best match of:\n\t'" + dn + "'\n"
}

// adMaxPageSize is AD's MaxPageSize: a search without paging returns at
// most this many entries, then sizeLimitExceeded.
const adMaxPageSize = 1000

func (s *ldapServer) handleStartTLS(b *ldapBackend, w *gldap.ResponseWriter, r *gldap.Request) {
	s.delay()
	sess := b.session(r)
	tlsOn, _, _ := sess.state()
	if tlsOn {
		resp := r.NewExtendedResponse(gldap.WithResponseCode(gldap.ResultOperationsError))
		resp.SetDiagnosticMessage(diagTLSActive)
		s.logEntry(sess, "extended", "", gldap.ResultOperationsError, "StartTLS "+oidStartTLS)
		_ = w.Write(resp)
		return
	}
	resp := r.NewExtendedResponse(gldap.WithResponseCode(gldap.ResultSuccess))
	resp.SetResponseName(gldap.ExtendedOperationStartTLS)
	s.logEntry(sess, "extended", "", gldap.ResultSuccess, "StartTLS "+oidStartTLS)
	if err := w.Write(resp); err != nil {
		return
	}
	// The door makes the handshake with the client once it has relayed
	// this answer (see ldapDoor.toClient). gldap reads no further request
	// until this returns, and the door relays none before the handshake,
	// as RFC 4511 §4.14.1 requires, so nothing slips through in the clear.
	if sess.door == nil || !sess.door.awaitTLS() {
		s.logEntry(sess, "extended", "", gldap.ResultProtocolError, "StartTLS "+oidStartTLS+" handshake failed")
		if sess.door != nil {
			sess.door.close() // the stream is unusable after a failed handshake
		}
		return
	}
	sess.mu.Lock()
	sess.tls = true
	sess.mu.Unlock()
}

func (s *ldapServer) handleUnbind(b *ldapBackend, _ *gldap.ResponseWriter, r *gldap.Request) {
	sess := b.session(r)
	_, bound, _ := sess.state()
	dn := ""
	if bound != nil {
		s.dir.Lock()
		dn = bound.DN
		s.dir.Unlock()
	}
	s.logEntry(sess, "unbind", dn, gldap.ResultSuccess, "")
}

// handleAdd and handleDelete refuse: the sandbox's objects come from its
// seed, and revoke never creates or deletes directory objects.
func (s *ldapServer) handleAdd(b *ldapBackend, w *gldap.ResponseWriter, r *gldap.Request) {
	dn := ""
	if m, err := r.GetAddMessage(); err == nil {
		dn = m.DN
	}
	s.refuseWrite(b, w, r, "add", dn, gldap.ApplicationAddResponse)
}

func (s *ldapServer) handleDelete(b *ldapBackend, w *gldap.ResponseWriter, r *gldap.Request) {
	dn := ""
	if m, err := r.GetDeleteMessage(); err == nil {
		dn = m.DN
	}
	s.refuseWrite(b, w, r, "delete", dn, gldap.ApplicationDelResponse)
}

// refuseWrite logs op on dn and answers it with response type app: an
// unbound session must bind, a non-service one lacks the rights, and a
// service account is told the sandbox will not perform it.
func (s *ldapServer) refuseWrite(b *ldapBackend, w *gldap.ResponseWriter, r *gldap.Request, op, dn string, app int) {
	s.delay()
	sess := b.session(r)
	_, bound, service := sess.state()
	code, diag := gldap.ResultUnwillingToPerform, diagWillNotPerform
	switch {
	case bound == nil:
		code, diag = gldap.ResultOperationsError, diagBindRequired
	case !service:
		code, diag = gldap.ResultInsufficientAccessRights, diagInsufficientAccess
	}
	s.logEntry(sess, op, dn, code, "")
	_ = w.Write(r.NewResponse(gldap.WithApplicationCode(app),
		gldap.WithResponseCode(code), gldap.WithDiagnosticMessage(diag)))
}

// handleUnsupported answers what no route took: extended operations other
// than StartTLS (Who am I? included: gldap's extended response cannot
// carry the responseValue it needs).
func (s *ldapServer) handleUnsupported(b *ldapBackend, w *gldap.ResponseWriter, r *gldap.Request) {
	s.delay()
	sess := b.session(r)
	s.logEntry(sess, "extended", "", gldap.ResultProtocolError, "unsupported operation")
	_ = w.Write(r.NewResponse(gldap.WithApplicationCode(gldap.ApplicationExtendedResponse),
		gldap.WithResponseCode(gldap.ResultProtocolError), gldap.WithDiagnosticMessage(diagUnknownExtended)))
}
