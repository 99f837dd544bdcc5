package sandbox

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ThrottleConfig is the resource-unit budget of one app in the tenant: RU
// units per Per, refilled continuously (a token bucket, as Graph's
// identity and access service does). Directory writes also draw on a
// separate budget: the WriteQuota if one is set, else Graph's 3,000 per
// 150 s (quota.go).
type ThrottleConfig struct {
	RU  int
	Per time.Duration
}

// String is the "RU/Per" form ParseThrottle reads.
func (c ThrottleConfig) String() string { return fmt.Sprintf("%d/%s", c.RU, c.Per) }

// ParseThrottle reads a budget such as "3500/10s".
func ParseThrottle(s string) (ThrottleConfig, error) {
	ru, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.Atoi(ru)
	if !ok || err != nil || n <= 0 {
		return ThrottleConfig{}, fmt.Errorf("throttle %q: want RU/DURATION such as 3500/10s", s)
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return ThrottleConfig{}, fmt.Errorf("throttle %q: want RU/DURATION such as 3500/10s", s)
	}
	return ThrottleConfig{RU: n, Per: d}, nil
}

// graphWriteQuota is Graph's app+tenant directory write limit, which
// applies with the resource-unit budget when no WriteQuota is set.
var graphWriteQuota = WriteQuota{Writes: 3000, Window: 150 * time.Second}

// bucket is a continuously refilled token bucket.
type bucket struct {
	capacity float64
	rate     float64 // tokens per second
	tokens   float64
	last     time.Time
}

func newBucket(n int, per time.Duration, now time.Time) *bucket {
	return &bucket{capacity: float64(n), rate: float64(n) / per.Seconds(), tokens: float64(n), last: now}
}

func (b *bucket) refill(now time.Time) {
	if now.After(b.last) {
		b.tokens = math.Min(b.capacity, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
}

// wait is how long until cost tokens are available (0: now).
func (b *bucket) wait(cost float64) time.Duration {
	if b.tokens >= cost {
		return 0
	}
	return time.Duration((cost - b.tokens) / b.rate * float64(time.Second))
}

// used is the share of the bucket drawn, 0 to 100.
func (b *bucket) used() float64 { return 100 * (1 - b.tokens/b.capacity) }

// throttler holds each app's budgets in the tenant: resource units (when
// ru is set) and directory writes (when the write quota, or with ru
// Graph's default one, is on).
type throttler struct {
	mu    sync.Mutex
	ru    *ThrottleConfig // nil: off
	quota WriteQuota      // zero: Graph's when ru is set, else off
	apps  map[string]*appBudget
}

// appBudget is one app's buckets (nil when that budget is off) and what
// its write quota accepted and refused, for GET /_sandbox/throttle.
type appBudget struct {
	ru, writes                *bucket
	accepted, refused, ruRefs int
	firstWrite, lastWrite     time.Time
}

// set turns the resource-unit budget on with cfg, or off with nil; every
// bucket starts full again.
func (t *throttler) set(cfg *ThrottleConfig) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cfg != nil {
		c := *cfg
		cfg = &c
	}
	t.ru = cfg
	t.apps = map[string]*appBudget{}
}

// setQuota sets the directory write quota (zero: off, or Graph's with a
// resource-unit budget); every bucket starts full again.
func (t *throttler) setQuota(q WriteQuota) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.quota = q
	t.apps = map[string]*appBudget{}
}

// writeQuota is the write quota in force (zero: none). Callers hold mu.
func (t *throttler) writeQuota() WriteQuota {
	if t.quota.on() {
		return t.quota
	}
	if t.ru != nil {
		return graphWriteQuota
	}
	return WriteQuota{}
}

// Why a request was refused, as Graph's x-ms-throttle-information says it.
const (
	writeLimitExceeded = "WriteLimitExceeded"
	ruLimitExceeded    = "ResourceUnitLimitExceeded"
)

