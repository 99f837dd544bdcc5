// Package serve is revoke's HTTP service: `revoke serve` takes run
// requests over a versioned JSON API (POST /v1/runs), journals each one
// before it answers 202, and drives the runs through a Driver, so that a
// SOAR playbook, an HR system or a ticket can contain a person without a
// shell. Authentication, authorization and webhook signatures are behind
// the interfaces in auth.go.
package serve

import "time"

// RunRequest is the body of POST /v1/runs (and what a webhook maps to):
// which runbook, on whom, why.
type RunRequest struct {
	Runbook string `json:"runbook"`
	// User is one subject's reference; Users several (one run each).
	User  string   `json:"user,omitempty"`
	Users []string `json:"users,omitempty"`
	// Reason and Ticket go in the journal.
	Reason string `json:"reason"`
	Ticket string `json:"ticket,omitempty"`
	// NotBefore holds the run until then (a termination effective at a
	// given time); nil runs it now.
	NotBefore *time.Time `json:"not_before,omitempty"`
}
