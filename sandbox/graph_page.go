package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Graph's page sizes for directory collections (users, groups, devices,
// memberOf, registeredDevices, …): 100 items a page unless $top asks for
// another size, at most 999.
const (
	defaultPageSize = 100
	maxPageSize     = 999
	// maxSnapshots bounds the listings a tenant remembers for their
	// $skiptokens; past it the oldest expire, as Graph's tokens do.
	maxSnapshots = 1024
)

// checkPageSize validates a configured default page size (0: Graph's).
func checkPageSize(n int) error {
	if n < 0 || n > maxPageSize {
		return fmt.Errorf("page size %d: want 1 to %d (0: Graph's default of %d)", n, maxPageSize, defaultPageSize)
	}
	return nil
}

// pager cuts collection answers into pages. The first page of a listing
// longer than a page records the order of its items (their ids) in a
// snapshot; the $skiptoken of each nextLink names the snapshot and an
// offset into it. Later pages render the items the snapshot names that
// still exist, in the snapshot's order, with their current properties. So
// a client that pages through a listing never gets an item twice and
// never misses one that existed throughout, even while it changes the
// directory between pages (removing the memberships it has read, say);
// items created after the first page are not seen, as with a cursor.
//
// The zero pager serves Graph's default page size.
type pager struct {
	mu    sync.Mutex
	size  int // default page size; 0 is defaultPageSize
	limit int // snapshots kept; 0 is maxSnapshots
	seq   uint64
	snaps map[uint64]*snapshot
	order []uint64 // live snapshots, oldest first
}

// snapshot is one paged listing: which request it answers and the ids of
// its items in order.
type snapshot struct {
	nonce   [8]byte
	listing string
	keys    []string
}

// setSize sets the default page size (0: Graph's default).
func (p *pager) setSize(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.size = n
}

func (p *pager) defaultSize() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.size > 0 {
		return p.size
	}
	return defaultPageSize
}

// save records a listing's item order and returns its sequence number.
func (p *pager) save(listing string, keys []string) (uint64, [8]byte) {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.snaps == nil {
		p.snaps = map[uint64]*snapshot{}
	}
	limit := p.limit
	if limit <= 0 {
		limit = maxSnapshots
	}
	for len(p.order) >= limit {
		delete(p.snaps, p.order[0])
		p.order = p.order[1:]
	}
	p.seq++
	p.snaps[p.seq] = &snapshot{nonce: nonce, listing: listing, keys: keys}
	p.order = append(p.order, p.seq)
	return p.seq, nonce
}

// lookup finds a token's snapshot. expired reports a token this tenant
// issued whose snapshot has been dropped.
func (p *pager) lookup(seq uint64, nonce [8]byte) (snap *snapshot, expired bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.snaps[seq]
	switch {
	case s != nil && s.nonce == nonce:
		return s, false
	case s == nil && seq >= 1 && seq <= p.seq && (len(p.order) == 0 || seq < p.order[0]):
		return nil, true
	}
	return nil, false
}

// skipToken is the opaque $skiptoken: snapshot sequence number, its nonce
// (so a token of another tenant, or a made-up one, names nothing) and the
// offset of the page's first item. Base64url, so it needs no escaping.
type skipToken struct {
	seq    uint64
	nonce  [8]byte
	offset uint32
}

const skipTokenLen = 8 + 8 + 4

