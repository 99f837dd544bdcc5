package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/steps"
)

// authzQuery asks for the authorization decision, defined or not (a
// policy set without policies/authz.rego gives [] and is refused).
const authzQuery = `decision := [x | x := data.revoke.authz.decision]`

// PolicyAuthorizer decides with the Rego rule data.revoke.authz.decision
// (policies/authz.rego, and whatever deny and approval rules the
// environment's policies add to package revoke.authz), evaluated in
// process with the engine's policy compilation: the same capabilities
// as every revoke policy (no network, no host state, nothing
// non-deterministic) and the same time limit.
type PolicyAuthorizer struct {
	q   *engine.Query
	env engine.EnvironmentFacts
}

var _ Authorizer = (*PolicyAuthorizer)(nil)

// NewPolicyAuthorizer prepares the decision against policies; env gives
// the protected list that, with what the backends say, makes a subject
// protected (engine.Protection), as plan and run see it.
func NewPolicyAuthorizer(ctx context.Context, policies *engine.Policy, env engine.EnvironmentFacts) (*PolicyAuthorizer, error) {
	if policies == nil {
		return nil, errors.New("authorization: no policies")
	}
	q, err := policies.PrepareQuery(ctx, authzQuery)
	if err != nil {
		return nil, fmt.Errorf("authorization: %w", err)
	}
	return &PolicyAuthorizer{q: q, env: env}, nil
}

// AuthzInput is the input data.revoke.authz is evaluated with (the
// contract in docs/policies.md): caller {id, name, app, roles, tenant},
// action, request (the run request's JSON) and, when there is one, the
// subject as decision policies see it: ref, protected (why revoke protects
// the subject), gaps and each backend's facts.
func AuthzInput(caller *Caller, action string, req *RunRequest, subject *steps.Subject, protected []string) (map[string]any, error) {
	in := map[string]any{"action": action}
	if caller != nil {
		roles := make([]any, 0, len(caller.Roles))
		for _, r := range caller.Roles {
			roles = append(roles, r)
		}
		in["caller"] = map[string]any{"id": caller.ID, "name": caller.Name, "app": caller.App, "roles": roles, "tenant": caller.Tenant}
	}
	if req != nil {
		var r map[string]any
		b, err := json.Marshal(req)
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil {
			return nil, fmt.Errorf("authorization input: %w", err)
		}
		in["request"] = r
	}
	if subject != nil {
		s := map[string]any{"ref": subject.Ref, "protected": strs(protected), "gaps": strs(subject.Gaps)}
		for backend, facts := range subject.Facts {
			if backend == "ref" || backend == "protected" || backend == "gaps" || facts == nil {
				continue // the keys above are revoke's, not a backend's
			}
			var f map[string]any
			b, err := json.Marshal(facts)
			if err == nil {
				err = json.Unmarshal(b, &f)
			}
			if err != nil {
				return nil, fmt.Errorf("authorization input: %s facts: %w", backend, err)
			}
			s[backend] = f
		}
		in["subject"] = s
	}
	return in, nil
}

func strs(v []string) []any {
	out := make([]any, 0, len(v))
	for _, s := range v {
		out = append(out, s)
	}
	return out
}

// Authorize evaluates data.revoke.authz.decision; see Authorizer. A
// decision of the wrong shape, or none, is an error: nothing is allowed on
// a policy that does not say so.
func (a *PolicyAuthorizer) Authorize(ctx context.Context, caller *Caller, action string, req *RunRequest, subject *steps.Subject) (bool, bool, []string, error) {
	if caller == nil {
		return false, false, nil, errors.New("authorization: no caller")
	}
	in, err := AuthzInput(caller, action, req, subject, engine.Protection(a.env, subject))
	if err != nil {
		return false, false, nil, err
	}
	vars, err := a.q.Eval(ctx, in)
	if err != nil {
		return false, false, nil, fmt.Errorf("authorization: %w", err)
	}
	list, _ := vars["decision"].([]any)
	switch len(list) {
	case 0:
		return false, false, nil, errors.New("authorization: data.revoke.authz.decision is undefined (the policies leave out policies/authz.rego)")
	case 1:
	default:
		return false, false, nil, fmt.Errorf("authorization: data.revoke.authz.decision has %d values", len(list))
	}
	d, ok := list[0].(map[string]any)
	allow, okA := d["allow"].(bool)
	needs, okN := d["needs_approval"].(bool)
	rs, okR := d["reasons"].([]any)
	if !ok || !okA || !okN || !okR {
		return false, false, nil, fmt.Errorf("authorization: data.revoke.authz.decision must be {allow: bool, needs_approval: bool, reasons: [string]}, got %v", list[0])
	}
	reasons := make([]string, 0, len(rs))
	for _, r := range rs {
		s, ok := r.(string)
		if !ok {
			return false, false, nil, fmt.Errorf("authorization: data.revoke.authz.decision reasons must be strings, got %v", r)
		}
		reasons = append(reasons, s)
	}
	if !allow && len(reasons) == 0 {
		// A refusal is answered with its reasons; one without any would
		// leave the caller guessing.
		reasons = []string{"refused by data.revoke.authz (no reason given)"}
	}
	return allow, allow && needs, slices.Clip(reasons), nil
}
