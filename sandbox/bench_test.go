package sandbox

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkGraphGetUser measures GET /users/{id} over real HTTPS with
// keep-alive from parallel clients, throttle and latency off. It reports
// requests per second.
func BenchmarkGraphGetUser(b *testing.B) {
	tn := startTenant(b, Options{})
	tok := token(b, tn, revokeClientID, revokeSecret)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tn.ClientTLS(), MaxIdleConnsPerHost: 64}}
	url := tn.GraphURL() + "/users/" + adeleID + "?$select=id,accountEnabled"
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
