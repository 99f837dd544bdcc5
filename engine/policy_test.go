package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/revoke-dev/revoke/steps"
)

// specMirrorRegistry registers specs with the names and parameters of the
// built-in ad and entra steps. The engine must not import the plugins (the
// entra one pulls in the Graph SDK), so its tests mirror the parts of the
// specs that validation and policies look at.
func specMirrorRegistry() *steps.Registry {
	r := steps.NewRegistry()
	open := func(context.Context, *steps.Env) (steps.Conn, error) { return nil, errors.New("not in tests") }
	for _, b := range []string{"ad", "entra", "servicenow"} {
		r.RegisterBackend(steps.BackendSpec{Name: b, Summary: b, Kinds: []string{"hybrid", "cloud"}, Open: open})
	}
	resets := []steps.Param{
		{Name: "times", Type: steps.Int, Default: 1, Min: steps.Bounds(1), Max: steps.Bounds(5), Description: "How many resets."},
		{Name: "length", Type: steps.Int, Default: 32, Min: steps.Bounds(16), Max: steps.Bounds(256), Description: "Length."},
	}
	for _, s := range []steps.Spec{
		{Name: "ad.disable_account", Summary: "Disable the AD account"},
		{Name: "ad.reset_password", Summary: "Reset the AD password", Params: resets},
		{Name: "ad.remove_group_memberships", Summary: "Remove group memberships", Params: []steps.Param{
			{Name: "keep", Type: steps.StringList, Default: []string{}, Description: "Groups to keep."}}},
		{Name: "ad.annotate", Summary: "Note the run on the account", Params: []steps.Param{
			{Name: "attribute", Type: steps.Enum, Default: "info", Enum: []string{"info", "description"}, Description: "Where."},
			{Name: "text", Type: steps.String, Default: "Disabled by revoke run {run} on {date} for {requested_by}; ticket {ticket}; reason: {reason}", Description: "What."}}},
		{Name: "ad.move_to_ou", Summary: "Move to an OU", Params: []steps.Param{
			{Name: "ou", Type: steps.String, Description: "The OU."}}},
		{Name: "entra.disable_user", Summary: "Block sign-in"},
		{Name: "entra.revoke_sessions", Summary: "Revoke sessions"},
		{Name: "entra.disable_devices", Summary: "Disable devices", Params: []steps.Param{
			{Name: "managed_action", Type: steps.Enum, Default: "none", Enum: []string{"none", "retire", "wipe"}, Description: "Intune action."},
			{Name: "grace", Type: steps.Duration, Default: time.Duration(0), Description: "A duration, for tests."}}},
		{Name: "entra.reset_password", Summary: "Reset the cloud password", Params: resets},
		{Name: "entra.confirm_compromised", Summary: "Confirm compromised"},
		{Name: "entra.remove_auth_methods", Summary: "Delete sign-in methods", Params: []steps.Param{
			{Name: "keep", Type: steps.StringList, Default: []string{}, Description: "Method types to keep."}}},
		{Name: "entra.remove_inbox_rules", Summary: "Delete inbox rules", Params: []steps.Param{
			{Name: "match", Type: steps.Enum, Default: "suspicious", Enum: []string{"suspicious", "all"}, Description: "Which rules."}}},
		{Name: "entra.revoke_consents", Summary: "Delete delegated consents"},
		{Name: "entra.remove_roles", Summary: "Remove directory roles"},
		{Name: "entra.remove_app_assignments", Summary: "Remove app assignments"},
		{Name: "entra.remove_group_memberships", Summary: "Remove cloud group memberships"},
		{Name: "entra.remove_licenses", Summary: "Remove direct licences"},
		{Name: "servicenow.open_ticket", Summary: "Open a ticket", Params: []steps.Param{
			{Name: "apps", Type: steps.StringList, Description: "Apps."}}},
	} {
		r.Register(s)
	}
	return r
}

