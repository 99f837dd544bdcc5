package engine

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// Request is who asked for a run and why: the policy input's request.
type Request struct {
	RequestedBy string `json:"requested_by"`
	Reason      string `json:"reason"`
	Ticket      string `json:"ticket,omitempty"`
	// ApprovedBy names who approved touching a protected subject; policies
	// require it together with AllowProtected.
	ApprovedBy     string `json:"approved_by,omitempty"`
	AllowProtected bool   `json:"allow_protected"`
}

// UnmarshalJSON reads a request, also from journals written before
// revoke's own JSON keys became snake_case (requestedBy, approvedBy,
// allowProtected), so that such a run still resumes with who approved it.
func (r *Request) UnmarshalJSON(b []byte) error {
	type plain Request
	var legacy struct {
		plain
		RequestedBy    *string `json:"requestedBy"`
		ApprovedBy     *string `json:"approvedBy"`
		AllowProtected *bool   `json:"allowProtected"`
	}
	if err := json.Unmarshal(b, &legacy); err != nil {
		return err
	}
	*r = Request(legacy.plain)
	if legacy.RequestedBy != nil && r.RequestedBy == "" {
		r.RequestedBy = *legacy.RequestedBy
	}
	if legacy.ApprovedBy != nil && r.ApprovedBy == "" {
		r.ApprovedBy = *legacy.ApprovedBy
	}
	if legacy.AllowProtected != nil && !r.AllowProtected {
		r.AllowProtected = *legacy.AllowProtected
	}
	return nil
}

// EnvironmentFacts is the part of an environment policies see, so that
// offline planning (--facts) needs no full environment file.
type EnvironmentFacts struct {
	Name string `json:"name"`
	// Kind is hybrid or cloud.
	Kind      string   `json:"kind"`
	Protected []string `json:"protected"`
	// Identity is which directories the environment is: backend → field →
	// value of the fields marked steps.Param.Identity (EnvironmentIdentity).
	// The journal records it and a resume compares it (SameEnvironment);
	// policies do not see it.
	Identity map[string]map[string]string `json:"identity,omitempty"`
	// Backends are the environment's sections, backend → field → value,
	// without secret fields (not even their references): which backends
	// the environment has and how they are set (ad's leavers_ou,
	// a ticketing section's list of apps), for policies to decide with.
	Backends map[string]map[string]any `json:"backends,omitempty"`
}

// PolicyInput builds the input data.revoke is evaluated with (the policy
// contract in the docs): scenario, runbook, environment, subject and
// request. subject.<backend> is present only for backends that found the
// subject; subject.protected lists why the engine protects the subject
// (Protection: it denies the run itself unless approved) and subject.gaps
// what no step can close. Every value is a plain JSON type (durations as strings, lists
// as []any), which OPA converts without reflection.
func PolicyInput(rb *Runbook, env EnvironmentFacts, subject *steps.Subject, req Request) map[string]any {
	return policyInput(rb, env, subject, req, Protection(env, subject))
}

// policyInput is PolicyInput with the protection reasons already known
// (decide computes them once, for the input and for its own denial).
func policyInput(rb *Runbook, env EnvironmentFacts, subject *steps.Subject, req Request, protected []string) map[string]any {
	runbook := runbookInput(rb)
	subj := map[string]any{"protected": stringsJSON(protected), "gaps": []any{}}
	if subject != nil {
		subj["ref"] = subject.Ref
		subj["gaps"] = stringsJSON(subject.Gaps)
		for backend, facts := range subject.Facts {
			if backend == "ref" || backend == "protected" || backend == "gaps" || facts == nil {
				continue
			}
			subj[backend] = plainJSON(facts)
		}
	} else {
		subj["ref"] = ""
	}
	request := map[string]any{
		"requested_by":    req.RequestedBy,
		"reason":          req.Reason,
		"allow_protected": req.AllowProtected,
	}
	if req.Ticket != "" {
		request["ticket"] = req.Ticket
	}
	if req.ApprovedBy != "" {
		request["approved_by"] = req.ApprovedBy
	}
	return map[string]any{
		"scenario": runbook["scenario"],
		"runbook":  runbook,
		"environment": map[string]any{
			"name":      env.Name,
			"kind":      env.Kind,
			"protected": stringsJSON(env.Protected),
			"backends":  backendsInput(env.Backends),
		},
		"subject": subj,
		"request": request,
	}
}

// backendsInput is environment.backends: every section as plain JSON,
// {} when there is none, so policies can test a backend's presence.
func backendsInput(b map[string]map[string]any) map[string]any {
	out := make(map[string]any, len(b))
	for name, section := range b {
		out[name] = plainJSON(section)
	}
	return out
}

// runbookInput is the runbook document of policy and lint inputs.
func runbookInput(rb *Runbook) map[string]any {
	scenario := rb.Scenario
	if scenario == "" {
		scenario = rb.Name
	}
	stepList := make([]any, len(rb.Steps))
	for i, s := range rb.Steps {
		stepList[i] = map[string]any{
			"id":    s.ID,
			"uses":  s.Uses,
			"with":  plainJSON(ValuesJSON(s.With)),
			"needs": stringsJSON(s.Needs),
			"tags":  stringsJSON(s.Tags),
		}
	}
	return map[string]any{"name": rb.Name, "scenario": scenario, "steps": stepList}
}

// stringsJSON renders a list as []any, never nil, so policies can count it.
func stringsJSON(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// plainJSON converts a value to the types encoding/json decodes into
// (map[string]any, []any, string, bool, numbers, nil), so that OPA's
// conversion takes its fast paths. Backends' facts may hold []string,
// typed integers or times; anything else goes through a JSON round trip.
func plainJSON(v any) any {
	switch x := v.(type) {
	case nil, string, bool, int, int64, uint64, float64, json.Number:
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plainJSON(e)
		}
		return out
	case steps.Values:
		return plainJSON(map[string]any(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainJSON(e)
		}
		return out
	case []string:
		return stringsJSON(x)
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainJSON(e)
		}
		return out
	case int8, int16, int32:
		return reflect.ValueOf(x).Int()
	case uint, uint8, uint16, uint32:
		return int64(reflect.ValueOf(x).Uint())
	case float32:
		return float64(x)
	case time.Duration:
		return x.String()
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return fmt.Sprint(v)
	}
	return out
}
