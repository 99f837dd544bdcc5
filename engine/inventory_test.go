package engine

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/revoke-dev/revoke/steps"
)

// inventoryConn is a connection that takes inventory: items, or err.
type inventoryConn struct {
	fakeConn
	items []steps.Residual
	err   error
}

func (c *inventoryConn) Inventory(context.Context, *steps.Subject) ([]steps.Residual, error) {
	return c.items, c.err
}

func TestRunEndsWithWhatRemains(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	j := newJournal(t, t.TempDir())
	x, _ := testExecutor(w, j)
	rule := steps.Residual{Kind: steps.ResidualInboxRule, What: "rule 'fwd' forwards to x@example.net", Until: "until removed"}
	x.Conns["mail"] = &inventoryConn{items: []steps.Residual{rule}}
	x.Conns["broken"] = &inventoryConn{err: errors.New("403 Forbidden")}
	res, err := x.Run(t.Context(), testPlan(t, reg, ts{id: "a"}))
	if err != nil {
		t.Fatal(err)
	}
	rule.Backend = "mail"
	want := []steps.Residual{
		{Backend: "broken", Kind: steps.ResidualUnchecked, What: "everything broken holds: its inventory failed: 403 Forbidden", Until: "unknown"},
		rule,
	}
	if !reflect.DeepEqual(res.Residual, want) {
		t.Errorf("residual %+v\nwant %+v", res.Residual, want)
	}
	log, err := ReadJournal(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	n := len(log.Events)
	if n < 2 || log.Events[n-2].Type != EventResidual || !reflect.DeepEqual(log.Events[n-2].Residual, want) || log.Events[n-1].Type != EventRunFinished {
		t.Errorf("the journal does not end with the residual list, then run_finished: %+v", log.Events[n-2:])
	}
}

func TestInventoryNamesTheGaps(t *testing.T) {
	conns := Conns{"mail": &inventoryConn{}}
	items, ok := conns.Inventory(t.Context(), &steps.Subject{Ref: "x", Gaps: []string{"synced from ad, which has no such account"}})
	want := []steps.Residual{{Backend: "revoke", Kind: steps.ResidualUnchecked, What: "synced from ad, which has no such account",
		Until: "until that account is found and disabled"}}
	if !ok || !reflect.DeepEqual(items, want) {
		t.Errorf("items %+v, %v; want %+v", items, ok, want)
	}
}

func TestRunWithoutInventoriesJournalsNoResidual(t *testing.T) {
	reg, w := fakeRegistry(), newWorld()
	j := newJournal(t, t.TempDir())
	x, _ := testExecutor(w, j)
	res, err := x.Run(t.Context(), testPlan(t, reg, ts{id: "a"}))
	if err != nil || res.Residual != nil {
		t.Fatalf("residual %v, %v", res.Residual, err)
	}
	log, _ := ReadJournal(j.Path())
	for _, ev := range log.Events {
		if ev.Type == EventResidual {
			t.Errorf("a residual event with no backend that takes inventory")
		}
	}
}
