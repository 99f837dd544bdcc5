package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/revoke-dev/revoke/policies"
	"github.com/revoke-dev/revoke/steps"
)

// PolicySource is one Rego module: where it came from and its text.
type PolicySource struct {
	// File names the module in Lints and OPA's error locations: a path, or
	// "builtin:policies/x.rego" for the embedded defaults.
	File string
	Data []byte
}

// IsPolicyTest reports whether a policy file holds Rego tests (*_test.rego).
// Test modules are compiled with the others but take no part in decisions.
func IsPolicyTest(file string) bool { return strings.HasSuffix(file, "_test.rego") }

// BuiltinPolicies returns the default policies and their tests embedded from
// policies/, sorted by file name.
func BuiltinPolicies() []PolicySource {
	return embeddedFiles(policies.FS, "policies", "policy", ".rego")
}

// embeddedFiles reads the top-level files of an embedded FS whose names end
// in ext, in name order, naming each builtin:<dir>/<name>. The FS is part
// of the binary: failing to read it is a build error, not a user's, hence
// the panics.
func embeddedFiles(fsys fs.FS, dir, one, ext string) []PolicySource {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		panic("engine: embedded " + dir + ": " + err.Error())
	}
	var out []PolicySource
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ext) {
			continue
		}
		data, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			panic("engine: embedded " + one + " " + e.Name() + ": " + err.Error())
		}
		out = append(out, PolicySource{File: "builtin:" + dir + "/" + e.Name(), Data: data})
	}
	return out
}

// DefaultPolicyTimeout bounds one policy evaluation (a decision, a lint, one
// Rego test).
const DefaultPolicyTimeout = 2 * time.Second

// Queries. Each rule is wrapped in an array comprehension so that the query
// is defined whether or not a policy defines the rule (an undefined rule
// gives []), and so that only the rules of the contract are evaluated, not
// the whole of data.revoke with its tests and lint rules. `with` is a Rego
// keyword, hence the bracket.
const (
	decisionQuery = `skip := [x | x := data.revoke.skip]; ` +
		`with_ := [x | x := data.revoke["with"]]; ` +
		`deny := [x | x := data.revoke.deny]; ` +
		`warn := [x | x := data.revoke.warn]`
	lintQuery = `violation := [x | x := data.revoke.lint.violation]; ` +
		`advice := [x | x := data.revoke.lint.advice]`
)

// Policy is a compiled set of Rego modules with its queries prepared: build
// it once with CompilePolicies, then Decide and Lint as often as needed,
// from any number of goroutines.
type Policy struct {
	// Digest is the hex SHA-256 over every module's file name and text,
	// in file order: journaled so a resume can tell the policies changed.
	Digest string
	// Files are the modules' file names, sorted.
	Files []string
	// Timeout bounds one evaluation; zero means DefaultPolicyTimeout.
	Timeout time.Duration
	// Registry identifies subjects from their facts (Identify) for the
	// built-in protection; nil means steps.Default.
	Registry *steps.Registry

	// modules are every parsed module, tests included, for the tester.
	modules  map[string]*ast.Module
	decision rego.PreparedEvalQuery
	lint     rego.PreparedEvalQuery
	// runbooks holds the last runbook decided on as OPA's value
	// (cachedRunbookValue); a pointer, so that copies (Defaults) share it.
	runbooks *atomic.Pointer[runbookCache]
	// environments holds the last environment decided in as OPA's term
	// (cachedEnvironmentTerm), shared by copies the same way; requests
	// the last request (cachedRequestTerm).
	environments *atomic.Pointer[environmentCache]
	requests     *atomic.Pointer[requestCache]
	// defaults compiles the built-in modules alone, once and only when
	// asked (validate's built-in tests: see Defaults), so plan and run do
	// not pay for a second compilation; nil when every module is a
	// built-in one. It returns nil should the built-ins not compile alone.
	defaults func() *Policy
}

