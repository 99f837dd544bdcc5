package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/revoke-dev/revoke/steps"
)

// Runbook tests (*_test.yaml, beside the runbooks) say what the policies
// must decide for a runbook, an environment and a subject, so that a policy
// change that alters a plan fails CI. The format:
//
//	tests:
//	  - name: hybrid synced user            # unique in the file
//	    runbook: compromised                # a loaded runbook's name
//	    environment: {name: contoso, kind: hybrid, protected: []}
//	                                        # default: {name: test, kind: hybrid}
//	    subject:                            # ref, then one mapping per backend
//	      ref: adele@contoso.com            # that found the subject (the
//	      entra: {onPremisesSyncEnabled: true}   # subject.<backend> facts)
//	      ad: {sAMAccountName: adele, adminCount: 0}
//	    request: {requested_by: soc, reason: INC-1, ticket: …, approved_by: …,
//	              allow_protected: false}
//	    expect:
//	      run: [disable-ad-account]         # exactly the steps that run, any order
//	      skip: [reset-entra-password]      # exactly the steps skipped; or a
//	                                        # mapping of step id to a substring
//	                                        # of its skip reason
//	      with: {reset-ad-password: {times: 2}}   # these effective parameters
//	      deny: true                        # denied; or a list of substrings each
//	                                        # found in some deny reason
//	      warn: [next directory sync]       # each found in some warning
//
// Every expect key is optional. run and skip are only checked when given
// (`run: []` expects nothing to run). Without deny the run must not be
// denied: a surprise denial is a failure; `deny: false` says so explicitly.
// warn only checks that the listed substrings appear.

// RunbookTestCase is one decoded case of a runbook test file.
type RunbookTestCase struct {
	Name        string
	Runbook     string
	Environment EnvironmentFacts
	Subject     steps.Subject
	Request     Request
	Expect      RunbookExpect
	// File, Line and Column locate the case, for the Lints it fails with.
	File         string
	Line, Column int
	// Builtin marks a case of revoke's own runbook tests (embedded, or a
	// byte-identical copy), which Workspace.RunRunbookTests decides with
	// the built-in runbooks and policies alone.
	Builtin bool
}

// RunbookExpect is what a case expects of the decision.
type RunbookExpect struct {
	// Run and Skip are the exact sets of steps that run and are skipped;
	// nil means not checked.
	Run, Skip []string
	// SkipReasons maps a skipped step to a substring its reason must hold.
	SkipReasons map[string]string
	// With holds expected effective parameters by step id; only the listed
	// parameters are compared.
	With map[string]map[string]any
	// Denied says whether the run must be denied; DenyContains lists
	// substrings that must each appear in some deny reason.
	Denied       bool
	DenyContains []string
	// Warn lists substrings that must each appear in some warning.
	Warn []string
}

var (
	rbtTopKeys     = []string{"tests"}
	rbtCaseKeys    = []string{"name", "runbook", "environment", "subject", "request", "expect"}
	rbtEnvKeys     = []string{"name", "kind", "protected", "backends"}
	rbtRequestKeys = []string{"requested_by", "reason", "ticket", "approved_by", "allow_protected"}
	rbtExpectKeys  = []string{"run", "skip", "with", "deny", "warn"}
)

// DecodeRunbookTests decodes a runbook test file. Each problem is a Lint at
// its node; cases with problems are left out, the others returned.
func DecodeRunbookTests(file string, data []byte) ([]RunbookTestCase, Lints) {
	d := &nodeDecoder{file: file}
	var cases []RunbookTestCase
	if root := d.parse(data); root != nil {
		cases = decodeRunbookTests(d, root)
	}
	d.lints.Sort()
	return cases, d.lints
}

func decodeRunbookTests(d *nodeDecoder, root *yaml.Node) []RunbookTestCase {
	kv := d.mapping(root, "runbook test file", rbtTopKeys)
	f, ok := kv["tests"]
	if !ok {
		d.errorf(root, "missing", "missing tests")
		return nil
	}
	if !d.isKind(f.value, yaml.SequenceNode, "tests") {
		return nil
	}
	var cases []RunbookTestCase
	names := map[string]int{}
	for i, n := range f.value.Content {
		before := len(d.lints)
		c := decodeRunbookTestCase(d, fmt.Sprintf("test %d", i+1), n)
		if c.Name != "" {
			if line, dup := names[c.Name]; dup {
				d.errorf(n, "duplicate-test", "test name %q is already used at line %d", c.Name, line)
			} else {
				names[c.Name] = n.Line
			}
		}
		if d.lints[before:].Errors() == 0 {
			cases = append(cases, c)
		}
	}
	return cases
}

