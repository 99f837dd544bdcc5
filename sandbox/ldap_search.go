package sandbox

import (
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/jimlambrt/gldap"
)

// searchResult is what a search sends back.
type searchResult struct {
	code    int
	diag    string
	matched string
	entries []renderedEntry
	paging  *gldap.ControlPaging
}

type renderedEntry struct {
	dn    string
	attrs []renderedAttr
}

func (s *ldapServer) handleSearch(b *ldapBackend, w *gldap.ResponseWriter, r *gldap.Request) {
	m, err := r.GetSearchMessage()
	if err != nil {
		_ = w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultProtocolError)))
		return
	}
	if r.ID == 1 && strings.EqualFold(m.BaseDN, helloBaseDN) {
		code := gldap.ResultSuccess
		if !s.registerHello(b, r, m.Attributes) {
			code = gldap.ResultProtocolError
		}
		_ = w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(code)))
		return
	}
	s.delay()
	sess := b.session(r)
	res := s.search(sess, m)
	for _, e := range res.entries {
		resp := r.NewSearchResponseEntry(e.dn)
		for _, a := range e.attrs {
			resp.AddAttribute(a.name, a.vals)
		}
		if err := w.Write(resp); err != nil {
			return // the client is gone
		}
	}
	done := r.NewSearchDoneResponse(gldap.WithResponseCode(res.code))
	done.SetDiagnosticMessage(res.diag)
	done.SetMatchedDN(res.matched)
	if res.paging != nil {
		done.SetControls(res.paging)
	}
	s.logEntry(sess, "search", m.BaseDN, res.code, searchDetail(m, len(res.entries)))
	_ = w.Write(done)
}

var scopeNames = map[gldap.Scope]string{gldap.BaseObject: "base", gldap.SingleLevel: "one", gldap.WholeSubtree: "sub"}

// searchDetail summarizes a search for the log. A filter that names a
// password attribute is not logged: its value would be a password.
func searchDetail(m *gldap.SearchMessage, n int) string {
	filter := m.Filter
	if f := strings.ToLower(filter); strings.Contains(f, "unicodepwd") || strings.Contains(f, "userpassword") {
		filter = "(redacted)"
	}
	return "scope=" + scopeNames[m.Scope] + " filter=" + filter + " entries=" + strconv.Itoa(n)
}

func (s *ldapServer) search(sess *ldapSession, m *gldap.SearchMessage) searchResult {
	_, bound, _ := sess.state()
	rootDSE := strings.TrimSpace(m.BaseDN) == "" && m.Scope == gldap.BaseObject
	if bound == nil && !rootDSE {
		return searchResult{code: gldap.ResultOperationsError, diag: diagBindRequired}
	}
	if _, ok := scopeNames[m.Scope]; !ok {
		return searchResult{code: gldap.ResultProtocolError, diag: "unknown scope"}
	}
	// gldap hands over the filter decompiled (values re-escaped), so
	// compiling it again restores the exact bytes the client asserted.
	packet, err := ldap.CompileFilter(m.Filter)
	if err != nil {
		return searchResult{code: gldap.ResultProtocolError, diag: "bad search filter"}
	}
	filter := compileLDAPFilter(packet)
	sel := newAttrSelection(m.Attributes)
	var paging *gldap.ControlPaging
	for _, c := range m.Controls {
		if p, ok := c.(*gldap.ControlPaging); ok {
			paging = p
		}
	}

	s.dir.Lock()
	defer s.dir.Unlock()
	v, all := s.directoryEntries()
	render := func(e *dirEntry) renderedEntry {
		out := renderedEntry{dn: e.dn, attrs: e.render(sel)}
		if m.TypesOnly {
			for i := range out.attrs {
				out.attrs[i].vals = nil
			}
		}
		return out
	}
	if rootDSE {
		res := searchResult{code: gldap.ResultSuccess}
		if e := v.rootDSE(); filter.matches(e) {
			res.entries = append(res.entries, render(e))
		}
		return res
	}
	baseKey, err := dnKey(m.BaseDN)
	if err != nil {
		return searchResult{code: gldap.ResultInvalidDNSyntax, diag: diagInvalidDN(m.BaseDN)}
	}
	var base *dirEntry
	for _, e := range all {
		if e.key == baseKey {
			base = e
			break
		}
	}
	if base == nil {
		best := bestMatch(all, m.BaseDN)
		return searchResult{code: gldap.ResultNoSuchObject, diag: diagNoSuchObject(best), matched: best}
	}
	var matched []*dirEntry
	for _, e := range all {
		inScope := false
		switch m.Scope {
		case gldap.BaseObject:
			inScope = e.key == baseKey
		case gldap.SingleLevel:
			inScope = e.parentKey == baseKey
		case gldap.WholeSubtree:
			inScope = e.key == baseKey || strings.HasSuffix(e.key, ","+baseKey)
		}
		// A search stays in its base's naming context: the domain's does
		// not reach into CN=Configuration, though its DN ends with the
		// domain's, as on AD.
		inScope = inScope && e.config == base.config
		if inScope && filter.matches(e) {
			matched = append(matched, e)
		}
	}

	res := searchResult{code: gldap.ResultSuccess}
	page := matched
	if paging != nil {
		// The cookie is the offset of the next page: the entry order is
		// stable while the Directory is.
		start := 0
		if len(paging.Cookie) > 0 {
			n, err := strconv.Atoi(string(paging.Cookie))
			if err != nil || n < 0 || n > len(matched) {
				return searchResult{code: gldap.ResultUnwillingToPerform, diag: diagWillNotPerform}
			}
			start = n
		}
		size := int(min(paging.PagingSize, adMaxPageSize))
		end := min(start+size, len(matched))
		page = matched[start:end]
		next := ""
		if end < len(matched) && size > 0 {
			next = strconv.Itoa(end)
		}
		res.paging = &gldap.ControlPaging{Cookie: []byte(next)}
	} else if len(page) > adMaxPageSize {
		page, res.code = page[:adMaxPageSize], gldap.ResultSizeLimitExceeded
	}
	if m.SizeLimit > 0 && int64(len(page)) > m.SizeLimit {
		page, res.code = page[:m.SizeLimit], gldap.ResultSizeLimitExceeded
	}
	for _, e := range page {
		res.entries = append(res.entries, render(e))
	}
	return res
}

// bestMatch is the deepest existing ancestor of dn, for noSuchObject.
func bestMatch(all []*dirEntry, dn string) string {
	info, err := parseDNInfo(dn)
	for err == nil && info.parentKey != "" {
		for _, e := range all {
			if e.key == info.parentKey {
				return e.dn
			}
		}
		info, err = parseDNInfo(info.parentDN)
	}
	return ""
}