// CompilePolicies parses every module as Rego v1 and compiles them together,
// then prepares the decision and lint queries. Parse and compile problems
// come back as Lints located in the module (`FILE:ROW:COL: error:
// rego_parse_error: …`, the code being OPA's); when there is any, the Policy
// is nil.
func CompilePolicies(srcs []PolicySource) (*Policy, Lints) {
	srcs = slices.Clone(srcs)
	slices.SortStableFunc(srcs, func(a, b PolicySource) int { return strings.Compare(a.File, b.File) })

	var lints Lints
	all := make(map[string]*ast.Module, len(srcs))
	for _, src := range srcs {
		if _, dup := all[src.File]; dup {
			lints = append(lints, Lint{File: src.File, Level: Error, Code: "duplicate-policy",
				Message: "policy file loaded twice"})
			continue
		}
		text, err := DecodeText(src.Data)
		if err != nil {
			lints = append(lints, Lint{File: src.File, Level: Error, Code: "encoding", Message: err.Error()})
			continue
		}
		mod, err := ast.ParseModuleWithOpts(src.File, string(text), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			lints = append(lints, regoLints(src.File, err)...)
			continue
		}
		if mod == nil {
			lints = append(lints, Lint{File: src.File, Level: Error, Code: ast.ParseErr,
				Message: ast.ParseErr + ": empty module"})
			continue
		}
		all[src.File] = mod
	}
	if len(lints) > 0 {
		lints.Sort()
		return nil, lints
	}
	p, lints := compileModules(srcs, all)
	if p == nil {
		return nil, lints
	}
	// The built-in tests check the defaults alone: a team's own rule (a
	// company-wide deny) must not make them fail, when nothing can be done
	// about them. A module counts as built-in by its text, so a copy of
	// revoke's own policies/ counts too.
	var defSrcs []PolicySource
	defAll := map[string]*ast.Module{}
	for _, src := range srcs {
		if builtinPolicyDigests()[digest(src.Data)] {
			defSrcs = append(defSrcs, src)
			defAll[src.File] = all[src.File]
		}
	}
	if len(defSrcs) > 0 && len(defSrcs) < len(srcs) {
		// The built-ins compile on their own (their tests say so); should
		// they not, the built-in tests run with everything, as before.
		p.defaults = sync.OnceValue(func() *Policy {
			d, _ := compileModules(defSrcs, defAll)
			return d
		})
	}
	return p, nil
}

// builtinPolicyDigests are the digests of the embedded policy files' texts.
var builtinPolicyDigests = sync.OnceValue(func() map[string]bool { return digestSet(BuiltinPolicies()) })

// compileModules compiles the parsed modules of srcs (all, by file) and
// prepares the queries, which use all but the test modules.
func compileModules(srcs []PolicySource, all map[string]*ast.Module) (*Policy, Lints) {
	var lints Lints
	files := make([]string, 0, len(srcs))
	decide := make(map[string]*ast.Module, len(all))
	for _, src := range srcs {
		files = append(files, src.File)
		if !IsPolicyTest(src.File) {
			decide[src.File] = all[src.File]
		}
	}
	// Compile everything once so that problems in test modules are found
	// by validate too; decisions then use the modules without the tests,
	// so a test's helper rule can never change a real decision.
	compiler := newPolicyCompiler()
	compiler.Compile(all)
	if compiler.Failed() {
		lints = regoLints("", compiler.Errors)
		lints.Sort()
		return nil, lints
	}
	if len(decide) != len(all) {
		compiler = newPolicyCompiler()
		compiler.Compile(decide)
		if compiler.Failed() {
			lints = regoLints("", compiler.Errors)
			lints.Sort()
			return nil, lints
		}
	}

	p := &Policy{Digest: policyDigest(srcs), Files: files, modules: all, runbooks: new(atomic.Pointer[runbookCache]),
		environments: new(atomic.Pointer[environmentCache]), requests: new(atomic.Pointer[requestCache])}
	var err error
	ctx := context.Background()
	if p.decision, err = prepare(ctx, compiler, decisionQuery, rego.GenerateJSON(keepTerms)); err != nil {
		return nil, Lints{{Level: Error, Code: "policy", Message: fmt.Sprintf("prepare the decision query: %v", err)}}
	}
	if p.lint, err = prepare(ctx, compiler, lintQuery); err != nil {
		return nil, Lints{{Level: Error, Code: "policy", Message: fmt.Sprintf("prepare the lint query: %v", err)}}
	}
	return p, nil
}

