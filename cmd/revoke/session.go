package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/steps"
)

// session is an environment with its backends connected: what plan (live),
// run and resume work in.
type session struct {
	env     *environment
	envFile string
	conns   engine.Conns
	reg     *steps.Registry
	logger  *slog.Logger
}

// openSession opens the environment and connects every backend it uses.
func (c *cli) openSession(ctx context.Context, envFile, stateDir string) (*session, error) {
	env, err := c.openEnvironment(ctx, envFile, stateDir)
	if err != nil {
		return nil, err
	}
	conns, err := engine.Connect(ctx, c.reg, env.Environment, c.logger)
	if err != nil {
		env.Close()
		return nil, err
	}
	return &session{env: env, envFile: envFile, conns: conns, reg: c.reg, logger: c.logger}, nil
}

// Close closes the connections and stops an embedded sandbox.
func (s *session) Close() {
	s.conns.Close()
	s.env.Close()
}

// resolve finds the subject in every backend.
func (s *session) resolve(ctx context.Context, ref string) (*steps.Subject, error) {
	subject, err := s.conns.Resolve(ctx, s.reg, ref)
	if err != nil {
		return nil, notFound(err)
	}
	return subject, nil
}

// facts is the part of the environment policies see, with the directories'
// identity, which the journal records and a resume compares.
func (s *session) facts() engine.EnvironmentFacts {
	return engine.EnvironmentFacts{Name: s.env.Name, Kind: s.env.Kind, Protected: s.env.Protected,
		Identity: engine.EnvironmentIdentity(s.reg, s.env.Environment), Backends: engine.EnvironmentBackends(s.reg, s.env.Environment)}
}

// executor journals into the environment's state directory.
func (s *session) executor(maxParallel int, onEvent func(engine.Event)) *sessionExecutor {
	return &sessionExecutor{s: s, OnEvent: onEvent,
		x: &engine.Executor{Conns: s.conns, MaxParallel: maxParallel, Logger: s.logger}}
}

// sessionExecutor creates the run's journal when the run starts, so that
// a refused confirmation leaves no empty journal behind.
type sessionExecutor struct {
	s *session
	x *engine.Executor
	// OnEvent sees every journaled event (the live display).
	OnEvent func(engine.Event)
	// runID is the run's id when the caller chose it (to lock the subject
	// under it first); "" for a fresh one.
	runID string
}

// Run journals and executes the plan.
func (se *sessionExecutor) Run(ctx context.Context, plan *engine.Plan) (*engine.Result, error) {
	j, err := engine.CreateJournal(se.s.env.StateDir, se.runID)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer j.Close()
	se.x.Journal, se.x.OnEvent = j, se.OnEvent
	return se.x.Run(ctx, plan)
}
