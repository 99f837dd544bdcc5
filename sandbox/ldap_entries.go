package sandbox

import (
	"crypto/md5"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// This file is the LDAP view of the Directory: which entries exist (the
// domain root, the OUs and containers implied by the DNs that exist, people's
// and service accounts, groups) and the attributes AD would show for each.
// Values are computed on demand from the Directory, so a filter reads only
// the attributes it names and nothing can drift out of sync (memberOf is
// always derived from the groups' member lists).

// schemaAttr is one attribute the sandbox's schema knows.
type schemaAttr struct {
	name   string // canonical lDAPDisplayName, as AD returns it
	syntax attrSyntax
}

// ldapSchema maps lower-cased attribute names to their schema entry.
// Filters on names outside it are Undefined; modifies of them fail with
// undefinedAttributeType as on AD.
var ldapSchema = func() map[string]schemaAttr {
	m := map[string]schemaAttr{}
	add := func(syntax attrSyntax, names ...string) {
		for _, n := range names {
			m[strings.ToLower(n)] = schemaAttr{name: n, syntax: syntax}
		}
	}
	add(syntaxString, "objectClass", "cn", "name", "ou", "dc", "sAMAccountName", "userPrincipalName",
		"displayName", "givenName", "sn", "whenChanged", "description", "info", "mail",
		"supportedExtension", "supportedControl", "supportedCapabilities", "currentTime",
		"dnsHostName", "isSynchronized", "nETBIOSName", "dnsRoot")
	add(syntaxInteger, "userAccountControl", "adminCount", "pwdLastSet", "sAMAccountType", "groupType",
		"supportedLDAPVersion", "domainFunctionality", "forestFunctionality", "domainControllerFunctionality", "systemFlags")
	add(syntaxDN, "distinguishedName", "memberOf", "member", "defaultNamingContext", "namingContexts",
		"rootDomainNamingContext", "configurationNamingContext", "schemaNamingContext", "nCName")
	add(syntaxBinary, "objectGUID", "objectSid", "unicodePwd")
	add(syntaxCategory, "objectCategory")
	return m
}()

// Attribute order for "*" per kind of entry, as AD lists them.
var (
	accountAttrs = []string{"objectClass", "cn", "sn", "description", "givenName", "distinguishedName", "whenChanged",
		"displayName", "info", "memberOf", "name", "objectGUID", "userAccountControl", "pwdLastSet", "objectSid",
		"adminCount", "sAMAccountName", "sAMAccountType", "userPrincipalName", "objectCategory"}
	groupAttrs = []string{"objectClass", "cn", "member", "distinguishedName", "whenChanged", "memberOf", "name",
		"objectGUID", "objectSid", "sAMAccountName", "sAMAccountType", "groupType", "objectCategory"}
	domainAttrs    = []string{"objectClass", "distinguishedName", "name", "objectGUID", "objectCategory", "dc"}
	ouAttrs        = []string{"objectClass", "ou", "distinguishedName", "name", "objectGUID", "objectCategory"}
	containerAttrs = []string{"objectClass", "cn", "distinguishedName", "name", "objectGUID", "objectCategory"}
	crossRefAttrs  = []string{"objectClass", "cn", "distinguishedName", "name", "objectGUID", "systemFlags",
		"nCName", "dnsRoot", "nETBIOSName", "objectCategory"}
	rootDSEAttrs = []string{"currentTime", "dnsHostName", "defaultNamingContext", "namingContexts",
		"rootDomainNamingContext", "configurationNamingContext", "schemaNamingContext",
		"supportedControl", "supportedLDAPVersion", "supportedExtension", "supportedCapabilities",
		"isSynchronized", "domainFunctionality", "forestFunctionality", "domainControllerFunctionality"}
)

// OIDs the root DSE advertises: only what this server implements.
const (
	oidStartTLS          = "1.3.6.1.4.1.1466.20037"
	oidPagedResults      = "1.2.840.113556.1.4.319"
	oidCapActiveDirecory = "1.2.840.113556.1.4.800" // LDAP_CAP_ACTIVE_DIRECTORY_OID: "this is AD"
)

// AD's sAMAccountType and groupType values for the objects the sandbox has.
const (
	samUserObject   = "805306368"   // SAM_USER_OBJECT
	samGroupObject  = "268435456"   // SAM_GROUP_OBJECT
	groupTypeGlobal = "-2147483646" // global security group
)

type entryKind int8

const (
	kindRootDSE entryKind = iota
	kindDomain
	kindOU
	kindContainer
	kindAccount
	kindGroup
	// The configuration naming context's entries that say which NetBIOS
	// name the domain has: CN=Configuration, CN=Partitions under it, and
	// the domain's crossRef. They are not under the domain's naming
	// context: a search based there does not reach them.
	kindConfiguration
	kindPartitions
	kindCrossRef
)

// dirEntry is one LDAP entry backed by the Directory. Its methods run with
// the Directory locked.
type dirEntry struct {
	dn        string // as stored in the Directory (or derived from it)
	key       string // dnKey(dn)
	parentKey string
	depth     int
	kind      entryKind
	rdnValue  string
	acct      *ADAccount
	group     *ADGroup
	view      *ldapView
	// config: the entry is in the configuration naming context.
	config bool
}

// ldapView is what entries share: the Directory and the strings derived
// from its base DN, computed once per entry list.
type ldapView struct {
	dir     *Directory
	server  *ldapServer
	baseDN  string
	baseKey string

	catPerson, catGroup, catOU, catContainer, catDomain []string
}

func newLDAPView(s *ldapServer) *ldapView {
	v := &ldapView{dir: s.dir, server: s, baseDN: s.dir.BaseDN}
	v.baseKey, _ = dnKey(v.baseDN)
	cat := func(cn string) []string { return []string{"CN=" + cn + ",CN=Schema," + v.configurationDN()} }
	v.catPerson, v.catGroup, v.catOU = cat("Person"), cat("Group"), cat("Organizational-Unit")
	v.catContainer, v.catDomain = cat("Container"), cat("Domain-DNS")
	return v
}

// Constant values, shared (never modified by callers).
var (
	userClasses       = []string{"top", "person", "organizationalPerson", "user"}
	configClasses     = []string{"top", "configuration"}
	partitionsClasses = []string{"top", "crossRefContainer"}
	crossRefClasses   = []string{"top", "crossRef"}
	groupClasses      = []string{"top", "group"}
	domainClasses     = []string{"top", "domain", "domainDNS"}
	ouClasses         = []string{"top", "organizationalUnit"}
	containerClasses  = []string{"top", "container"}
)

// values returns the entry's values for a canonical attribute name.
func (e *dirEntry) values(name string) []string {
	v := e.view
	switch e.kind {
	case kindRootDSE:
		return v.rootDSEValues(name)
	case kindAccount:
		return e.accountValues(name)
	case kindGroup:
		return e.groupValues(name)
	case kindConfiguration, kindPartitions, kindCrossRef:
		return e.configValues(name)
	}
	// Domain root, OUs and containers.
	switch name {
	case "objectClass":
		switch e.kind {
		case kindDomain:
			return domainClasses
		case kindOU:
			return ouClasses
		}
		return containerClasses
	case "distinguishedName":
		return []string{e.dn}
	case "name":
		return []string{e.rdnValue}
	case "dc":
		if e.kind == kindDomain {
			return []string{e.rdnValue}
		}
	case "ou":
		if e.kind == kindOU {
			return []string{e.rdnValue}
		}
	case "cn":
		if e.kind == kindContainer {
			return []string{e.rdnValue}
		}
	case "objectGUID":
		return []string{guidBytes("", e.key)}
	case "objectCategory":
		switch e.kind {
		case kindDomain:
			return v.catDomain
		case kindOU:
			return v.catOU
		}
		return v.catContainer
	}
	return nil
}

func (e *dirEntry) accountValues(name string) []string {
	a := e.acct
	switch name {
	case "objectClass":
		return userClasses
	case "cn", "name":
		return []string{e.rdnValue}
	case "sn":
		return nonEmpty(a.Surname)
	case "givenName":
		return nonEmpty(a.GivenName)
	case "displayName":
		return nonEmpty(a.DisplayName)
	case "distinguishedName":
		return []string{a.DN}
	case "whenChanged":
		return []string{generalizedTime(e.view.server.changedAt(a))}
	case "memberOf":
		return e.view.dir.MemberOf(a.DN)
	case "objectGUID":
		return []string{guidBytes(a.ObjectGUID, e.key)}
	case "objectSid":
		b, _ := sidBytes(a.sid(e.view.baseDN))
		return nonEmpty(b)
	case "userAccountControl":
		return []string{strconv.Itoa(a.UserAccountControl)}
	case "pwdLastSet":
		return []string{fileTime(a.PwdLastSet)}
	case "adminCount":
		if a.AdminCount != 0 {
			return []string{strconv.Itoa(a.AdminCount)}
		}
	case "sAMAccountName":
		return nonEmpty(a.SAMAccountName)
	case "sAMAccountType":
		return []string{samUserObject}
	case "userPrincipalName":
		return nonEmpty(a.UserPrincipalName)
	case "description", "info":
		return nonEmpty(e.view.server.note(a, name))
	case "objectCategory":
		return e.view.catPerson
	}
	return nil
}

func (e *dirEntry) groupValues(name string) []string {
	g := e.group
	switch name {
	case "objectClass":
		return groupClasses
	case "cn", "name":
		return []string{e.rdnValue}
	case "member":
		return append([]string(nil), g.Members...)
	case "distinguishedName":
		return []string{g.DN}
	case "whenChanged":
		return []string{generalizedTime(e.view.server.changedAt(g))}
	case "objectGUID":
		return []string{guidBytes("", e.key)}
	case "objectSid":
		b, _ := sidBytes(objectSID(e.view.baseDN, g.DN))
		return nonEmpty(b)
	case "sAMAccountName":
		if g.CN != "" {
			return []string{g.CN}
		}
		return []string{e.rdnValue}
	case "sAMAccountType":
		return []string{samGroupObject}
	case "groupType":
		return []string{groupTypeGlobal}
	case "memberOf":
		return e.view.dir.MemberOf(g.DN)
	case "objectCategory":
		return e.view.catGroup
	}
	return nil
}

// configValues are the attributes of the configuration entries.
func (e *dirEntry) configValues(name string) []string {
	v := e.view
	switch name {
	case "objectClass":
		switch e.kind {
		case kindConfiguration:
			return configClasses
		case kindPartitions:
			return partitionsClasses
		}
		return crossRefClasses
	case "cn", "name":
		return []string{e.rdnValue}
	case "distinguishedName":
		return []string{e.dn}
	case "objectGUID":
		return []string{guidBytes("", e.key)}
	case "objectCategory":
		switch e.kind {
		case kindConfiguration:
			return []string{"CN=Configuration,CN=Schema," + v.configurationDN()}
		case kindPartitions:
			return []string{"CN=Cross-Ref-Container,CN=Schema," + v.configurationDN()}
		}
		return []string{"CN=Cross-Ref,CN=Schema," + v.configurationDN()}
	}
	if e.kind != kindCrossRef {
		return nil
	}
	switch name {
	case "nCName":
		return []string{v.baseDN}
	case "dnsRoot":
		return nonEmpty(dnsDomain(v.baseDN))
	case "nETBIOSName":
		return nonEmpty(v.dir.NetBIOS)
	case "systemFlags":
		return []string{"3"} // FLAG_CR_NTDS_NC | FLAG_CR_NTDS_DOMAIN: an AD domain
	}
	return nil
}

// memberClosure walks nested groups upwards from the entry (IN_CHAIN).
func (e *dirEntry) memberClosure() map[string]bool {
	closure := map[string]bool{}
	queue := []string{e.dn}
	for len(queue) > 0 {
		dn := queue[0]
		queue = queue[1:]
		for _, g := range e.view.dir.MemberOf(dn) {
			k, err := dnKey(g)
			if err != nil || closure[k] {
				continue
			}
			closure[k] = true
			queue = append(queue, g)
		}
	}
	return closure
}

func (v *ldapView) rootDSEValues(name string) []string {
	switch name {
	case "currentTime":
		return []string{generalizedTime(time.Now())}
	case "dnsHostName":
		return []string{"localhost"}
	case "defaultNamingContext", "rootDomainNamingContext":
		return []string{v.baseDN}
	case "namingContexts":
		return []string{v.baseDN, v.configurationDN(), "CN=Schema," + v.configurationDN()}
	case "configurationNamingContext":
		return []string{v.configurationDN()}
	case "schemaNamingContext":
		return []string{"CN=Schema," + v.configurationDN()}
	case "supportedControl":
		return []string{oidPagedResults}
	case "supportedLDAPVersion":
		return []string{"3", "2"}
	case "supportedExtension":
		return []string{oidStartTLS}
	case "supportedCapabilities":
		return []string{oidCapActiveDirecory}
	case "isSynchronized":
		return []string{"TRUE"}
	case "domainFunctionality", "forestFunctionality", "domainControllerFunctionality":
		return []string{"7"} // Windows Server 2016
	case "objectClass":
		// The root DSE has no objectClass in AD, but (objectClass=*) must
		// still select it, as every client's root DSE read uses that filter.
		return []string{"top"}
	}
	return nil
}

func (v *ldapView) configurationDN() string { return "CN=Configuration," + v.baseDN }

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// fileTime renders t as AD's FILETIME: 100 ns intervals since 1601-01-01
// UTC, "0" for never (which is also what "must change at next logon" sets).
func fileTime(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	const epochDelta = 116444736000000000 // 1601→1970 in 100 ns
	return strconv.FormatInt(t.UnixNano()/100+epochDelta, 10)
}

// generalizedTime renders t as AD does in whenChanged: 20240131120000.0Z.
func generalizedTime(t time.Time) string {
	return t.UTC().Format("20060102150405") + ".0Z"
}

// guidBytes is objectGUID's 16 raw bytes in AD's byte order (the first
// three fields little-endian). A GUID string that does not parse, or none,
// falls back to one derived from the DN, stable for the entry's life.
func guidBytes(guid, key string) string {
	b, err := hex.DecodeString(strings.ReplaceAll(strings.Trim(guid, "{}"), "-", ""))
	if err != nil || len(b) != 16 {
		sum := md5.Sum([]byte(key))
		return string(sum[:])
	}
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
	return string(b)
}

// dnInfo is a parsed DN: its comparison key, its parent and its first RDN.
type dnInfo struct {
	key       string
	parentKey string
	parentDN  string // the parent as written in the original DN
	depth     int
	rdnType   string // lower-cased
	rdnValue  string
}

// dnCache remembers parsed Directory DNs: every search walks all of them,
// and ldap.ParseDN is the costliest step of that walk.
var dnCache = struct {
	sync.Mutex
	m map[string]*dnInfo
}{m: map[string]*dnInfo{}}

// dnCacheMax bounds the cache; client-supplied DNs pass through it too.
const dnCacheMax = 4096

// parseDNInfo parses dn (cached). The empty DN is the root DSE.
func parseDNInfo(dn string) (*dnInfo, error) {
	dnCache.Lock()
	info, ok := dnCache.m[dn]
	dnCache.Unlock()
	if ok {
		return info, nil
	}
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return nil, err
	}
	info = &dnInfo{depth: len(parsed.RDNs)}
	keys := make([]string, len(parsed.RDNs))
	for i, r := range parsed.RDNs {
		parts := make([]string, len(r.Attributes))
		for j, a := range r.Attributes {
			parts[j] = strings.ToLower(a.Type) + "=" + keyEscaper.Replace(strings.ToLower(a.Value))
		}
		sort.Strings(parts) // multi-valued RDNs are unordered
		keys[i] = strings.Join(parts, "+")
	}
	info.key = strings.Join(keys, ",")
	if len(parsed.RDNs) > 0 {
		info.parentKey = strings.Join(keys[1:], ",")
		info.parentDN = parentDN(dn)
		if first := parsed.RDNs[0].Attributes; len(first) > 0 {
			info.rdnType = strings.ToLower(first[0].Type)
			info.rdnValue = first[0].Value
		}
	}
	dnCache.Lock()
	if len(dnCache.m) >= dnCacheMax {
		dnCache.m = map[string]*dnInfo{}
	}
	dnCache.m[dn] = info
	dnCache.Unlock()
	return info, nil
}

