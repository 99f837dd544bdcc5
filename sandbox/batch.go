package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// maxBatch is Graph's limit of requests in one $batch.
const maxBatch = 20

type batchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// batch serves POST /$batch: at most 20 requests with unique ids, each
// dispatched on its own (so each is throttled on its own and may come back
// 429 inside a 200), in dependsOn order; a request whose dependency failed
// gets 424. Items are logged as their own entries (Entry.Batch names the
// item), before the batch.
func (s *graphServer) batch(claims *accessClaims, body []byte, ids requestIDs, remote, base string) *response {
	now := s.now()
	bad := func(msg string) *response { return errResp(http.StatusBadRequest, "BadRequest", msg, ids, now) }
	var in struct {
		Requests []batchRequest `json:"requests"`
	}
	if len(bytes.TrimSpace(body)) == 0 || json.Unmarshal(body, &in) != nil {
		return bad("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
	}
	if len(in.Requests) == 0 {
		return bad("Invalid batch payload format.")
	}
	if len(in.Requests) > maxBatch {
		return bad(fmt.Sprintf("Number of batch request steps exceeds the maximum of %d.", maxBatch))
	}
	index := map[string]int{}
	for i, r := range in.Requests {
		if r.ID == "" {
			return bad("Invalid batch payload format: every request needs an id.")
		}
		if _, dup := index[r.ID]; dup {
			return bad(fmt.Sprintf("Batch request contains duplicate id '%s'.", r.ID))
		}
		index[r.ID] = i
		if r.Method == "" || r.URL == "" {
			return bad(fmt.Sprintf("Invalid batch payload format: request '%s' needs a method and a url.", r.ID))
		}
		if len(r.Body) > 0 && !bytes.Equal(bytes.TrimSpace(r.Body), []byte("null")) && headerValue(r.Headers, "Content-Type") == "" {
			return bad(fmt.Sprintf("Write request id : %s does not contain Content-Type header or body.", r.ID))
		}
	}
	for _, r := range in.Requests {
		for _, dep := range r.DependsOn {
			if _, ok := index[dep]; !ok || dep == r.ID {
				return bad(fmt.Sprintf("Request '%s' depends on unknown request '%s'.", r.ID, dep))
			}
		}
	}
	// Run in dependency order; a cycle is a bad request.
	state := make([]int, len(in.Requests)) // 0 new, 1 running, 2 done
	out := make([]batchResponse, len(in.Requests))
	var run func(i int) bool
	run = func(i int) bool {
		switch state[i] {
		case 1:
			return false
		case 2:
			return true
		}
		state[i] = 1
		r := in.Requests[i]
		failed := false
		for _, dep := range r.DependsOn {
			if !run(index[dep]) {
				return false
			}
			if out[index[dep]].Status >= 400 {
				failed = true
			}
		}
		if failed {
			e := errResp(http.StatusFailedDependency, "FailedDependency", "Dependency failed: a request this one depends on did not succeed.", ids, now)
			out[i] = batchResponse{ID: r.ID, Status: e.status, Headers: map[string]string{"Content-Type": "application/json"}, Body: e.body}
		} else {
			out[i] = s.batchItem(claims, r, ids, remote, base)
		}
		state[i] = 2
		return true
	}
	for i := range in.Requests {
		if !run(i) {
			return bad("Batch request contains a dependsOn cycle.")
		}
	}
	return jsonResp(http.StatusOK, map[string]any{"responses": out})
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// batchItem dispatches one batch request as if it came on its own; base is
// the outer request's https://HOST/v1.0, for the item's nextLinks.
func (s *graphServer) batchItem(claims *accessClaims, r batchRequest, outer requestIDs, remote, base string) batchResponse {
	method := strings.ToUpper(r.Method)
	// Items are relative to the version; tolerate an absolute or versioned url.
	rel := r.URL
	if u, err := url.Parse(rel); err == nil && u.IsAbs() {
		rel = u.RequestURI()
	}
	rel = "/" + strings.TrimPrefix(rel, "/")
	if strings.HasPrefix(strings.ToLower(rel), "/v1.0/") {
		rel = rel[len("/v1.0"):]
	}
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	var body []byte
	if len(r.Body) > 0 && !bytes.Equal(bytes.TrimSpace(r.Body), []byte("null")) {
		body = r.Body
		// A non-JSON content type carries its body base64-encoded.
		if mt, _, _ := mime.ParseMediaType(h.Get("Content-Type")); mt != "application/json" {
			var str string
			if json.Unmarshal(r.Body, &str) == nil {
				if dec, err := base64.StdEncoding.DecodeString(str); err == nil {
					body = dec
				}
			}
		}
	}
	ids := requestIDs{request: newRequestID(), client: outer.client}
	var resp *response
	path := "/v1.0" + strings.SplitN(rel, "?", 2)[0]
	if p := strings.ToLower(strings.SplitN(strings.TrimPrefix(rel, "/"), "?", 2)[0]); p == "$batch" {
		resp = errResp(http.StatusBadRequest, "BadRequest", "Nested batch requests are not supported.", ids, s.now())
	} else if f, ok := s.faults.pick(method, path, true); ok {
		// An item is a request of its own: a fault for it answers it
		// inside the batch.
		resp = faultResponse(f, ids, s.now())
	} else {
		resp = s.dispatch(claims, method, base, rel, h, body, ids)
	}
	s.log.Add(Entry{Time: s.now().UTC(), Client: claims.AppID, Protocol: "graph", Method: method, Path: "/v1.0" + rel,
		Status: resp.status, Detail: resp.detail, Batch: r.ID})
	out := batchResponse{ID: r.ID, Status: resp.status, Headers: map[string]string{}}
	for k := range resp.header {
		out.Headers[k] = resp.header.Get(k)
	}
	if resp.body != nil {
		out.Body = resp.body
		if out.Headers["Content-Type"] == "" {
			out.Headers["Content-Type"] = odataJSON
		}
	}
	return out
}
