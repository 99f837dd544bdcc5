package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/revoke-dev/revoke/steps"
)

// Plan is a runbook with a policy decision applied for one subject: what
// would run, what is skipped and why, and with which parameters.
type Plan struct {
	Runbook     *Runbook
	Subject     *steps.Subject
	Environment EnvironmentFacts
	Request     Request
	// PolicyDigest identifies the policies that decided (journaled, so a
	// resume can refuse changed policies).
	PolicyDigest string
	Deny         []string
	Warn         []string
	// Steps are in runbook order.
	Steps []*PlannedStep
}

// PlannedStep is one step of a plan.
type PlannedStep struct {
	Def *StepDef
	// Run is false when the policy skipped the step; Reason says why.
	Run    bool
	Reason string
	// With is the effective parameters: the runbook's, the policy's merged
	// over them, checked against the spec, defaults filled.
	With steps.Values
	// Wave is the step's topological level among the steps that run,
	// counting from 1; for display only (execution starts a step as soon
	// as its needs are met). A skipped step has the wave it would share
	// with its needs, 0 when it has none.
	Wave int
}

// Denied reports whether the policy refused the run.
func (p *Plan) Denied() bool { return len(p.Deny) > 0 }

// Step returns the planned step with the id, or nil.
func (p *Plan) Step(id string) *PlannedStep {
	for _, s := range p.Steps {
		if s.Def.ID == id {
			return s
		}
	}
	return nil
}

// Waves groups the steps that run by wave, in order.
func (p *Plan) Waves() [][]*PlannedStep {
	var waves [][]*PlannedStep
	for _, s := range p.Steps {
		if !s.Run {
			continue
		}
		for len(waves) < s.Wave {
			waves = append(waves, nil)
		}
		waves[s.Wave-1] = append(waves[s.Wave-1], s)
	}
	return waves
}

// assignWaves computes each step's wave. A skipped need counts as met, so
// it passes its own needs' level through without adding one. The runbook
// decoder has already refused cycles; a cycle here would mean a bug, and
// the visiting guard keeps it from recursing forever.
func assignWaves(ps []*PlannedStep) {
	byID := make(map[string]*PlannedStep, len(ps))
	for _, s := range ps {
		byID[s.Def.ID] = s
	}
	done := map[string]bool{}
	visiting := map[string]bool{}
	var level func(s *PlannedStep) int
	level = func(s *PlannedStep) int {
		if done[s.Def.ID] || visiting[s.Def.ID] {
			return s.Wave
		}
		visiting[s.Def.ID] = true
		w := 0
		for _, n := range s.Def.Needs {
			if dep := byID[n]; dep != nil {
				w = max(w, level(dep))
			}
		}
		if s.Run {
			w++
		}
		s.Wave = w
		done[s.Def.ID] = true
		return w
	}
	for _, s := range ps {
		level(s)
	}
}

// Plan decides one run: it evaluates the policies for the runbook and
// subject and applies the decision. Lints carry what the decision got
// wrong (a bad `with` override is an Error: the step cannot run with it,
// so the plan refuses rather than guess); err is an evaluation failure.
func (p *Policy) Plan(ctx context.Context, rb *Runbook, env EnvironmentFacts, subject *steps.Subject, req Request) (*Plan, Lints, error) {
	d, err := p.decide(ctx, rb, env, subject, req)
	if err != nil {
		return nil, nil, err
	}
	with, lints := ApplyDecision(rb, d)
	plan := &Plan{
		Runbook: rb, Subject: subject, Environment: env, Request: req,
		PolicyDigest: p.Digest, Deny: d.Deny, Warn: d.Warn,
	}
	for _, def := range rb.Steps {
		ps := &PlannedStep{Def: def, Run: true, With: with[def.ID]}
		if reason, skipped := d.Skip[def.ID]; skipped {
			ps.Run, ps.Reason, ps.With = false, reason, def.With
		}
		plan.Steps = append(plan.Steps, ps)
	}
	assignWaves(plan.Steps)
	return plan, lints, nil
}

// decide is the policies' decision with the engine's own protection
// applied after it: a policy can add a denial but never take this one
// away. Plans and runbook tests both decide through it.
func (p *Policy) decide(ctx context.Context, rb *Runbook, env EnvironmentFacts, subject *steps.Subject, req Request) (*Decision, error) {
	Identify(p.Registry, subject)
	if subject != nil && subject.Gaps == nil {
		// Not resolved through Conns (a facts file, a runbook test): a
		// backend takes part when the environment's kind is one of its.
		reg := cmp.Or(p.Registry, steps.Default)
		subject.Gaps = Gaps(subject, func(name string) bool {
			b, ok := reg.Backend(name)
			return ok && slices.Contains(b.Kinds, env.Kind)
		})
	}
	protected := Protection(env, subject)
	d, err := p.decideFor(ctx, rb, env, subject, req, protected)
	if err != nil {
		return nil, err
	}
	d.Deny, d.Warn = protect(subject, req, protected, d.Deny, d.Warn)
	return d, nil
}

// protect adds the denial of a protected subject, or, when the request
// allows it and names who approved, a warning saying so; each reason once,
// after what the policies said.
func protect(subject *steps.Subject, req Request, protected, deny, warn []string) ([]string, []string) {
	ref := ""
	if subject != nil {
		ref = subject.Ref
	}
	approved := req.AllowProtected && strings.TrimSpace(req.ApprovedBy) != ""
	for _, why := range protected {
		if approved {
			warn = appendOnce(warn, fmt.Sprintf("%s is protected (%s); proceeding because %s approved it", ref, why, req.ApprovedBy))
		} else {
			deny = appendOnce(deny, fmt.Sprintf("%s is protected: %s; to proceed anyway, pass --allow-protected and name who approved it with --approved-by", ref, why))
		}
	}
	return deny, warn
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
