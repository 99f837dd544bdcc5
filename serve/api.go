package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/steps"
)

// apiError is every error answer's body.
type apiError struct {
	Error   string   `json:"error"`
	Reasons []string `json:"reasons,omitempty"`
}

// RunRef is POST /v1/runs's answer for one run.
type RunRef struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	URL    string `json:"url"`
	// Existing is set when the answer is a run accepted before: the same
	// Idempotency-Key, or a run on the same subject with the same runbook
	// still running or waiting.
	Existing bool `json:"existing,omitempty"`
}

// runsAnswer is POST /v1/runs's answer to a request with "users".
type runsAnswer struct {
	Runs []RunRef `json:"runs"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string, reasons ...string) {
	writeJSON(w, code, apiError{Error: msg, Reasons: reasons})
}

// authenticate establishes the caller and counts the request against its
// rate; on failure it has answered (401 or 429) and returns nil.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *Caller {
	caller, err := s.Authn.Authenticate(r)
	if err != nil || caller == nil {
		// Failures count against the remote address, so that guessing
		// or replaying credentials is slowed like any caller.
		if s.limited(w, "addr:"+remoteHost(r)) {
			return nil
		}
		msg := "unauthenticated"
		if err != nil {
			msg = err.Error()
		}
		w.Header().Set("WWW-Authenticate", `Bearer`)
		writeError(w, http.StatusUnauthorized, msg)
		return nil
	}
	return s.admit(w, r, caller)
}

// admit applies the caller's rate limit and names the caller in the
// access log.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, caller *Caller) *Caller {
	if info := infoOf(r.Context()); info != nil {
		info.caller = caller.ID
	}
	if s.limited(w, caller.ID) {
		return nil
	}
	return caller
}

// limited spends one of key's tokens; when there is none it answers 429
// with Retry-After (whole seconds, rounded up) and reports true.
func (s *Server) limited(w http.ResponseWriter, key string) bool {
	wait := s.limiter.take(key)
	if wait <= 0 {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	writeError(w, http.StatusTooManyRequests, fmt.Sprintf("rate limit: at most %g requests a second per caller", s.Rate))
	return true
}

// remoteHost is the request's remote address without its port.
func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// readBody reads a bounded body; on failure it has answered.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.MaxBody))
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", s.MaxBody))
		return nil, false
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "read the body: "+err.Error())
		return nil, false
	}
	return b, true
}

// decodeRequest decodes a run request strictly: an unknown field is a
// mistake the caller should hear about, not an option silently ignored.
func decodeRequest(b []byte) (RunRequest, error) {
	var req RunRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("the body is not a run request: %v", err)
	}
	if dec.More() {
		return req, errors.New("the body is not a run request: more than one JSON value")
	}
	return req, nil
}

// idemKeyRE is what an Idempotency-Key may be.
var idemKeyRE = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

func (s *Server) postRuns(w http.ResponseWriter, r *http.Request) {
	caller := s.authenticate(w, r)
	if caller == nil {
		return
	}
	b, ok := s.readBody(w, r)
	if !ok {
		return
	}
	req, err := decodeRequest(b)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.accept(w, r, caller, req, r.Header.Get("Idempotency-Key"))
}

// prepared is one subject's run, decided but not yet accepted.
type prepared struct {
	req       RunRequest
	subject   *steps.Subject
	keys      []string
	approval  bool
	plan      []PlannedStep
	warnings  []string
	protected []string
}

// accept validates, resolves, authorizes and plans a request, then (under
// the service's lock) returns the run it duplicates or journals new runs,
// and answers 202.
func (s *Server) accept(w http.ResponseWriter, r *http.Request, caller *Caller, req RunRequest, idemKey string) {
	if idemKey != "" && !idemKeyRE.MatchString(idemKey) {
		writeError(w, http.StatusBadRequest, "Idempotency-Key must be 1 to 255 printable ASCII characters")
		return
	}
	if msg := validate(&req, s.Env.Runbooks); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, msg)
		return
	}
	hash := bodyHash(req)
	if idemKey != "" {
		s.mu.Lock()
		done := s.answerIdempotent(w, caller, idemKey, hash)
		s.mu.Unlock()
		if done {
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), ctxTimeout)
	defer cancel()
	users := req.Users
	if req.User != "" {
		users = []string{req.User}
	}
	var preps []*prepared
	for _, user := range users {
		one := req
		one.User, one.Users = user, nil
		p, code, msg, reasons := s.prepare(ctx, caller, one)
		if p == nil {
			writeError(w, code, msg, reasons...)
			return
		}
		preps = append(preps, p)
	}

	s.mu.Lock()
	if idemKey != "" && s.answerIdempotent(w, caller, idemKey, hash) {
		s.mu.Unlock()
		return
	}
	if n := s.waitingLocked(); n+len(preps) > s.MaxQueued {
		s.mu.Unlock()
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("%d runs are queued or waiting, the most the service keeps (--max-queued); nothing was accepted", n))
		return
	}
	now := s.now()
	var refs []RunRef
	var recs []record
	var fresh []*runState
	for _, p := range preps {
		if old := s.activeFor(p.req.Runbook, p.keys); old != nil {
			refs = append(refs, RunRef{ID: old.ID, Status: old.Status, URL: runURL(old.ID), Existing: true})
			continue
		}
		// One person named twice in one request (a UPN and a SID): one run.
		if i := slices.IndexFunc(fresh, func(r *runState) bool { return r.sameTarget(p.req.Runbook, p.keys) }); i >= 0 {
			refs = append(refs, RunRef{ID: fresh[i].ID, Status: fresh[i].Status, URL: runURL(fresh[i].ID)})
			continue
		}
		status := StatusQueued
		var expires time.Time
		switch {
		case p.approval:
			status, expires = StatusAwaitingApproval, now.Add(s.ApprovalTTL)
		case p.req.NotBefore != nil && p.req.NotBefore.After(now):
			status = StatusScheduled
		}
		rs := &runState{ID: engine.NewRunID(), Request: p.req, Caller: *caller, RemoteAddr: r.RemoteAddr,
			RequestID: requestIDOf(r.Context()), Created: now, Status: status, Keys: p.keys, IdemKey: idemKey,
			BodyHash: hash, Batch: req.User == "", ApprovalExpires: expires, Plan: p.plan, Warnings: p.warnings, Protected: p.protected,
			Updated: now, subject: p.subject}
		recs = append(recs, record{Type: recAccepted, Time: now, ID: rs.ID, Request: &rs.Request, Caller: &rs.Caller,
			RemoteAddr: rs.RemoteAddr, RequestID: rs.RequestID, Status: status, SubjectKeys: p.keys,
			IdempotencyKey: idemKey, BodyHash: hash, Batch: req.User == "", ApprovalExpires: expires, Plan: p.plan,
			Warnings: p.warnings, Protected: p.protected})
		fresh = append(fresh, rs)
		refs = append(refs, RunRef{ID: rs.ID, Status: status, URL: runURL(rs.ID)})
	}
	// Journaled before the answer: a 202 is a promise that survives a
	// crash.
	if err := s.store.Append(recs...); err != nil {
		s.mu.Unlock()
		s.Logger.Error("request journal", "error", err)
		writeError(w, http.StatusServiceUnavailable, "the request could not be journaled; nothing was accepted")
		return
	}
	for _, rs := range fresh {
		s.add(rs)
	}
	if idemKey != "" {
		// A request whose every run was an existing one still remembers
		// its key, so that a retry gets the same answer.
		e := s.idem[idemMapKey(caller.ID, idemKey)]
		if e == nil {
			e = &idemEntry{hash: hash, one: req.User != ""}
			s.idem[idemMapKey(caller.ID, idemKey)] = e
		}
		e.ids = nil
		for _, ref := range refs {
			e.ids = append(e.ids, ref.ID)
		}
	}
	for _, rs := range fresh {
		// Logged before the driver may start it and change its status.
		s.Logger.Info("run accepted", "run", rs.ID, "runbook", rs.Request.Runbook, "subject", rs.Request.User,
			"caller", caller.ID, "status", rs.Status, "request_id", rs.RequestID)
		if rs.Status == StatusQueued || rs.Status == StatusScheduled {
			s.Driver.Submit(rs.ID, rs.startAt())
		}
	}
	s.mu.Unlock()
	if req.User != "" {
		writeJSON(w, http.StatusAccepted, refs[0])
		return
	}
	writeJSON(w, http.StatusAccepted, runsAnswer{Runs: refs})
}

// answerIdempotent answers a request whose Idempotency-Key the caller used
// before (with s.mu held): the same runs for the same body, 422 for
// another. It reports whether it answered.
func (s *Server) answerIdempotent(w http.ResponseWriter, caller *Caller, key, hash string) bool {
	e := s.idem[idemMapKey(caller.ID, key)]
	if e == nil {
		return false
	}
	if e.hash != hash {
		writeError(w, http.StatusUnprocessableEntity, "this Idempotency-Key was used with a different request body")
		return true
	}
	var refs []RunRef
	for _, id := range e.ids {
		refs = append(refs, RunRef{ID: id, Status: s.runs[id].Status, URL: runURL(id), Existing: true})
	}
	if e.one && len(refs) == 1 {
		writeJSON(w, http.StatusAccepted, refs[0])
	} else {
		writeJSON(w, http.StatusAccepted, runsAnswer{Runs: refs})
	}
	return true
}

// waitingLocked counts the runs accepted and not yet started (with s.mu
// held).
func (s *Server) waitingLocked() int {
	n := 0
	for _, r := range s.runs {
		if r.Status == StatusQueued || r.Status == StatusScheduled || r.Status == StatusAwaitingApproval {
			n++
		}
	}
	return n
}

// activeFor is the run on the same person with the same runbook that is
// still running or waiting, if any (with s.mu held).
func (s *Server) activeFor(runbook string, keys []string) *runState {
	for _, id := range s.order {
		if r := s.runs[id]; active(r.Status) && r.sameTarget(runbook, keys) {
			return r
		}
	}
	return nil
}

// validate checks a request's fields; it returns what is wrong, or "".
func validate(req *RunRequest, runbooks map[string]*engine.Runbook) string {
	req.Runbook = strings.TrimSpace(req.Runbook)
	req.User = strings.TrimSpace(req.User)
	switch {
	case req.Runbook == "":
		return "runbook is required"
	case runbooks[req.Runbook] == nil:
		return fmt.Sprintf("unknown runbook %q", req.Runbook)
	case req.User == "" && len(req.Users) == 0:
		return "user or users is required"
	case req.User != "" && len(req.Users) > 0:
		return "give user or users, not both"
	case len(req.Users) > maxUsers:
		return fmt.Sprintf("at most %d users in one request", maxUsers)
	case strings.TrimSpace(req.Reason) == "":
		return "reason is required: the journal records why a run was asked for"
	}
	seen := map[string]bool{}
	for i, u := range req.Users {
		u = strings.TrimSpace(u)
		if u == "" {
			return fmt.Sprintf("users[%d] is empty", i)
		}
		if seen[strings.ToLower(u)] {
			return fmt.Sprintf("users names %s twice", u)
		}
		seen[strings.ToLower(u)] = true
		req.Users[i] = u
	}
	return ""
}

// bodyHash is the SHA-256 of the request as decoded and validated, so
// that spacing or key order does not make a retry "different".
func bodyHash(req RunRequest) string {
	b, _ := json.Marshal(req)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func runURL(id string) string { return "/v1/runs/" + id }

// requester is how the journal names a caller.
func requester(c *Caller) string {
	if c.Name != "" && c.Name != c.ID {
		return c.Name + " (" + c.ID + ")"
	}
	return c.ID
}

// pendingApprover stands for the approver in the plan shown while a run
// waits: the plan is decided again, with the real approver, when it runs.
const pendingApprover = "(pending approval)"

// prepare resolves one subject, asks the Authorizer, and plans the run to
// show it. On refusal it returns nil with the status, message and reasons
// to answer.
func (s *Server) prepare(ctx context.Context, caller *Caller, req RunRequest) (*prepared, int, string, []string) {
	subject, err := s.Env.Conns.Resolve(ctx, s.Env.Registry, req.User)
	if err != nil {
		code := http.StatusBadGateway
		switch steps.ClassOf(err) {
		case steps.NotFound:
			code = http.StatusNotFound
		case steps.Invalid:
			code = http.StatusUnprocessableEntity
		case steps.Retryable:
			code = http.StatusServiceUnavailable
		}
		return nil, code, fmt.Sprintf("resolve %s: %v", req.User, err), nil
	}
	allowed, approval, reasons, err := s.Authz.Authorize(ctx, caller, ActionRun, &req, subject)
	if err != nil {
		s.Logger.Error("authorize", "error", err)
		return nil, http.StatusInternalServerError, "authorization failed: " + err.Error(), nil
	}
	if !allowed {
		return nil, http.StatusForbidden, "forbidden", reasons
	}
	if msg := s.heldElsewhere(ctx, req.Runbook, subject); msg != "" {
		return nil, http.StatusConflict, msg, nil
	}
	protected := engine.Protection(s.Env.Facts, subject)
	approval = approval || len(protected) > 0
	ereq := engine.Request{RequestedBy: requester(caller), Reason: req.Reason, Ticket: req.Ticket}
	if approval {
		ereq.AllowProtected, ereq.ApprovedBy = true, pendingApprover
	}
	plan, lints, err := s.Env.Policy.Plan(ctx, s.Env.Runbooks[req.Runbook], s.Env.Facts, subject, ereq)
	if err != nil {
		return nil, http.StatusInternalServerError, "plan: " + err.Error(), nil
	}
	if lints.Errors() > 0 {
		var msgs []string
		for _, l := range lints {
			msgs = append(msgs, l.String())
		}
		return nil, http.StatusUnprocessableEntity, "the plan has errors", msgs
	}
	if plan.Denied() {
		return nil, http.StatusForbidden, "the policies deny this run", plan.Deny
	}
	p := &prepared{req: req, subject: subject, keys: engine.SubjectKeys(subject), approval: approval, protected: protected}
	for _, w := range plan.Warn {
		if !strings.Contains(w, pendingApprover) {
			p.warnings = append(p.warnings, w)
		}
	}
	for _, ps := range plan.Steps {
		p.plan = append(p.plan, PlannedStep{ID: ps.Def.ID, Uses: ps.Def.Uses, Run: ps.Run, Reason: ps.Reason})
	}
	return p, 0, "", nil
}

// heldElsewhere says who, outside this service, is acting on subject now
// (a `revoke run` or `revoke resume`), or "" when nobody is or only this
// service's own runs are. A request for that person is refused rather
// than queued behind it: that run would be doubled (passwords reset
// again), and its caller can ask again once it ended. A request this
// service will answer with its own active run is not probed at all.
func (s *Server) heldElsewhere(ctx context.Context, runbook string, subject *steps.Subject) string {
	keys := engine.SubjectKeys(subject)
	s.mu.Lock()
	dup := s.activeFor(runbook, keys) != nil
	s.mu.Unlock()
	if dup {
		return ""
	}
	// One probe at a time: two requests' probes must not see each other
	// as a foreign holder.
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	holder := "another revoke process"
	for try := 0; try < 3; try++ {
		probe, err := engine.LockSubject(ctx, s.Env.StateDir, subject, engine.NewRunID(), false)
		if err == nil {
			probe.Release()
			return ""
		}
		busy := (*engine.SubjectBusyError)(nil)
		if !errors.As(err, &busy) {
			return ""
		}
		if busy.RunID == "" {
			// Taken an instant ago and not yet named: look again.
			time.Sleep(20 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		_, ours := s.runs[busy.RunID]
		s.mu.Unlock()
		if ours {
			return ""
		}
		holder = fmt.Sprintf("run %s (pid %d)", busy.RunID, busy.PID)
		break
	}
	return fmt.Sprintf("%s is being acted on by %s outside this service: ask again once it has ended", subject.Ref, holder)
}

// lookup authenticates the caller and finds run id for a read or change
// by them: it has answered 401, 404 or 403 and returns a nil run when
// they may not.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, action string) (*Caller, *runState) {
	caller := s.authenticate(w, r)
	if caller == nil {
		return nil, nil
	}
	id := r.PathValue("id")
	s.mu.Lock()
	_ = s.expireLocked()
	rs := s.runs[id]
	var req RunRequest
	var subject *steps.Subject
	if rs != nil {
		req, subject = rs.Request, rs.subject
	}
	s.mu.Unlock()
	if rs == nil {
		writeError(w, http.StatusNotFound, "no run "+id)
		return nil, nil
	}
	if subject == nil {
		subject = &steps.Subject{Ref: req.User}
	}
	if !s.allow(w, r, caller, action, &req, subject) {
		return nil, nil
	}
	return caller, rs
}

// allow asks Authz whether caller may take action; it has answered 500
// or 403 and returns false when they may not.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, caller *Caller, action string, req *RunRequest, subject *steps.Subject) bool {
	allowed, _, reasons, err := s.Authz.Authorize(r.Context(), caller, action, req, subject)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "authorization failed: "+err.Error())
		return false
	}
	if !allowed {
		writeError(w, http.StatusForbidden, "forbidden", reasons...)
		return false
	}
	return true
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	_, rs := s.lookup(w, r, ActionRead)
	if rs == nil {
		return
	}
	writeJSON(w, http.StatusOK, s.view(rs, true))
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	caller := s.authenticate(w, r)
	if caller == nil || !s.allow(w, r, caller, ActionRead, nil, nil) {
		return
	}
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, http.StatusBadRequest, "limit must be a number from 1 to 500")
			return
		}
		limit = n
	}
	status, runbook, user := q.Get("status"), q.Get("runbook"), strings.ToLower(q.Get("user"))
	s.mu.Lock()
	_ = s.expireLocked()
	var out []*runState
	for i := len(s.order) - 1; i >= 0 && len(out) < limit; i-- {
		rs := s.runs[s.order[i]]
		if (status == "" || rs.Status == status) && (runbook == "" || rs.Request.Runbook == runbook) &&
			(user == "" || strings.ToLower(rs.Request.User) == user) {
			out = append(out, rs)
		}
	}
	s.mu.Unlock()
	views := []RunView{}
	for _, rs := range out {
		views = append(views, s.view(rs, false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": views})
}

func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request) {
	caller, rs := s.lookup(w, r, ActionCancel)
	if rs == nil {
		return
	}
	s.end(w, rs, caller, recCancelled, []string{StatusQueued, StatusScheduled, StatusAwaitingApproval},
		"only a queued, scheduled or waiting run can be cancelled")
}

func (s *Server) rejectRun(w http.ResponseWriter, r *http.Request) {
	caller, rs := s.lookup(w, r, ActionApprove)
	if rs == nil {
		return
	}
	s.end(w, rs, caller, recRejected, []string{StatusAwaitingApproval}, "only a run awaiting approval can be rejected")
}

// end journals that caller cancelled or rejected rs, when its status is
// one of from; 409 otherwise.
func (s *Server) end(w http.ResponseWriter, rs *runState, caller *Caller, typ string, from []string, why string) {
	s.mu.Lock()
	if !slices.Contains(from, rs.Status) {
		status := rs.Status
		s.mu.Unlock()
		writeError(w, http.StatusConflict, fmt.Sprintf("run %s is %s: %s", rs.ID, status, why))
		return
	}
	rec := record{Type: typ, Time: s.now(), ID: rs.ID, By: caller}
	if err := s.store.Append(rec); err != nil {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "could not journal it; nothing changed")
		return
	}
	s.Driver.Cancel(rs.ID)
	s.apply(rs, rec)
	s.metrics.ended(rs.Status)
	v := s.viewLocked(rs)
	s.mu.Unlock()
	s.Logger.Info("run "+typ, "run", rs.ID, "caller", caller.ID)
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) approveRun(w http.ResponseWriter, r *http.Request) {
	caller, rs := s.lookup(w, r, ActionApprove)
	if rs == nil {
		return
	}
	s.mu.Lock()
	switch {
	case rs.Status != StatusAwaitingApproval:
		status := rs.Status
		s.mu.Unlock()
		writeError(w, http.StatusConflict, fmt.Sprintf("run %s is %s: only a run awaiting approval can be approved", rs.ID, status))
		return
	case rs.Caller.ID == caller.ID:
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, "forbidden", "two-person rule: the caller who asked for the run cannot approve it")
		return
	}
	rec := record{Type: recApproved, Time: s.now(), ID: rs.ID, By: caller}
	if err := s.store.Append(rec); err != nil {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "could not journal the approval; nothing changed")
		return
	}
	s.apply(rs, rec)
	s.Driver.Submit(rs.ID, rs.startAt())
	v := s.viewLocked(rs)
	s.mu.Unlock()
	s.Logger.Info("run approved", "run", rs.ID, "caller", caller.ID)
	writeJSON(w, http.StatusOK, v)
}

// postHook takes a signed webhook: verified over the exact body, then a
// run request for the hook's runbook from the caller webhook:<name>.
func (s *Server) postHook(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	hook, ok := s.Hooks[name]
	if !ok || s.Webhooks == nil {
		writeError(w, http.StatusNotFound, "no webhook "+name)
		return
	}
	b, ok := s.readBody(w, r)
	if !ok {
		return
	}
	if err := s.Webhooks.Verify(name, r, b); err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	caller := s.admit(w, r, &Caller{ID: "webhook:" + name, Name: name, App: true, Roles: hook.Roles})
	if caller == nil {
		return
	}
	req, err := decodeRequest(b)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch {
	case req.Runbook == "":
		req.Runbook = hook.Runbook
	case req.Runbook != hook.Runbook:
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("webhook %s runs runbook %s only", name, hook.Runbook))
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		// A sender's retry of one message keeps its webhook-id.
		key = r.Header.Get("webhook-id")
	}
	s.accept(w, r, caller, req, key)
}
