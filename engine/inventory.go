package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// inventoryTimeout bounds the inventory after a run: it reads, it cannot
// change what the run did, and a slow directory must not hold the report.
const inventoryTimeout = 30 * time.Second

// Inventory asks every connection that can (steps.Inventorier), at once,
// what the subject still holds, in backend order. A backend whose
// inventory fails becomes one ResidualUnchecked item naming the failure:
// the report says what it could not read rather than stay silent. ok is
// false when no connection takes inventory at all.
func (cs Conns) Inventory(ctx context.Context, subject *steps.Subject) (items []steps.Residual, ok bool) {
	names := sortedKeys(cs)
	lists := make([][]steps.Residual, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		inv, can := cs[name].(steps.Inventorier)
		if !can {
			continue
		}
		ok = true
		wg.Go(func() {
			got, err := inv.Inventory(ctx, subject)
			if err != nil {
				got = append(got, steps.Residual{Backend: name, Kind: steps.ResidualUnchecked,
					What: fmt.Sprintf("everything %s holds: its inventory failed: %v", name, err), Until: "unknown"})
			}
			for j := range got {
				got[j].Backend = name
			}
			lists[i] = got
		})
	}
	wg.Wait()
	for _, l := range lists {
		items = append(items, l...)
	}
	if subject != nil {
		// A record no backend could find was never read: say so here too.
		for _, g := range subject.Gaps {
			items = append(items, steps.Residual{Backend: "revoke", Kind: steps.ResidualUnchecked, What: g,
				Until: "until that account is found and disabled"})
		}
	}
	return items, ok
}
