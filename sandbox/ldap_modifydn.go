package sandbox

import (
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/jimlambrt/gldap"
)

// ModifyDN (RFC 4511 §4.9), answered by the front door: gldap v0.1.14, the
// newest release, has no ModifyDN message and drops a connection that sends
// one, so the door decodes the request itself (a small BER decode of this
// one operation) and never hands it on. The semantics are AD's for moving
// or renaming a user: MS-ADTS 3.1.1.5.4.

// AD's diagnostics for ModifyDN refusals.
const (
	// MS-ADTS 3.1.1.5.4.2: DeleteOldRDN must be TRUE (unwillingToPerform,
	// ERROR_INVALID_PARAMETER).
	diagOldRDN = "00000057: LdapErr: DSID-0C090D10, comment: Old RDN must be deleted, data 0, v4563"
	// The new name is taken (entryAlreadyExists, ERROR_OBJECT_ALREADY_EXISTS).
	diagEntryExists = "00002071: UpdErr: DSID-031B0D5B, problem 6005 (ENTRY_EXISTS), data 0"
)

// diagNamingViolation is AD's answer to a name the schema does not allow:
// an RDN other than a user's cn, or a parent that cannot hold a user.
func diagNamingViolation(dn string) string {
	return "00002099: NameErr: DSID-0310022D, problem 2005 (NAMING_VIOLATION), data 0, best match of:\n\t'" + dn + "'\n"
}

// modifyDNRequest is a decoded ModifyDNRequest.
type modifyDNRequest struct {
	entry, newRDN string
	deleteOldRDN  bool
	newSuperior   string
	hasSuperior   bool
}

// errMalformedModifyDN is what decodeModifyDN says of anything that is
// not the RFC's ModifyDNRequest.
var errMalformedModifyDN = errors.New("malformed ModifyDN request")

// decodeModifyDN reads a ModifyDNRequest protocol op:
//
//	ModifyDNRequest ::= [APPLICATION 12] SEQUENCE {
//	     entry           LDAPDN,
//	     newrdn          RelativeLDAPDN,
//	     deleteoldrdn    BOOLEAN,
//	     newSuperior     [0] LDAPDN OPTIONAL }
func decodeModifyDN(op *ber.Packet) (modifyDNRequest, error) {
	var req modifyDNRequest
	if op == nil || op.ClassType != ber.ClassApplication || op.TagType != ber.TypeConstructed ||
		op.Tag != ldap.ApplicationModifyDNRequest || len(op.Children) < 3 || len(op.Children) > 4 {
		return req, errMalformedModifyDN
	}
	str := func(p *ber.Packet, class ber.Class, tag ber.Tag) (string, bool) {
		if p.ClassType != class || p.TagType != ber.TypePrimitive || p.Tag != tag || p.Data == nil {
			return "", false
		}
		return p.Data.String(), true
	}
	var ok bool
	if req.entry, ok = str(op.Children[0], ber.ClassUniversal, ber.TagOctetString); !ok {
		return req, errMalformedModifyDN
	}
	if req.newRDN, ok = str(op.Children[1], ber.ClassUniversal, ber.TagOctetString); !ok {
		return req, errMalformedModifyDN
	}
	b := op.Children[2]
	if b.ClassType != ber.ClassUniversal || b.TagType != ber.TypePrimitive || b.Tag != ber.TagBoolean {
		return req, errMalformedModifyDN
	}
	if req.deleteOldRDN, ok = b.Value.(bool); !ok {
		return req, errMalformedModifyDN
	}
	if len(op.Children) == 4 {
		if req.newSuperior, ok = str(op.Children[3], ber.ClassContext, 0); !ok {
			return req, errMalformedModifyDN
		}
		req.hasSuperior = true
	}
	return req, nil
}

// serveModifyDN answers one ModifyDN request (op, of message id) for the
// session, logging it; it returns the response message to send.
func (s *ldapServer) serveModifyDN(sess *ldapSession, id int64, op *ber.Packet) []byte {
	s.delay()
	if sess == nil {
		sess = &ldapSession{client: "unknown"}
	}
	req, err := decodeModifyDN(op)
	if err != nil {
		s.logEntry(sess, "modifydn", "", gldap.ResultProtocolError, "malformed ModifyDN")
		return ldapResult(id, ldap.ApplicationModifyDNResponse, gldap.ResultProtocolError, "", "")
	}
	code, matched, diag := s.modifyDN(sess, req)
	s.logEntry(sess, "modifydn", req.entry, code, modifyDNDetail(req))
	return ldapResult(id, ldap.ApplicationModifyDNResponse, code, matched, diag)
}

// modifyDNDetail names the new RDN and parent for the log (DNs only).
func modifyDNDetail(req modifyDNRequest) string {
	d := "newrdn=" + req.newRDN + " deleteoldrdn=" + strconv.FormatBool(req.deleteOldRDN)
	if req.hasSuperior {
		d += " newsuperior=" + req.newSuperior
	}
	return d
}

