package sandbox

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A ServiceNow instance's Table API, as the servicenow backend uses it,
// served on its own loopback port (a ServiceNow instance is its own host:
// https://{instance}.service-now.com) with the tenant's certificate, so a
// client that trusts the tenant's CA trusts it too:
//
//	POST /oauth_token.do                          client credentials → bearer token
//	POST /api/now/table/{table}                   201, {"result": {…}}, Location
//	GET  /api/now/table/{table}?sysparm_query=…   200, {"result": [ … ]}
//	GET  /api/now/table/{table}/{sys_id}          200, {"result": {…}}
//	GET  /_sandbox/servicenow                     every table's records (not logged)
//
// Errors carry ServiceNow's body, {"error": {"message", "detail"},
// "status": "failure"}: 401 without or with wrong credentials, 403 for a
// user without a role of the table, 404 for an unknown record, 400 for an
// unknown table (as instances answer: "Invalid table") or a body that is not
// a JSON object. As on an instance with default properties, a query
// condition on a field the table does not have is ignored rather than
// refused, so a client must check what it gets back.

// snowTimeLayout is how the Table API writes date-times (UTC by default
// for an API user without a time zone).
const snowTimeLayout = "2006-01-02 15:04:05"

// snowTokenLifetime is how long an OAuth access token lives (ServiceNow's
// default is 1800 s; it answers 1799).
const snowTokenLifetime = 1799 * time.Second

// snowServer is the running instance.
type snowServer struct {
	log *RequestLog
	now func() time.Time
	ln  net.Listener
	srv *http.Server

	mu       sync.Mutex
	instance string
	users    map[string]SeedServiceNowUser
	clients  map[string]SeedServiceNowClient
	tables   map[string]*snowTable
	groups   []SeedServiceNowGroup
	tokens   map[string]snowToken
}

type snowTable struct {
	SeedServiceNowTable
	next    int
	records []map[string]string
}

type snowToken struct {
	user    string
	expires time.Time
}

// snowTaskFields are the fields of a task table a client may write; any
// other key in a body is ignored, as ServiceNow ignores fields a table
// does not have. System fields (sys_*, number) are the instance's.
var snowTaskFields = []string{
	"short_description", "description", "correlation_id", "correlation_display",
	"assignment_group", "caller_id", "category", "urgency", "impact", "priority",
	"state", "work_notes", "comments",
}

// snowReadFields are every field a record has, in the order a full
// record is written.
var snowReadFields = append([]string{"sys_id", "number", "sys_class_name", "sys_created_on", "sys_created_by",
	"sys_updated_on", "sys_updated_by", "opened_at", "active"}, snowTaskFields...)

// startServiceNow serves seed's instance on a new loopback port.
func startServiceNow(seed *SeedServiceNow, tc *tls.Config, reqLog *RequestLog, now func() time.Time) (*snowServer, error) {
	s := &snowServer{
		log: reqLog, now: now, instance: seed.Instance,
		users: map[string]SeedServiceNowUser{}, clients: map[string]SeedServiceNowClient{},
		tables: map[string]*snowTable{}, groups: append([]SeedServiceNowGroup(nil), seed.AssignmentGroups...),
		tokens: map[string]snowToken{},
	}
	for _, u := range seed.Users {
		s.users[u.Name] = u
	}
	for _, c := range seed.OAuthClients {
		s.clients[c.ClientID] = c
	}
	for _, t := range seed.Tables {
		s.tables[t.Name] = &snowTable{SeedServiceNowTable: t, next: 10001}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for servicenow: %w", err)
	}
	s.ln = ln
	s.srv = newHTTPSServer(s, tc)
	go func() { _ = s.srv.ServeTLS(ln, "", "") }()
	return s, nil
}

// url is the instance URL clients use, https://127.0.0.1:PORT.
func (s *snowServer) url() string { return "https://" + s.ln.Addr().String() }

func (s *snowServer) close() { shutdownHTTPS(s.srv) }

// ServiceNowURL is the ServiceNow instance URL, https://127.0.0.1:PORT, or
// "" when the seed has no servicenow section.
func (t *Tenant) ServiceNowURL() string {
	if t.snow == nil {
		return ""
	}
	return t.snow.url()
}