func (t skipToken) String() string {
	var b [skipTokenLen]byte
	binary.BigEndian.PutUint64(b[0:8], t.seq)
	copy(b[8:16], t.nonce[:])
	binary.BigEndian.PutUint32(b[16:20], t.offset)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func parseSkipToken(s string) (skipToken, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != skipTokenLen {
		return skipToken{}, false
	}
	var t skipToken
	t.seq = binary.BigEndian.Uint64(b[0:8])
	copy(t.nonce[:], b[8:16])
	t.offset = binary.BigEndian.Uint32(b[16:20])
	return t, true
}

// single returns a query option given at most once; OData refuses one
// given twice.
func (c *call) single(name string) (string, bool, *response) {
	vals, ok := c.query[name]
	if !ok {
		return "", false, nil
	}
	if len(vals) > 1 {
		return "", true, c.err(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Query option '%s' was specified more than once, but it must be specified at most once.", name))
	}
	return vals[0], true, nil
}

// pageSize is $top, or the tenant's default page size; a $top that is
// not a whole number from 1 to 999 is Graph's 400.
func (c *call) pageSize() (int, *response) {
	raw, ok, r := c.single("$top")
	if r != nil {
		return 0, r
	}
	if !ok {
		return c.s.pages.defaultSize(), nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < 1 || n > maxPageSize {
		return 0, c.err(http.StatusBadRequest, "Request_UnsupportedQuery", fmt.Sprintf("Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", raw, maxPageSize))
	}
	return n, nil
}

// listing identifies what a request lists, for matching a $skiptoken to
// it: the path (case-insensitive, as Graph routes it) and every query
// option but the page controls.
func (c *call) listing() string {
	q := url.Values{}
	for k, v := range c.query {
		if k != "$skiptoken" && k != "$top" {
			q[k] = v
		}
	}
	return strings.ToLower(strings.Join(c.segs, "/")) + "?" + q.Encode()
}

// nextLink is the request itself (path and query options as the client
// wrote them, on the host it called) with $skiptoken set to tok.
func (c *call) nextLink(tok skipToken) string {
	var parts []string
	for _, p := range strings.Split(c.rawQuery, "&") {
		k, _, _ := strings.Cut(p, "=")
		if uk, err := url.QueryUnescape(k); p == "" || (err == nil && uk == "$skiptoken") {
			continue
		}
		parts = append(parts, p)
	}
	parts = append(parts, "$skiptoken="+tok.String())
	return c.base + c.path + "?" + strings.Join(parts, "&")
}

// itemKey is what a snapshot remembers an item by: its id, or its
// position for the (unexpected) item without one.
func itemKey(m map[string]any, i int) string {
	if id, ok := m["id"].(string); ok && id != "" {
		return strings.ToLower(id)
	}
	return "#" + strconv.Itoa(i)
}

// page answers a collection request: one page of items (every item the
// handler found, in a stable order) under @odata.context ctx, with
// @odata.nextLink when more remain. Every collection handler answers
// through it, so $top and $skiptoken mean the same everywhere.
func (c *call) page(ctx string, items []map[string]any) *response {
	return c.pageWith(ctx, items, nil)
}

// pageSelected answers a collection whose handler renders every property
// it models: $select is checked against p (Graph's 400 for a name the type
// lacks) and applied to the page's items, and @odata.context names set
// with the selection as Graph writes it.
func (c *call) pageSelected(set string, p *propSet, items []map[string]any) *response {
	props, explicit, r := c.selected(p)
	if r != nil {
		return r
	}
	var project func(map[string]any) map[string]any
	if explicit {
		project = func(m map[string]any) map[string]any { return p.project(m, props) }
	}
	return c.pageWith(contextURL(set, props, explicit, false), items, project)
}

// project keeps an item's annotations (@odata.type), the selected
// properties it has and its expanded navigation properties. A selected
// property the item lacks stays out: on a collection of several types
// (directoryObjects, authentication methods) it belongs to another.
func (p *propSet) project(m map[string]any, props []string) map[string]any {
	out := make(map[string]any, len(props)+1)
	for k, v := range m {
		if strings.HasPrefix(k, "@odata.") || contains(p.expanded, k) {
			out[k] = v
		}
	}
	for _, n := range props {
		if v, ok := m[n]; ok {
			out[n] = v
		}
	}
	return out
}

// pageWith is page with a projection applied to the items sent (after
// the listing's order is fixed by their ids).
func (c *call) pageWith(ctx string, items []map[string]any, project func(map[string]any) map[string]any) *response {
	size, r := c.pageSize()
	if r != nil {
		return r
	}
	count, r := c.count()
	if r != nil {
		return r
	}
	send := func(ctx string, page []map[string]any, next string) *response {
		if project != nil {
			projected := make([]map[string]any, len(page))
			for i, m := range page {
				projected[i] = project(m)
			}
			page = projected
		}
		total := -1
		if count {
			total = len(items) // every page's, as the listing stands now
		}
		return c.pageResp(ctx, page, next, total)
	}
	raw, hasToken, r := c.single("$skiptoken")
	if r != nil {
		return r
	}
	if !hasToken {
		if len(items) <= size {
			return send(ctx, items, "")
		}
		keys := make([]string, len(items))
		for i, m := range items {
			keys[i] = itemKey(m, i)
		}
		seq, nonce := c.s.pages.save(c.listing(), keys)
		return send(ctx, items[:size], c.nextLink(skipToken{seq: seq, nonce: nonce, offset: uint32(size)}))
	}
	tok, ok := parseSkipToken(raw)
	if !ok {
		return c.badSkipToken()
	}
	snap, expired := c.s.pages.lookup(tok.seq, tok.nonce)
	if expired {
		return c.err(http.StatusBadRequest, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.")
	}
	if snap == nil || snap.listing != c.listing() || int(tok.offset) > len(snap.keys) {
		return c.badSkipToken()
	}
	now := make(map[string]map[string]any, len(items))
	for i, m := range items {
		if k := itemKey(m, i); now[k] == nil {
			now[k] = m
		}
	}
	out := []map[string]any{}
	i := int(tok.offset)
	for ; i < len(snap.keys) && len(out) < size; i++ {
		if m := now[snap.keys[i]]; m != nil {
			out = append(out, m)
		}
	}
	next := ""
	if i < len(snap.keys) {
		next = c.nextLink(skipToken{seq: tok.seq, nonce: tok.nonce, offset: uint32(i)})
	}
	return send(ctx, out, next)
}

// count reads $count: true asks for @odata.count, which Graph gives on
// directory collections only as an advanced query, with the header
// ConsistencyLevel: eventual; without it the answer is 400
// "$count is not currently supported.".
func (c *call) count() (bool, *response) {
	raw, ok, r := c.single("$count")
	if r != nil || !ok {
		return false, r
	}
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "false":
		return false, nil
	case "true":
		if !c.eventual() {
			return false, c.err(http.StatusBadRequest, "Request_BadRequest", "$count is not currently supported.")
		}
		return true, nil
	}
	return false, c.err(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid value '%s' for query option '$count': expected true or false.", raw))
}

// eventual reports whether the request opted into advanced queries.
func (c *call) eventual() bool {
	return strings.EqualFold(strings.TrimSpace(c.header.Get("ConsistencyLevel")), "eventual")
}

// pageResp is one page's body; count, unless negative, is @odata.count.
func (c *call) pageResp(ctx string, items []map[string]any, next string, count int) *response {
	if items == nil {
		items = []map[string]any{}
	}
	body := map[string]any{"@odata.context": ctx, "value": items}
	if count >= 0 {
		body["@odata.count"] = count
	}
	if next != "" {
		body["@odata.nextLink"] = next
	}
	return jsonResp(http.StatusOK, body)
}

// badSkipToken is Graph's answer to a $skiptoken it did not issue for
// this listing.
func (c *call) badSkipToken() *response {
	return c.err(http.StatusBadRequest, "BadRequest", "Invalid Skip Token")
}