// ldapResult encodes an LDAPMessage carrying an LDAPResult of type app.
func ldapResult(id int64, app ber.Tag, code int, matched, diag string) []byte {
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Response")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	res := ber.Encode(ber.ClassApplication, ber.TypeConstructed, app, nil, "Response")
	res.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(code), "resultCode"))
	res.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, matched, "matchedDN"))
	res.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, "diagnosticMessage"))
	env.AppendChild(res)
	return env.Bytes()
}

// modifyDN moves or renames a user's account as AD does: bound callers
// only; the entry must be an account (the sandbox renames no group, OU or
// container: a group's objectGUID and objectSid derive from its DN); only
// the service accounts may (the rights revoke's bind account is delegated,
// as for the other writes); the new RDN is a cn and the old one is deleted;
// the new parent exists and can hold a user; nothing else has the new DN.
// The account keeps its objectGUID, objectSid and group memberships (the
// groups' member values follow the new DN); cn and name follow the RDN.
func (s *ldapServer) modifyDN(sess *ldapSession, req modifyDNRequest) (code int, matched, diag string) {
	_, bound, service := sess.state()
	if bound == nil {
		return gldap.ResultOperationsError, "", diagBindRequired
	}
	key, err := dnKey(req.entry)
	if err != nil || key == "" {
		return gldap.ResultInvalidDNSyntax, "", diagInvalidDN(req.entry)
	}
	rdn, err := ldap.ParseDN(req.newRDN)
	if err != nil || len(rdn.RDNs) != 1 || len(rdn.RDNs[0].Attributes) != 1 {
		return gldap.ResultInvalidDNSyntax, "", diagInvalidDN(req.newRDN)
	}
	var superKey string
	if req.hasSuperior {
		if superKey, err = dnKey(req.newSuperior); err != nil || superKey == "" {
			return gldap.ResultInvalidDNSyntax, "", diagInvalidDN(req.newSuperior)
		}
	}

	s.dir.Lock()
	defer s.dir.Unlock()
	_, all := s.directoryEntries()
	var entry *dirEntry
	for _, e := range all {
		if e.key == key {
			entry = e
			break
		}
	}
	if entry == nil {
		best := bestMatch(all, req.entry)
		return gldap.ResultNoSuchObject, best, diagNoSuchObject(best)
	}
	if !service {
		return gldap.ResultInsufficientAccessRights, "", diagInsufficientAccess
	}
	if entry.kind != kindAccount {
		return gldap.ResultUnwillingToPerform, "", diagWillNotPerform
	}
	if !req.deleteOldRDN {
		return gldap.ResultUnwillingToPerform, "", diagOldRDN
	}
	if !strings.EqualFold(rdn.RDNs[0].Attributes[0].Type, "cn") {
		return gldap.ResultNamingViolation, "", diagNamingViolation(entry.dn)
	}
	if !req.hasSuperior {
		superKey = entry.parentKey
	}
	var parent *dirEntry
	for _, e := range all {
		if e.key == superKey {
			parent = e
			break
		}
	}
	if parent == nil {
		best := bestMatch(all, req.newSuperior)
		return gldap.ResultNoSuchObject, best, diagNoSuchObject(best)
	}
	if parent.config || (parent.kind != kindOU && parent.kind != kindContainer && parent.kind != kindDomain) {
		return gldap.ResultNamingViolation, "", diagNamingViolation(parent.dn)
	}
	// The RDN's value as the client escaped it, under the parent as the
	// directory spells it; AD writes the attribute type in capitals.
	value := strings.TrimSpace(req.newRDN[strings.IndexByte(req.newRDN, '=')+1:])
	newDN := "CN=" + value + "," + parent.dn
	newKey, err := dnKey(newDN)
	if err != nil {
		return gldap.ResultInvalidDNSyntax, "", diagInvalidDN(req.newRDN)
	}
	if newKey != key {
		for _, e := range all {
			if e.key == newKey {
				return gldap.ResultEntryAlreadyExists, "", diagEntryExists
			}
		}
	}

	a := entry.acct
	// What AD keeps across a rename is stored, not derived from the DN.
	if a.ObjectGUID == "" {
		a.ObjectGUID = guidString(guidBytes("", key))
	}
	if a.ObjectSID == "" {
		a.ObjectSID = objectSID(s.dir.BaseDN, a.DN)
	}
	for _, g := range s.dir.ADGroups {
		for i, m := range g.Members {
			if k, err := dnKey(m); err == nil && k == key {
				g.Members[i] = newDN
			}
		}
	}
	a.DN = newDN
	s.changed[a] = time.Now().UTC()
	return gldap.ResultSuccess, "", ""
}

// guidString is the string form of objectGUID's raw bytes (the inverse of
// guidBytes): the first three fields are stored little-endian.
func guidString(raw string) string {
	b := []byte(raw)
	if len(b) != 16 {
		return ""
	}
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
