package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/revoke-dev/revoke/steps"
)

// genStepUses are the real step names, in the order generated runbooks list
// them: entra.disable_user before entra.revoke_sessions, so that a needs on
// it always points at an earlier step and no generated runbook has a cycle.
var genStepUses = []string{
	"ad.disable_account",
	"entra.disable_user",
	"entra.confirm_compromised",
	"ad.reset_password",
	"entra.reset_password",
	"ad.remove_group_memberships",
	"entra.disable_devices",
	"entra.revoke_sessions",
}

// genScenarios cycle through the generated runbooks; compromised ones get
// the lint policy's rules applied (times ≥ 2).
var genScenarios = []string{"compromised", "termination", "contractor-offboarding"}

// generatedRunbook is one generated runbook file.
type generatedRunbook struct {
	file string
	data []byte
}

// generateRunbooks returns n distinct runbooks that are valid for the real
// ad and entra specs and pass the built-in lint policy without errors: 4 to
// 8 steps each (a rotating choice of the real steps), with parameters in
// range, needs chains between consecutive steps, and entra.revoke_sessions
// needing entra.disable_user whenever both are present.
func generateRunbooks(n int) []generatedRunbook {
	out := make([]generatedRunbook, 0, n)
	for i := range n {
		scenario := genScenarios[i%len(genScenarios)]
		count := 4 + i%5
		// A rotation picks which steps appear; they are then listed in
		// genStepUses order so that needs point backwards.
		picked := map[string]bool{}
		for k := range count {
			picked[genStepUses[(i+k)%len(genStepUses)]] = true
		}
		var b strings.Builder
		name := fmt.Sprintf("gen-%s-%03d", scenario, i)
		fmt.Fprintf(&b, "version: 1\nname: %s\ntitle: Generated runbook %d\n", name, i)
		fmt.Fprintf(&b, "description: |\n  Generated for BenchmarkValidate200Runbooks (%d steps).\n", count)
		fmt.Fprintf(&b, "scenario: %s\nsteps:\n", scenario)
		var prev, disableUser string
		j := 0
		for _, uses := range genStepUses {
			if !picked[uses] {
				continue
			}
			id := strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(uses, "ad."), "entra."), "_", "-")
			id = fmt.Sprintf("%s-%s-%d", uses[:strings.IndexByte(uses, '.')], id, i)
			fmt.Fprintf(&b, "  - id: %s\n    uses: %s\n", id, uses)
			var needs []string
			if prev != "" && (i+j)%3 != 0 {
				needs = append(needs, prev)
			}
			if uses == "entra.revoke_sessions" && disableUser != "" && prev != disableUser {
				needs = append(needs, disableUser)
			}
			if len(needs) > 0 {
				fmt.Fprintf(&b, "    needs: [%s]\n", strings.Join(needs, ", "))
			}
			times := 1 + i%3
			if scenario == "compromised" {
				times = 2 + i%2
			}
			switch uses {
			case "ad.reset_password", "entra.reset_password":
				fmt.Fprintf(&b, "    with: {times: %d, length: %d}\n", times, 16+i%200)
			case "ad.remove_group_memberships":
				fmt.Fprintf(&b, "    with:\n      keep: [\"CN=Keep-%d,OU=Groups,DC=contoso,DC=com\"]\n", i)
			case "entra.disable_devices":
				fmt.Fprintf(&b, "    with: {managed_action: %s}\n", []string{"none", "retire", "wipe"}[i%3])
			case "entra.confirm_compromised":
				b.WriteString("    on_error: continue\n    retry: {attempts: 3, max_wait: 30s}\n    timeout: 1m\n    tags: [identity-protection]\n")
			}
			if uses == "entra.disable_user" {
				disableUser = id
			}
			prev = id
			j++
		}
		out = append(out, generatedRunbook{file: fmt.Sprintf("gen/%s.yaml", name), data: []byte(b.String())})
	}
	return out
}