// policyCapabilities are the builtins a policy may call: OPA's, less every
// one OPA marks non-deterministic (excludedBuiltins). Those are the ones
// that reach the network (http.send, net.lookup_ip_addr, json.match_schema
// and json.verify_schema, which fetch remote $refs), read host state
// (opa.runtime gives the process's environment variables, which hold
// secrets) or differ between runs (time.now_ns, rand.intn, uuid.rfc4122,
// JWT signing and verification). A policy sees the subject's facts: it
// must not be able to send them anywhere, and a decision must be the same
// in validate, plan and run.
var policyCapabilities, excludedBuiltins = func() (*ast.Capabilities, []string) {
	caps := ast.CapabilitiesForThisVersion()
	var kept []*ast.Builtin
	var excluded []string
	for _, b := range caps.Builtins {
		if b.Nondeterministic {
			excluded = append(excluded, b.Name)
			continue
		}
		kept = append(kept, b)
	}
	caps.Builtins = kept
	// No remote JSON schemas for the type checker either.
	caps.AllowNet = []string{}
	slices.Sort(excluded)
	return caps, excluded
}()

// newPolicyCompiler returns a compiler limited to policyCapabilities, for
// decisions, lint and policy tests alike.
func newPolicyCompiler() *ast.Compiler {
	return ast.NewCompiler().SetErrorLimit(0).WithDefaultRegoVersion(ast.RegoV1).
		WithCapabilities(policyCapabilities)
}

// excludedBuiltinError rewords the type checker's "undefined function
// http.send" for a builtin revoke leaves out, so the author learns why
// rather than suspecting a typo.
func excludedBuiltinError(code, msg string) string {
	name, ok := strings.CutPrefix(msg, "undefined function ")
	if code != ast.TypeErr || !ok || !slices.Contains(excludedBuiltins, name) {
		return msg
	}
	return fmt.Sprintf("%s is not available to revoke policies: they reach no network and no host state, and decide the same way every time (docs/policies.md lists the builtins left out)", name)
}

// prepare compiles a query against the policies, once; opts add to the
// options every query has.
func prepare(ctx context.Context, c *ast.Compiler, query string, opts ...func(*rego.Rego)) (rego.PreparedEvalQuery, error) {
	return rego.New(append([]func(*rego.Rego){
		rego.Compiler(c),
		rego.Capabilities(policyCapabilities),
		rego.Query(query),
		// A builtin that fails (to_number("x")) is the policy's bug: report
		// it rather than silently treating the expression as undefined.
		rego.StrictBuiltinErrors(true),
	}, opts...)...).PrepareForEval(ctx)
}

// policyDigest hashes file names and texts with lengths, so that moving
// bytes from one file to the next changes the digest.
func policyDigest(srcs []PolicySource) string {
	h := sha256.New()
	for _, s := range srcs {
		fmt.Fprintf(h, "%s\x00%d\x00", s.File, len(s.Data))
		h.Write(s.Data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// regoLints turns OPA's parse or compile errors into Lints; file is used
// when an error carries no location.
func regoLints(file string, err error) Lints {
	var errs ast.Errors
	var one *ast.Error
	switch {
	case errors.As(err, &errs):
	case errors.As(err, &one):
		errs = ast.Errors{one}
	default:
		return Lints{{File: file, Level: Error, Code: "policy", Message: err.Error()}}
	}
	out := make(Lints, 0, len(errs))
	for _, e := range errs {
		l := Lint{File: file, Level: Error, Code: e.Code, Message: e.Code + ": " + excludedBuiltinError(e.Code, e.Message)}
		if e.Location != nil {
			if e.Location.File != "" {
				l.File = e.Location.File
			}
			l.Line, l.Column = e.Location.Row, e.Location.Col
		}
		out = append(out, l)
	}
	return out
}

// PolicyError is a problem met while evaluating policies: a conflict
// between rule outputs, a failing builtin, a result of the wrong shape, a
// time limit exceeded. File and Line locate it in the policy when OPA
// knows where.
type PolicyError struct {
	File         string
	Line, Column int
	// Code is OPA's (eval_conflict_error, eval_builtin_error,
	// eval_cancel_error) or "policy" for a result of the wrong shape.
	Code    string
	Message string
}

// Error renders FILE:LINE:COL: CODE: MESSAGE, leaving out what is unknown.
func (e *PolicyError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, max(e.Column, 1))
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Code)
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

// Lint returns the error as a Lint located in the policy.
func (e *PolicyError) Lint() Lint {
	return Lint{File: e.File, Line: e.Line, Column: e.Column, Level: Error, Code: e.Code,
		Message: e.Code + ": " + e.Message}
}

// Defaults returns the built-in policies compiled alone, with p's Timeout
// and Registry, or p itself when it holds nothing else. The built-in
// runbook tests are decided with it: they pin the defaults' behaviour,
// which a team's policies may rightly change (a deny for runs without a
// ticket), and which the team's own tests then pin instead.
func (p *Policy) Defaults() *Policy {
	def := p.builtins()
	if def == nil {
		return p
	}
	d := *def
	d.Timeout, d.Registry = p.Timeout, p.Registry
	return &d
}

// builtins is the built-in modules compiled alone, or nil.
func (p *Policy) builtins() *Policy {
	if p.defaults == nil {
		return nil
	}
	return p.defaults()
}

func (p *Policy) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return DefaultPolicyTimeout
}

// eval runs a prepared query on an input already in OPA's form (so a
// conversion error stays ours to word: inputError) within the policy's
// time limit (evalBounded) and returns its only result's bindings.
func (p *Policy) eval(ctx context.Context, q rego.PreparedEvalQuery, input ast.Value) (rego.Vars, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("policy evaluation cancelled: %w", err)
	}
	limit := p.timeout()
	rs, timedOut, err := evalBounded(ctx, q, rego.EvalParsedInput(input), limit)
	if err != nil {
		return nil, evalError(ctx, limit, timedOut, err)
	}
	if len(rs) != 1 {
		// The comprehensions make the query always defined, once.
		return nil, &PolicyError{Code: "policy", Message: fmt.Sprintf("query gave %d results, want 1", len(rs))}
	}
	return rs[0].Bindings, nil
}

