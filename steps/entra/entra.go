// Package entra is the Microsoft Entra ID backend: steps that act on a
// subject's cloud identity through Microsoft Graph (msgraph-sdk-go).
//
// It is the only package outside tests that imports the Graph SDK, which
// is heavy to compile (cmd links it through steps/builtin). The specs themselves live in entraspec, which links no
// SDK, so validation and the engine's tests need not compile it; this
// package attaches the implementations.
package entra

import (
	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

func init() { Register(steps.Default) }

// Register adds the entra backend and its steps, implemented, to r.
func Register(r *steps.Registry) {
	r.RegisterBackend(Backend)
	for _, s := range Steps {
		r.Register(s)
	}
}

// Backend is entraspec.Backend with its Open.
var Backend = func() steps.BackendSpec {
	b := entraspec.Backend
	b.Open = open
	return b
}()

// Steps are the entra steps, in catalog order, each with its implementation.
var Steps = []steps.Spec{disableUser, revokeSessions, disableDevices, resetPassword, confirmCompromised,
	removeAuthMethods, removeInboxRules, revokeConsents, removeRoles, removeAppAssignments, removeGroupMemberships, removeLicenses}

// implement attaches an implementation to a spec.
func implement(spec steps.Spec, newStep func() steps.Step) steps.Spec {
	spec.New = newStep
	return spec
}
