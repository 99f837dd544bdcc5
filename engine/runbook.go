package engine

import (
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// Runbook is a decoded, validated runbook (format version 1).
type Runbook struct {
	Version     int
	Name        string
	Title       string
	Description string
	// Scenario is what policies key off; it defaults to Name.
	Scenario string
	Steps    []*StepDef
	// File is where the runbook was read from ("builtin:compromised.yaml"
	// for embedded ones); Digest is the SHA-256 of its bytes, hex.
	File   string
	Digest string
}

// Step returns the step with the id, or nil.
func (rb *Runbook) Step(id string) *StepDef {
	for _, s := range rb.Steps {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// OnError says what a failed step does to the rest of the run.
type OnError string

// OnError values.
const (
	// Block (the default) keeps the step's dependents from starting.
	Block OnError = "block"
	// Continue lets dependents run as if the step had succeeded.
	Continue OnError = "continue"
	// Abort stops new starts across the run; running steps finish.
	Abort OnError = "abort"
)

// StepDef is one step of a runbook.
type StepDef struct {
	ID   string
	Uses string
	// Spec is the registered spec Uses names.
	Spec  *steps.Spec
	Needs []string
	// With holds the runbook's parameters, validated against Spec, with
	// defaults filled.
	With    steps.Values
	OnError OnError
	Retry   Retry
	// Timeout bounds the whole step, retries included. Zero: DefaultTimeout.
	Timeout time.Duration
	Tags    []string
	// Line and Column locate the step in its file, for Lints about it.
	Line, Column int
}

// Retry bounds retries of retryable errors.
type Retry struct {
	// Attempts counts the first try: 1 means no retry.
	Attempts int
	// MaxWait caps one backoff wait (a server's Retry-After is honoured
	// up to the step's timeout).
	MaxWait time.Duration
}

// Defaults for steps that do not say.
const (
	DefaultTimeout  = 2 * time.Minute
	DefaultAttempts = 5
	DefaultMaxWait  = 30 * time.Second
)