// parentDN cuts the first RDN off dn as written (at the first comma not
// escaped), keeping the case and spelling of the rest.
func parentDN(dn string) string {
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',', ';':
			return strings.TrimSpace(dn[i+1:])
		}
	}
	return ""
}

// keyEscaper keeps a key's separators unambiguous.
var keyEscaper = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `+`, `\+`)

// dnKey is the form two DNs that name the same entry share: parsed,
// attribute types and values lower-cased, spacing dropped.
func dnKey(dn string) (string, error) {
	info, err := parseDNInfo(dn)
	if err != nil {
		return "", err
	}
	return info.key, nil
}

// ldapEntryCache is the last entry list built, with what it was built
// from: every search walks the list, and rebuilding it (parsing DNs,
// deriving OUs, sorting) would dominate a search's cost.
type ldapEntryCache struct {
	view     *ldapView
	accounts []*ADAccount
	dns      []string // each account's and then each group's DN when built
	groups   []*ADGroup
	entries  []*dirEntry
	// containers is how many OUs and containers the server had served
	// (ldapServer.containers only grows).
	containers int
}

// directoryEntries returns the entry list, rebuilt when an account or
// group was added, removed or renamed since. Callers hold the Directory lock.
func (s *ldapServer) directoryEntries() (*ldapView, []*dirEntry) {
	if c := s.entryCache; c != nil && c.current(s.dir, len(s.containers)) {
		return c.view, c.entries
	}
	c := &ldapEntryCache{view: newLDAPView(s)}
	for _, u := range s.dir.Users {
		if u.AD != nil {
			c.accounts = append(c.accounts, u.AD)
			c.dns = append(c.dns, u.AD.DN)
		}
	}
	for _, a := range s.dir.ServiceAccounts {
		c.accounts = append(c.accounts, a)
		c.dns = append(c.dns, a.DN)
	}
	for _, g := range s.dir.ADGroups {
		c.groups = append(c.groups, g)
		c.dns = append(c.dns, g.DN)
	}
	c.entries = c.view.entries(s.containers)
	for _, e := range c.entries {
		if (e.kind == kindOU || e.kind == kindContainer) && !e.config {
			s.containers[e.key] = e.dn
		}
	}
	c.containers = len(s.containers)
	s.entryCache = c
	return c.view, c.entries
}

