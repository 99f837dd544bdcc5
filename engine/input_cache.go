package engine

import (
	"reflect"
	"slices"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
)

// runbookCache remembers the last runbook a Policy decided on, as OPA's
// value: a bulk run decides the same runbook for every subject, and the
// runbook is most of the input (building it was a quarter of a
// decision's allocations). The entry keeps an exact copy of what the
// value was built from and is used only while the runbook still equals
// it, so a runbook changed after a decision (nothing in revoke does; a
// test or a library user might) is built again rather than decided on
// stale.
type runbookCache struct {
	rb    *Runbook
	was   runbookShape
	value ast.Object
}

// runbookShape is what runbookValue reads from a runbook, copied.
type runbookShape struct {
	name, scenario string
	steps          []stepShape
}

type stepShape struct {
	id, uses    string
	needs, tags []string
	with        map[string]any
}

// cachedRunbookValue is runbookValue(rb), from c when rb is the runbook c
// holds and unchanged since, else built and, when every parameter is a
// value that can be compared exactly, remembered in c.
func cachedRunbookValue(c *atomic.Pointer[runbookCache], rb *Runbook) (ast.Object, error) {
	if e := c.Load(); e != nil && e.rb == rb && e.was.matches(rb) {
		return e.value, nil
	}
	value, err := runbookValue(rb)
	if err != nil {
		return nil, err
	}
	if shape, ok := shapeOf(rb); ok {
		c.Store(&runbookCache{rb: rb, was: shape, value: value})
	}
	return value, nil
}

// shapeOf copies what runbookValue reads; false when a parameter is not a
// scalar or a list of strings, which matches could not compare exactly.
func shapeOf(rb *Runbook) (runbookShape, bool) {
	shape := runbookShape{name: rb.Name, scenario: rb.Scenario, steps: make([]stepShape, len(rb.Steps))}
	for i, s := range rb.Steps {
		with := make(map[string]any, len(s.With))
		for k, v := range s.With {
			switch x := v.(type) {
			case []string:
				with[k] = slices.Clone(x)
			default:
				if !scalar(v) {
					return runbookShape{}, false
				}
				with[k] = v
			}
		}
		shape.steps[i] = stepShape{id: s.ID, uses: s.Uses, needs: slices.Clone(s.Needs), tags: slices.Clone(s.Tags), with: with}
	}
	return shape, true
}

// matches reports whether rb still holds exactly what the shape copied.
func (sh *runbookShape) matches(rb *Runbook) bool {
	if rb.Name != sh.name || rb.Scenario != sh.scenario || len(rb.Steps) != len(sh.steps) {
		return false
	}
	for i, s := range rb.Steps {
		was := &sh.steps[i]
		if s.ID != was.id || s.Uses != was.uses || !slices.Equal(s.Needs, was.needs) ||
			!slices.Equal(s.Tags, was.tags) || !sameParams(s.With, was.with) {
			return false
		}
	}
	return true
}

// scalar reports whether v is a value == compares by content: a boolean,
// number or string, named (time.Duration, json.Number) or not, or nil;
// never a pointer, slice or map, whose content could change unseen.
func scalar(v any) bool {
	if v == nil {
		return true
	}
	switch reflect.TypeOf(v).Kind() {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// environmentCache remembers the environment's part of the input from
// the last decision, as OPA's term: every subject of a bulk run, and
// every decision of one workspace, is decided in the same environment,
// and building its part again each time (its name, kind, protected list
// and backend sections) was a tenth of an input's allocations. Like
// runbookCache it keeps an exact copy of what the term was built from,
// compared on every use (EnvironmentFacts is passed by value, but its
// lists and sections are shared and could change), so a different or
// changed environment is built again, never decided on stale.
type environmentCache struct {
	name, kind string
	protected  []string
	backends   map[string]map[string]any
	value      *ast.Term
}

// cachedEnvironmentTerm is environmentTerm(env), from c when env equals
// what c was built from, else built and, when every backend field is a
// value that can be compared exactly, remembered in c.
func cachedEnvironmentTerm(c *atomic.Pointer[environmentCache], env EnvironmentFacts) (*ast.Term, error) {
	if e := c.Load(); e != nil && e.matches(env) {
		return e.value, nil
	}
	value, err := environmentTerm(env)
	if err != nil {
		return nil, err
	}
	if backends, ok := copyParams(env.Backends); ok {
		c.Store(&environmentCache{name: env.Name, kind: env.Kind, protected: slices.Clone(env.Protected),
			backends: backends, value: value})
	}
	return value, nil
}

// copyParams copies sections of fields whose values are scalars or lists
// of strings; false when one is anything else, which sameParams could not
// compare exactly.
func copyParams(sections map[string]map[string]any) (map[string]map[string]any, bool) {
	out := make(map[string]map[string]any, len(sections))
	for name, section := range sections {
		fields := make(map[string]any, len(section))
		for k, v := range section {
			switch x := v.(type) {
			case []string:
				fields[k] = slices.Clone(x)
			default:
				if !scalar(v) {
					return nil, false
				}
				fields[k] = v
			}
		}
		out[name] = fields
	}
	return out, true
}

// matches reports whether env holds exactly what the cache copied.
func (e *environmentCache) matches(env EnvironmentFacts) bool {
	if env.Name != e.name || env.Kind != e.kind || !slices.Equal(env.Protected, e.protected) ||
		len(env.Backends) != len(e.backends) {
		return false
	}
	for name, section := range env.Backends {
		was, ok := e.backends[name]
		if !ok || !sameParams(section, was) {
			return false
		}
	}
	return true
}

// sameParams reports whether fields holds exactly the copied fields was.
func sameParams(fields, was map[string]any) bool {
	if len(fields) != len(was) {
		return false
	}
	for k, v := range fields {
		old, ok := was[k]
		if !ok {
			return false
		}
		if list, isList := v.([]string); isList {
			oldList, _ := old.([]string)
			if oldList == nil || !slices.Equal(list, oldList) {
				return false
			}
			continue
		}
		if !scalar(v) || v != old {
			return false
		}
	}
	return true
}

// requestCache remembers the request's part of the input from the last
// decision, as OPA's term: a bulk run decides every subject for one
// request (who asked, why, the ticket, who approved). A Request holds
// only strings and a boolean, so == compares all of it exactly and there
// is nothing to copy (a field that could change unseen, a slice or a map,
// would no longer compile here).
type requestCache struct {
	req   Request
	value *ast.Term
}

// cachedRequestTerm is requestTerm(req), from c when req equals the
// request c was built from, else built and remembered in c.
func cachedRequestTerm(c *atomic.Pointer[requestCache], req Request) *ast.Term {
	if e := c.Load(); e != nil && e.req == req {
		return e.value
	}
	value := requestTerm(req)
	c.Store(&requestCache{req: req, value: value})
	return value
}