// ServiceNowRecords returns a copy of a ServiceNow table's records, oldest
// first (nil for an unknown table or no instance).
func (t *Tenant) ServiceNowRecords(table string) []map[string]string {
	if t.snow == nil {
		return nil
	}
	return t.snow.records(table)
}

func (s *snowServer) records(table string) []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tb := s.tables[table]
	if tb == nil {
		return nil
	}
	out := make([]map[string]string, len(tb.records))
	for i, r := range tb.records {
		out[i] = copyRecord(r)
	}
	return out
}

func copyRecord(r map[string]string) map[string]string {
	c := make(map[string]string, len(r))
	for k, v := range r {
		c[k] = v
	}
	return c
}

// ServiceNowState is what /_sandbox/servicenow shows: the instance and
// every table's records, oldest first.
type ServiceNowState struct {
	Instance string                         `json:"instance"`
	Tables   map[string][]map[string]string `json:"tables"`
}

func (s *snowServer) state() ServiceNowState {
	s.mu.Lock()
	names := make([]string, 0, len(s.tables))
	for n := range s.tables {
		names = append(names, n)
	}
	s.mu.Unlock()
	st := ServiceNowState{Instance: s.instance, Tables: map[string][]map[string]string{}}
	for _, n := range names {
		st.Tables[n] = s.records(n)
		if st.Tables[n] == nil {
			st.Tables[n] = []map[string]string{}
		}
	}
	return st
}

// snowError writes ServiceNow's error body; detail "" is written as null.
func snowError(w http.ResponseWriter, status int, message, detail string) {
	body := map[string]any{"error": map[string]any{"message": message, "detail": nil}, "status": "failure"}
	if detail != "" {
		body["error"].(map[string]any)["detail"] = detail
	}
	writeJSON(w, status, "application/json;charset=UTF-8", body)
}

// ServeHTTP routes the instance's requests and logs them (protocol
// "servicenow", client the authenticated user when known).
func (s *snowServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_sandbox/servicenow" && r.Method == http.MethodGet {
		writeJSON(rw, http.StatusOK, "application/json", s.state())
		return
	}
	w := &statusWriter{ResponseWriter: rw}
	entry := Entry{Client: r.RemoteAddr, Protocol: "servicenow", Method: r.Method, Path: r.URL.RequestURI()}
	defer func() {
		entry.Status = w.status
		entry.Time = s.now().UTC()
		s.log.Add(entry)
	}()
	if r.URL.Path == "/oauth_token.do" {
		entry.Detail = s.token(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/now/table/")
	if !ok {
		snowError(w, http.StatusBadRequest, "Requested URI does not represent any resource", "")
		return
	}
	user, ok := s.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `BASIC realm="Service-now"`)
		snowError(w, http.StatusUnauthorized, "User Not Authenticated", "Required to provide Auth information")
		return
	}
	entry.Client = user.Name
	table, sysID, _ := strings.Cut(rest, "/")
	s.mu.Lock()
	tb := s.tables[table]
	s.mu.Unlock()
	if tb == nil {
		snowError(w, http.StatusBadRequest, "Invalid table "+table, "Table "+table+" does not exist")
		return
	}
	allowed := slices.Contains(user.Roles, "admin") || slices.ContainsFunc(tb.Roles, func(r string) bool { return slices.Contains(user.Roles, r) })
	switch {
	case r.Method == http.MethodPost && sysID == "":
		if !allowed {
			snowError(w, http.StatusForbidden, "Operation Failed", "ACL Exception Insert Failed due to security constraints")
			return
		}
		entry.Detail = s.insert(w, r, tb, user.Name)
	case r.Method == http.MethodGet:
		if !allowed {
			snowError(w, http.StatusForbidden, "Insufficient rights to query records", "")
			return
		}
		if sysID == "" {
			s.query(w, r, tb)
		} else {
			s.get(w, r, tb, sysID)
		}
	default:
		snowError(w, http.StatusMethodNotAllowed, "Method not Supported", "Method "+r.Method+" is not supported for this resource")
	}
}

