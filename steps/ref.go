package steps

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// RefKind is the form of a subject reference.
type RefKind string

// Reference forms. Every backend resolves the forms its directory can
// answer; the engine links the backends' records through the identifiers
// they publish (Identity), so any form names one person on every side.
const (
	// RefUPN is a user principal name: adele@contoso.test.
	RefUPN RefKind = "upn"
	// RefGUID is an object id (Entra ID) or an objectGUID (AD) in its string
	// form, with or without braces.
	RefGUID RefKind = "guid"
	// RefDomainUser is a down-level logon name: CONTOSO\adele.
	RefDomainUser RefKind = "domain_user"
	// RefSAM is a bare sAMAccountName: adele.
	RefSAM RefKind = "sam"
	// RefDN is an LDAP distinguished name: CN=Adele Vance,OU=Staff,DC=contoso,DC=test.
	RefDN RefKind = "dn"
	// RefSID is a security identifier: S-1-5-21-…-1104.
	RefSID RefKind = "sid"
)

// Ref is a parsed subject reference.
type Ref struct {
	// Text is the reference as given, surrounding white space trimmed.
	Text string
	Kind RefKind
	// Domain is the NetBIOS domain of a RefDomainUser (CONTOSO), as typed.
	Domain string
	// Name is what the backends look up: the UPN, the lower-case GUID
	// without braces, the sAMAccountName (also of a RefDomainUser), the DN,
	// or the SID in upper case.
	Name string
}

// String is the reference as given.
func (r Ref) String() string { return r.Text }

var (
	refGUIDRE = regexp.MustCompile(`^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$`)
	refSIDRE  = regexp.MustCompile(`^[sS]-1-[0-9]+(-[0-9]+)+$`)
	// refDNRE: a DN starts with an attribute type and '=' (CN=, OU=, UID=,
	// or an OID such as 2.5.4.3=).
	refDNRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+)\s*=`)
	// refNetBIOSRE: a NetBIOS domain name is at most 15 characters, none of
	// \ / : * ? " < > | and no dot.
	refNetBIOSRE = regexp.MustCompile(`^[^\\/:*?"<>|.\s]{1,15}$`)
)

// samForbidden are the characters a sAMAccountName may not contain.
const samForbidden = `"/\[]:;|=,+*?<>`

