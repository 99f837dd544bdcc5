package engine

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/revoke-dev/revoke/steps"
)

// secretKeyRE matches detail and fact keys whose string values are
// redacted before they reach the journal. Steps must never pass a secret;
// this catches the mistake of one that does.
var secretKeyRE = regexp.MustCompile(`(?i)(password|passwd|pwd|secret|token|credential|api_?key|private_?key)s?$`)

// redactedValue replaces a redacted value.
const redactedValue = "[redacted]"

// redactMap copies m with the values of secret-looking keys replaced,
// recursively. Numbers and booleans are kept: a count of passwords reset
// is no secret.
func redactMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch v.(type) {
		case nil, bool, int, int64, float64, json.Number:
			out[k] = v
			continue
		}
		if secretKeyRE.MatchString(k) {
			out[k] = redactedValue
			continue
		}
		out[k] = redactValue(v)
	}
	return out
}

func redactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return redactMap(x)
	case steps.Values:
		return redactMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactValue(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactMap(e)
		}
		return out
	}
	return v
}

// safeDetails prepares a step's details (or a backend's facts) for the
// journal: secret-looking keys redacted, and what JSON cannot encode (a
// NaN, a channel) replaced by a note rather than failing the journal.
func safeDetails(d map[string]any) map[string]any {
	if len(d) == 0 {
		return nil
	}
	out := redactMap(d)
	if _, err := json.Marshal(out); err != nil {
		return map[string]any{"unencodable": fmt.Sprintf("the step's details could not be journaled: %v", err)}
	}
	return out
}
