package engine

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/revoke-dev/revoke/runbooks"
	"github.com/revoke-dev/revoke/steps"
)

// shippedRunbooks decodes the embedded runbooks against the real ad and
// entra specs (testRegistry), failing on any Lint.
func shippedRunbooks(t *testing.T) map[string]*Runbook {
	t.Helper()
	reg := testRegistry(t)
	out := map[string]*Runbook{}
	names, err := fs.Glob(runbooks.FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.yaml") {
			continue
		}
		data, err := fs.ReadFile(runbooks.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		rb, lints := DecodeRunbook("builtin:runbooks/"+name, data, reg)
		if len(lints) > 0 {
			t.Fatalf("%s:\n%s", name, lintText(lints))
		}
		out[rb.Name] = rb
	}
	if len(out) != 2 || out["termination"] == nil || out["compromised"] == nil {
		t.Fatalf("shipped runbooks %v, want termination and compromised", out)
	}
	return out
}

func TestShippedRunbooksPassPolicyLint(t *testing.T) {
	p := mustPolicy(t, BuiltinPolicies())
	for name, rb := range shippedRunbooks(t) {
		if lints := p.Lint(context.Background(), rb); len(lints) > 0 {
			t.Errorf("%s:\n%s", name, lintText(lints))
		}
	}
}

// Both disables start at once: the graph is as parallel as correctness
// allows, and revoke-sessions waits for both disables and nothing else.
func TestShippedRunbooksAreParallel(t *testing.T) {
	for name, rb := range shippedRunbooks(t) {
		for _, id := range []string{"disable-ad-account", "disable-entra-user"} {
			if s := rb.Step(id); s == nil || len(s.Needs) != 0 {
				t.Errorf("%s: step %s must exist and need nothing", name, id)
			}
		}
		want := []string{"disable-ad-account", "disable-entra-user"}
		if s := rb.Step("revoke-sessions"); s == nil || !reflect.DeepEqual(s.Needs, want) {
			t.Errorf("%s: revoke-sessions must need %v", name, want)
		}
	}
}

func TestShippedRunbookTestsPass(t *testing.T) {
	p := mustPolicy(t, BuiltinPolicies())
	rbs := shippedRunbooks(t)
	for _, tc := range []struct {
		file  string
		cases int
	}{{"compromised_test.yaml", 11}, {"termination_test.yaml", 8}} {
		data, err := fs.ReadFile(runbooks.FS, tc.file)
		if err != nil {
			t.Fatal(err)
		}
		cases, lints := DecodeRunbookTests("builtin:runbooks/"+tc.file, data)
		if len(lints) > 0 {
			t.Fatalf("%s:\n%s", tc.file, lintText(lints))
		}
		if len(cases) != tc.cases {
			t.Errorf("%s: %d cases, want %d", tc.file, len(cases), tc.cases)
		}
		if lints := RunRunbookTests(context.Background(), cases, rbs, p); len(lints) > 0 {
			t.Errorf("%s:\n%s", tc.file, lintText(lints))
		}
	}
}

func TestDecodeRunbookTests(t *testing.T) {
	data := `tests:
  - name: synced
    runbook: compromised
    environment: {name: contoso, kind: cloud, protected: [bg]}
    subject:
      ref: adele@contoso.com
      entra: {onPremisesSyncEnabled: true, privilegedRoles: [Global Administrator]}
    request: {requested_by: soc, reason: INC-1, ticket: T-1, approved_by: ciso, allow_protected: true}
    expect:
      run: []
      skip: {a: why}
      with: {b: {times: 2}}
      deny: [protected]
      warn: [sync]
  - name: defaults
    runbook: termination
    subject: {ref: x}
    expect: {skip: [a, b], deny: false}
`
	cases, lints := DecodeRunbookTests("t_test.yaml", []byte(data))
	if len(lints) > 0 {
		t.Fatal(lintText(lints))
	}
	want := []RunbookTestCase{
		{
			Name: "synced", Runbook: "compromised", File: "t_test.yaml", Line: 2, Column: 5,
			Environment: EnvironmentFacts{Name: "contoso", Kind: "cloud", Protected: []string{"bg"}},
			Subject: steps.Subject{Ref: "adele@contoso.com", Facts: map[string]map[string]any{
				"entra": {"onPremisesSyncEnabled": true, "privilegedRoles": []any{"Global Administrator"}}}},
			Request: Request{RequestedBy: "soc", Reason: "INC-1", Ticket: "T-1", ApprovedBy: "ciso", AllowProtected: true},
			Expect: RunbookExpect{Run: []string{}, Skip: []string{"a"}, SkipReasons: map[string]string{"a": "why"},
				With: map[string]map[string]any{"b": {"times": 2}}, Denied: true, DenyContains: []string{"protected"},
				Warn: []string{"sync"}},
		},
		{
			Name: "defaults", Runbook: "termination", File: "t_test.yaml", Line: 15, Column: 5,
			Environment: EnvironmentFacts{Name: "test", Kind: "hybrid"},
			Subject:     steps.Subject{Ref: "x"},
			Expect:      RunbookExpect{Skip: []string{"a", "b"}},
		},
	}
	if !reflect.DeepEqual(cases, want) {
		t.Errorf("cases\n%#v\nwant\n%#v", cases, want)
	}
}

