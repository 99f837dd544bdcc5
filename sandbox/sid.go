package sandbox

import (
	"crypto/sha1"
	"encoding/binary"
	"strconv"
	"strings"
)

// Security identifiers, as AD gives every account and group (objectSid)
// and Entra Connect copies to the synced user (onPremisesSecurityIdentifier):
// the value that links one person's two faces. The domain's SID is
// S-1-5-21-A-B-C with A, B and C derived from the base DN, so it is stable
// across restarts; an object's RID is derived from its DN. An account keeps
// the SID it was built with (or the one its seed gives); a group's is worked
// out from its DN on every read. The sandbox renames nothing, so both stay
// put for the life of the tenant.

// domainSID is the SID of the domain rooted at baseDN.
func domainSID(baseDN string) string {
	h := sha1.Sum([]byte("domainSID\x00" + strings.ToLower(baseDN)))
	return "S-1-5-21-" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(h[0:4])), 10) +
		"-" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(h[4:8])), 10) +
		"-" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(h[8:12])), 10)
}

// objectSID is the SID of the object at dn in the domain rooted at baseDN.
// RIDs start above 1100, clear of AD's well-known ones (500 Administrator,
// 512 Domain Admins…) and of the first the domain hands out.
func objectSID(baseDN, dn string) string {
	key, err := dnKey(dn)
	if err != nil {
		key = strings.ToLower(dn)
	}
	h := sha1.Sum([]byte("rid\x00" + key))
	rid := 1100 + binary.LittleEndian.Uint32(h[0:4])%(1<<30)
	return domainSID(baseDN) + "-" + strconv.FormatUint(uint64(rid), 10)
}

// sid is the account's objectSid: the one it was given (newADAccount
// always gives one) or, for an account built without it, the one its DN
// derives in the domain rooted at baseDN.
func (a *ADAccount) sid(baseDN string) string {
	if a.ObjectSID != "" {
		return a.ObjectSID
	}
	return objectSID(baseDN, a.DN)
}

// sidBytes encodes a SID string (S-1-5-21-…) in the binary form objectSid
// holds: revision, sub-authority count, the 48-bit identifier authority big
// endian, then each sub-authority as a little-endian uint32. ok is false
// for a string that is not a SID.
func sidBytes(sid string) (string, bool) {
	parts := strings.Split(sid, "-")
	if len(parts) < 3 || len(parts) > 3+15 || (parts[0] != "S" && parts[0] != "s") {
		return "", false
	}
	rev, err := strconv.ParseUint(parts[1], 10, 8)
	if err != nil {
		return "", false
	}
	auth, err := strconv.ParseUint(parts[2], 10, 48)
	if err != nil {
		return "", false
	}
	b := make([]byte, 8, 8+4*(len(parts)-3))
	b[0], b[1] = byte(rev), byte(len(parts)-3)
	for i := 0; i < 6; i++ {
		b[2+i] = byte(auth >> (8 * (5 - i)))
	}
	for _, p := range parts[3:] {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return "", false
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
	}
	return string(b), true
}

// sidString decodes objectSid's binary form; ok is false when b is not one.
func sidString(b string) (string, bool) {
	if len(b) < 8 || len(b) != 8+4*int(b[1]) {
		return "", false
	}
	var auth uint64
	for i := 0; i < 6; i++ {
		auth = auth<<8 | uint64(b[2+i])
	}
	var s strings.Builder
	s.WriteString("S-" + strconv.Itoa(int(b[0])) + "-" + strconv.FormatUint(auth, 10))
	for i := 8; i < len(b); i += 4 {
		s.WriteString("-" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32([]byte(b[i:i+4]))), 10))
	}
	return s.String(), true
}