func decodeRunbookTestCase(d *nodeDecoder, what string, n *yaml.Node) RunbookTestCase {
	c := RunbookTestCase{File: d.file, Line: n.Line, Column: n.Column,
		Environment: EnvironmentFacts{Name: "test", Kind: "hybrid"}}
	kv := d.mapping(n, what, rbtCaseKeys)
	if kv == nil {
		return c
	}
	if f, ok := kv["name"]; ok {
		c.Name, _ = d.str(f.value, what+": name")
		what = fmt.Sprintf("test %q", c.Name)
	} else {
		d.errorf(n, "missing", "%s: missing name", what)
	}
	if f, ok := kv["runbook"]; ok {
		c.Runbook, _ = d.str(f.value, what+": runbook")
	} else {
		d.errorf(n, "missing", "%s: missing runbook", what)
	}
	if _, ok := kv["subject"]; !ok {
		d.errorf(n, "missing", "%s: missing subject", what)
	}
	d.situation(what, kv, &c.Environment, &c.Subject, &c.Request)
	if f, ok := kv["expect"]; ok {
		c.Expect = decodeTestExpect(d, what, f.value)
	} else {
		d.errorf(n, "missing", "%s: missing expect", what)
	}
	return c
}

func decodeTestSubject(d *nodeDecoder, what string, n *yaml.Node) steps.Subject {
	var s steps.Subject
	kv := d.mapping(n, what+": subject", nil)
	if kv == nil {
		return s
	}
	if f, ok := kv["ref"]; ok {
		s.Ref, _ = d.str(f.value, what+": subject.ref")
	} else {
		d.errorf(n, "missing", "%s: subject: missing ref", what)
	}
	for _, name := range sortedKeys(kv) {
		if name == "ref" {
			continue
		}
		f := kv[name]
		if !d.isKind(f.value, yaml.MappingNode, what+": subject."+name) {
			continue
		}
		v, ok := d.value(f.value, what+": subject."+name)
		if !ok {
			continue
		}
		if s.Facts == nil {
			s.Facts = map[string]map[string]any{}
		}
		s.Facts[name], _ = v.(map[string]any)
	}
	return s
}

func decodeTestExpect(d *nodeDecoder, what string, n *yaml.Node) RunbookExpect {
	var e RunbookExpect
	kv := d.mapping(n, what+": expect", rbtExpectKeys)
	if f, ok := kv["run"]; ok {
		e.Run = idList(d, f.value, what+": expect.run")
	}
	if f, ok := kv["skip"]; ok {
		if f.value.Kind == yaml.MappingNode {
			// id: substring of the reason.
			reasons := d.mapping(f.value, what+": expect.skip", nil)
			e.Skip, e.SkipReasons = []string{}, map[string]string{}
			for _, id := range sortedKeys(reasons) {
				e.Skip = append(e.Skip, id)
				e.SkipReasons[id], _ = d.str(reasons[id].value, what+": expect.skip."+id)
			}
		} else {
			e.Skip = idList(d, f.value, what+": expect.skip")
		}
	}
	if f, ok := kv["with"]; ok {
		byStep := d.mapping(f.value, what+": expect.with", nil)
		e.With = map[string]map[string]any{}
		for _, id := range sortedKeys(byStep) {
			sv := byStep[id].value
			if !d.isKind(sv, yaml.MappingNode, what+": expect.with."+id) {
				continue
			}
			v, ok := d.value(sv, what+": expect.with."+id)
			if !ok {
				continue
			}
			e.With[id], _ = v.(map[string]any)
		}
	}
	if f, ok := kv["deny"]; ok {
		if f.value.Kind == yaml.SequenceNode {
			e.DenyContains, _ = d.strList(f.value, what+": expect.deny")
			e.Denied = true
		} else {
			v, ok := d.value(f.value, what+": expect.deny")
			b, isBool := v.(bool)
			if ok && !isBool {
				d.errorf(f.value, "type", "%s: expect.deny: want true, false or a list of substrings, got %s", what, d.kindName(f.value))
			}
			e.Denied = b
		}
	}
	if f, ok := kv["warn"]; ok {
		e.Warn, _ = d.strList(f.value, what+": expect.warn")
	}
	return e
}

// RunRunbookTests decides each case with the policy and compares the
// outcome with its expectations. Each unmet expectation is an Error at the
// case: `test "hybrid synced user": step reset-ad-password: want times 2,
// got 1`. A case with no Error Lint passed.
func RunRunbookTests(ctx context.Context, cases []RunbookTestCase, runbooks map[string]*Runbook, pol *Policy) Lints {
	var lints Lints
	for i := range cases {
		lints = append(lints, runRunbookTest(ctx, &cases[i], runbooks, pol)...)
	}
	lints.Sort()
	return lints
}