func TestDecodeRunbookTestsReportsProblems(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
		cases      int
	}{
		{
			name: "unknown keys, missing fields and wrong types",
			yaml: `tests:
  - name: one
    runbook: compromised
    subject: {ref: a, entra: yes}
    expect: {runs: [x], deny: maybe}
    environment: {kind: onprem}
    request: {allow_protected: sure}
  - runbook: termination
    subject: {name: b}
    expect: {}
extra: 1
`,
			want: []string{
				// YAML 1.2: yes is a string.
				`t_test.yaml:4:30: error: test "one": subject.entra: want a mapping, got a string`,
				`t_test.yaml:5:14: error: unknown key "runs" in test "one": expect (known: run, skip, with, deny, warn)`,
				`t_test.yaml:5:31: error: test "one": expect.deny: want true, false or a list of substrings, got a string`,
				`t_test.yaml:6:25: error: test "one": environment.kind: "onprem" is not one of hybrid, cloud`,
				`t_test.yaml:7:32: error: test "one": request.allow_protected: want true or false, got a string`,
				`t_test.yaml:8:5: error: test 2: missing name`,
				`t_test.yaml:9:14: error: test 2: subject: missing ref`,
				`t_test.yaml:9:21: error: test 2: subject.name: want a mapping, got a string`,
				`t_test.yaml:11:1: error: unknown key "extra" in runbook test file (known: tests)`,
			},
		},
		{
			name:  "duplicate names are refused, the first case kept",
			yaml:  "tests:\n  - {name: a, runbook: r, subject: {ref: x}, expect: {}}\n  - {name: a, runbook: r, subject: {ref: y}, expect: {}}\n",
			want:  []string{`t_test.yaml:3:5: error: test name "a" is already used at line 2`},
			cases: 1,
		},
		{
			name: "tests must be a list",
			yaml: "tests: {a: 1}\n",
			want: []string{"t_test.yaml:1:8: error: tests: want a list, got a mapping"},
		},
		{
			name: "a file without tests",
			yaml: "name: x\n",
			want: []string{
				`t_test.yaml:1:1: error: missing tests`,
				`t_test.yaml:1:1: error: unknown key "name" in runbook test file (known: tests)`,
			},
		},
		{
			name: "a case missing everything",
			yaml: "tests:\n  - {}\n",
			want: []string{
				"t_test.yaml:2:5: error: test 1: missing expect",
				"t_test.yaml:2:5: error: test 1: missing name",
				"t_test.yaml:2:5: error: test 1: missing runbook",
				"t_test.yaml:2:5: error: test 1: missing subject",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cases, lints := DecodeRunbookTests("t_test.yaml", []byte(tt.yaml))
			if got := lintStrings(lints); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if len(cases) != tt.cases {
				t.Errorf("%d cases, want %d", len(cases), tt.cases)
			}
		})
	}
}