// ParseRef parses a subject reference: a UPN, an object id or objectGUID,
// DOMAIN\user, a sAMAccountName, a distinguished name or a SID. Surrounding
// white space is trimmed (a reference pasted from a mail or a CSV cell
// carries it); a control character anywhere, or a reference no directory
// could hold (CONTOSO\evil\alex, a UPN with two @), is an Invalid error
// saying what is wrong, because two backends reading such a string
// differently could act on two different people.
func ParseRef(s string) (Ref, error) {
	if !utf8.ValidString(s) {
		return Ref{}, Errorf(Invalid, "subject reference %q is not valid UTF-8", s)
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return Ref{}, Errorf(Invalid, "empty subject reference")
	}
	for i, r := range t {
		// Format characters (U+202E and the other bidi overrides) are
		// refused with the controls: they make a reference read on a
		// terminal as something it is not.
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar {
			return Ref{}, Errorf(Invalid, "subject reference %q has a control character at byte %d", t, i)
		}
	}
	r := Ref{Text: t}
	switch {
	case refGUIDRE.MatchString(t):
		r.Kind, r.Name = RefGUID, strings.ToLower(refGUIDRE.FindStringSubmatch(t)[1])
	case refSIDRE.MatchString(t):
		r.Kind, r.Name = RefSID, strings.ToUpper(t)
	case refDNRE.MatchString(t) && strings.Contains(t, ","):
		r.Kind, r.Name = RefDN, t
	case strings.Contains(t, `\`):
		domain, user, _ := strings.Cut(t, `\`)
		switch {
		case !refNetBIOSRE.MatchString(domain):
			return Ref{}, Errorf(Invalid, `subject reference %q: %q is not a NetBIOS domain name (DOMAIN\user takes at most 15 characters before the backslash, no dot or space)`, t, domain)
		case user == "":
			return Ref{}, Errorf(Invalid, `subject reference %q names a domain but no user`, t)
		case strings.Contains(user, "@"):
			return Ref{}, Errorf(Invalid, `subject reference %q: DOMAIN\user takes a logon name after the backslash, not a UPN`, t)
		}
		if err := checkSAM(t, user); err != nil {
			return Ref{}, err
		}
		r.Kind, r.Domain, r.Name = RefDomainUser, domain, user
	case strings.Contains(t, "@"):
		local, domain, _ := strings.Cut(t, "@")
		switch {
		case local == "" || domain == "":
			return Ref{}, Errorf(Invalid, "subject reference %q: a UPN needs a name before and a domain after the @", t)
		case strings.Contains(domain, "@"):
			return Ref{}, Errorf(Invalid, "subject reference %q has more than one @", t)
		case strings.ContainsFunc(t, unicode.IsSpace):
			return Ref{}, Errorf(Invalid, "subject reference %q: a UPN has no white space", t)
		}
		r.Kind, r.Name = RefUPN, t
	default:
		if err := checkSAM(t, t); err != nil {
			return Ref{}, err
		}
		r.Kind, r.Name = RefSAM, t
	}
	return r, nil
}

func checkSAM(ref, sam string) error {
	if i := strings.IndexAny(sam, samForbidden); i >= 0 {
		return Errorf(Invalid, "subject reference %q: a logon name (sAMAccountName) cannot contain %q", ref, sam[i:i+1])
	}
	if strings.TrimSpace(sam) != sam {
		return Errorf(Invalid, "subject reference %q: a logon name cannot start or end with white space", ref)
	}
	return nil
}

// ID kinds a backend's Identity may carry. The engine compares values of
// the same kind case-insensitively (a DN's spaces after commas ignored).
const (
	// IDObjectID is Entra ID's object id.
	IDObjectID = "object_id"
	// IDGUID is AD's objectGUID in string form.
	IDGUID = "guid"
	// IDImmutableID is the sync anchor: Entra's onPremisesImmutableId, AD's
	// objectGUID (or ms-DS-ConsistencyGuid) in base64.
	IDImmutableID = "immutable_id"
	// IDSID is the on-premises security identifier (AD's objectSid,
	// Entra's onPremisesSecurityIdentifier).
	IDSID = "sid"
	// IDUPN is the user principal name.
	IDUPN = "upn"
	// IDSAM is the sAMAccountName.
	IDSAM = "sam"
	// IDDomainUser is DOMAIN\sAMAccountName, with the NetBIOS domain.
	IDDomainUser = "domain_user"
	// IDDN is the on-premises distinguished name.
	IDDN = "dn"
)

// Identity is what one backend's record of the subject says about who
// they are: the engine links the backends' records of one person through
// it, matches the environment's protected list against it, keys the
// per-subject lock on it and checks a resume against it.
type Identity struct {
	// IDs are the record's identifiers by kind (IDObjectID, IDSID, …).
	// Empty values are left out.
	IDs map[string]string `json:"ids"`
	// Anchors are the kinds among IDs that name one person in every
	// directory that publishes them (IDSID, IDImmutableID): two backends'
	// records that disagree on one are two people.
	Anchors []string `json:"anchors,omitempty"`
	// MasteredIn names the backend the record is a copy of (a user synced
	// from on-premises AD: "ad"). A change made here alone does not last:
	// when that backend takes part in the environment and does not find
	// the subject, containment cannot be reached.
	MasteredIn string `json:"mastered_in,omitempty"`
	// Privileged says why the directory counts the subject as privileged
	// (adminCount=1, a privileged role held or eligible): the engine
	// refuses to act on them without an approval, whatever the policies say.
	Privileged []string `json:"privileged,omitempty"`
}

// Linker is implemented by connections that can find a subject by the
// identifiers another backend published (an Entra user's
// onPremisesSecurityIdentifier, an AD account's objectSid). The engine
// calls it when the reference alone did not find the subject here but
// another backend did.
type Linker interface {
	// ResolveIDs finds the record with any of ids (kind → value, from
	// Identity.IDs). None is NotFound; the facts are those Resolve returns.
	ResolveIDs(ctx context.Context, ids map[string]string) (map[string]any, error)
}

// EqualID compares two identifiers of one kind as directories do: case
// does not matter, nor (for a DN) the spaces around the separators.
func EqualID(kind, a, b string) bool {
	if kind == IDDN {
		a, b = normalizeDN(a), normalizeDN(b)
	}
	return strings.EqualFold(a, b)
}

// normalizeDN drops the spaces around ',' and '=' (unescaped ones): CN=A, OU=B
// and cn=a,ou=b are one DN.
func normalizeDN(dn string) string {
	var b strings.Builder
	parts := splitUnescaped(dn, ',')
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			b.WriteString(strings.TrimSpace(p))
			continue
		}
		b.WriteString(strings.TrimSpace(k))
		b.WriteByte('=')
		b.WriteString(strings.TrimSpace(v))
	}
	return b.String()
}

// splitUnescaped splits s at sep where sep is not escaped with a backslash.
func splitUnescaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// String renders an identity's ids for messages: kind=value, sorted.
func (id Identity) String() string {
	keys := sortedNames(id.IDs)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%s", k, id.IDs[k]))
	}
	return strings.Join(parts, " ")
}
