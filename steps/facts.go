package steps

import (
	"maps"
	"slices"
)

// Fact keys more than one backend publishes or reads. A backend reads
// another's facts through these keys and the helpers below, never by
// importing it.
const (
	// FactAppAssignments is the fact under which a backend publishes the
	// apps the subject is assigned to (Entra ID's enterprise apps, say): a
	// list whose items are the apps' display names, or objects carrying the
	// display name under "displayName" (or "name"). A backend that reads
	// app assignments but found none publishes an empty list, which is not
	// the same as publishing nothing (nobody looked).
	FactAppAssignments = "app_assignments"
	// FactDisplayName is the fact under which a backend publishes the
	// person's display name ("Miriam Graham").
	FactDisplayName = "displayName"
)

// AssignedApps returns the display names of the apps every backend
// published under FactAppAssignments for the subject, each once, sorted;
// published is false when no backend published the fact at all (so "no
// app" and "nobody knows" differ). Items of another shape are skipped.
func AssignedApps(s *Subject) (apps []string, published bool) {
	if s == nil {
		return nil, false
	}
	seen := map[string]bool{}
	for _, facts := range s.Facts {
		v, ok := facts[FactAppAssignments]
		if !ok {
			continue
		}
		published = true
		for _, item := range anyList(v) {
			if name := appName(item); name != "" && !seen[name] {
				seen[name] = true
				apps = append(apps, name)
			}
		}
	}
	slices.Sort(apps)
	return apps, published
}

// anyList reads a fact list as resolution gives it ([]string, []map…) or
// as a facts file or the journal does after a JSON round trip ([]any).
func anyList(v any) []any {
	switch l := v.(type) {
	case []any:
		return l
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out
	case []map[string]any:
		out := make([]any, len(l))
		for i, m := range l {
			out[i] = m
		}
		return out
	}
	return nil
}

func appName(item any) string {
	switch it := item.(type) {
	case string:
		return it
	case map[string]any:
		if s, ok := it["displayName"].(string); ok && s != "" {
			return s
		}
		s, _ := it["name"].(string)
		return s
	}
	return ""
}

// DisplayName returns the person's display name as the first backend (by
// name) that published FactDisplayName has it, or "".
func DisplayName(s *Subject) string {
	if s == nil {
		return ""
	}
	for _, b := range slices.Sorted(maps.Keys(s.Facts)) {
		if v, _ := s.Facts[b][FactDisplayName].(string); v != "" {
			return v
		}
	}
	return ""
}

// UPN returns the person's user principal name from the identities the
// backends reported (IDUPN), the first backend by name that has one, or "".
func UPN(s *Subject) string {
	if s == nil {
		return ""
	}
	for _, b := range slices.Sorted(maps.Keys(s.Identities)) {
		if v := s.Identities[b].IDs[IDUPN]; v != "" {
			return v
		}
	}
	return ""
}