// throttleResult says whether a request may go on, and what to tell the
// client: Retry-After and the exceeded limit when not, the used share of
// its budgets when it may.
type throttleResult struct {
	ok         bool
	retryAfter time.Duration
	exceeded   string  // writeLimitExceeded or ruLimitExceeded, when !ok
	percent    float64 // of the fullest budget the request drew on, after it
}

// take charges app cost resource units (and one write when write: a
// directory write, quota.go) at now. A refused request is charged nothing:
// Graph throttles only the requests beyond the limits.
func (t *throttler) take(app string, cost int, write bool, now time.Time) throttleResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	wq := t.writeQuota()
	if t.ru == nil && !wq.on() {
		return throttleResult{ok: true}
	}
	a := t.apps[app]
	if a == nil {
		a = &appBudget{}
		if t.ru != nil {
			a.ru = newBucket(t.ru.RU, t.ru.Per, now)
		}
		if wq.on() {
			a.writes = newBucket(wq.Writes, wq.Window, now)
		}
		t.apps[app] = a
	}
	write = write && a.writes != nil
	var r throttleResult
	if a.ru != nil {
		a.ru.refill(now)
		if w := a.ru.wait(float64(cost)); w > 0 {
			r = throttleResult{retryAfter: w, exceeded: ruLimitExceeded}
		}
	}
	if write {
		a.writes.refill(now)
		if w := a.writes.wait(1); w > r.retryAfter {
			r = throttleResult{retryAfter: w, exceeded: writeLimitExceeded}
		}
	}
	switch r.exceeded {
	case ruLimitExceeded:
		a.ruRefs++
		return r
	case writeLimitExceeded:
		a.refused++
		return r
	}
	r.ok = true
	if a.ru != nil {
		a.ru.tokens -= float64(cost)
		r.percent = a.ru.used()
	}
	if write {
		a.writes.tokens--
		r.percent = max(r.percent, a.writes.used())
		a.accepted++
		if a.firstWrite.IsZero() {
			a.firstWrite = now
		}
		a.lastWrite = now
	}
	return r
}

// refuse is Graph's answer to a throttled request: 429 TooManyRequests,
// Retry-After in whole seconds, and the scope and reason Graph's identity
// and access service names in x-ms-throttle-scope and
// x-ms-throttle-information.
func (t throttleResult) refuse(c *call) *response {
	r := c.err(http.StatusTooManyRequests, "TooManyRequests", "Please retry again later.")
	r.header.Set("Retry-After", strconv.Itoa(retryAfterSeconds(t.retryAfter)))
	limit := "ReadWrite" // the resource-unit budget counts every request
	if t.exceeded == writeLimitExceeded {
		limit = "Write"
	}
	r.header.Set("x-ms-throttle-scope", "Tenant_Application/"+limit+"/"+c.claims.AppID+"/"+c.s.dir.TenantID)
	r.header.Set("x-ms-throttle-information", t.exceeded)
	r.detail = "throttled: " + t.exceeded
	return r
}

// annotate adds the headers of an answered request: x-ms-resource-unit,
// what it cost, and x-ms-throttle-limit-percentage once the app has used
// 80% of a budget the request drew on (Graph sends it from 0.8 up).
func (t throttleResult) annotate(resp *response, cost int) {
	if resp.header == nil {
		resp.header = http.Header{}
	}
	resp.header.Set("x-ms-resource-unit", strconv.Itoa(cost))
	if t.percent >= 80 {
		resp.header.Set("x-ms-throttle-limit-percentage", strconv.FormatFloat(t.percent/100, 'f', 2, 64))
	}
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1, as
// Retry-After carries.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// requestCost is what a Graph request costs in resource units: a GET on a
// single object 1, a list 2, $select one less (minimum 1); every write 1.
func requestCost(method string, list, selected bool) int {
	if method != "GET" {
		return 1
	}
	c := 1
	if list {
		c = 2
	}
	if selected {
		c--
	}
	return max(c, 1)
}
