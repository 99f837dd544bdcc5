package sandbox

import (
	"strconv"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// This file evaluates LDAP search filters (RFC 4511 §4.5.1) on directory
// entries the way Active Directory does: attribute names and string values
// compare case-insensitively, integers numerically, DNs by their parsed
// form, objectGUID byte for byte, and objectCategory accepts AD's shorthand
// (objectCategory=person). The filter arrives as the BER packet
// ldap.CompileFilter builds, so escaped values (\2a, \28…) are already the
// literal bytes they stand for and can never widen a match.

// AD's matching rules for extensible match filters.
const (
	matchingRuleBitAnd  = "1.2.840.113556.1.4.803"  // LDAP_MATCHING_RULE_BIT_AND
	matchingRuleBitOr   = "1.2.840.113556.1.4.804"  // LDAP_MATCHING_RULE_BIT_OR
	matchingRuleInChain = "1.2.840.113556.1.4.1941" // LDAP_MATCHING_RULE_IN_CHAIN
)

// tri is a filter's three-valued result (RFC 4511 §4.5.1.7): a filter on an
// attribute the schema does not know, or with an assertion value of the
// wrong syntax, is Undefined, and NOT Undefined is still Undefined, so
// (!(noSuchAttr=x)) matches nothing.
type tri int8

const (
	triFalse tri = iota
	triTrue
	triUndefined
)

// attrSyntax says how values of an attribute compare.
type attrSyntax int8

const (
	syntaxString   attrSyntax = iota // case-ignore string
	syntaxInteger                    // signed integer, compared numerically
	syntaxDN                         // distinguished name
	syntaxBinary                     // octet string, compared byte for byte
	syntaxCategory                   // objectCategory: a DN, or a class name as shorthand
)

// filterEntry is what the evaluator needs from an entry.
type filterEntry interface {
	// values returns the entry's values of an attribute, by its
	// canonical name (ldapSchema's spelling).
	values(name string) []string
	// memberClosure returns the keys (dnKey) of every group the entry
	// belongs to, directly or through nested groups, for IN_CHAIN.
	memberClosure() map[string]bool
}

// ldapFilter is a search filter compiled for evaluation: attribute names
// resolved against the schema and assertion values parsed once per search,
// not once per entry.
type ldapFilter struct {
	op       ber.Tag
	children []*ldapFilter
	attr     schemaAttr // zero when unknown to the schema
	known    bool
	value    string // the assertion value, as sent
	// Pre-parsed forms of value, by the attribute's syntax.
	num     int64
	numOK   bool
	dn      string // dnKey(value)
	dnOK    bool
	lower   string // strings.ToLower(value)
	initial string // substrings, lower-cased
	any     []string
	final   string
	rule    string // extensible match's matching rule
	// undefined marks a node that is Undefined whatever the entry (a
	// malformed packet, an unknown rule, a wrong-syntax assertion).
	undefined bool
}

// maxFilterDepth bounds recursion so a hostile, deeply nested filter cannot
// exhaust the stack; go-ldap's compiler has no such bound.
const maxFilterDepth = 64

// compileLDAPFilter prepares the packet ldap.CompileFilter built. It never
// fails: what cannot be evaluated becomes an Undefined node.
func compileLDAPFilter(p *ber.Packet) *ldapFilter {
	return compileNode(p, 0)
}

func compileNode(p *ber.Packet, depth int) *ldapFilter {
	if p == nil || depth > maxFilterDepth || p.ClassType != ber.ClassContext {
		return &ldapFilter{undefined: true}
	}
	f := &ldapFilter{op: p.Tag}
	setAttr := func(name string) {
		f.attr, f.known = ldapSchema[attrKey(name)]
	}
	switch p.Tag {
	case ldap.FilterAnd, ldap.FilterOr:
		for _, c := range p.Children {
			f.children = append(f.children, compileNode(c, depth+1))
		}
	case ldap.FilterNot:
		if len(p.Children) != 1 {
			return &ldapFilter{undefined: true}
		}
		f.children = []*ldapFilter{compileNode(p.Children[0], depth+1)}
	case ldap.FilterPresent:
		setAttr(packetString(p))
	case ldap.FilterEqualityMatch, ldap.FilterApproxMatch, ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual:
		if len(p.Children) != 2 {
			return &ldapFilter{undefined: true}
		}
		setAttr(packetString(p.Children[0]))
		f.setValue(packetString(p.Children[1]))
	case ldap.FilterSubstrings:
		if len(p.Children) != 2 {
			return &ldapFilter{undefined: true}
		}
		setAttr(packetString(p.Children[0]))
		for _, c := range p.Children[1].Children {
			part := strings.ToLower(packetString(c))
			switch c.Tag {
			case ldap.FilterSubstringsInitial:
				f.initial = part
			case ldap.FilterSubstringsAny:
				f.any = append(f.any, part)
			case ldap.FilterSubstringsFinal:
				f.final = part
			default:
				f.undefined = true
			}
		}
	case ldap.FilterExtensibleMatch:
		haveValue := false
		for _, c := range p.Children {
			switch c.Tag {
			case ldap.MatchingRuleAssertionMatchingRule:
				f.rule = packetString(c)
			case ldap.MatchingRuleAssertionType:
				setAttr(packetString(c))
			case ldap.MatchingRuleAssertionMatchValue:
				f.setValue(packetString(c))
				haveValue = true
			}
		}
		// Without an attribute type a rule would match any attribute (and
		// :dn: the DN's parts); AD supports neither usefully.
		if !haveValue || f.attr.name == "" {
			f.undefined = true
		}
	default:
		f.undefined = true
	}
	return f
}

// setValue parses the assertion value for the attribute's syntax (the
// attribute type precedes the value in every filter choice).
func (f *ldapFilter) setValue(v string) {
	f.value, f.lower = v, strings.ToLower(v)
	switch f.attr.syntax {
	case syntaxInteger:
		f.num, f.numOK = parseInteger(v)
	case syntaxDN, syntaxCategory:
		if k, err := dnKey(v); err == nil {
			f.dn, f.dnOK = k, true
		}
	case syntaxBinary:
		// AD also takes objectSid=S-1-5-21-… in a filter, the SID's string
		// form (sidBytes accepts nothing else).
		if f.attr.name == "objectSid" {
			if b, ok := sidBytes(v); ok {
				f.value = b
			}
		}
	}
}

func parseInteger(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// matches reports whether the filter matches e. Undefined counts as no
// match, as a server does when choosing entries to return.
func (f *ldapFilter) matches(e filterEntry) bool { return f.eval(e) == triTrue }

func (f *ldapFilter) eval(e filterEntry) tri {
	if f.undefined {
		return triUndefined
	}
	switch f.op {
	case ldap.FilterAnd:
		res := triTrue
		for _, c := range f.children {
			switch c.eval(e) {
			case triFalse:
				return triFalse
			case triUndefined:
				res = triUndefined
			}
		}
		return res
	case ldap.FilterOr:
		res := triFalse
		for _, c := range f.children {
			switch c.eval(e) {
			case triTrue:
				return triTrue
			case triUndefined:
				res = triUndefined
			}
		}
		return res
	case ldap.FilterNot:
		switch f.children[0].eval(e) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triUndefined
	case ldap.FilterPresent:
		// Presence of an unknown attribute is FALSE, not Undefined (RFC 4511).
		return boolTri(f.known && len(e.values(f.attr.name)) > 0)
	}
	if !f.known {
		return triUndefined
	}
	vals := e.values(f.attr.name)
	switch f.op {
	case ldap.FilterEqualityMatch, ldap.FilterApproxMatch:
		return f.equality(vals)
	case ldap.FilterGreaterOrEqual:
		return f.order(vals, func(c int) bool { return c >= 0 })
	case ldap.FilterLessOrEqual:
		return f.order(vals, func(c int) bool { return c <= 0 })
	case ldap.FilterSubstrings:
		return f.substrings(vals)
	case ldap.FilterExtensibleMatch:
		return f.extensible(vals, e)
	}
	return triUndefined
}

func boolTri(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// packetString is a primitive packet's content; nil-safe so malformed
// packets evaluate to Undefined instead of panicking.
func packetString(p *ber.Packet) string {
	if p == nil || p.Data == nil {
		return ""
	}
	return p.Data.String()
}

// attrKey lower-cases an attribute description and drops its options
// (";binary", ";range=0-*").
func attrKey(name string) string {
	if i := strings.IndexByte(name, ';'); i >= 0 {
		name = name[:i]
	}
	return strings.ToLower(name)
}

func (f *ldapFilter) equality(vals []string) tri {
	switch f.attr.syntax {
	case syntaxInteger:
		if !f.numOK {
			return triUndefined
		}
		for _, v := range vals {
			if n, ok := parseInteger(v); ok && n == f.num {
				return triTrue
			}
		}
		return triFalse
	case syntaxBinary:
		for _, v := range vals {
			if v == f.value {
				return triTrue
			}
		}
		return triFalse
	case syntaxCategory:
		// AD maps objectCategory=person to the class's defaultObjectCategory
		// (CN=Person,CN=Schema,…); a full DN compares as a DN.
		if !strings.Contains(f.value, "=") {
			cn, ok := categoryShorthand[f.lower]
			if !ok {
				return triFalse
			}
			for _, v := range vals {
				if rdn, _, _ := strings.Cut(v, ","); len(rdn) > 3 && strings.EqualFold(rdn[3:], cn) {
					return triTrue
				}
			}
			return triFalse
		}
		fallthrough
	case syntaxDN:
		if !f.dnOK {
			return triUndefined
		}
		for _, v := range vals {
			if k, err := dnKey(v); err == nil && k == f.dn {
				return triTrue
			}
		}
		return triFalse
	}
	for _, v := range vals {
		if strings.EqualFold(v, f.value) {
			return triTrue
		}
	}
	return triFalse
}

// categoryShorthand maps lDAPDisplayNames of classes (lower-cased) to the
// CN of their defaultObjectCategory, which AD substitutes in objectCategory=X.
var categoryShorthand = map[string]string{
	"person":               "Person",
	"user":                 "Person",
	"organizationalperson": "Person",
	"group":                "Group",
	"organizationalunit":   "Organizational-Unit",
	"container":            "Container",
	"domain":               "Domain-DNS",
	"domaindns":            "Domain-DNS",
	"computer":             "Computer",
}

// order evaluates >= and <=: numerically for integers, by case-folded
// string order otherwise (GeneralizedTime values order correctly as strings).
func (f *ldapFilter) order(vals []string, ok func(int) bool) tri {
	switch f.attr.syntax {
	case syntaxInteger:
		if !f.numOK {
			return triUndefined
		}
		for _, v := range vals {
			if n, valid := parseInteger(v); valid && ok(cmpInt(n, f.num)) {
				return triTrue
			}
		}
		return triFalse
	case syntaxDN, syntaxCategory, syntaxBinary:
		// AD defines no ordering on these syntaxes.
		return triUndefined
	}
	for _, v := range vals {
		if ok(strings.Compare(strings.ToLower(v), f.lower)) {
			return triTrue
		}
	}
	return triFalse
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (f *ldapFilter) substrings(vals []string) tri {
	if f.attr.syntax == syntaxInteger || f.attr.syntax == syntaxBinary {
		// Integer and octet-string syntaxes have no substrings rule in AD.
		return triUndefined
	}
	for _, v := range vals {
		if substringsMatchValue(strings.ToLower(v), f.initial, f.any, f.final) {
			return triTrue
		}
	}
	return triFalse
}

func substringsMatchValue(v, initial string, any []string, final string) bool {
	if !strings.HasPrefix(v, initial) {
		return false
	}
	v = v[len(initial):]
	for _, a := range any {
		i := strings.Index(v, a)
		if i < 0 {
			return false
		}
		v = v[i+len(a):]
	}
	return strings.HasSuffix(v, final)
}

func (f *ldapFilter) extensible(vals []string, e filterEntry) tri {
	switch f.rule {
	case "":
		return f.equality(vals)
	case matchingRuleBitAnd, matchingRuleBitOr:
		if f.attr.syntax != syntaxInteger || !f.numOK {
			return triUndefined
		}
		for _, v := range vals {
			n, ok := parseInteger(v)
			if !ok {
				continue
			}
			if (f.rule == matchingRuleBitAnd && n&f.num == f.num) || (f.rule == matchingRuleBitOr && n&f.num != 0) {
				return triTrue
			}
		}
		return triFalse
	case matchingRuleInChain:
		// The sandbox walks chains for memberOf only, the use revoke has.
		if f.attr.name != "memberOf" || !f.dnOK {
			return triUndefined
		}
		return boolTri(e.memberClosure()[f.dn])
	}
	return triUndefined
}