func (c *ldapEntryCache) current(d *Directory, containers int) bool {
	if c.view.baseDN != d.BaseDN || c.containers != containers {
		return false
	}
	i := 0
	same := func(a *ADAccount) bool {
		ok := i < len(c.accounts) && c.accounts[i] == a && c.dns[i] == a.DN
		i++
		return ok
	}
	for _, u := range d.Users {
		if u.AD != nil && !same(u.AD) {
			return false
		}
	}
	for _, a := range d.ServiceAccounts {
		if !same(a) {
			return false
		}
	}
	if i != len(c.accounts) || len(d.ADGroups) != len(c.groups) {
		return false
	}
	for j, g := range d.ADGroups {
		if c.groups[j] != g || c.dns[i+j] != g.DN {
			return false
		}
	}
	return true
}

// entries lists every entry of the directory (not the root DSE), parents
// before children, so paging and size limits cut at a stable place: those
// the Directory's objects imply, and the OUs and containers served before
// (containers, dnKey → DN), which stay when their last object moved away.
func (v *ldapView) entries(containers map[string]string) []*dirEntry {
	var out []*dirEntry
	seen := map[string]bool{}
	add := func(e *dirEntry) {
		if !seen[e.key] {
			seen[e.key] = true
			out = append(out, e)
		}
	}
	entry := func(dn string, kind entryKind) *dirEntry {
		info, err := parseDNInfo(dn)
		if err != nil {
			return nil // a DN the seed got wrong is not served
		}
		return &dirEntry{dn: dn, key: info.key, parentKey: info.parentKey, depth: info.depth,
			kind: kind, rdnValue: info.rdnValue, view: v}
	}
	if root := entry(v.baseDN, kindDomain); root != nil {
		add(root)
	}
	var leaves []*dirEntry
	for _, u := range v.dir.Users {
		if u.AD != nil {
			if e := entry(u.AD.DN, kindAccount); e != nil {
				e.acct = u.AD
				leaves = append(leaves, e)
			}
		}
	}
	for _, a := range v.dir.ServiceAccounts {
		if e := entry(a.DN, kindAccount); e != nil {
			e.acct = a
			leaves = append(leaves, e)
		}
	}
	for _, g := range v.dir.ADGroups {
		if e := entry(g.DN, kindGroup); e != nil {
			e.group = g
			leaves = append(leaves, e)
		}
	}
	for _, l := range leaves {
		add(l)
	}
	keys := make([]string, 0, len(containers))
	for k := range containers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		info, err := parseDNInfo(containers[k])
		if err != nil || !strings.HasSuffix(info.key, ","+v.baseKey) {
			continue
		}
		kind := kindContainer
		if info.rdnType == "ou" {
			kind = kindOU
		}
		if e := entry(containers[k], kind); e != nil && !seen[e.key] {
			add(e)
			leaves = append(leaves, e) // its parents are walked below
		}
	}
	// The configuration naming context, as far as clients read it: the
	// domain's crossRef, which maps its DN to its NetBIOS name.
	config := []struct {
		dn   string
		kind entryKind
	}{{v.configurationDN(), kindConfiguration}, {"CN=Partitions," + v.configurationDN(), kindPartitions}}
	if v.dir.NetBIOS != "" {
		config = append(config, struct {
			dn   string
			kind entryKind
		}{"CN=" + ldap.EscapeDN(v.dir.NetBIOS) + ",CN=Partitions," + v.configurationDN(), kindCrossRef})
	}
	for _, c := range config {
		if e := entry(c.dn, c.kind); e != nil {
			e.config = true
			add(e)
		}
	}
	// The OUs and containers between the domain root and each object.
	for _, l := range leaves {
		info, _ := parseDNInfo(l.dn)
		for info != nil && info.parentKey != "" && info.parentKey != v.baseKey &&
			strings.HasSuffix(info.parentKey, ","+v.baseKey) {
			parent, err := parseDNInfo(info.parentDN)
			if err != nil || seen[parent.key] {
				break
			}
			kind := kindContainer
			switch parent.rdnType {
			case "ou":
				kind = kindOU
			case "dc":
				kind = kindDomain
			}
			add(&dirEntry{dn: info.parentDN, key: parent.key, parentKey: parent.parentKey, depth: parent.depth,
				kind: kind, rdnValue: parent.rdnValue, view: v})
			info = parent
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].depth != out[j].depth {
			return out[i].depth < out[j].depth
		}
		return out[i].key < out[j].key
	})
	return out
}

