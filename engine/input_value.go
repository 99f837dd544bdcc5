package engine

import (
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/revoke-dev/revoke/steps"
)

// inputValue is policyInput built directly as the value OPA evaluates
// with. A decision is the hot path of every plan (one per subject in a
// bulk run): building Go maps and then converting them (ast.InterfaceToValue)
// allocated everything twice and cost as much as a sixth of the policy
// evaluation itself. policyInput stays the contract's readable form
// (PolicyInput, the docs' shape); TestInputValueIsPolicyInput holds the
// two to the same value, key for key, so a key renamed in one and not the
// other fails there.
// The runbook comes already converted (runbookValue, or the Policy's
// cache of it); decisions take the environment's and the request's parts
// from the Policy's caches too (inputValueWith, cachedEnvironmentTerm,
// cachedRequestTerm).
func inputValue(runbook ast.Object, env EnvironmentFacts, subject *steps.Subject, req Request, protected []string) (ast.Value, error) {
	environment, err := environmentTerm(env)
	if err != nil {
		return nil, err
	}
	return inputValueWith(runbook, environment, requestTerm(req), subject, protected)
}

// inputValueWith is inputValue with the environment's and the request's
// parts already built (environmentTerm and requestTerm, or the Policy's
// caches of them). The subject's terms come from one block (termBlock),
// not one allocation each: they are most of what a decision allocates
// besides the evaluation, and they live exactly as long as the input.
func inputValueWith(runbook ast.Object, environment, request *ast.Term, subject *steps.Subject, protected []string) (ast.Value, error) {
	ts := &termBlock{}
	subj := ast.NewObjectWithCapacity(3 + len(subjectFacts(subject)))
	subj.Insert(inputKey("protected"), ts.strings(protected))
	if subject != nil {
		subj.Insert(inputKey("ref"), ts.term(ast.String(subject.Ref)))
		subj.Insert(inputKey("gaps"), ts.strings(subject.Gaps))
		for backend, facts := range subject.Facts {
			if backend == "ref" || backend == "protected" || backend == "gaps" || facts == nil {
				continue
			}
			v, err := ts.json(facts)
			if err != nil {
				return nil, err
			}
			subj.Insert(inputKey(backend), v)
		}
	} else {
		subj.Insert(inputKey("ref"), ast.InternedTerm(""))
		subj.Insert(inputKey("gaps"), stringsTerm(nil))
	}

	return ast.NewObject(
		ast.Item(inputKey("scenario"), runbook.Get(inputKey("scenario"))),
		ast.Item(inputKey("runbook"), ts.term(runbook)),
		ast.Item(inputKey("environment"), environment),
		ast.Item(inputKey("subject"), ts.term(subj)),
		ast.Item(inputKey("request"), request),
	), nil
}

// requestTerm is the request's part of the input.
func requestTerm(req Request) *ast.Term {
	request := ast.NewObjectWithCapacity(5)
	request.Insert(inputKey("requested_by"), ast.StringTerm(req.RequestedBy))
	request.Insert(inputKey("reason"), ast.StringTerm(req.Reason))
	request.Insert(inputKey("allow_protected"), ast.InternedTerm(req.AllowProtected))
	if req.Ticket != "" {
		request.Insert(inputKey("ticket"), ast.StringTerm(req.Ticket))
	}
	if req.ApprovedBy != "" {
		request.Insert(inputKey("approved_by"), ast.StringTerm(req.ApprovedBy))
	}
	return ast.NewTerm(request)
}

// environmentTerm is the environment's part of the input.
func environmentTerm(env EnvironmentFacts) (*ast.Term, error) {
	backends := ast.NewObjectWithCapacity(len(env.Backends))
	for name, section := range env.Backends {
		v, err := jsonTerm(section)
		if err != nil {
			return nil, err
		}
		backends.Insert(inputKey(name), v)
	}
	return ast.ObjectTerm(
		ast.Item(inputKey("name"), ast.StringTerm(env.Name)),
		ast.Item(inputKey("kind"), ast.StringTerm(env.Kind)),
		ast.Item(inputKey("protected"), stringsTerm(env.Protected)),
		ast.Item(inputKey("backends"), ast.NewTerm(backends)),
	), nil
}

// subjectFacts is the subject's facts, nil without a subject.
func subjectFacts(subject *steps.Subject) map[string]map[string]any {
	if subject == nil {
		return nil
	}
	return subject.Facts
}

// runbookValue is runbookInput as OPA's value.
func runbookValue(rb *Runbook) (ast.Object, error) {
	scenario := rb.Scenario
	if scenario == "" {
		scenario = rb.Name
	}
	stepList := make([]*ast.Term, len(rb.Steps))
	for i, s := range rb.Steps {
		with, err := jsonTerm(map[string]any(s.With))
		if err != nil {
			return nil, err
		}
		stepList[i] = ast.ObjectTerm(
			ast.Item(inputKey("id"), ast.StringTerm(s.ID)),
			ast.Item(inputKey("uses"), ast.StringTerm(s.Uses)),
			ast.Item(inputKey("with"), with),
			ast.Item(inputKey("needs"), stringsTerm(s.Needs)),
			ast.Item(inputKey("tags"), stringsTerm(s.Tags)),
		)
	}
	return ast.NewObject(
		ast.Item(inputKey("name"), ast.StringTerm(rb.Name)),
		ast.Item(inputKey("scenario"), ast.StringTerm(scenario)),
		ast.Item(inputKey("steps"), ast.ArrayTerm(stepList...)),
	), nil
}

