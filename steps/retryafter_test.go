package steps

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfterHeader(t *testing.T) {
	const def = 7 * time.Second
	tests := []struct {
		name   string
		values []string
		want   time.Duration
	}{
		{"seconds", []string{"3"}, 3 * time.Second},
		{"a fraction", []string{" 1.5 "}, 1500 * time.Millisecond},
		{"none", nil, def},
		{"not a number or a date", []string{"soon"}, def},
		{"negative", []string{"-1"}, def},
		{"NaN is no wait anyone can keep", []string{"NaN"}, def},
		{"infinity is capped", []string{"Inf"}, 24 * time.Hour},
		{"a huge number is capped", []string{"1e300"}, 24 * time.Hour},
		{"a past date is no wait", []string{"Mon, 02 Jan 2006 15:04:05 GMT"}, 0},
		{"a far date is capped", []string{time.Now().Add(1000 * time.Hour).UTC().Format(http.TimeFormat)}, 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RetryAfterHeader(tc.values, def); got != tc.want {
				t.Errorf("%v, want %v", got, tc.want)
			}
		})
	}
}
