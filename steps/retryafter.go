package steps

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryAfterHeader reads a Retry-After header's values: seconds (a
// fraction allowed), or an HTTP date (a past one is no wait). Without a
// usable one it returns def.
func RetryAfterHeader(values []string, def time.Duration) time.Duration {
	for _, v := range values {
		v = strings.TrimSpace(v)
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
			return time.Duration(secs * float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil {
			if d := time.Until(t); d > 0 {
				return d.Round(time.Second)
			}
			return 0
		}
	}
	return def
}
