package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// Conns are the open backend connections of a run, by backend name.
type Conns map[string]steps.Conn

// Connect opens every registered backend that takes part in the
// environment's kind, all at once: a domain controller's TLS handshake need
// not wait for a token from Entra ID. On any failure the ones that opened
// are closed again.
func Connect(ctx context.Context, reg *steps.Registry, env *Environment, logger *slog.Logger) (Conns, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		conns = Conns{}
		errs  []error
	)
	for _, b := range reg.Backends() {
		if !slices.Contains(b.Kinds, env.Kind) {
			continue
		}
		// BackendEnv adds the backend attribute to the logger itself.
		benv := env.BackendEnv(b.Name, logger)
		if benv == nil && b.Optional {
			continue // an optional backend without its section is absent
		}
		if benv == nil {
			// Under mu: goroutines started for earlier backends append too.
			mu.Lock()
			errs = append(errs, steps.Errorf(steps.Invalid, "%s: environment %s has no %s section", env.File, env.Name, b.Name))
			mu.Unlock()
			continue
		}
		// The backend may share state with other revoke processes there
		// (a rate limiter's slots); the engine does not read it.
		benv.StateDir = env.StateDir
		if benv.StateDir != "" && !filepath.IsAbs(benv.StateDir) {
			benv.StateDir = filepath.Join(env.Dir, benv.StateDir)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := openRetrying(ctx, b, benv)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("open %s: %w", b.Name, err))
				return
			}
			conns[b.Name] = c
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		conns.Close()
		return nil, errors.Join(errs...)
	}
	return conns, nil
}

// openAttempts bounds how often Connect tries a backend whose open failed
// with a retryable error (a connection dropped during the TLS handshake or
// the bind, a domain controller restarting): a few more tries over two
// seconds are cheap beside a run that cannot start, hammering a host that
// is down is not.
const openAttempts = 5

// openRetrying opens a backend, retrying retryable failures after a short,
// growing wait (200, 400, 600, 800 ms: two seconds in all).
func openRetrying(ctx context.Context, b *steps.BackendSpec, env *steps.Env) (steps.Conn, error) {
	for attempt := 1; ; attempt++ {
		c, err := b.Open(ctx, env)
		if err == nil || steps.ClassOf(err) != steps.Retryable || attempt == openAttempts {
			return c, err
		}
		env.Logger.Warn("open failed; retrying", "attempt", attempt, "error", err) // env.Logger names the backend
		if err := sleepContext(ctx, time.Duration(attempt)*200*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// Close closes every connection.
func (cs Conns) Close() error {
	var errs []error
	for name, c := range cs {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