// The mirror must not drift from the real specs: the same steps, and each
// real parameter with the same type, requiredness, default, enum and
// bounds ("grace", the mirror's own test parameter, aside).
func TestSpecMirrorMatchesTheRealSpecs(t *testing.T) {
	mirror, real := specMirrorRegistry(), testRegistry(t)
	var realNames []string
	for _, n := range real.StepNames() {
		if !strings.HasPrefix(n, "ad.test_") {
			realNames = append(realNames, n)
		}
	}
	if got := mirror.StepNames(); !slices.Equal(got, realNames) {
		t.Fatalf("mirror steps %v, real %v", got, realNames)
	}
	type shape struct {
		Type     steps.ParamType
		Required bool
		Default  any
		Enum     []string
		Min, Max any
	}
	shapeOf := func(p steps.Param) shape {
		sh := shape{Type: p.Type, Required: p.Required, Default: p.Default, Enum: p.Enum}
		if p.Min != nil {
			sh.Min = *p.Min
		}
		if p.Max != nil {
			sh.Max = *p.Max
		}
		return sh
	}
	for _, n := range realNames {
		m, _ := mirror.Step(n)
		r, _ := real.Step(n)
		params := map[string]steps.Param{}
		for _, p := range m.Params {
			if p.Name != "grace" {
				params[p.Name] = p
			}
		}
		if len(params) != len(r.Params) {
			t.Errorf("%s: mirror params %v, real %d", n, params, len(r.Params))
		}
		for _, rp := range r.Params {
			if mp, ok := params[rp.Name]; !ok || !reflect.DeepEqual(shapeOf(mp), shapeOf(rp)) {
				t.Errorf("%s.%s: mirror %+v, real %+v", n, rp.Name, shapeOf(mp), shapeOf(rp))
			}
		}
	}
}

// mustPolicy compiles sources, failing the test on any Lint.
func mustPolicy(t testing.TB, srcs []PolicySource) *Policy {
	t.Helper()
	p, lints := CompilePolicies(srcs)
	if len(lints) > 0 || p == nil {
		t.Fatalf("CompilePolicies: %v", lints)
	}
	p.Registry = testRegistry(t) // the backends identify subjects for the built-in protection
	return p
}

// regoSources turns file → text pairs into sources.
func regoSources(files ...string) []PolicySource {
	var out []PolicySource
	for i := 0; i+1 < len(files); i += 2 {
		out = append(out, PolicySource{File: files[i], Data: []byte(files[i+1])})
	}
	return out
}

// policyTestRunbook is a hybrid compromised runbook built by hand, so that
// these tests do not depend on the runbook decoder.
func policyTestRunbook(t testing.TB) *Runbook {
	t.Helper()
	reg := specMirrorRegistry()
	step := func(id, uses string, line int, with steps.Values, needs ...string) *StepDef {
		spec, ok := reg.Step(uses)
		if !ok {
			t.Fatalf("no spec %s", uses)
		}
		vals, problems := CheckParams(spec, with)
		if len(problems) > 0 {
			t.Fatalf("%s: %v", id, problems)
		}
		return &StepDef{ID: id, Uses: uses, Spec: spec, Needs: needs, With: vals, Line: line, Column: 5}
	}
	return &Runbook{Version: 1, Name: "compromised", Scenario: "compromised", File: "compromised.yaml",
		Steps: []*StepDef{
			step("disable-ad-account", "ad.disable_account", 10, nil),
			step("disable-entra-user", "entra.disable_user", 12, nil),
			step("reset-ad-password", "ad.reset_password", 14, steps.Values{"times": 2}, "disable-ad-account"),
			step("reset-entra-password", "entra.reset_password", 18, steps.Values{"times": 2}, "disable-entra-user"),
			step("disable-devices", "entra.disable_devices", 22, steps.Values{"grace": "90s"}, "disable-entra-user"),
			step("revoke-sessions", "entra.revoke_sessions", 25, nil, "disable-entra-user", "reset-ad-password", "reset-entra-password"),
		}}
}

// syncedSubject is found in both directories and synced.
func syncedSubject() *steps.Subject {
	return &steps.Subject{Ref: "adele@contoso.com", Facts: map[string]map[string]any{
		"entra": {"id": "u1", "userPrincipalName": "adele@contoso.com", "accountEnabled": true,
			"onPremisesSyncEnabled": true, "privilegedRoles": []string{}},
		"ad": {"distinguishedName": "CN=Adele Vance,OU=Staff,DC=contoso,DC=com", "sAMAccountName": "adele",
			"userAccountControl": 512, "disabled": false, "adminCount": 0,
			"memberOf": []string{"CN=Sales,OU=Groups,DC=contoso,DC=com"}},
	}}
}

var contosoFacts = EnvironmentFacts{Name: "contoso", Kind: "hybrid", Protected: []string{"breakglass1@contoso.com"}}

func TestBuiltinPoliciesPassTheirTests(t *testing.T) {
	srcs := BuiltinPolicies()
	p := mustPolicy(t, srcs)
	// Count the test rules in the sources, so a test that silently stops
	// being found (a renamed package, a parse change) fails here.
	testRule := regexp.MustCompile(`(?m)^test_\w+`)
	want := 0
	for _, s := range srcs {
		if !strings.HasPrefix(s.File, "builtin:policies/") {
			t.Errorf("file %q: want the builtin:policies/ prefix", s.File)
		}
		want += len(testRule.FindAll(s.Data, -1))
	}
	if want < 30 {
		t.Fatalf("found %d test rules in the built-in policies; expected the full suite", want)
	}
	passed, failed, lints := p.Test(context.Background())
	if passed != want || failed != 0 || len(lints) != 0 {
		t.Errorf("Test: passed %d failed %d, want %d and 0; lints:\n%s", passed, failed, want, lintText(lints))
	}
}