// authenticate reads basic credentials or a bearer token.
func (s *snowServer) authenticate(r *http.Request) (SeedServiceNowUser, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name, pass, ok := r.BasicAuth(); ok {
		u, known := s.users[name]
		// Compare even for an unknown user, so timing does not say which
		// names exist.
		match := subtle.ConstantTimeCompare([]byte(pass), []byte(u.Password)) == 1
		return u, known && match
	}
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		t, known := s.tokens[tok]
		if !known || !s.now().Before(t.expires) {
			return SeedServiceNowUser{}, false
		}
		u, ok := s.users[t.user]
		return u, ok
	}
	return SeedServiceNowUser{}, false
}

// token answers /oauth_token.do for the client credentials grant and
// returns the log detail (never a secret).
func (s *snowServer) token(w http.ResponseWriter, r *http.Request) string {
	if r.Method != http.MethodPost {
		snowError(w, http.StatusMethodNotAllowed, "Method not Supported", "")
		return ""
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, "application/json;charset=UTF-8", map[string]string{"error_description": "invalid request", "error": "invalid_request"})
		return ""
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, "application/json;charset=UTF-8", map[string]string{"error_description": "unsupported grant type " + strconv.Quote(gt), "error": "unsupported_grant_type"})
		return "grant_type " + gt
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	s.mu.Lock()
	defer s.mu.Unlock()
	c, known := s.clients[id]
	if match := subtle.ConstantTimeCompare([]byte(secret), []byte(c.ClientSecret)) == 1; !known || !match {
		// ServiceNow's answer to a wrong client id or secret.
		writeJSON(w, http.StatusUnauthorized, "application/json;charset=UTF-8", map[string]string{"error_description": "access_denied", "error": "server_error"})
		return "client_credentials " + id + ": denied"
	}
	tok := randomToken()
	s.tokens[tok] = snowToken{user: c.User, expires: s.now().Add(snowTokenLifetime)}
	writeJSON(w, http.StatusOK, "application/json;charset=UTF-8", map[string]any{
		"access_token": tok, "scope": "useraccount", "token_type": "Bearer", "expires_in": int(snowTokenLifetime / time.Second),
	})
	return "client_credentials " + id
}

func randomToken() string {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// snowDerivedID is a stable 32-hex sys_id for a seeded object.
func snowDerivedID(kind, name string) string {
	h := sha256.Sum256([]byte(kind + ":" + name))
	return hex.EncodeToString(h[:16])
}

func newSysID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// maxSnowBody bounds a request body: a ticket is a few KiB.
const maxSnowBody = 1 << 20

// insert creates a record from a JSON object body and returns the log
// detail (the new record's number).
func (s *snowServer) insert(w http.ResponseWriter, r *http.Request, tb *snowTable, user string) string {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSnowBody+1))
	var fields map[string]any
	if err == nil && len(body) <= maxSnowBody {
		err = json.Unmarshal(body, &fields)
	}
	if err != nil || len(body) > maxSnowBody || fields == nil {
		snowError(w, http.StatusBadRequest, "Exception while reading request", "The payload is not valid JSON.")
		return ""
	}
	now := s.now().UTC().Format(snowTimeLayout)
	s.mu.Lock()
	rec := map[string]string{
		"sys_id": newSysID(), "number": fmt.Sprintf("%s%07d", tb.Prefix, tb.next), "sys_class_name": tb.Name,
		"sys_created_on": now, "sys_created_by": user, "sys_updated_on": now, "sys_updated_by": user,
		"opened_at": now, "active": "true", "state": "1",
	}
	tb.next++
	for _, f := range snowTaskFields {
		v, ok := fields[f]
		if !ok || v == nil {
			continue
		}
		switch v := v.(type) {
		case string:
			rec[f] = v
		case float64, bool:
			rec[f] = fmt.Sprint(v)
		default:
			continue // an object or list: not a field value, ignored
		}
	}
	if g := rec["assignment_group"]; g != "" {
		// A reference given by sys_id or display value; one that names no
		// group is dropped.
		rec["assignment_group"] = ""
		for _, grp := range s.groups {
			if grp.SysID == g || grp.Name == g {
				rec["assignment_group"] = grp.SysID
			}
		}
	}
	tb.records = append(tb.records, rec)
	out := s.render(r, rec, sysparmFields(r))
	s.mu.Unlock()
	w.Header().Set("Location", s.recordURL(r, tb.Name, rec["sys_id"]))
	writeJSON(w, http.StatusCreated, "application/json;charset=UTF-8", map[string]any{"result": out})
	return rec["number"]
}