// inputError words a value the policy input cannot hold.
func inputError(err error) error {
	return &PolicyError{Code: "policy", Message: fmt.Sprintf("policy input: %v", err)}
}

// evalError locates an evaluation error in the policy and words a
// timeout as one: timedOut when the time limit stopped the evaluation;
// otherwise a cancelled one was stopped by ctx, the caller's.
func evalError(ctx context.Context, limit time.Duration, timedOut bool, err error) error {
	if topdown.IsCancel(err) {
		if timedOut || ctx.Err() == nil {
			return &PolicyError{Code: topdown.CancelErr,
				Message: fmt.Sprintf("policy evaluation took longer than %s: a rule iterates over too much", limit)}
		}
		return fmt.Errorf("policy evaluation cancelled: %w", ctx.Err())
	}
	var te *topdown.Error
	if errors.As(err, &te) {
		pe := &PolicyError{Code: te.Code, Message: te.Message}
		if te.Location != nil {
			pe.File, pe.Line, pe.Column = te.Location.File, te.Location.Row, te.Location.Col
		}
		return pe
	}
	var ae ast.Errors
	if errors.As(err, &ae) && len(ae) > 0 {
		pe := &PolicyError{Code: ae[0].Code, Message: ae[0].Message}
		if ae[0].Location != nil {
			pe.File, pe.Line, pe.Column = ae[0].Location.File, ae[0].Location.Row, ae[0].Location.Col
		}
		return pe
	}
	return fmt.Errorf("policy evaluation: %w", err)
}

// Decision is what the policies decided for one (runbook, subject).
type Decision struct {
	// Skip maps a step id to the reason it does not apply.
	Skip map[string]string
	// With maps a step id to parameters merged over the runbook's, as
	// OPA gives them: numbers are json.Number, which ConvertParam takes.
	With map[string]map[string]any
	// Deny holds the reasons the run must not happen, sorted; none means
	// it may.
	Deny []string
	// Warn holds messages shown with the plan, sorted.
	Warn []string
}

// Denied reports whether any policy refused the run.
func (d *Decision) Denied() bool { return len(d.Deny) > 0 }

// Decide evaluates data.revoke's skip, with, deny and warn rules with the
// input PolicyInput builds. An evaluation problem, including exceeding
// Policy.Timeout, is a *PolicyError naming the policy location when known.
func (p *Policy) Decide(ctx context.Context, input map[string]any) (*Decision, error) {
	value, err := ast.InterfaceToValue(input)
	if err != nil {
		return nil, inputError(err)
	}
	return p.decideValue(ctx, value)
}

