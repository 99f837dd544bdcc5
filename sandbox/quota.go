package sandbox

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// WriteQuota is Graph's directory write budget of one app in the tenant
// (Graph's is 3,000 writes per 150 s): Writes per Window, refilled
// continuously. The zero value is off.
//
// It is a token bucket, not a fixed or sliding window, because Graph's
// throttling documentation says so for the identity and access service
// ("Throttling is based on a token bucket algorithm"): a fresh app may
// spend the whole budget at once, and from then on gets Writes/Window
// writes a second. Over a run of T seconds an app can therefore make at
// most Writes + Writes·T/Window writes; GET /_sandbox/throttle reports
// that figure beside what was accepted.
type WriteQuota struct {
	Writes int
	Window time.Duration
}

func (q WriteQuota) on() bool { return q.Writes > 0 && q.Window > 0 }

// String is the WRITES/WINDOW form ParseWriteQuota reads, "0" when off.
func (q WriteQuota) String() string {
	if !q.on() {
		return "0"
	}
	return fmt.Sprintf("%d/%s", q.Writes, q.Window)
}

// ParseWriteQuota reads a quota such as "3000/150s" or "600/30s"; "0" is
// the quota off. Each problem has its own message, for a flag's error.
func ParseWriteQuota(s string) (WriteQuota, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return WriteQuota{}, nil
	}
	n, w, ok := strings.Cut(s, "/")
	if !ok {
		return WriteQuota{}, fmt.Errorf("%q: want WRITES/WINDOW such as 3000/150s (or 0 for none)", s)
	}
	writes, err := strconv.Atoi(n)
	if err != nil || writes < 1 {
		return WriteQuota{}, fmt.Errorf("%q: the number of writes %q is not a whole number of at least 1", s, n)
	}
	window, err := time.ParseDuration(w)
	if err != nil {
		return WriteQuota{}, fmt.Errorf("%q: the window %q is not a duration such as 150s or 2m30s", s, w)
	}
	if window <= 0 {
		return WriteQuota{}, fmt.Errorf("%q: the window must be longer than zero", s)
	}
	return WriteQuota{Writes: writes, Window: window}, nil
}

// directoryWrite says whether a request draws on the write quota: a POST,
// PATCH, PUT or DELETE on Graph's identity and access resources (users,
// groups, devices, service principals, consents, role management). Writes
// that Graph limits elsewhere do not: Identity Protection
// (identityProtection/…, about one request a second), Intune
// (deviceManagement/…, its own write limit), provisioning on demand
// (servicePrincipals/{id}/synchronization/…, 5 per 10 s) and a
// mailbox's inbox rules (users/{id}/mailFolders/…, Outlook's limits).
// segs are the path's segments after /v1.0.
func directoryWrite(method string, segs []string) bool {
	switch method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
	default:
		return false
	}
	if len(segs) == 0 {
		return false
	}
	switch strings.ToLower(segs[0]) {
	case "identityprotection", "devicemanagement":
		return false
	case "serviceprincipals":
		return !segIs(segs, 2, "synchronization")
	case "users":
		return !segIs(segs, 2, "mailFolders")
	}
	return true
}

// QuotaReport is the throttling budgets in force and what each app's
// write quota accepted and refused: GET /_sandbox/throttle, for a
// benchmark to compute the share of the budget a run used.
type QuotaReport struct {
	// WriteQuota is the directory write quota per app (nil: off).
	WriteQuota *QuotaLimit `json:"write_quota"`
	// ResourceUnits is the resource-unit budget per app (nil: off).
	ResourceUnits *QuotaLimit `json:"resource_units"`
	// Apps are the apps that sent a request since the budgets were last
	// set or reset, by client id.
	Apps []AppQuota `json:"apps"`
}

// QuotaLimit is one budget: Budget units per Window, refilled
// continuously.
type QuotaLimit struct {
	Budget        int     `json:"budget"`
	Window        string  `json:"window"`
	WindowSeconds float64 `json:"window_seconds"`
}

// AppQuota is what one app's write quota did.
type AppQuota struct {
	AppID string `json:"app_id"`
	// WritesAccepted and WritesRefused are directory writes let through
	// and answered 429 by the write quota; RURefused are requests (reads
	// or writes) answered 429 by the resource-unit budget.
	WritesAccepted int `json:"writes_accepted"`
	WritesRefused  int `json:"writes_refused"`
	RURefused      int `json:"ru_refused"`
	// FirstWrite and LastWrite are when the first and last accepted
	// writes came.
	FirstWrite *time.Time `json:"first_write,omitempty"`
	LastWrite  *time.Time `json:"last_write,omitempty"`
	// WritesPossible is the most writes the quota could have accepted
	// from the first accepted write to the last: the full bucket plus its
	// refill in between. BudgetUsed is WritesAccepted over it (1: the
	// quota was the only limit on the run's speed). They are rounded to
	// a thousandth of a write and a ten-thousandth.
	WritesPossible float64 `json:"writes_possible"`
	BudgetUsed     float64 `json:"budget_used"`
}

// report snapshots the budgets and counters.
func (t *throttler) report() QuotaReport {
	t.mu.Lock()
	defer t.mu.Unlock()
	rep := QuotaReport{Apps: []AppQuota{}}
	if wq := t.writeQuota(); wq.on() {
		rep.WriteQuota = &QuotaLimit{Budget: wq.Writes, Window: wq.Window.String(), WindowSeconds: wq.Window.Seconds()}
	}
	if t.ru != nil {
		rep.ResourceUnits = &QuotaLimit{Budget: t.ru.RU, Window: t.ru.Per.String(), WindowSeconds: t.ru.Per.Seconds()}
	}
	for id, a := range t.apps {
		q := AppQuota{AppID: id, WritesAccepted: a.accepted, WritesRefused: a.refused, RURefused: a.ruRefs}
		if a.accepted > 0 {
			first, last := a.firstWrite.UTC(), a.lastWrite.UTC()
			q.FirstWrite, q.LastWrite = &first, &last
			possible := a.writes.capacity + last.Sub(first).Seconds()*a.writes.rate
			q.WritesPossible = math.Round(possible*1000) / 1000
			q.BudgetUsed = math.Round(float64(a.accepted)/possible*10000) / 10000
		}
		rep.Apps = append(rep.Apps, q)
	}
	sort.Slice(rep.Apps, func(i, j int) bool { return rep.Apps[i].AppID < rep.Apps[j].AppID })
	return rep
}

// reset refills every bucket and zeroes the counters, keeping the budgets.
func (t *throttler) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.apps = map[string]*appBudget{}
}

// serveThrottle answers /_sandbox/throttle: GET the QuotaReport, DELETE
// to refill the buckets and zero the counters (between benchmark runs).
func (s *graphServer) serveThrottle(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, "application/json", s.throttle.report())
	case http.MethodDelete:
		s.throttle.reset()
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusMethodNotAllowed, "application/json", map[string]string{"error": "use GET or DELETE on " + r.URL.Path})
	}
}

// SetWriteQuota sets the directory write quota per app (the zero value:
// off, or Graph's 3,000 per 150 s while a resource-unit budget is on);
// every bucket starts full again and the counters restart.
func (t *Tenant) SetWriteQuota(q WriteQuota) { t.graph.throttle.setQuota(q) }

// Quota is what GET /_sandbox/throttle shows: the budgets and what each
// app's write quota accepted and refused.
func (t *Tenant) Quota() QuotaReport { return t.graph.throttle.report() }
