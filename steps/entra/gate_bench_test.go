package entra

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/sandbox"
	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
)

// BenchmarkConfirmCompromisedConcurrent: five runs confirm five users at
// the same time against a sandbox 50 ms away, each run's step a Check, an
// Apply and a Verify, as the engine calls them. "shared" is revoke: one
// gate for the tenant, confirmations gathered into one request; "per-run"
// gives each run a limiter of its own, as separate processes had before
// the gate was shared through the state directory. It reports the wall
// time, the Identity Protection requests sent, and how many the sandbox
// refused (its limit, like Graph's, is one request a second per tenant).
func BenchmarkConfirmCompromisedConcurrent(b *testing.B) {
	ids := []string{adeleID, alexID, meganID, obrienID, diegoID}
	for _, variant := range []string{"shared", "per-run"} {
		b.Run(variant, func(b *testing.B) {
			var wall time.Duration
			var sent, refused, failed int
			for range b.N {
				b.StopTimer()
				tn, err := sandbox.Start(context.Background(), sandbox.DefaultSeed(), sandbox.Options{Latency: 50 * time.Millisecond})
				if err != nil {
					b.Fatal(err)
				}
				env := sandboxEnvB(b, tn)
				conns := make([]*Conn, len(ids))
				for i := range ids {
					sc, err := Backend.Open(context.Background(), env)
					if err != nil {
						b.Fatal(err)
					}
					conns[i] = sc.(*Conn)
					if variant == "per-run" {
						conns[i].risk = newConfirmer(newGate(riskEvery, ""))
					}
				}
				tn.Log().Reset()
				b.StartTimer()
				start := time.Now()
				var wg sync.WaitGroup
				var mu sync.Mutex
				for i, id := range ids {
					wg.Add(1)
					go func() {
						defer wg.Done()
						call, _ := newCall(conns[i], id, nil)
						step := confirmCompromised.New()
						_, err := step.Check(context.Background(), call)
						if err == nil {
							_, err = step.Apply(context.Background(), call)
						}
						if err == nil {
							err = step.(steps.Verifier).Verify(context.Background(), call)
						}
						if err != nil {
							mu.Lock()
							failed++
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				wall += time.Since(start)
				b.StopTimer()
				for _, e := range ipRequests(tn) {
					sent++
					if e.Status == 429 {
						refused++
					}
				}
				for _, c := range conns {
					c.Close()
				}
				tn.Close()
				b.StartTimer()
			}
			n := float64(b.N)
			b.ReportMetric(float64(wall.Milliseconds())/n, "wall-ms")
			b.ReportMetric(float64(sent)/n, "ip-requests")
			b.ReportMetric(float64(refused)/n, "ip-429s")
			b.ReportMetric(float64(failed)/n, "runs-failed")
			b.Logf("%s: %d runs, %.0f ms, %.1f Identity Protection requests of which %.1f refused, %.1f runs failed (no engine retry here)",
				variant, len(ids), float64(wall.Milliseconds())/n, float64(sent)/n, float64(refused)/n, float64(failed)/n)
		})
	}
}

// sandboxEnvB is the entra section for the tenant, as revoke's app, its
// CA trusted.
func sandboxEnvB(b *testing.B, tn *sandbox.Tenant) *steps.Env {
	p := filepath.Join(b.TempDir(), "sandbox-ca.pem")
	if err := os.WriteFile(p, tn.CAPEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	return &steps.Env{Name: "sandbox", Kind: "hybrid", Section: steps.Values{
		entraspec.FieldTenantID: tn.TenantID(), entraspec.FieldClientID: appID, entraspec.FieldCredential: entraspec.CredClientSecret,
		entraspec.FieldClientSecret + "_env": "REVOKE_TEST_SECRET", entraspec.FieldCAFile: p,
		entraspec.FieldGraphURL: tn.GraphURL(), entraspec.FieldAuthorityHost: tn.AuthorityHost(),
		entraspec.FieldInsecureSkipVerify: false, entraspec.FieldTimeout: 10 * time.Second,
	}, Secret: func(string) (string, error) { return appSecret, nil }}
}
