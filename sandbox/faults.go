package sandbox

import (
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
	"sync"
	"time"
)

// FaultRule makes matching requests fail, to test retries and recovery.
// A request matches when its URL path starts with Path (or matches Path as
// a path.Match glob when Path holds * ? or [) and Method is empty or equal.
// Which matching requests fail: only the Nth (1-based) when Nth > 0, every
// Every-th when Every > 0, a Percent share at random when Percent > 0, and
// all of them when none is set. A failing request gets Status (default 503)
// with Retry-After when RetryAfter > 0, or with Reset its connection is
// dropped without an answer.
type FaultRule struct {
	Path       string
	Method     string
	Nth        int
	Every      int
	Percent    float64
	Status     int
	RetryAfter time.Duration
	Reset      bool
}

func (f FaultRule) validate() error {
	switch {
	case f.Nth < 0 || f.Every < 0:
		return fmt.Errorf("fault %q: nth and every must not be negative", f.Path)
	case f.Percent < 0 || f.Percent > 100:
		return fmt.Errorf("fault %q: percent must be within 0..100", f.Path)
	case f.Status != 0 && (f.Status < 400 || f.Status > 599):
		return fmt.Errorf("fault %q: status must be an HTTP error status (4xx or 5xx), got %d", f.Path, f.Status)
	case f.Reset && (f.Status != 0 || f.RetryAfter != 0):
		return fmt.Errorf("fault %q: reset drops the connection; it takes no status or retry_after", f.Path)
	}
	if strings.ContainsAny(f.Path, "*?[") {
		if _, err := path.Match(f.Path, "/"); err != nil {
			return fmt.Errorf("fault %q: bad glob: %w", f.Path, err)
		}
	}
	return nil
}

func (f FaultRule) matches(method, p string) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, method) {
		return false
	}
	if strings.ContainsAny(f.Path, "*?[") {
		ok, _ := path.Match(f.Path, p)
		return ok
	}
	return strings.HasPrefix(p, f.Path)
}

// faults holds the rules in force and how many requests each has matched.
type faults struct {
	mu     sync.Mutex
	rules  []FaultRule
	counts []int
}

func (fs *faults) set(rules []FaultRule) error {
	for _, r := range rules {
		if err := r.validate(); err != nil {
			return err
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rules = append([]FaultRule(nil), rules...)
	fs.counts = make([]int, len(rules))
	return nil
}

// pick returns the first rule that makes this request fail, if any. Every
// matching rule counts the request, so Nth and Every stay predictable when
// rules overlap. A $batch item (item) is a request of its own, counted
// like one, except by a rule that drops the connection: an item has none
// of its own, so such a rule neither counts nor fires for it.
func (fs *faults) pick(method, p string, item bool) (FaultRule, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var hit FaultRule
	found := false
	for i, r := range fs.rules {
		if !r.matches(method, p) || item && r.Reset {
			continue
		}
		fs.counts[i]++
		n := fs.counts[i]
		fire := true
		switch {
		case r.Nth > 0:
			fire = n == r.Nth
		case r.Every > 0:
			fire = n%r.Every == 0
		case r.Percent > 0:
			fire = rand.Float64()*100 < r.Percent
		}
		if fire && !found {
			hit, found = r, true
		}
	}
	if found && hit.Status == 0 && !hit.Reset {
		hit.Status = 503
	}
	return hit, found
}