// recordURL is a record's address as the client reached the instance.
func (s *snowServer) recordURL(r *http.Request, table, sysID string) string {
	return "https://" + r.Host + "/api/now/table/" + table + "/" + sysID
}

// render writes a record as the Table API does: every value a string,
// references as {"link", "value"} unless sysparm_exclude_reference_link,
// only the sysparm_fields when given. Called with s.mu held.
func (s *snowServer) render(r *http.Request, rec map[string]string, fields []string) map[string]any {
	if fields == nil {
		fields = snowReadFields
	}
	noLinks := r.URL.Query().Get("sysparm_exclude_reference_link") == "true"
	out := map[string]any{}
	for _, f := range fields {
		if !slices.Contains(snowReadFields, f) {
			continue // a field the table does not have is left out
		}
		v := rec[f]
		if f == "assignment_group" && v != "" && !noLinks {
			out[f] = map[string]string{"link": s.recordURL(r, "sys_user_group", v), "value": v}
			continue
		}
		out[f] = v
	}
	return out
}

func sysparmFields(r *http.Request) []string {
	v := r.URL.Query().Get("sysparm_fields")
	if v == "" {
		return nil
	}
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// query answers a list read: sysparm_query conditions field=value and
// field!=value joined by ^ (ORDERBY terms accepted and ignored: records
// come oldest first), sysparm_limit, sysparm_fields.
func (s *snowServer) query(w http.ResponseWriter, r *http.Request, tb *snowTable) {
	q := r.URL.Query()
	limit := 10000
	if v := q.Get("sysparm_limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			snowError(w, http.StatusBadRequest, "Invalid value for sysparm_limit: "+v, "")
			return
		}
		limit = n
	}
	type cond struct {
		field, value string
		not          bool
	}
	var conds []cond
	for _, term := range strings.Split(q.Get("sysparm_query"), "^") {
		if term == "" || strings.HasPrefix(term, "ORDERBY") {
			continue
		}
		var c cond
		var ok bool
		if c.field, c.value, ok = strings.Cut(term, "!="); ok {
			c.not = true
		} else if c.field, c.value, ok = strings.Cut(term, "="); !ok {
			snowError(w, http.StatusBadRequest, "Invalid query: "+term, "the sandbox knows the operators = and != only")
			return
		}
		if !slices.Contains(snowReadFields, c.field) {
			continue // ServiceNow ignores a condition on an unknown field
		}
		conds = append(conds, c)
	}
	fields := sysparmFields(r)
	s.mu.Lock()
	result := []map[string]any{}
	for _, rec := range tb.records {
		if len(result) >= limit {
			break
		}
		match := true
		for _, c := range conds {
			if (rec[c.field] == c.value) == c.not {
				match = false
			}
		}
		if match {
			result = append(result, s.render(r, rec, fields))
		}
	}
	s.mu.Unlock()
	w.Header().Set("X-Total-Count", strconv.Itoa(len(result)))
	writeJSON(w, http.StatusOK, "application/json;charset=UTF-8", map[string]any{"result": result})
}

// get answers a record read by sys_id.
func (s *snowServer) get(w http.ResponseWriter, r *http.Request, tb *snowTable, sysID string) {
	s.mu.Lock()
	var out map[string]any
	for _, rec := range tb.records {
		if rec["sys_id"] == sysID {
			out = s.render(r, rec, sysparmFields(r))
		}
	}
	s.mu.Unlock()
	if out == nil {
		snowError(w, http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
		return
	}
	writeJSON(w, http.StatusOK, "application/json;charset=UTF-8", map[string]any{"result": out})
}