// stringsTerm is stringsJSON as OPA's value: an array, empty rather than
// null. An empty list is OPA's own interned empty array, shared as OPA
// shares it (evaluation never changes a term): most facts' lists (roles,
// gaps, groups) are empty, and each was two allocations per decision.
func stringsTerm(ss []string) *ast.Term { return (*termBlock)(nil).strings(ss) }

// jsonTerm is ast.NewTerm(ast.InterfaceToValue(plainJSON(v))) in one
// pass: containers are walked here, every other value goes through
// plainJSON (so a typed integer, a duration or a time becomes exactly
// what it became before) and OPA's own conversion. Booleans, the empty
// string and the small ints OPA interns come back as OPA's interned
// terms, the same values without an allocation each.
func jsonTerm(v any) (*ast.Term, error) { return (*termBlock)(nil).json(v) }

// termBlock hands out the terms of one input from blocks of termBlockSize,
// one allocation a block rather than one a term. A term holds on to its
// whole block, so a block serves one input, whose terms all live as long
// as it does; the parts cached across decisions (the runbook's, the
// environment's) are built with a nil termBlock, a term an allocation, so
// that no cached term keeps a decision's block alive.
type termBlock struct{ free []ast.Term }

// termBlockSize fits the subject's part of a hybrid subject's input
// (about a dozen terms) in one block.
const termBlockSize = 16

// term is ast.NewTerm(v), from the block.
func (ts *termBlock) term(v ast.Value) *ast.Term {
	if ts == nil {
		return ast.NewTerm(v)
	}
	if len(ts.free) == 0 {
		ts.free = make([]ast.Term, termBlockSize)
	}
	t := &ts.free[0]
	ts.free = ts.free[1:]
	t.Value = v
	return t
}

// strings is stringsTerm, from the block.
func (ts *termBlock) strings(ss []string) *ast.Term {
	if len(ss) == 0 {
		return ast.InternedEmptyArray
	}
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = ts.term(ast.String(s))
	}
	return ts.term(ast.NewArray(terms...))
}

// json is jsonTerm, from the block.
func (ts *termBlock) json(v any) (*ast.Term, error) {
	switch x := v.(type) {
	case string:
		if x == "" {
			return ast.InternedEmptyString, nil
		}
		return ts.term(ast.String(x)), nil
	case bool:
		return ast.InternedTerm(x), nil
	case int:
		if ast.HasInternedIntNumberTerm(x) {
			return ast.InternedTerm(x), nil
		}
	case map[string]any:
		return objectTerm(ts, x)
	case steps.Values:
		return objectTerm(ts, x)
	case []any:
		return arrayTerm(ts, x)
	case []map[string]any:
		return arrayTerm(ts, x)
	case []string:
		return ts.strings(x), nil
	}
	value, err := ast.InterfaceToValue(plainJSON(v))
	if err != nil {
		return nil, err
	}
	return ts.term(value), nil
}

func objectTerm[M ~map[string]any](ts *termBlock, m M) (*ast.Term, error) {
	obj := ast.NewObjectWithCapacity(len(m))
	for k, e := range m {
		v, err := ts.json(e)
		if err != nil {
			return nil, err
		}
		obj.Insert(inputKey(k), v)
	}
	return ts.term(obj), nil
}

func arrayTerm[E any](ts *termBlock, list []E) (*ast.Term, error) {
	terms := make([]*ast.Term, len(list))
	for i, e := range list {
		v, err := ts.json(e)
		if err != nil {
			return nil, err
		}
		terms[i] = v
	}
	return ts.term(ast.NewArray(terms...)), nil
}

// inputKeys are the terms of the object keys inputs have held, shared by
// every input (OPA shares its own interned terms the same way: evaluation
// never changes a term): the contract's keys and the facts' are the same
// few dozen names decision after decision, and making two allocations for
// each of them, every time, was a tenth of what building an input cost.
// At most maxInputKeys are kept, so that a backend whose facts were keyed
// by something unbounded could not grow it without end.
var (
	inputKeys      sync.Map // string → *ast.Term
	inputKeysCount atomic.Int64
)

const maxInputKeys = 4096

// inputKey is the term for an object key of the input.
func inputKey(k string) *ast.Term {
	if t, ok := inputKeys.Load(k); ok {
		return t.(*ast.Term)
	}
	t := ast.StringTerm(k)
	if inputKeysCount.Load() < maxInputKeys {
		if _, had := inputKeys.LoadOrStore(k, t); !had {
			inputKeysCount.Add(1)
		}
	}
	return t
}
