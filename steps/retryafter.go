package steps

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter caps what a server may ask a caller to wait: a day, far
// beyond any step's max_wait, which then decides.
const maxRetryAfter = 24 * time.Hour

// RetryAfterHeader reads a Retry-After header's values: seconds (a
// fraction allowed), or an HTTP date (a past one is no wait). Without a
// usable one it returns def.
func RetryAfterHeader(values []string, def time.Duration) time.Duration {
	for _, v := range values {
		v = strings.TrimSpace(v)
		// ParseFloat takes "Inf", "NaN" and 1e300 too, which no duration
		// holds: a server's header is capped rather than trusted.
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 && !math.IsNaN(secs) {
			return time.Duration(min(secs, maxRetryAfter.Seconds()) * float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil {
			if d := time.Until(t); d > 0 {
				return min(d.Round(time.Second), maxRetryAfter)
			}
			return 0
		}
	}
	return def
}