// validateGenerated does for the generated runbooks what `revoke validate`
// does for runbook files (engine.Load, then cmd/revoke's validate): decode
// each, check their names are unique, compile the built-in policies, run
// the policy tests once and lint every runbook with the policies.
func validateGenerated(ctx context.Context, tb testing.TB, files []generatedRunbook) (rbs []*Runbook, lints Lints, passed, failed int) {
	reg := testRegistry(tb)
	for _, f := range files {
		rb, ls := DecodeRunbook(f.file, f.data, reg)
		lints = append(lints, ls...)
		rbs = append(rbs, rb)
	}
	lints = append(lints, CheckRunbookNames(rbs)...)
	pol, ls := CompilePolicies(BuiltinPolicies())
	lints = append(lints, ls...)
	if pol == nil {
		return rbs, lints, 0, 0
	}
	passed, failed, ls = pol.Test(ctx)
	lints = append(lints, ls...)
	for _, rb := range rbs {
		if rb != nil && rb.Name != "" {
			lints = append(lints, pol.Lint(ctx, rb)...)
		}
	}
	lints.Sort()
	return rbs, lints, passed, failed
}

// TestGeneratedRunbooksAreValid keeps the benchmark honest: the 200
// runbooks it validates must be distinct, shaped as promised and free of
// errors, or it would time the error path.
func TestGeneratedRunbooksAreValid(t *testing.T) {
	files := generateRunbooks(200)
	rbs, lints, passed, failed := validateGenerated(context.Background(), t, files)
	if n := lints.Errors(); n != 0 {
		t.Fatalf("%d errors validating the generated runbooks:\n%s", n, lintText(lints))
	}
	if passed == 0 || failed != 0 {
		t.Errorf("policy tests: passed %d failed %d", passed, failed)
	}
	reg := testRegistry(t)
	names := map[string]bool{}
	needs, withs, bySize := 0, 0, map[int]int{}
	for _, rb := range rbs {
		names[rb.Name] = true
		bySize[len(rb.Steps)]++
		for _, s := range rb.Steps {
			if _, ok := reg.Step(s.Uses); !ok || strings.HasPrefix(s.Uses, "ad.test_") {
				t.Errorf("%s: step %s uses %s, not a real step", rb.Name, s.ID, s.Uses)
			}
			needs += len(s.Needs)
			if len(s.With) > 0 {
				withs++
			}
		}
	}
	if len(names) != 200 {
		t.Errorf("%d distinct names, want 200", len(names))
	}
	for size := 4; size <= 8; size++ {
		if bySize[size] != 40 {
			t.Errorf("%d runbooks of %d steps, want 40 (sizes: %v)", bySize[size], size, bySize)
		}
	}
	if needs < 400 || withs < 200 {
		t.Errorf("%d needs and %d steps with parameters: want chains and parameters throughout", needs, withs)
	}
	// The lint policy's compromised rules are exercised: at least one
	// compromised runbook has both entra.disable_user and entra.revoke_sessions.
	both := 0
	for _, rb := range rbs {
		var du, rs bool
		for _, s := range rb.Steps {
			du = du || s.Uses == "entra.disable_user"
			rs = rs || s.Uses == "entra.revoke_sessions"
		}
		if du && rs && rb.Scenario == "compromised" {
			both++
		}
	}
	if both == 0 {
		t.Error("no compromised runbook has both entra.disable_user and entra.revoke_sessions")
	}
	// The policy lint ran on every runbook: each compromised one without
	// ad.reset_password draws the advice warning, and nothing else warns.
	wantAdvice := 0
	for _, rb := range rbs {
		hasReset := false
		for _, s := range rb.Steps {
			hasReset = hasReset || s.Uses == "ad.reset_password"
		}
		if rb.Scenario == "compromised" && !hasReset {
			wantAdvice++
		}
	}
	advice := 0
	for _, l := range lints {
		if l.Level == Warning && l.Code == "policy" && strings.Contains(l.Message, "never resets the on-premises password") {
			advice++
		}
	}
	if wantAdvice == 0 || advice != wantAdvice || len(lints) != wantAdvice {
		t.Errorf("%d advice warnings (of %d lints), want %d:\n%s", advice, len(lints), wantAdvice, lintText(lints))
	}
}

