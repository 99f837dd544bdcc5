package engine

import (
	"slices"
	"testing"

	"github.com/revoke-dev/revoke/steps"
)

func TestStartOrderPutsContainmentFirst(t *testing.T) {
	disable := &steps.Spec{Name: "x.disable", Containment: true}
	other := &steps.Spec{Name: "x.other"}
	def := func(id string, spec *steps.Spec, needs ...string) *node {
		return &node{ps: &PlannedStep{Def: &StepDef{ID: id, Spec: spec, Needs: needs}, Run: true}}
	}
	// In runbook order: a rate-limited side step first, then the chain
	// disable → reset → revoke, and an independent disable.
	nodes := []*node{
		def("confirm", other),
		def("disable-ad", disable),
		def("reset", other, "disable-ad"),
		def("revoke", disable, "reset"),
		def("disable-user", disable),
		def("notify", other, "revoke"),
	}
	byID := map[string]*node{}
	for _, n := range nodes {
		byID[n.ps.Def.ID] = n
	}
	var got []string
	for _, n := range startOrder(nodes, byID) {
		got = append(got, n.ps.Def.ID)
	}
	// Containment paths first, longest chain first; then the rest in
	// runbook order.
	want := []string{"disable-ad", "reset", "revoke", "disable-user", "confirm", "notify"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}
