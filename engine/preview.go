package engine

import (
	"context"
	"fmt"
	"slices"
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
}

// GrantReporter is implemented by connections that can tell which
// permissions their credential holds (the token's roles and scp claims).
type GrantReporter interface {
	Granted(ctx context.Context) (roles, scopes []string, err error)
}

// PreviewPlan runs the Check of every step that would run, in parallel up to
// maxParallel, and compares each step's required Graph permissions with what
// the credential holds. It changes nothing.
func PreviewPlan(ctx context.Context, plan *Plan, conns Conns, maxParallel int) map[string]*Preview {
	out := map[string]*Preview{}
	// One token look-up per backend, however many steps share it.
	grants := grantsOf(ctx, conns)
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
		if g := grants[spec.Backend()]; g != nil {
			p.Missing = g.missing(spec)
		}
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

// grantResult is what a connection's token holds.
type grantResult struct {
	roles, scopes []string
	err           error
}

// missing lists the spec's Graph permissions the token does not hold: an
// app-only token's roles are compared with GraphApplication, a delegated
// token's scopes with GraphDelegated.
func (g *grantResult) missing(spec *steps.Spec) []string {
	if g.err != nil {
		return []string{"could not read the token's permissions: " + g.err.Error()}
	}
	want, have := spec.Permissions.GraphApplication, g.roles
	if len(g.roles) == 0 && len(g.scopes) > 0 {
		want, have = spec.Permissions.GraphDelegated, g.scopes
	}
	var missing []string
	for _, p := range want {
		if !slices.Contains(have, p) && !impliedBy(p, have) {
			missing = append(missing, p)
		}
	}
	return missing
}

// impliedBy reports whether a broader permission the token holds covers p:
// User.ReadWrite.All covers User.Read.All and User.EnableDisableAccount.All,
// Directory.ReadWrite.All covers every User/Group/Device read and write.
func impliedBy(p string, have []string) bool {
	implies := map[string][]string{
		"User.Read.All":                 {"User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
		"User.EnableDisableAccount.All": {"User.ReadWrite.All", "Directory.ReadWrite.All"},
		"Device.ReadWrite.All":          {"Directory.ReadWrite.All"},
		"GroupMember.ReadWrite.All":     {"Group.ReadWrite.All", "Directory.ReadWrite.All"},
	}
	for _, broader := range implies[p] {
		if slices.Contains(have, broader) {
			return true
		}
	}
	return false
}

// PreflightPlan compares each step's required permissions with what the
// credentials hold, without running any Check: one token look-up per
// backend, no directory reads.
func PreflightPlan(ctx context.Context, plan *Plan, conns Conns) map[string]*Preview {
	out := map[string]*Preview{}
	grants := grantsOf(ctx, conns)
	for _, ps := range plan.Steps {
		if !ps.Run || ps.Def.Spec == nil {
			continue
		}
		if g := grants[ps.Def.Spec.Backend()]; g != nil {
			if missing := g.missing(ps.Def.Spec); len(missing) > 0 {
				out[ps.Def.ID] = &Preview{Missing: missing}
			}
		}
	}
	return out
}

// grantsOf asks each connection that can tell for its token's grants, once.
func grantsOf(ctx context.Context, conns Conns) map[string]*grantResult {
	grants := map[string]*grantResult{}
	for name, c := range conns {
		if g, ok := c.(GrantReporter); ok {
			r := &grantResult{}
			r.roles, r.scopes, r.err = g.Granted(ctx)
			grants[name] = r
		}
	}
	return grants
}