// BenchmarkValidate200Runbooks times what `revoke validate` does for 200
// runbooks held in memory (no file reads): decode, name check, policy
// compile, policy tests, policy lint. Target: under 1 s per op.
func BenchmarkValidate200Runbooks(b *testing.B) {
	files := generateRunbooks(200)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, lints, _, failed := validateGenerated(ctx, b, files)
		if lints.Errors() > 0 || failed > 0 {
			b.Fatalf("validation found problems:\n%s", lintText(lints))
		}
	}
}

// BenchmarkPlanDecision times one Policy.Plan (decide and apply the
// decision) for the built-in compromised runbook and a hybrid synced
// subject, with the policies compiled (queries prepared) once. Target:
// under 1 ms per op.
func BenchmarkPlanDecision(b *testing.B) {
	reg := testRegistry(b)
	var rb *Runbook
	for _, f := range builtinRunbookFiles() {
		if f.File == "builtin:runbooks/compromised.yaml" {
			var lints Lints
			if rb, lints = DecodeRunbook(f.File, f.Data, reg); lints.Errors() > 0 {
				b.Fatalf("decode %s:\n%s", f.File, lintText(lints))
			}
		}
	}
	if rb == nil {
		b.Fatal("no built-in compromised runbook")
	}
	pol := mustPolicy(b, BuiltinPolicies())
	subject := syncedSubject()
	req := Request{RequestedBy: "soc-oncall", Reason: "INC-4711"}
	ctx := context.Background()
	// The decision must be the real one: the synced subject skips the cloud
	// password reset and nothing else.
	plan, lints, err := pol.Plan(ctx, rb, contosoFacts, subject, req)
	if err != nil || len(lints) > 0 || plan.Denied() {
		b.Fatalf("Plan: %v %v deny=%v", err, lints, plan.Deny)
	}
	var skipped []string
	for _, s := range plan.Steps {
		if !s.Run {
			skipped = append(skipped, s.Def.ID)
		}
	}
	if strings.Join(skipped, ",") != "reset-entra-password" {
		b.Fatalf("skipped %v, want [reset-entra-password]", skipped)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := pol.Plan(ctx, rb, contosoFacts, subject, req); err != nil {
			b.Fatal(err)
		}
	}
}

// decisionBench is the one decision BenchmarkDecision times and
// TestWriteOPABenchInput hands to `opa bench`: the built-in policies, the
// test runbook (compromised, six steps) and a hybrid synced subject.
func decisionBench(tb testing.TB) (*Policy, *Runbook, *steps.Subject, Request) {
	return mustPolicy(tb, BuiltinPolicies()), policyTestRunbook(tb), syncedSubject(),
		Request{RequestedBy: "soc-oncall", Reason: "INC-4711"}
}

