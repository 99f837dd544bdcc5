package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// ConvertParam turns a generic value — decoded from YAML, or from JSON as a
// policy's `with` gives it — into the Go type of the parameter, then checks
// enum and range. Durations are strings ("2m"); integers may arrive as
// float64 or json.Number when they are whole.
func ConvertParam(p *steps.Param, v any) (any, error) {
	var out any
	switch p.Type {
	case steps.String, steps.Enum:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string, got %s", typeName(v))
		}
		out = s
	case steps.Int:
		n, ok := toInt(v)
		if !ok {
			return nil, fmt.Errorf("want an integer, got %s", typeName(v))
		}
		out = n
	case steps.Bool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("want true or false, got %s", typeName(v))
		}
		out = b
	case steps.Duration:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a duration such as 30s or 2m, got %s", typeName(v))
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%q is not a duration such as 30s or 2m", s)
		}
		out = d
	case steps.StringList:
		list, ok := v.([]any)
		if !ok {
			if ss, ok2 := v.([]string); ok2 {
				out = append([]string{}, ss...)
				break
			}
			return nil, fmt.Errorf("want a list of strings, got %s", typeName(v))
		}
		ss := make([]string, 0, len(list))
		for i, e := range list {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("item %d: want a string, got %s", i+1, typeName(e))
			}
			ss = append(ss, s)
		}
		out = ss
	default:
		return nil, fmt.Errorf("unknown parameter type %q", p.Type)
	}
	if err := p.Check(out); err != nil {
		return nil, err
	}
	return out, nil
}

// CheckParams validates a generic parameter map against a spec: unknown
// keys, missing required ones, types, enums and ranges. It returns every
// declared parameter with defaults filled, and one message per problem,
// sorted by parameter name.
func CheckParams(spec *steps.Spec, with map[string]any) (steps.Values, []string) {
	out := steps.Values{}
	var problems []string
	for _, name := range sortedKeys(with) {
		p := spec.Param(name)
		if p == nil {
			problems = append(problems, unknownParam(spec, name))
			continue
		}
		v, err := ConvertParam(p, with[name])
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s.%s: %v", spec.Name, name, err))
			continue
		}
		out[name] = v
	}
	problems = append(problems, FillDefaults(spec, out)...)
	return out, problems
}

// FillDefaults sets absent parameters to their defaults and reports missing
// required ones.
func FillDefaults(spec *steps.Spec, vals steps.Values) []string {
	var problems []string
	for _, p := range spec.Params {
		if _, ok := vals[p.Name]; ok {
			continue
		}
		switch {
		case p.Default != nil:
			if list, ok := p.Default.([]string); ok {
				// A fresh slice: a step that appended to a shared default
				// would change it for every runbook.
				vals[p.Name] = append([]string{}, list...)
				break
			}
			vals[p.Name] = p.Default
		case p.Required:
			problems = append(problems, fmt.Sprintf("%s needs parameter %q", spec.Name, p.Name))
		}
	}
	return problems
}

// unknownParam names the parameters a spec has, so a typo is easy to fix.
func unknownParam(spec *steps.Spec, name string) string {
	if len(spec.Params) == 0 {
		return fmt.Sprintf("%s takes no parameters, got %q", spec.Name, name)
	}
	names := make([]string, len(spec.Params))
	for i, p := range spec.Params {
		names[i] = p.Name
	}
	return fmt.Sprintf("%s has no parameter %q (it has %s)", spec.Name, name, strings.Join(names, ", "))
}

// ParamJSON renders a parameter value for JSON: durations as strings.
func ParamJSON(v any) any {
	if d, ok := v.(time.Duration); ok {
		return d.String()
	}
	return v
}

// ValuesJSON renders Values for JSON output and policy input.
func ValuesJSON(vals steps.Values) map[string]any {
	out := make(map[string]any, len(vals))
	for k, v := range vals {
		out[k] = ParamJSON(v)
	}
	return out
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case uint64:
		return int(n), n <= math.MaxInt
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int(n), true
		}
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	}
	return 0, false
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64, json.Number:
		return "a number"
	case float64:
		return "a number"
	case []any, []string:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