// rootDSE is the entry at the empty DN.
func (v *ldapView) rootDSE() *dirEntry {
	return &dirEntry{kind: kindRootDSE, view: v}
}

// attrNames is the "*" attribute list of the entry's kind.
func (e *dirEntry) attrNames() []string {
	switch e.kind {
	case kindRootDSE:
		return rootDSEAttrs
	case kindDomain:
		return domainAttrs
	case kindOU:
		return ouAttrs
	case kindContainer:
		return containerAttrs
	case kindAccount:
		return accountAttrs
	case kindConfiguration, kindPartitions:
		return containerAttrs
	case kindCrossRef:
		return crossRefAttrs
	}
	return groupAttrs
}

// attrSelection is a search request's attribute list, parsed once.
type attrSelection struct {
	all      bool            // none listed, or "*"
	explicit map[string]bool // lower-cased names listed
}

func newAttrSelection(attrs []string) attrSelection {
	sel := attrSelection{all: len(attrs) == 0, explicit: map[string]bool{}}
	for _, a := range attrs {
		switch a {
		case "*":
			sel.all = true
		case "1.1", "+", "":
			// "1.1" alone means no attributes; "+" (operational) adds
			// nothing AD would not already return for "*".
		default:
			sel.explicit[attrKey(a)] = true
		}
	}
	return sel
}

// renderedAttr is an attribute ready to send.
type renderedAttr struct {
	name string
	vals []string
}

// render materializes the selected attributes of e, in AD's order.
func (e *dirEntry) render(sel attrSelection) []renderedAttr {
	var out []renderedAttr
	for _, name := range e.attrNames() {
		if !sel.all && !sel.explicit[strings.ToLower(name)] {
			continue
		}
		if vals := e.values(name); len(vals) > 0 {
			out = append(out, renderedAttr{name: name, vals: vals})
		}
	}
	return out
}