// BenchmarkDecision times one decision as a plan makes it (Policy.decide:
// the subject identified, its protection found, the input built as OPA's
// value, the prepared data.revoke query evaluated, the decision read from
// the result, the engine's protection applied) beside `opa bench`'s own
// evaluation of the same query on the same input, in the same process:
//
//   - revoke: the decision;
//   - revoke-evaluation: its evaluation alone, on the input built
//     beforehand (the decision read from the result included);
//   - opa: what `opa bench -d policies -i input.json QUERY --metrics=false`
//     does (OPA's cmd/bench.go): the modules and the parsed input given to
//     rego.New, the query prepared once, each evaluation's result dropped;
//   - opa-external-cancel: the same handed a ready-made Cancel, as
//     revoke's evaluation is, so OPA starts no goroutine to watch the
//     context: what of the difference is that goroutine.
//
// All are timed the way opa bench times, the timer running only around
// each evaluation (opa bench stops it between evaluations, which leaves
// out of the figure part of the garbage collection the evaluations
// cause): so revoke's figure compares like with like with OPA's CLI, which
// scripts/bench also runs (TestWriteOPABenchInput writes its files). Aim:
// revoke at most 1.0× opa. BenchmarkPlanDecision gives a whole plan's
// time, counted the usual way.
func BenchmarkDecision(b *testing.B) {
	p, rb, subject, req := decisionBench(b)
	ctx := context.Background()
	d, err := p.decide(ctx, rb, contosoFacts, subject, req)
	if err != nil || d.Denied() || len(d.Skip) != 1 || d.Skip["reset-entra-password"] == "" {
		b.Fatalf("decide: %v, deny %v, skip %v: want reset-entra-password skipped and nothing denied", err, d.Deny, d.Skip)
	}
	b.Run("revoke", func(b *testing.B) {
		opaBenchLoop(b, func() error {
			_, err := p.decide(ctx, rb, contosoFacts, subject, req)
			return err
		})
	})
	// The evaluation alone, on the input built beforehand: what the
	// decision costs beyond building its input.
	input, err := inputValue(mustRunbookValue(b, rb), contosoFacts, subject, req, Protection(contosoFacts, subject))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("revoke-evaluation", func(b *testing.B) {
		opaBenchLoop(b, func() error {
			_, err := p.decideValue(ctx, input)
			return err
		})
	})
	// What `opa bench` evaluates, prepared once for the two below.
	opts := []func(*rego.Rego){
		rego.Query(decisionQuery),
		rego.ParsedInput(input),
		rego.GenerateJSON(func(*ast.Term, *rego.EvalContext) (any, error) { return nil, nil }),
	}
	for _, src := range BuiltinPolicies() {
		if !IsPolicyTest(src.File) {
			opts = append(opts, rego.Module(src.File, string(src.Data)))
		}
	}
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("opa", func(b *testing.B) {
		opaBenchLoop(b, func() error {
			rs, err := pq.Eval(ctx, rego.EvalMetrics(nil))
			if err == nil && len(rs) == 0 {
				err = errors.New("undefined result")
			}
			return err
		})
	})
	// The same, handed a Cancel made beforehand, as revoke's evaluation
	// is (evalBound): without one, OPA starts a goroutine per evaluation
	// to watch the context, which opa and `opa bench` both pay. Tells
	// that cost from the rest.
	b.Run("opa-external-cancel", func(b *testing.B) {
		cancel := rego.EvalExternalCancel(topdown.NewCancel())
		opaBenchLoop(b, func() error {
			rs, err := pq.Eval(ctx, rego.EvalMetrics(nil), cancel)
			if err == nil && len(rs) == 0 {
				err = errors.New("undefined result")
			}
			return err
		})
	})
}

// opaBenchLoop runs f b.N times, timing it as `opa bench` does (OPA's
// cmd/bench.go, goBenchRunner): the timer started before each call and
// stopped after it.
func opaBenchLoop(b *testing.B, f func() error) {
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StartTimer()
		err := f()
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriteOPABenchInput writes, into $REVOKE_OPA_BENCH_DIR, what `opa
// bench` needs to evaluate BenchmarkDecision's decision: input.json (the
// input the decision is made on), policies/ (the built-in modules the
// decision query uses, tests left out as decisions leave them out) and
// query.txt (the query). Without the variable it only checks that the
// input round-trips through JSON unchanged, which is what makes the two
// benchmarks comparable.
func TestWriteOPABenchInput(t *testing.T) {
	p, rb, subject, req := decisionBench(t)
	if _, err := p.decide(t.Context(), rb, contosoFacts, subject, req); err != nil {
		t.Fatal(err) // identifies the subject and finds its gaps, as a plan does
	}
	input, err := inputValue(mustRunbookValue(t, rb), contosoFacts, subject, req, Protection(contosoFacts, subject))
	if err != nil {
		t.Fatal(err)
	}
	native, err := ast.JSON(input)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.MarshalIndent(native, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	back, err := ast.ValueFromReader(strings.NewReader(string(data)))
	if err != nil || back.Compare(input) != 0 {
		t.Fatalf("input.json reads back as %v (%v), want %v", back, err, input)
	}
	dir := os.Getenv("REVOKE_OPA_BENCH_DIR")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("input.json", data)
	write("query.txt", []byte(decisionQuery+"\n"))
	for _, src := range BuiltinPolicies() {
		if !IsPolicyTest(src.File) {
			write(filepath.Join("policies", path.Base(src.File)), src.Data)
		}
	}
}