func lintText(ls Lints) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestCompilePoliciesReportsRegoProblems(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  []string
		codes []string
	}{
		{
			name:  "a parse error is located at the offending token",
			files: []string{"p/bad.rego", "package revoke\n\ndeny contains msg if {\n\tmsg := \n}\n"},
			want:  []string{"p/bad.rego:5:1: error: rego_parse_error: unexpected } token"},
			codes: []string{"rego_parse_error"},
		},
		{
			name:  "Rego v0 syntax is refused",
			files: []string{"v0.rego", "package revoke\n\ndeny[msg] { msg := \"no\" }\n"},
			want: []string{
				"v0.rego:3:1: error: rego_parse_error: `contains` keyword is required for partial set rules",
				"v0.rego:3:1: error: rego_parse_error: `if` keyword is required before rule body",
			},
			codes: []string{"rego_parse_error", "rego_parse_error"},
		},
		{
			name:  "an unsafe variable is a compile error",
			files: []string{"unsafe.rego", "package revoke\n\ndeny contains msg if {\n\tinput.x == 1\n}\n"},
			want:  []string{"unsafe.rego:3:15: error: rego_unsafe_var_error: var msg is unsafe"},
			codes: []string{"rego_unsafe_var_error"},
		},
		{
			name:  "a type error is reported with OPA's code",
			files: []string{"types.rego", "package revoke\n\nwarn contains x if {\n\tx := 1 + \"a\"\n}\n"},
			want:  []string{"types.rego:4:7: error: rego_type_error: plus: invalid argument(s)"},
			codes: []string{"rego_type_error"},
		},
		{
			name:  "a variable assigned twice is a compile error",
			files: []string{"twice.rego", "package revoke\n\nwarn contains x if {\n\tx := \"a\"\n\tx := \"b\"\n}\n"},
			want:  []string{"twice.rego:5:2: error: rego_compile_error: var x assigned above"},
			codes: []string{"rego_compile_error"},
		},
		{
			name: "problems of one stage are reported in every file, tests included",
			files: []string{
				"a.rego", "package revoke\n\ndeny contains \"x\" if {\n\tinput.x == z\n}\n",
				"a_test.rego", "package revoke_test\n\ntest_x if {\n\tdata.revoke.skip == y\n}\n",
			},
			want: []string{
				"a.rego:4:2: error: rego_unsafe_var_error: var z is unsafe",
				"a_test.rego:4:2: error: rego_unsafe_var_error: var y is unsafe",
			},
			codes: []string{"rego_unsafe_var_error", "rego_unsafe_var_error"},
		},
		{
			name:  "the same file twice is refused",
			files: []string{"x.rego", "package revoke\n", "x.rego", "package revoke\n"},
			want:  []string{"x.rego: error: policy file loaded twice"},
			codes: []string{"duplicate-policy"},
		},
		{
			name:  "an empty module is refused",
			files: []string{"empty.rego", "# nothing here\n"},
			want:  []string{"empty.rego: error: rego_parse_error: empty module"},
			codes: []string{"rego_parse_error"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, lints := CompilePolicies(regoSources(tt.files...))
			if p != nil {
				t.Errorf("got a Policy despite errors")
			}
			if got := lintStrings(lints); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			var codes []string
			for _, l := range lints {
				codes = append(codes, l.Code)
			}
			if !reflect.DeepEqual(codes, tt.codes) {
				t.Errorf("codes %v, want %v", codes, tt.codes)
			}
		})
	}
}

func TestDecideHybridSyncedSubject(t *testing.T) {
	p := mustPolicy(t, BuiltinPolicies())
	rb := policyTestRunbook(t)
	d, err := p.Decide(context.Background(), PolicyInput(rb, contosoFacts, syncedSubject(), Request{RequestedBy: "soc", Reason: "INC-1"}))
	if err != nil {
		t.Fatal(err)
	}
	want := &Decision{
		Skip: map[string]string{"reset-entra-password": "synced from on-premises AD: the password is mastered there, so the on-premises reset is the one that counts"},
		With: map[string]map[string]any{
			"reset-ad-password":    {"times": json.Number("2")},
			"reset-entra-password": {"times": json.Number("2")},
		},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("decision %#v\nwant %#v", d, want)
	}
	if d.Denied() {
		t.Error("Denied() is true without deny reasons")
	}
}

