package serve

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/revoke-dev/revoke/engine"
)

// metrics are the service's Prometheus metrics, in a registry of its own
// (one per Server). No label holds a subject or a caller: only outcomes,
// statuses and step names.
type metrics struct {
	reg         *prometheus.Registry
	runs        *prometheus.CounterVec
	containment prometheus.Histogram
	stepLatency *prometheus.HistogramVec
	throttled   *prometheus.CounterVec
	waited      prometheus.Counter
	running     prometheus.Gauge
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "revoke_runs_total",
		Help: "Runs that ended, by outcome (a run's outcome, or failed, rejected, cancelled, expired).",
	}, []string{"outcome"})
	m.containment = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "revoke_time_to_containment_seconds",
		Help:    "From a run's start until the last containment step ended, for runs that reached containment.",
		Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600},
	})
	m.stepLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "revoke_step_duration_seconds",
		Help:    "How long each step took, by the step it uses.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
	}, []string{"step"})
	m.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "revoke_retry_waits_total",
		Help: "Waits before a step's next attempt (a backend throttling with 429 or asking to retry), by error class.",
	}, []string{"class"})
	m.waited = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "revoke_retry_wait_seconds_total",
		Help: "Time spent waiting before steps' next attempts.",
	})
	m.running = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "revoke_runs_running",
		Help: "Runs executing now.",
	})
	count := func(status string) func() float64 {
		return func() float64 {
			s.mu.Lock()
			defer s.mu.Unlock()
			n := 0
			now := s.now()
			for _, r := range s.runs {
				if r.Status == status && (status != StatusAwaitingApproval || now.Before(r.ApprovalExpires)) {
					n++
				}
			}
			return float64(n)
		}
	}
	m.reg.MustRegister(m.runs, m.containment, m.stepLatency, m.throttled, m.waited, m.running,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "revoke_approvals_pending", Help: "Runs awaiting approval (not expired)."}, count(StatusAwaitingApproval)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "revoke_runs_queued", Help: "Runs accepted and waiting for a free slot."}, count(StatusQueued)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "revoke_runs_scheduled", Help: "Runs waiting for their not_before."}, count(StatusScheduled)),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// event observes a journaled event: retry waits.
func (m *metrics) event(ev engine.Event) {
	if ev.Type == engine.EventStepAttempt && ev.RetryWait > 0 {
		m.throttled.WithLabelValues(ev.Class).Inc()
		m.waited.Add(time.Duration(ev.RetryWait).Seconds())
	}
}

// ended counts a run that ended without an engine outcome.
func (m *metrics) ended(status string) { m.runs.WithLabelValues(status).Inc() }

// finished observes a run's result.
func (m *metrics) finished(res *engine.Result) {
	m.runs.WithLabelValues(string(res.Outcome)).Inc()
	if res.Contained && res.Containment > 0 {
		m.containment.Observe(res.Containment.Seconds())
	}
	for _, st := range res.Steps {
		if !st.Started.IsZero() && !st.Ended.IsZero() {
			m.stepLatency.WithLabelValues(st.Uses).Observe(st.Ended.Sub(st.Started).Seconds())
		}
	}
}
