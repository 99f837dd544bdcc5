package entra

import (
	"context"
	"testing"
)

// FuzzDecodeBatch: whatever Graph answers a $batch with, reading it never
// panics, and no item is taken for done unless its status is a 2xx.
func FuzzDecodeBatch(f *testing.F) {
	for _, seed := range []string{
		`{"responses":[{"id":"1","status":204},{"id":"2","status":429,"headers":{"Retry-After":"3"},"body":{"error":{"code":"x","message":"y"}}}]}`,
		`{"responses":[{"id":"1","status":"204","headers":{"a":1,"b":null}},{"status":200}]}`,
		`{"responses":{"id":"1"}}`, `{"responses":[{"id":"1","status":404,"body":"aGVsbG8="}]}`, ``, `null`, `[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		answers, err := decodeBatch(body)
		if err != nil {
			return
		}
		for id, a := range answers {
			err := classify(context.Background(), "op", itemError(a), errorContext{})
			if err == nil && (a.status < 200 || a.status > 299) {
				t.Fatalf("item %q with status %d taken for done", id, a.status)
			}
		}
	})
}
