package sandbox

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ThrottleConfig is the resource-unit budget of one app in the tenant: RU
// units per Per, refilled continuously (a token bucket, as Graph's
// identity and access service does). Writes also draw on a separate budget
// of 3,000 per 150 s.
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

// writeBudget is Graph's app+tenant write limit.
var writeBudget = ThrottleConfig{RU: 3000, Per: 150 * time.Second}

// bucket is a continuously refilled token bucket.
type bucket struct {
	capacity float64
	rate     float64 // tokens per second
	tokens   float64
	last     time.Time
}

func newBucket(c ThrottleConfig, now time.Time) *bucket {
	return &bucket{capacity: float64(c.RU), rate: float64(c.RU) / c.Per.Seconds(), tokens: float64(c.RU), last: now}
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

// throttler holds one RU bucket and one write bucket per app.
type throttler struct {
	mu     sync.Mutex
	cfg    *ThrottleConfig // nil: off
	ru     map[string]*bucket
	writes map[string]*bucket
}

func (t *throttler) set(cfg *ThrottleConfig) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if cfg != nil {
		c := *cfg
		cfg = &c
	}
	t.cfg = cfg
	t.ru = map[string]*bucket{}
	t.writes = map[string]*bucket{}
}

// throttleResult says whether a request may go on, and what to tell the
// client: Retry-After when not, the used share of the budget when it may.
type throttleResult struct {
	ok         bool
	retryAfter time.Duration
	percent    float64 // of the RU budget used, after this request
}

// take charges app cost resource units (and one write when write) at now.
func (t *throttler) take(app string, cost int, write bool, now time.Time) throttleResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cfg == nil {
		return throttleResult{ok: true}
	}
	ru := t.ru[app]
	if ru == nil {
		ru = newBucket(*t.cfg, now)
		t.ru[app] = ru
	}
	wb := t.writes[app]
	if wb == nil {
		wb = newBucket(writeBudget, now)
		t.writes[app] = wb
	}
	ru.refill(now)
	wb.refill(now)
	wait := ru.wait(float64(cost))
	if write {
		wait = max(wait, wb.wait(1))
	}
	if wait > 0 {
		return throttleResult{retryAfter: wait}
	}
	ru.tokens -= float64(cost)
	if write {
		wb.tokens--
	}
	return throttleResult{ok: true, percent: 100 * (1 - ru.tokens/ru.capacity)}
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