// decideFor is Decide for a plan: the input built directly as OPA's value
// (inputValue), with the protection reasons already known.
func (p *Policy) decideFor(ctx context.Context, rb *Runbook, env EnvironmentFacts, subject *steps.Subject, req Request, protected []string) (*Decision, error) {
	runbook, err := cachedRunbookValue(p.runbooks, rb)
	if err != nil {
		return nil, inputError(err)
	}
	environment, err := cachedEnvironmentTerm(p.environments, env)
	if err != nil {
		return nil, inputError(err)
	}
	input, err := inputValueWith(runbook, environment, cachedRequestTerm(p.requests, req), subject, protected)
	if err != nil {
		return nil, inputError(err)
	}
	return p.decideValue(ctx, input)
}

// decideValue evaluates the decision query on an input in OPA's form and
// reads the decision from its result.
func (p *Policy) decideValue(ctx context.Context, input ast.Value) (*Decision, error) {
	vars, err := p.eval(ctx, p.decision, input)
	if err != nil {
		return nil, err
	}
	// The decision query hands back OPA's terms (keepTerms): read here
	// directly, without converting the whole result to Go values first.
	d := &Decision{Skip: map[string]string{}, With: map[string]map[string]any{}}
	if v := resultTerm(vars["skip"]); v != nil {
		obj, ok := v.Value.(ast.Object)
		if !ok {
			return nil, shapeError("skip", "an object of step id to reason", native(v.Value))
		}
		if err := obj.Iter(func(k, r *ast.Term) error {
			id := keyString(k.Value)
			s, ok := r.Value.(ast.String)
			if !ok {
				return shapeError(fmt.Sprintf("skip[%q]", id), "a reason string", native(r.Value))
			}
			d.Skip[id] = string(s)
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if v := resultTerm(vars["with_"]); v != nil {
		obj, ok := v.Value.(ast.Object)
		if !ok {
			return nil, shapeError("with", "an object of step id to parameters", native(v.Value))
		}
		if err := obj.Iter(func(k, w *ast.Term) error {
			id := keyString(k.Value)
			params, ok := native(w.Value).(map[string]any)
			if !ok {
				return shapeError(fmt.Sprintf("with[%q]", id), "an object of parameters", native(w.Value))
			}
			d.With[id] = params
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if d.Deny, err = stringSet(vars["deny"], "deny"); err != nil {
		return nil, err
	}
	if d.Warn, err = stringSet(vars["warn"], "warn"); err != nil {
		return nil, err
	}
	return d, nil
}

// keepTerms has a query's result bindings left as OPA's terms.
func keepTerms(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil }

// resultTerm unwraps a rule's value from its comprehension, in the
// decision query's result (keepTerms): nil when the rule is undefined.
func resultTerm(v any) *ast.Term {
	t, ok := v.(*ast.Term)
	if !ok {
		return nil
	}
	arr, ok := t.Value.(*ast.Array)
	if !ok || arr.Len() == 0 {
		return nil
	}
	return arr.Elem(0)
}

// native is v as the Go value ast.JSON makes of it (numbers as
// json.Number), or v itself should it not convert.
func native(v ast.Value) any {
	x, err := ast.JSON(v)
	if err != nil {
		return v
	}
	return x
}

// keyString is an object key as ast.JSON words it: a string as itself,
// any other key as its JSON text.
func keyString(k ast.Value) string {
	if s, ok := k.(ast.String); ok {
		return string(s)
	}
	data, err := json.Marshal(native(k))
	if err != nil {
		return k.String()
	}
	return string(data)
}

// single unwraps a rule's value from its comprehension, in a result
// converted to Go values (the lint query): absent when the rule is
// undefined.
func single(v any) (any, bool) {
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return nil, false
	}
	return arr[0], true
}

// stringSet reads a deny or warn rule's set of messages from the decision
// query's result: sorted, each once.
func stringSet(v any, rule string) ([]string, error) {
	x := resultTerm(v)
	if x == nil {
		return nil, nil
	}
	// A user may define an array as well as a set. Read without a
	// callback: one capturing the result cost three allocations a rule.
	var out []string
	switch c := x.Value.(type) {
	case ast.Set:
		// Slice is the set's own sorted list, read here, never changed.
		elems := c.Slice()
		out = make([]string, 0, len(elems))
		for _, e := range elems {
			s, ok := e.Value.(ast.String)
			if !ok {
				return nil, shapeError(rule, "a set of strings", native(x.Value))
			}
			out = append(out, string(s))
		}
	case *ast.Array:
		out = make([]string, 0, c.Len())
		for i := range c.Len() {
			s, ok := c.Elem(i).Value.(ast.String)
			if !ok {
				return nil, shapeError(rule, "a set of strings", native(x.Value))
			}
			out = append(out, string(s))
		}
	default:
		return nil, shapeError(rule, "a set of strings", native(x.Value))
	}
	if len(out) == 0 {
		return nil, nil
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

func shapeError(rule, want string, got any) error {
	return &PolicyError{Code: "policy",
		Message: fmt.Sprintf("data.revoke.%s must be %s, got %s", rule, want, typeName(got))}
}

// ApplyDecision merges the decision over the runbook: for every step that
// is not skipped, the policy's with over the runbook's, checked against the
// step's spec with defaults filled. A step the policy skips has no entry;
// neither has a step whose merged parameters are wrong (an Error naming the
// policy rule and the step, at the step). A skip or with naming a step the
// runbook lacks is a Warning: another runbook's steps may share a policy.
func ApplyDecision(rb *Runbook, d *Decision) (map[string]steps.Values, Lints) {
	out := make(map[string]steps.Values, len(rb.Steps))
	var lints Lints
	for _, s := range rb.Steps {
		if _, skipped := d.Skip[s.ID]; skipped {
			continue
		}
		over, ok := d.With[s.ID]
		if !ok {
			out[s.ID] = maps.Clone(s.With)
			if out[s.ID] == nil {
				out[s.ID] = steps.Values{}
			}
			continue
		}
		if s.Spec == nil {
			lints = append(lints, stepLint(rb, s, Error, fmt.Sprintf("policy data.revoke.with[%q]: step %s has no spec to check against", s.ID, s.ID)))
			continue
		}
		merged := ValuesJSON(s.With)
		maps.Copy(merged, over)
		vals, problems := CheckParams(s.Spec, merged)
		if len(problems) > 0 {
			for _, pr := range problems {
				lints = append(lints, stepLint(rb, s, Error, fmt.Sprintf("policy data.revoke.with[%q] for step %s: %s", s.ID, s.ID, pr)))
			}
			continue
		}
		out[s.ID] = vals
	}
	for _, id := range sortedKeys(d.Skip) {
		if rb.Step(id) == nil {
			lints = append(lints, stepLint(rb, nil, Warning, fmt.Sprintf("policy data.revoke.skip names step %q, which runbook %s does not have", id, rb.Name)))
		}
	}
	for _, id := range sortedKeys(d.With) {
		if rb.Step(id) == nil {
			lints = append(lints, stepLint(rb, nil, Warning, fmt.Sprintf("policy data.revoke.with names step %q, which runbook %s does not have", id, rb.Name)))
		}
	}
	return out, lints
}

// stepLint locates a Lint at a step of a runbook, or at 1:1 without one.
func stepLint(rb *Runbook, s *StepDef, level Level, msg string) Lint {
	l := Lint{File: rb.File, Line: 1, Column: 1, Level: level, Code: "policy", Message: msg}
	if s != nil && s.Line > 0 {
		l.Line, l.Column = s.Line, s.Column
	}
	return l
}

// Lint evaluates data.revoke.lint with {"runbook": …}: each violation is an
// Error, each advice a Warning, located at the step it names (1:1 when it
// names none). An evaluation problem is one Error located in the policy.
func (p *Policy) Lint(ctx context.Context, rb *Runbook) Lints {
	runbook, err := runbookValue(rb)
	if err != nil {
		return Lints{policyErrLint(inputError(err), rb.File)}
	}
	vars, err := p.eval(ctx, p.lint, ast.NewObject(ast.Item(ast.InternedTerm("runbook"), ast.NewTerm(runbook))))
	if err != nil {
		return Lints{policyErrLint(err, rb.File)}
	}
	var lints Lints
	for _, set := range []struct {
		rule  string
		level Level
	}{{"violation", Error}, {"advice", Warning}} {
		v, ok := single(vars[set.rule])
		if !ok {
			continue
		}
		items, ok := v.([]any)
		if !ok {
			lints = append(lints, policyErrLint(shapeError("lint."+set.rule, "a set of objects", v), rb.File))
			continue
		}
		for _, it := range items {
			obj, _ := it.(map[string]any)
			msg, ok := obj["message"].(string)
			if !ok {
				lints = append(lints, policyErrLint(shapeError("lint."+set.rule, `a set of {"runbook", "step", "message"} objects`, it), rb.File))
				continue
			}
			id, _ := obj["step"].(string)
			lints = append(lints, stepLint(rb, rb.Step(id), set.level, msg))
		}
	}
	lints.Sort()
	return lints
}

// policyErrLint turns an evaluation error into a Lint: at the policy
// location when there is one, else at file.
func policyErrLint(err error, file string) Lint {
	var pe *PolicyError
	if errors.As(err, &pe) {
		l := pe.Lint()
		if l.File == "" {
			l.File = file
		}
		return l
	}
	return Lint{File: file, Level: Error, Code: "policy", Message: err.Error()}
}

// Test runs every test_ rule of the loaded modules with OPA's tester, each
// within Policy.Timeout. A failing or erroring test is an Error at the
// test rule: `policy test data.revoke_test.test_x failed`. Skipped tests
// (todo_) count as neither passed nor failed.
//
// The built-in test modules run against the built-in policies alone (see
// Defaults), the user's against every policy: a team's deny or warn rule
// changes what the defaults' tests count, and they cannot edit those.
func (p *Policy) Test(ctx context.Context) (passed, failed int, lints Lints) {
	def := p.builtins()
	if def == nil {
		return p.runTests(ctx, p.modules)
	}
	passed, failed, lints = p.runTests(ctx, def.modules)
	user := map[string]*ast.Module{}
	hasTests := false
	for file, mod := range p.modules {
		if IsPolicyTest(file) && def.modules[file] != nil {
			continue // a built-in test, run above
		}
		user[file] = mod
		hasTests = hasTests || IsPolicyTest(file)
	}
	if hasTests {
		up, uf, ul := p.runTests(ctx, user)
		passed, failed, lints = passed+up, failed+uf, append(lints, ul...)
	}
	lints.Sort()
	return passed, failed, lints
}

// runTests runs the test_ rules of modules with OPA's tester.
func (p *Policy) runTests(ctx context.Context, modules map[string]*ast.Module) (passed, failed int, lints Lints) {
	store := inmem.New()
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return 0, 0, Lints{{Level: Error, Code: "policy-test", Message: fmt.Sprintf("policy tests: %v", err)}}
	}
	defer store.Abort(ctx, txn)
	runner := tester.NewRunner().
		// The tests' compiler has the decisions' capabilities, so a
		// test cannot reach the network either.
		SetCompiler(newPolicyCompiler()).
		SetStore(store).
		SetModules(modules).
		SetDefaultRegoVersion(ast.RegoV1).
		// As in decisions: a failing builtin is an error, not undefined.
		RaiseBuiltinErrors(true).
		SetTimeout(p.timeout())
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		// The modules compiled in CompilePolicies; the tester's extra
		// stages could still refuse something.
		ls := regoLints("", err)
		ls.Sort()
		return 0, 0, ls
	}
	var results []*tester.Result
	for r := range ch {
		results = append(results, r)
	}
	slices.SortFunc(results, func(a, b *tester.Result) int { return a.Location.Compare(b.Location) })
	for _, r := range results {
		switch {
		case r.Skip:
		case r.Pass():
			passed++
		default:
			failed++
			name := r.Package + "." + r.Name
			msg := "policy test " + name + " failed"
			switch {
			case r.Error != nil && topdown.IsCancel(r.Error) && ctx.Err() == nil:
				msg += fmt.Sprintf(": took longer than %s", p.timeout())
			case r.Error != nil:
				msg += ": " + evalError(ctx, p.timeout(), false, r.Error).Error()
			}
			l := Lint{Level: Error, Code: "policy-test", Message: msg}
			if r.Location != nil {
				l.File, l.Line, l.Column = r.Location.File, r.Location.Row, r.Location.Col
			}
			lints = append(lints, l)
		}
	}
	return passed, failed, lints
}
