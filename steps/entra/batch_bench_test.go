package entra

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
)

// BenchmarkRemoveGroupMemberships: the seed's leaver in 2 + 23 = 25 cloud
// groups, a sandbox 20 ms away. "batch" is the step's Apply (removals in
// $batch requests of 20, sent at once: one round trip); "one-by-one" is
// what the step did before and what a script does, the same DELETEs sent
// through the same SDK client one after another (25 round trips). Both
// read the groups first, as the step does. It reports the wall time and
// the HTTP requests the sandbox served.
func BenchmarkRemoveGroupMemberships(b *testing.B) {
	const extra, latency = 23, 20 * time.Millisecond
	for _, variant := range []string{"batch", "one-by-one"} {
		b.Run(variant, func(b *testing.B) {
			tn, err := sandbox.Start(context.Background(), sandbox.DefaultSeed(), sandbox.Options{Latency: latency})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { tn.Close() })
			d := tn.Directory()
			d.Lock()
			for i := range extra {
				d.Groups = append(d.Groups, &sandbox.Group{ID: fmt.Sprintf("9b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c%04d", i),
					DisplayName: fmt.Sprintf("Project %d", i)})
			}
			d.Unlock()
			sc, err := Backend.Open(context.Background(), sandboxEnvB(b, tn))
			if err != nil {
				b.Fatal(err)
			}
			c := sc.(*Conn)
			b.Cleanup(func() { c.Close() })
			ctx := context.Background()
			var wall time.Duration
			requests := 0
			for range b.N {
				b.StopTimer()
				d.Lock()
				for _, g := range d.Groups {
					if !slices.Contains(g.Members, leaverID) && (g.ID == salesGroup || g.ID == marketingGroup || strings.HasPrefix(g.ID, "9b3c4d5e-")) {
						g.Members = append(g.Members, leaverID)
					}
				}
				d.Unlock()
				tn.Log().Reset()
				call, _ := newCall(c, leaverID, steps.Values{})
				b.StartTimer()
				start := time.Now()
				if variant == "batch" {
					_, err = removeGroupMemberships.New().Apply(ctx, call)
				} else {
					err = removeOneByOne(ctx, call)
				}
				wall += time.Since(start)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if g := groupsOf(tn, leaverID); len(g) != 1 {
					b.Fatalf("she is still in %q", g)
				}
				for _, e := range tn.Log().Entries() {
					if e.Protocol == "graph" && e.Batch == "" {
						requests++
					}
				}
				b.StartTimer()
			}
			n := float64(b.N)
			b.ReportMetric(float64(wall.Milliseconds())/n, "wall-ms")
			b.ReportMetric(float64(requests)/n, "http-requests")
		})
	}
}

// removeOneByOne is the step's Apply as it was before batching: each
// membership's DELETE after the last one's answer.
func removeOneByOne(ctx context.Context, call *steps.Call) error {
	c, id, err := target(call)
	if err != nil {
		return err
	}
	p, err := readMemberships(ctx, call)
	if err != nil {
		return err
	}
	for _, g := range p.remove {
		if err := c.graph.Groups().ByGroupId(g.id).Members().ByDirectoryObjectId(id).Ref().Delete(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}