func TestDecideCollectsAndSortsDenyAndWarn(t *testing.T) {
	p := mustPolicy(t, regoSources("d.rego", `package revoke

deny contains "b: second" if input.subject.ref == "x"
deny contains "a: first" if input.subject.ref == "x"
warn contains "z" if true
warn contains "y" if true
`))
	rb := policyTestRunbook(t)
	d, err := p.Decide(context.Background(), PolicyInput(rb, contosoFacts, &steps.Subject{Ref: "x"}, Request{}))
	if err != nil {
		t.Fatal(err)
	}
	want := &Decision{Skip: map[string]string{}, With: map[string]map[string]any{},
		Deny: []string{"a: first", "b: second"}, Warn: []string{"y", "z"}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("decision %#v\nwant %#v", d, want)
	}
	if !d.Denied() {
		t.Error("Denied() is false with deny reasons")
	}
}

// deny and warn are read from a set or, should a policy define one, an
// array: sorted, each once, nothing when empty; anything but strings is
// the policy's error. Reading one costs the list it gives and nothing
// more.
func TestDecideReadsDenyAndWarnFromSetsAndArrays(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		deny, warn []string
		err        string
	}{
		{name: "sets are sorted", src: "deny contains \"b\"\ndeny contains \"a\"\nwarn contains \"w\"\n",
			deny: []string{"a", "b"}, warn: []string{"w"}},
		{name: "an array is sorted and each message kept once", src: "deny := [\"b\", \"a\", \"b\"]\nwarn := [\"w\"]\n",
			deny: []string{"a", "b"}, warn: []string{"w"}},
		{name: "empty set and array give nothing", src: "deny := set()\nwarn := []\n"},
		{name: "a number in an array is an error", src: "deny := [\"a\", 1]\n",
			err: "policy: data.revoke.deny must be a set of strings, got a list"},
		{name: "a number in a set is an error", src: "warn := {\"a\", 1}\n",
			err: "policy: data.revoke.warn must be a set of strings, got a list"},
		{name: "an object is an error", src: "warn := {\"a\": 1}\n",
			err: "policy: data.revoke.warn must be a set of strings, got a mapping"},
	}
	input := PolicyInput(policyTestRunbook(t), contosoFacts, &steps.Subject{Ref: "x"}, Request{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPolicy(t, regoSources("d.rego", "package revoke\n\n"+tt.src))
			d, err := p.Decide(context.Background(), input)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Deny, tt.deny) || !reflect.DeepEqual(d.Warn, tt.warn) {
				t.Errorf("deny %#v warn %#v, want %#v and %#v", d.Deny, d.Warn, tt.deny, tt.warn)
			}
		})
	}
	set := ast.ArrayTerm(ast.SetTerm(ast.StringTerm("b"), ast.StringTerm("a")))
	array := ast.ArrayTerm(ast.ArrayTerm(ast.StringTerm("b"), ast.StringTerm("a")))
	for name, v := range map[string]*ast.Term{"a set": set, "an array": array} {
		if n := testing.AllocsPerRun(100, func() { _, _ = stringSet(v, "deny") }); n != 1 {
			t.Errorf("reading %s of two messages made %v allocations, want 1 (the list)", name, n)
		}
	}
}

func TestDecideReportsEvaluationErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		timeout time.Duration
		want    string
	}{
		{
			name: "two rules giving one step different reasons conflict",
			src: `package revoke

skip["disable-ad-account"] := "one reason" if true
skip["disable-ad-account"] := "another reason" if true
`,
			want: "conflict.rego:4:1: eval_conflict_error: rule data.revoke.skip[\"disable-ad-account\"] produced conflicting values:\n" +
				"  \"one reason\" at conflict.rego:3\n" +
				"  \"another reason\" at conflict.rego:4",
		},
		{
			name: "a complete rule with two values conflicts",
			src: `package revoke

mode := "a" if input.scenario == "compromised"
mode := "b" if input.runbook.name == "compromised"
warn contains mode
`,
			want: "conflict.rego:4:1: eval_conflict_error: rule data.revoke.mode produced conflicting values:\n" +
				"  \"a\" at conflict.rego:3\n" +
				"  \"b\" at conflict.rego:4",
		},
		{
			name: "a failing builtin is an error, not an undefined value",
			src: `package revoke

warn contains sprintf("%d", [to_number(input.subject.ref)])
`,
			want: `conflict.rego:3:30: eval_builtin_error: to_number: strconv.ParseFloat: parsing "adele@contoso.com": invalid syntax`,
		},
		{
			name: "a policy that iterates too long is stopped",
			src: `package revoke

warn contains "big" if {
	count([1 | some i in numbers.range(1, 100000); some j in numbers.range(1, 100000)]) > 0
}
`,
			timeout: 50 * time.Millisecond,
			want:    "eval_cancel_error: policy evaluation took longer than 50ms: a rule iterates over too much",
		},
		{
			name: "skip must map step ids to strings",
			src:  "package revoke\n\nskip[\"disable-ad-account\"] := 3\n",
			want: `policy: data.revoke.skip["disable-ad-account"] must be a reason string, got a number`,
		},
		{
			name: "with must hold objects",
			src:  "package revoke\n\nwith[\"reset-ad-password\"] := 2\n",
			want: `policy: data.revoke.with["reset-ad-password"] must be an object of parameters, got a number`,
		},
		{
			name: "deny must be a set of strings",
			src:  "package revoke\n\ndeny contains {\"msg\": \"no\"}\n",
			want: `policy: data.revoke.deny must be a set of strings, got a list`,
		},
		{
			name: "warn must be a set",
			src:  "package revoke\n\nwarn := \"careful\"\n",
			want: `policy: data.revoke.warn must be a set of strings, got a string`,
		},
	}
	rb := policyTestRunbook(t)
	input := PolicyInput(rb, contosoFacts, syncedSubject(), Request{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPolicy(t, regoSources("conflict.rego", tt.src))
			p.Timeout = tt.timeout
			d, err := p.Decide(context.Background(), input)
			if err == nil {
				t.Fatalf("no error; decision %#v", d)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Errorf("error is %T, want *PolicyError", err)
			}
		})
	}
}

func TestDecideHonoursCallerCancellation(t *testing.T) {
	p := mustPolicy(t, BuiltinPolicies())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Decide(ctx, PolicyInput(policyTestRunbook(t), contosoFacts, syncedSubject(), Request{}))
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want one wrapping context.Canceled", err)
	}
}