func runRunbookTest(ctx context.Context, c *RunbookTestCase, runbooks map[string]*Runbook, pol *Policy) Lints {
	var lints Lints
	fail := func(format string, args ...any) {
		lints = append(lints, Lint{File: c.File, Line: c.Line, Column: c.Column, Level: Error,
			Code: "runbook-test", Message: fmt.Sprintf("test %q: ", c.Name) + fmt.Sprintf(format, args...)})
	}
	rb := runbooks[c.Runbook]
	if rb == nil {
		fail("no runbook named %q is loaded", c.Runbook)
		return lints
	}
	// Decided as a plan is, so the case sees what `revoke plan` would:
	// the engine's own protection after the policies included.
	subject := c.Subject
	plan, applyLints, err := pol.Plan(ctx, rb, c.Environment, &subject, c.Request)
	if err != nil {
		fail("policy evaluation failed: %v", err)
		return lints
	}
	for _, l := range applyLints {
		if l.Level == Error {
			fail("%s", l.Message)
		}
	}

	var ran, skipped []string
	reason := map[string]string{}
	for _, s := range plan.Steps {
		if s.Run {
			ran = append(ran, s.Def.ID)
		} else {
			skipped = append(skipped, s.Def.ID)
			reason[s.Def.ID] = s.Reason
		}
	}
	if c.Expect.Run != nil {
		for _, id := range c.Expect.Run {
			switch {
			case rb.Step(id) == nil:
				fail("expect.run: runbook %s has no step %s", rb.Name, id)
			case slices.Contains(skipped, id):
				fail("step %s: want it to run, but it is skipped: %s", id, reason[id])
			}
		}
		for _, id := range ran {
			if !slices.Contains(c.Expect.Run, id) {
				fail("step %s: runs, but expect.run does not list it", id)
			}
		}
	}
	if c.Expect.Skip != nil {
		for _, id := range c.Expect.Skip {
			switch {
			case rb.Step(id) == nil:
				fail("expect.skip: runbook %s has no step %s", rb.Name, id)
			case slices.Contains(ran, id):
				fail("step %s: want it skipped, but it runs", id)
			case !strings.Contains(reason[id], c.Expect.SkipReasons[id]):
				fail("step %s: want a skip reason containing %q, got %q", id, c.Expect.SkipReasons[id], reason[id])
			}
		}
		for _, id := range skipped {
			if !slices.Contains(c.Expect.Skip, id) {
				fail("step %s: skipped (%s), but expect.skip does not list it", id, reason[id])
			}
		}
	}
	for _, id := range sortedKeys(c.Expect.With) {
		s := rb.Step(id)
		switch {
		case s == nil:
			fail("expect.with: runbook %s has no step %s", rb.Name, id)
			continue
		case slices.Contains(skipped, id):
			fail("step %s: want parameters, but it is skipped: %s", id, reason[id])
			continue
		case s.Spec == nil:
			fail("step %s: %s has no spec to compare parameters with", id, s.Uses)
			continue
		}
		eff := plan.Step(id).With
		if eff == nil {
			continue // its parameters are wrong: already failed above
		}
		for _, name := range sortedKeys(c.Expect.With[id]) {
			p := s.Spec.Param(name)
			if p == nil {
				fail("step %s: %s has no parameter %q", id, s.Uses, name)
				continue
			}
			want, err := ConvertParam(p, c.Expect.With[id][name])
			if err != nil {
				fail("step %s: expect.with.%s: %v", id, name, err)
				continue
			}
			if got := eff[name]; !reflect.DeepEqual(want, got) {
				fail("step %s: want %s %s, got %s", id, name, jsonText(want), jsonText(got))
			}
		}
	}
	switch {
	case c.Expect.Denied && !plan.Denied():
		fail("want the run denied, but no policy denied it")
	case !c.Expect.Denied && plan.Denied():
		fail("want the run allowed, but it is denied: %s", strings.Join(plan.Deny, "; "))
	}
	for _, sub := range c.Expect.DenyContains {
		if plan.Denied() && !anyContains(plan.Deny, sub) {
			fail("no deny reason contains %q (got: %s)", sub, strings.Join(plan.Deny, "; "))
		}
	}
	for _, sub := range c.Expect.Warn {
		if !anyContains(plan.Warn, sub) {
			got := strings.Join(plan.Warn, "; ")
			if got == "" {
				got = "no warnings"
			}
			fail("no warning contains %q (got: %s)", sub, got)
		}
	}
	return lints
}

// idList decodes a list of step ids; an empty list is non-nil, so that
// `run: []` is checked.
func idList(d *nodeDecoder, n *yaml.Node, what string) []string {
	list, ok := d.strList(n, what)
	if ok && list == nil {
		list = []string{}
	}
	return list
}

func anyContains(list []string, sub string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, sub) })
}

// jsonText renders a parameter value as it would be written: 2, "wipe",
// "2m0s", ["a"].
func jsonText(v any) string {
	data, err := json.Marshal(ParamJSON(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}
