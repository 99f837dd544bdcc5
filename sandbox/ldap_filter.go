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

// filterEntry is what the evaluator needs from an entry: the values of an
// attribute (name lower-cased, options stripped) and whether the schema
// knows the attribute at all.
type filterEntry interface {
	filterValues(lowerName string) (vals []string, syntax attrSyntax, known bool)
	// memberClosure returns the DNs (as dnKey) of every group the entry
	// belongs to directly or through nested groups, for IN_CHAIN on memberOf.
	memberClosure() map[string]bool
}

// matchFilter reports whether the filter packet matches e. Undefined
// counts as no match, as a server does when choosing entries to return.
func matchFilter(f *ber.Packet, e filterEntry) bool {
	return evalFilter(f, e, 0) == triTrue
}

// maxFilterDepth bounds recursion so a hostile, deeply nested filter cannot
// exhaust the stack; go-ldap's compiler has no such bound.
const maxFilterDepth = 64

func evalFilter(f *ber.Packet, e filterEntry, depth int) tri {
	if f == nil || depth > maxFilterDepth || f.ClassType != ber.ClassContext {
		return triUndefined
	}
	switch f.Tag {
	case ldap.FilterAnd:
		res := triTrue
		for _, c := range f.Children {
			switch evalFilter(c, e, depth+1) {
			case triFalse:
				return triFalse
			case triUndefined:
				res = triUndefined
			}
		}
		return res
	case ldap.FilterOr:
		res := triFalse
		for _, c := range f.Children {
			switch evalFilter(c, e, depth+1) {
			case triTrue:
				return triTrue
			case triUndefined:
				res = triUndefined
			}
		}
		return res
	case ldap.FilterNot:
		if len(f.Children) != 1 {
			return triUndefined
		}
		switch evalFilter(f.Children[0], e, depth+1) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triUndefined
	case ldap.FilterPresent:
		// Presence of an unknown attribute is FALSE, not Undefined (RFC 4511).
		vals, _, known := e.filterValues(attrKey(packetString(f)))
		return boolTri(known && len(vals) > 0)
	case ldap.FilterEqualityMatch, ldap.FilterApproxMatch, ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual:
		if len(f.Children) != 2 {
			return triUndefined
		}
		vals, syntax, known := e.filterValues(attrKey(packetString(f.Children[0])))
		if !known {
			return triUndefined
		}
		assertion := packetString(f.Children[1])
		switch f.Tag {
		case ldap.FilterGreaterOrEqual:
			return orderMatch(vals, syntax, assertion, func(c int) bool { return c >= 0 })
		case ldap.FilterLessOrEqual:
			return orderMatch(vals, syntax, assertion, func(c int) bool { return c <= 0 })
		}
		return equalityMatch(vals, syntax, assertion)
	case ldap.FilterSubstrings:
		return substringsMatch(f, e)
	case ldap.FilterExtensibleMatch:
		return extensibleMatch(f, e)
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

func equalityMatch(vals []string, syntax attrSyntax, assertion string) tri {
	switch syntax {
	case syntaxInteger:
		want, err := strconv.ParseInt(assertion, 10, 64)
		if err != nil {
			return triUndefined
		}
		for _, v := range vals {
			if got, err := strconv.ParseInt(v, 10, 64); err == nil && got == want {
				return triTrue
			}
		}
		return triFalse
	case syntaxBinary:
		for _, v := range vals {
			if v == assertion {
				return triTrue
			}
		}
		return triFalse
	case syntaxDN:
		want, err := dnKey(assertion)
		if err != nil {
			return triUndefined
		}
		for _, v := range vals {
			if got, err := dnKey(v); err == nil && got == want {
				return triTrue
			}
		}
		return triFalse
	case syntaxCategory:
		// AD maps objectCategory=person to the class's defaultObjectCategory
		// (CN=Person,CN=Schema,…); a full DN compares as a DN.
		if !strings.Contains(assertion, "=") {
			cn, ok := categoryShorthand[strings.ToLower(assertion)]
			if !ok {
				return triFalse
			}
			for _, v := range vals {
				if rdn, _, _ := strings.Cut(v, ","); strings.EqualFold(rdn, "CN="+cn) {
					return triTrue
				}
			}
			return triFalse
		}
		return equalityMatch(vals, syntaxDN, assertion)
	}
	for _, v := range vals {
		if strings.EqualFold(v, assertion) {
			return triTrue
		}
	}
	return triFalse
}

// categoryShorthand maps lDAPDisplayNames of classes to the CN of their
// defaultObjectCategory, which is what AD substitutes in objectCategory=X.
var categoryShorthand = map[string]string{
	"person":             "Person",
	"user":               "Person",
	"organizationalperson": "Person",
	"group":              "Group",
	"organizationalunit": "Organizational-Unit",
	"container":          "Container",
	"domain":             "Domain-DNS",
	"domaindns":          "Domain-DNS",
	"computer":           "Computer",
}

// orderMatch evaluates >= and <=: numerically for integers, by case-folded
// string order otherwise (GeneralizedTime values order correctly as strings).
func orderMatch(vals []string, syntax attrSyntax, assertion string, ok func(int) bool) tri {
	switch syntax {
	case syntaxInteger:
		want, err := strconv.ParseInt(assertion, 10, 64)
		if err != nil {
			return triUndefined
		}
		for _, v := range vals {
			got, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			c := 0
			if got < want {
				c = -1
			} else if got > want {
				c = 1
			}
			if ok(c) {
				return triTrue
			}
		}
		return triFalse
	case syntaxDN, syntaxCategory, syntaxBinary:
		// AD defines no ordering on these syntaxes.
		return triUndefined
	}
	want := strings.ToLower(assertion)
	for _, v := range vals {
		if ok(strings.Compare(strings.ToLower(v), want)) {
			return triTrue
		}
	}
	return triFalse
}

func substringsMatch(f *ber.Packet, e filterEntry) tri {
	if len(f.Children) != 2 {
		return triUndefined
	}
	vals, syntax, known := e.filterValues(attrKey(packetString(f.Children[0])))
	if !known {
		return triUndefined
	}
	if syntax == syntaxInteger || syntax == syntaxBinary {
		// Integer and octet-string syntaxes have no substrings rule in AD.
		return triUndefined
	}
	var initial, final string
	var any []string
	for _, c := range f.Children[1].Children {
		s := strings.ToLower(packetString(c))
		switch c.Tag {
		case ldap.FilterSubstringsInitial:
			initial = s
		case ldap.FilterSubstringsAny:
			any = append(any, s)
		case ldap.FilterSubstringsFinal:
			final = s
		default:
			return triUndefined
		}
	}
	for _, v := range vals {
		if substringsMatchValue(strings.ToLower(v), initial, any, final) {
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

func extensibleMatch(f *ber.Packet, e filterEntry) tri {
	var rule, attr, value string
	haveValue := false
	for _, c := range f.Children {
		switch c.Tag {
		case ldap.MatchingRuleAssertionMatchingRule:
			rule = packetString(c)
		case ldap.MatchingRuleAssertionType:
			attr = attrKey(packetString(c))
		case ldap.MatchingRuleAssertionMatchValue:
			value, haveValue = packetString(c), true
		}
	}
	if !haveValue || attr == "" {
		// A rule without an attribute type would match any attribute
		// (and :dn: the DN's parts); AD supports neither usefully.
		return triUndefined
	}
	vals, syntax, known := e.filterValues(attr)
	if !known {
		return triUndefined
	}
	switch rule {
	case "":
		return equalityMatch(vals, syntax, value)
	case matchingRuleBitAnd, matchingRuleBitOr:
		if syntax != syntaxInteger {
			return triUndefined
		}
		mask, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return triUndefined
		}
		for _, v := range vals {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			if (rule == matchingRuleBitAnd && n&mask == mask) || (rule == matchingRuleBitOr && n&mask != 0) {
				return triTrue
			}
		}
		return triFalse
	case matchingRuleInChain:
		if attr != "memberof" {
			// The sandbox walks chains for memberOf only, the use revoke has.
			return triUndefined
		}
		want, err := dnKey(value)
		if err != nil {
			return triUndefined
		}
		return boolTri(e.memberClosure()[want])
	}
	return triUndefined
}