func TestTestModulesDoNotTakePartInDecisions(t *testing.T) {
	p := mustPolicy(t, regoSources(
		"p.rego", "package revoke\n\nwarn contains \"real\"\n",
		"p_test.rego", "package revoke\n\ndeny contains \"from a test helper\"\n\ntest_warns if \"real\" in warn\n",
	))
	d, err := p.Decide(context.Background(), PolicyInput(policyTestRunbook(t), contosoFacts, syncedSubject(), Request{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Deny) != 0 || !reflect.DeepEqual(d.Warn, []string{"real"}) {
		t.Errorf("deny %q warn %q, want no deny and [real]", d.Deny, d.Warn)
	}
	if passed, failed, lints := p.Test(context.Background()); passed != 1 || failed != 0 || lints != nil {
		t.Errorf("Test: %d passed, %d failed, %v; want 1, 0, none", passed, failed, lints)
	}
}

func TestPolicyTestReportsFailures(t *testing.T) {
	p := mustPolicy(t, regoSources(
		"p.rego", "package revoke\n\nwarn contains \"w\"\n\nnum := to_number(input.n)\n",
		"p_test.rego", `package revoke_test

import data.revoke

test_passes if "w" in revoke.warn

test_fails if "other" in revoke.warn

test_errors if revoke.num == 1 with input as {"n": "x"}

todo_test_later if false

test_loops if {
	count([1 | some i in numbers.range(1, 100000); some j in numbers.range(1, 100000)]) == 0
}
`))
	p.Timeout = 50 * time.Millisecond
	passed, failed, lints := p.Test(context.Background())
	want := []string{
		"p_test.rego:7:1: error: policy test data.revoke_test.test_fails failed",
		`p_test.rego:9:1: error: policy test data.revoke_test.test_errors failed: p.rego:5:8: eval_builtin_error: to_number: strconv.ParseFloat: parsing "x": invalid syntax`,
		"p_test.rego:13:1: error: policy test data.revoke_test.test_loops failed: took longer than 50ms",
	}
	if got := lintStrings(lints); !reflect.DeepEqual(got, want) {
		t.Errorf("lints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if passed != 1 || failed != 3 {
		t.Errorf("passed %d failed %d, want 1 and 3", passed, failed)
	}
	for _, l := range lints {
		if l.Code != "policy-test" || l.Level != Error {
			t.Errorf("%s: code %q level %q, want policy-test error", l, l.Code, l.Level)
		}
	}
}

func TestApplyDecision(t *testing.T) {
	rb := policyTestRunbook(t)
	tests := []struct {
		name     string
		decision Decision
		want     map[string]steps.Values
		lints    []string
	}{
		{
			name:     "no decision keeps the runbook's parameters",
			decision: Decision{},
			want: map[string]steps.Values{
				"disable-ad-account":   {},
				"disable-entra-user":   {},
				"reset-ad-password":    {"times": 2, "length": 32},
				"reset-entra-password": {"times": 2, "length": 32},
				"disable-devices":      {"managed_action": "none", "grace": 90 * time.Second},
				"revoke-sessions":      {},
			},
		},
		{
			name: "policy parameters win over the runbook's and skipped steps drop out",
			decision: Decision{
				Skip: map[string]string{"reset-entra-password": "synced", "disable-ad-account": "cloud"},
				With: map[string]map[string]any{
					"reset-ad-password": {"times": 3.0},
					"disable-devices":   {"managed_action": "retire", "grace": "2m"},
				},
			},
			want: map[string]steps.Values{
				"disable-entra-user": {},
				"reset-ad-password":  {"times": 3, "length": 32},
				"disable-devices":    {"managed_action": "retire", "grace": 2 * time.Minute},
				"revoke-sessions":    {},
			},
		},
		{
			name: "a bad override is an error at the step, naming the rule",
			decision: Decision{With: map[string]map[string]any{
				"reset-ad-password": {"times": 9.0, "colour": "red"},
				"disable-devices":   {"managed_action": "burn"},
			}},
			want: map[string]steps.Values{
				"disable-ad-account":   {},
				"disable-entra-user":   {},
				"reset-entra-password": {"times": 2, "length": 32},
				"revoke-sessions":      {},
			},
			lints: []string{
				`compromised.yaml:14:5: error: policy data.revoke.with["reset-ad-password"] for step reset-ad-password: ad.reset_password has no parameter "colour" (it has times, length)`,
				`compromised.yaml:14:5: error: policy data.revoke.with["reset-ad-password"] for step reset-ad-password: ad.reset_password.times: 9 is out of range 1–5`,
				`compromised.yaml:22:5: error: policy data.revoke.with["disable-devices"] for step disable-devices: entra.disable_devices.managed_action: "burn" is not one of none, retire, wipe`,
			},
		},
		{
			name: "naming a step the runbook lacks is a warning",
			decision: Decision{
				Skip: map[string]string{"remove-ad-groups": "cloud", "revoke-sessions": "r"},
				With: map[string]map[string]any{"reset-teams-password": {"times": 2.0}},
			},
			want: map[string]steps.Values{
				"disable-ad-account":   {},
				"disable-entra-user":   {},
				"reset-ad-password":    {"times": 2, "length": 32},
				"reset-entra-password": {"times": 2, "length": 32},
				"disable-devices":      {"managed_action": "none", "grace": 90 * time.Second},
			},
			lints: []string{
				`compromised.yaml:1:1: warning: policy data.revoke.skip names step "remove-ad-groups", which runbook compromised does not have`,
				`compromised.yaml:1:1: warning: policy data.revoke.with names step "reset-teams-password", which runbook compromised does not have`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, lints := ApplyDecision(rb, &tt.decision)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("with %v\nwant %v", got, tt.want)
			}
			lints.Sort()
			if gl := lintStrings(lints); !reflect.DeepEqual(gl, append([]string{}, tt.lints...)) {
				t.Errorf("lints:\n%s\nwant:\n%s", strings.Join(gl, "\n"), strings.Join(tt.lints, "\n"))
			}
		})
	}
	// The runbook's own values are never changed by a merge.
	if rb.Step("reset-ad-password").With.Int("times") != 2 {
		t.Error("ApplyDecision changed the runbook")
	}
}

func TestPolicyLint(t *testing.T) {
	p := mustPolicy(t, BuiltinPolicies())
	rb := policyTestRunbook(t)
	if lints := p.Lint(context.Background(), rb); len(lints) != 0 {
		t.Errorf("good runbook: %s", lintText(lints))
	}

	bad := policyTestRunbook(t)
	bad.Step("reset-ad-password").With["times"] = 1
	bad.Step("revoke-sessions").Needs = []string{"reset-ad-password"} // reaches disable-ad-account only
	want := []string{
		"compromised.yaml:14:5: error: step reset-ad-password resets the on-premises password 1 time(s); a compromised account needs times: 2 or more, so that neither a stolen hash nor the previous password stays valid",
		"compromised.yaml:25:5: error: step revoke-sessions (entra.revoke_sessions) must need disable-entra-user (entra.disable_user), directly or through other steps: until the account is disabled a fresh sign-in re-opens a revoked session",
	}
	lints := p.Lint(context.Background(), bad)
	if got := lintStrings(lints); !reflect.DeepEqual(got, want) {
		t.Errorf("lints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, l := range lints {
		if l.Code != "policy" {
			t.Errorf("%s: code %q, want policy", l, l.Code)
		}
	}

	noReset := policyTestRunbook(t)
	noReset.Steps = []*StepDef{noReset.Step("disable-entra-user")}
	want = []string{"compromised.yaml:1:1: warning: runbook compromised is for compromised accounts but never resets the on-premises password (ad.reset_password); fine for cloud-only tenants only"}
	if got := lintStrings(p.Lint(context.Background(), noReset)); !reflect.DeepEqual(got, want) {
		t.Errorf("lints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPolicyLintReportsPolicyProblems(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{
			name: "an evaluation error is located in the policy",
			src:  "package revoke.lint\n\nviolation contains {\"message\": sprintf(\"%d\", [to_number(input.runbook.name)])}\n",
			want: []string{`l.rego:3:47: error: eval_builtin_error: to_number: strconv.ParseFloat: parsing "compromised": invalid syntax`},
		},
		{
			name: "a violation without a message is reported",
			src:  "package revoke.lint\n\nviolation contains \"just a string\"\n",
			want: []string{`compromised.yaml: error: policy: data.revoke.lint.violation must be a set of {"runbook", "step", "message"} objects, got a string`},
		},
		{
			name: "a step the runbook lacks is located at 1:1",
			src:  "package revoke.lint\n\nadvice contains {\"step\": \"nope\", \"message\": \"hm\"}\n",
			want: []string{"compromised.yaml:1:1: warning: hm"},
		},
	}
	rb := policyTestRunbook(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPolicy(t, regoSources("l.rego", tt.src))
			if got := lintStrings(p.Lint(context.Background(), rb)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestPolicyDigest(t *testing.T) {
	a := regoSources("a.rego", "package revoke\n", "b.rego", "package revoke.lint\n")
	b := []PolicySource{a[1], a[0]}
	pa, pb := mustPolicy(t, a), mustPolicy(t, b)
	if pa.Digest != pb.Digest || len(pa.Digest) != 64 {
		t.Errorf("digests %q and %q: want one 64-digit digest whatever the order", pa.Digest, pb.Digest)
	}
	if !reflect.DeepEqual(pa.Files, []string{"a.rego", "b.rego"}) {
		t.Errorf("files %q", pa.Files)
	}
	changed := mustPolicy(t, regoSources("a.rego", "package revoke\n\n", "b.rego", "package revoke.lint\n"))
	renamed := mustPolicy(t, regoSources("c.rego", "package revoke\n", "b.rego", "package revoke.lint\n"))
	if changed.Digest == pa.Digest || renamed.Digest == pa.Digest {
		t.Error("digest ignores a change of text or name")
	}
}

func BenchmarkDecide(b *testing.B) {
	p := mustPolicy(b, BuiltinPolicies())
	rb := policyTestRunbook(b)
	subject := syncedSubject()
	req := Request{RequestedBy: "soc", Reason: "INC-1"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Decide(ctx, PolicyInput(rb, contosoFacts, subject, req)); err != nil {
			b.Fatal(err)
		}
	}
}

// Decide a termination for a cloud-only user of a hybrid tenant with the
// built-in policies, then merge the decision over the runbook.
func ExamplePolicy_Decide() {
	pol, lints := CompilePolicies(BuiltinPolicies())
	if len(lints) > 0 {
		fmt.Println(lints)
		return
	}
	reg := specMirrorRegistry()
	rb, _ := DecodeRunbook("termination.yaml", []byte(`version: 1
name: termination
steps:
  - id: disable-ad-account
    uses: ad.disable_account
  - id: disable-entra-user
    uses: entra.disable_user
  - id: reset-entra-password
    uses: entra.reset_password
    needs: [disable-entra-user]
    with: {times: 3}
`), reg)
	subject := &steps.Subject{Ref: "megan@contoso.com", Facts: map[string]map[string]any{
		"entra": {"userPrincipalName": "megan@contoso.com", "onPremisesSyncEnabled": false},
	}}
	env := EnvironmentFacts{Name: "contoso", Kind: "hybrid"}
	d, err := pol.Decide(context.Background(), PolicyInput(rb, env, subject, Request{RequestedBy: "hr", Reason: "leaver"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	with, _ := ApplyDecision(rb, d)
	for _, s := range rb.Steps {
		if reason, skipped := d.Skip[s.ID]; skipped {
			fmt.Printf("%s: skipped: %s\n", s.ID, reason)
			continue
		}
		fmt.Printf("%s: runs with %v\n", s.ID, with[s.ID])
	}
	// Output:
	// disable-ad-account: skipped: megan@contoso.com was not found in on-premises Active Directory
	// disable-entra-user: runs with map[]
	// reset-entra-password: runs with map[length:32 times:1]
}

// The builtins left out of policies are exactly OPA's non-deterministic
// ones; docs/policies.md lists them, so an OPA upgrade that changes the
// list fails here first.
func TestPoliciesLeaveOutNetworkAndHostBuiltins(t *testing.T) {
	want := []string{
		"http.send", "io.jwt.decode_verify", "io.jwt.encode_sign", "io.jwt.encode_sign_raw",
		"json.match_schema", "json.verify_schema", "net.lookup_ip_addr", "opa.runtime",
		"rand.intn", "time.now_ns", "uuid.rfc4122",
	}
	if !reflect.DeepEqual(excludedBuiltins, want) {
		t.Errorf("excluded builtins %q\nwant %q", excludedBuiltins, want)
	}
	for _, b := range policyCapabilities.Builtins {
		if slices.Contains(want, b.Name) {
			t.Errorf("%s is still in the capabilities", b.Name)
		}
	}
}

// hitCounter is an HTTP server that counts the requests it receives: a
// policy that reached it would have sent the subject's facts away.
func hitCounter(t *testing.T) (url string, hits *atomic.Int64) {
	hits = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, hits
}

func TestPolicyCallingANetworkOrHostBuiltinIsRefused(t *testing.T) {
	url, hits := hitCounter(t)
	why := " is not available to revoke policies: they reach no network and no host state, and decide the same way every time (docs/policies.md lists the builtins left out)"
	tests := []struct {
		name  string
		files []string
		want  []string
	}{
		{
			name: "http.send in a decision rule",
			files: []string{"p/exfil.rego", "package revoke\n\nwarn contains \"sent\" if {\n\thttp.send({\"method\": \"POST\", \"url\": \"" + url +
				"\", \"body\": input.subject})\n}\n"},
			want: []string{"p/exfil.rego:4:2: error: rego_type_error: http.send" + why},
		},
		{
			name:  "http.send in a policy test",
			files: []string{"p/exfil_test.rego", "package revoke_test\n\ntest_send if {\n\thttp.send({\"method\": \"GET\", \"url\": \"" + url + "\"})\n}\n"},
			want:  []string{"p/exfil_test.rego:4:2: error: rego_type_error: http.send" + why},
		},
		{
			name:  "opa.runtime, which reads the environment variables",
			files: []string{"env.rego", "package revoke\n\nwarn contains x if {\n\tx := opa.runtime().env.HOME\n}\n"},
			want:  []string{"env.rego:4:7: error: rego_type_error: opa.runtime" + why},
		},
		{
			name: "the clock and DNS",
			files: []string{"nd.rego", "package revoke\n\nwarn contains \"late\" if time.now_ns() > 0\n\n" +
				"warn contains \"dns\" if net.lookup_ip_addr(\"example.com\")\n"},
			want: []string{
				"nd.rego:3:25: error: rego_type_error: time.now_ns" + why,
				"nd.rego:5:24: error: rego_type_error: net.lookup_ip_addr" + why,
			},
		},
		{
			name:  "an unknown function keeps OPA's message",
			files: []string{"typo.rego", "package revoke\n\nwarn contains \"x\" if http.sned({})\n"},
			want:  []string{"typo.rego:3:22: error: rego_type_error: undefined function http.sned"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, lints := CompilePolicies(regoSources(tt.files...))
			if p != nil {
				t.Errorf("got a Policy despite errors")
			}
			if got := lintStrings(lints); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server received %d requests, want none", n)
	}
}

// The tester compiles the modules again with its own compiler: it must
// have the same capabilities, so a policy test cannot call out either even
// if the modules reached it some other way than CompilePolicies.
func TestPolicyTestsCannotReachTheNetwork(t *testing.T) {
	url, hits := hitCounter(t)
	src := "package revoke_test\n\ntest_send if {\n\thttp.send({\"method\": \"GET\", \"url\": \"" + url + "\"})\n}\n"
	mod, err := ast.ParseModuleWithOpts("t_test.rego", src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		t.Fatal(err)
	}
	p := &Policy{modules: map[string]*ast.Module{"t_test.rego": mod}}
	passed, failed, lints := p.Test(context.Background())
	want := []string{"t_test.rego:4:2: error: rego_type_error: http.send is not available to revoke policies: they reach no network and no host state, and decide the same way every time (docs/policies.md lists the builtins left out)"}
	if got := lintStrings(lints); passed != 0 || failed != 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("passed %d failed %d, lints:\n%s\nwant:\n%s", passed, failed, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server received %d requests, want none", n)
	}
}