func TestRunRunbookTestsReportsUnmetExpectations(t *testing.T) {
	p := mustPolicy(t, BuiltinPolicies())
	rbs := shippedRunbooks(t)
	data := `tests:
  - name: hybrid synced user
    runbook: compromised
    environment: {name: contoso, kind: hybrid}
    subject:
      ref: adele@contoso.com
      entra: {userPrincipalName: adele@contoso.com, onPremisesSyncEnabled: true}
      ad: {sAMAccountName: adele, adminCount: 0}
    request: {requested_by: soc, reason: INC-1}
    expect:
      run: [disable-ad-account, disable-entra-user, reset-entra-password, reset-teams-password]
      skip: {reset-ad-password: cloud-only, reset-entra-password: synced}
      with: {reset-ad-password: {times: 3, length: 32}, disable-devices: {managed_action: wipe, colour: red},
             revoke-sessions: {at: once}, reset-entra-password: {times: 2}}
      warn: [sync]
  - name: wants a denial
    runbook: termination
    subject: {ref: adele@contoso.com, entra: {privilegedRoles: []}}
    expect: {deny: true}
  - name: surprised by a denial
    runbook: termination
    subject: {ref: nobody@contoso.com}
    expect: {}
  - name: wrong deny reason
    runbook: termination
    subject: {ref: nobody@contoso.com}
    expect: {deny: [protected]}
  - name: unknown runbook
    runbook: offboarding
    subject: {ref: x}
    expect: {}
`
	cases, lints := DecodeRunbookTests("x_test.yaml", []byte(data))
	if len(lints) > 0 {
		t.Fatal(lintText(lints))
	}
	want := []string{
		`x_test.yaml:2:5: error: test "hybrid synced user": expect.run: runbook compromised has no step reset-teams-password`,
		`x_test.yaml:2:5: error: test "hybrid synced user": no warning contains "sync" (got: no warnings)`,
		`x_test.yaml:2:5: error: test "hybrid synced user": step confirm-compromised: runs, but expect.run does not list it`,
		`x_test.yaml:2:5: error: test "hybrid synced user": step disable-devices: entra.disable_devices has no parameter "colour"`,
		`x_test.yaml:2:5: error: test "hybrid synced user": step disable-devices: runs, but expect.run does not list it`,
		`x_test.yaml:2:5: error: test "hybrid synced user": step disable-devices: want managed_action "wipe", got "none"`,
		`x_test.yaml:2:5: error: test "hybrid synced user": step remove-auth-methods: runs, but expect.run does not list it`,
		`x_test.yaml:2:5: error: test "hybrid synced user": step remove-inbox-rules: runs, but expect.run does not list it`,
		`x_test.yaml:2:5: error: test "hybrid synced user": step reset-ad-password: runs, but expect.run does not list it`,
		`x_test.yaml:2:5: error: test "hybrid synced user": step reset-ad-password: want it skipped, but it runs`,
		`x_test.yaml:2:5: error: test "hybrid synced user": step reset-ad-password: want times 3, got 2`,
		`x_test.yaml:2:5: error: test "hybrid synced user": step reset-entra-password: want it to run, but it is skipped: synced from on-premises AD: the password is mastered there, so the on-premises reset is the one that counts`,
		`x_test.yaml:2:5: error: test "hybrid synced user": step reset-entra-password: want parameters, but it is skipped: synced from on-premises AD: the password is mastered there, so the on-premises reset is the one that counts`,
		`x_test.yaml:2:5: error: test "hybrid synced user": step revoke-consents: runs, but expect.run does not list it`,
		`x_test.yaml:2:5: error: test "hybrid synced user": step revoke-sessions: entra.revoke_sessions has no parameter "at"`,
		`x_test.yaml:2:5: error: test "hybrid synced user": step revoke-sessions: runs, but expect.run does not list it`,
		`x_test.yaml:16:5: error: test "wants a denial": want the run denied, but no policy denied it`,
		`x_test.yaml:20:5: error: test "surprised by a denial": want the run allowed, but it is denied: nobody@contoso.com was found neither in Entra ID nor in on-premises Active Directory: check the reference (UPN, object id or sAMAccountName)`,
		`x_test.yaml:24:5: error: test "wrong deny reason": no deny reason contains "protected" (got: nobody@contoso.com was found neither in Entra ID nor in on-premises Active Directory: check the reference (UPN, object id or sAMAccountName))`,
		`x_test.yaml:28:5: error: test "unknown runbook": no runbook named "offboarding" is loaded`,
	}
	got := RunRunbookTests(context.Background(), cases, rbs, p)
	if gs := lintStrings(got); !reflect.DeepEqual(gs, want) {
		t.Errorf("lints:\n%s\nwant:\n%s", strings.Join(gs, "\n"), strings.Join(want, "\n"))
	}
	for _, l := range got {
		if l.Code != "runbook-test" {
			t.Errorf("%s: code %q, want runbook-test", l, l.Code)
		}
	}
}

