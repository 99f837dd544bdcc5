package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// Preview is what a live plan shows for one step before anything runs.
type Preview struct {
	// Change is the step's Check: what Apply would change, or Satisfied.
	Change steps.Change `json:"change"`
	// Err is why Check failed (the step would likely fail too).
	Err error `json:"-"`
	// Missing lists permissions the credential's token lacks for the step.
	Missing []string `json:"missing,omitempty"`
	// MissingRoles lists directory roles the caller lacks to make the
	// step's change on this subject (an administrator is disabled only by
	// a caller whose role outranks theirs), each with the reason.
	MissingRoles []string `json:"missing_roles,omitempty"`
}

// PreviewPlan runs the Check of every step that would run, in parallel up to
// maxParallel, and asks each step's connection (a steps.GrantReporter) what its
// credential lacks for the step on the plan's subject. It changes nothing.
func PreviewPlan(ctx context.Context, plan *Plan, conns Conns, maxParallel int) map[string]*Preview {
	out := map[string]*Preview{}
	grants := newPreflight(conns, plan.Subject)
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(maxParallel, 1))
	for _, ps := range plan.Steps {
		if !ps.Run {
			continue
		}
		p := &Preview{}
		out[ps.Def.ID] = p
		spec := ps.Def.Spec
		if spec == nil {
			p.Err = fmt.Errorf("step %s has no spec", ps.Def.ID)
			continue
		}
		p.Missing, p.MissingRoles = grants.missing(ctx, spec)
		if spec.New == nil {
			p.Err = fmt.Errorf("step %s (%s) has no implementation", ps.Def.ID, spec.Name)
			continue
		}
		conn, ok := conns[spec.Backend()]
		if !ok {
			p.Err = fmt.Errorf("backend %s is not connected", spec.Backend())
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			_, _, timeout := limits(ps.Def)
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			call := &steps.Call{StepID: ps.Def.ID, Subject: plan.Subject, With: ps.With, Conn: conn, RunStarted: time.Now()}
			// Each goroutine writes only its own Preview; wg.Wait orders
			// the writes before the caller reads them.
			p.Change, p.Err = spec.New().Check(cctx, call)
		}()
	}
	wg.Wait()
	return out
}

// PreflightPlan compares each step's required permissions and roles with
// what the credentials hold, without running any Check: one token look-up
// per backend, no directory reads. Only steps that lack something are in
// the result.
func PreflightPlan(ctx context.Context, plan *Plan, conns Conns) map[string]*Preview {
	out := map[string]*Preview{}
	grants := newPreflight(conns, plan.Subject)
	for _, ps := range plan.Steps {
		if !ps.Run || ps.Def.Spec == nil {
			continue
		}
		if perms, roles := grants.missing(ctx, ps.Def.Spec); len(perms) > 0 || len(roles) > 0 {
			out[ps.Def.ID] = &Preview{Missing: perms, MissingRoles: roles}
		}
	}
	return out
}

// preflight asks each step's connection what its credential lacks for the
// plan's subject. A backend whose grants cannot be read is asked once: its
// error stands for every one of its steps (a token request that failed or
// timed out is not repeated per step).
type preflight struct {
	conns   Conns
	subject *steps.Subject
	failed  map[string]error
}

func newPreflight(conns Conns, subject *steps.Subject) *preflight {
	return &preflight{conns: conns, subject: subject, failed: map[string]error{}}
}

// missing is what spec's backend says the credential lacks for the step;
// nothing for a backend that cannot tell.
func (p *preflight) missing(ctx context.Context, spec *steps.Spec) (permissions, roles []string) {
	backend := spec.Backend()
	g, ok := p.conns[backend].(steps.GrantReporter)
	if !ok {
		return nil, nil
	}
	err := p.failed[backend]
	if err == nil {
		permissions, roles, err = g.MissingGrants(ctx, spec, p.subject)
	}
	if err != nil {
		p.failed[backend] = err
		return []string{"could not read the token's permissions: " + err.Error()}, nil
	}
	return permissions, roles
}