func TestRunRunbookTestsReportsPolicyProblems(t *testing.T) {
	rbs := shippedRunbooks(t)
	cases, lints := DecodeRunbookTests("x_test.yaml", []byte(`tests:
  - name: conflict
    runbook: termination
    subject: {ref: a}
    expect: {}
  - name: bad override
    runbook: termination
    subject: {ref: b}
    expect: {}
`))
	if len(lints) > 0 {
		t.Fatal(lintText(lints))
	}
	p := mustPolicy(t, regoSources("p.rego", `package revoke

skip["remove-ad-groups"] := "one" if input.subject.ref == "a"
skip["remove-ad-groups"] := "two" if input.subject.ref == "a"
with["reset-ad-password"] := {"times": 0} if input.subject.ref == "b"
`))
	want := []string{
		`x_test.yaml:2:5: error: test "conflict": policy evaluation failed: p.rego:4:1: eval_conflict_error: rule data.revoke.skip["remove-ad-groups"] produced conflicting values:` +
			"\n" + `  "one" at p.rego:3` + "\n" + `  "two" at p.rego:4`,
		`x_test.yaml:6:5: error: test "bad override": policy data.revoke.with["reset-ad-password"] for step reset-ad-password: ad.reset_password.times: 0 is out of range 1–5`,
	}
	if got := lintStrings(RunRunbookTests(context.Background(), cases, rbs, p)); !reflect.DeepEqual(got, want) {
		t.Errorf("lints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A team's own policies change what revoke's defaults decide; the built-in
// runbook and Rego tests, which the team cannot edit, run against the
// built-in runbooks and policies alone, and the team's tests against
// everything.
func TestTeamPoliciesLeaveTheBuiltinTestsAlone(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		// A company-wide deny and warning: they would fail seven built-in
		// runbook tests and the Rego tests that count denials and warnings.
		"policies/ticket.rego": `package revoke

deny contains "compromised runs need a ticket" if {
	input.scenario == "compromised"
	not input.request.ticket
}

warn contains "call the service desk"
`,
		"policies/ticket_test.rego": `package revoke_test

import data.revoke

test_denies_without_ticket if "compromised runs need a ticket" in revoke.deny with input as {"scenario": "compromised", "request": {}}
`,
		// A team runbook replacing the built-in compromised: the built-in
		// cases still run against the built-in one.
		"runbooks/compromised.yaml": "version: 1\nname: compromised\nscenario: compromised\nsteps:\n" +
			"  - {id: disable-entra-user, uses: entra.disable_user}\n",
		"runbooks/ticket_test.yaml": `tests:
  - name: no ticket
    runbook: compromised
    environment: {name: contoso, kind: cloud}
    subject: {ref: lee@contoso.com, entra: {id: x, userPrincipalName: lee@contoso.com, privilegedRoles: []}}
    expect: {run: [disable-entra-user], deny: [need a ticket], warn: [service desk]}
  - name: forgets the team's own deny
    runbook: compromised
    environment: {name: contoso, kind: cloud}
    subject: {ref: lee@contoso.com, entra: {id: x, userPrincipalName: lee@contoso.com, privilegedRoles: []}}
    expect: {run: [disable-entra-user]}
`,
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ws, lints, err := Load(testRegistry(t), []string{dir}, true)
	if err != nil || ws.Policy == nil || lints.Errors() > 0 {
		t.Fatalf("Load: %v\n%s", err, lintText(lints))
	}
	ctx := context.Background()
	userTests := filepath.Join(dir, "runbooks/ticket_test.yaml")
	checkLints(t, ws.RunRunbookTests(ctx), []string{
		userTests + `:7:5: error: test "forgets the team's own deny": want the run allowed, but it is denied: compromised runs need a ticket`,
	})
	builtinPassed, _, _ := mustPolicy(t, BuiltinPolicies()).Test(ctx)
	passed, failed, testLints := ws.Policy.Test(ctx)
	if passed != builtinPassed+1 || failed != 0 || len(testLints) > 0 {
		t.Errorf("policy tests: %d passed, %d failed, want %d and 0:\n%s", passed, failed, builtinPassed+1, lintText(testLints))
	}
	// Decisions themselves use every policy.
	d, err := ws.Policy.Decide(ctx, map[string]any{"scenario": "compromised", "request": map[string]any{}})
	if err != nil || !reflect.DeepEqual(d.Deny, []string{"compromised runs need a ticket"}) {
		t.Errorf("Decide: %v, deny %q", err, d.Deny)
	}
}

// A team's tests see the built-in policies too: only the built-in tests
// are spared the team's rules, not the other way round.
func TestTeamTestsRunAgainstEveryPolicy(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mine_test.rego")
	if err := os.WriteFile(p, []byte(`package mine_test

import data.revoke

cloud := {"environment": {"name": "e", "kind": "cloud"}, "subject": {"ref": "x", "entra": {}},
	"runbook": {"steps": [{"id": "a", "uses": "ad.disable_account"}]}}

test_sees_the_builtin_skip if revoke.skip.a with input as cloud

test_no_skips if count(revoke.skip) == 0 with input as cloud
`), 0o600); err != nil {
		t.Fatal(err)
	}
	ws, lints, err := Load(testRegistry(t), []string{p}, true)
	if err != nil || ws.Policy == nil || lints.Errors() > 0 {
		t.Fatalf("Load: %v\n%s", err, lintText(lints))
	}
	ctx := context.Background()
	builtinPassed, _, _ := mustPolicy(t, BuiltinPolicies()).Test(ctx)
	passed, failed, testLints := ws.Policy.Test(ctx)
	checkLints(t, testLints, []string{p + ":10:1: error: policy test data.mine_test.test_no_skips failed"})
	if passed != builtinPassed+1 || failed != 1 {
		t.Errorf("%d passed, %d failed, want %d and 1", passed, failed, builtinPassed+1)
	}
}
