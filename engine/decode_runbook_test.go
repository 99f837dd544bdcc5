package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/revoke-dev/revoke/steps"
	"github.com/revoke-dev/revoke/steps/ad"
	"github.com/revoke-dev/revoke/steps/entra/entraspec"
	"github.com/revoke-dev/revoke/steps/servicenow"
)

// testRegistry holds the real ad, entra and servicenow specs, plus one step with a
// required parameter (no real step has one yet).
func testRegistry(t testing.TB) *steps.Registry {
	t.Helper()
	reg := steps.NewRegistry()
	ad.Register(reg)
	entraspec.Register(reg)
	servicenow.Register(reg)
	reg.Register(steps.Spec{Name: "ad.test_required", Summary: "A test step with a required parameter",
		Params: []steps.Param{{Name: "group", Type: steps.String, Required: true, Description: "A group."}}})
	return reg
}

// lintStrings renders Lints as `revoke validate` prints them.
func lintStrings(ls Lints) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.String()
	}
	return out
}

func checkLints(t *testing.T, got Lints, want []string) {
	t.Helper()
	g := lintStrings(got)
	if len(g) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("lints:\n  got  %s\n  want %s", strings.Join(g, "\n       "), strings.Join(want, "\n       "))
	}
}

// head is the start of a valid runbook; cases append their steps.
const head = "version: 1\nname: rb\nsteps:\n"

func TestDecodeRunbookReportsEveryProblem(t *testing.T) {
	reg := testRegistry(t)
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"a minimal runbook is valid", head + "  - id: a\n    uses: ad.disable_account\n", nil},
		{"unknown keys at every level are named with what is known",
			"version: 1\nname: rb\nfoo: 1\nsteps:\n  - id: a\n    uses: ad.disable_account\n    bar: 2\n    retry: {attempts: 2, wait: 3s}\n",
			[]string{
				`rb.yaml:3:1: error: unknown key "foo" in runbook (known: version, name, title, description, scenario, steps)`,
				`rb.yaml:7:5: error: unknown key "bar" in step (known: id, uses, needs, with, on_error, retry, timeout, tags)`,
				`rb.yaml:8:26: error: unknown key "wait" in retry (known: attempts, max_wait)`,
			}},
		{"missing version, name and steps are each reported", "title: x\n", []string{
			"rb.yaml:1:1: error: missing name",
			"rb.yaml:1:1: error: missing steps",
			"rb.yaml:1:1: error: missing version (add version: 1)",
		}},
		{"a version other than 1 is refused", "version: 2\nname: rb\nsteps:\n  - {id: a, uses: ad.disable_account}\n",
			[]string{"rb.yaml:1:10: error: version 2 is not supported (this revoke reads version 1)"}},
		{"a version that is not a number is a type error", "version: one\nname: rb\nsteps:\n  - {id: a, uses: ad.disable_account}\n",
			[]string{"rb.yaml:1:10: error: version: want an integer, got a string"}},
		{"wrong types are reported at the value", "version: 1\nname: [rb]\ntitle: 3\nsteps: {a: 1}\n", []string{
			"rb.yaml:2:7: error: name: want a string, got a list",
			"rb.yaml:3:8: error: title: want a string, got a number",
			"rb.yaml:4:8: error: steps: want a list, got a mapping",
		}},
		{"an empty steps list is refused", "version: 1\nname: rb\nsteps: []\n",
			[]string{"rb.yaml:3:8: error: steps is empty: a runbook needs at least one step"}},
		{"names, scenarios and ids must be lower-case words",
			"version: 1\nname: Termination\nscenario: big_one\nsteps:\n  - id: Disable AD\n    uses: ad.disable_account\n", []string{
				`rb.yaml:2:7: error: name "Termination" must be lower-case letters, digits and dashes`,
				`rb.yaml:3:11: error: scenario "big_one" must be lower-case letters, digits and dashes`,
				`rb.yaml:5:9: error: id "Disable AD" must be lower-case letters, digits and dashes`,
			}},
		{"a step with a badly formed id can still be needed", head +
			"  - id: Disable_AD\n    uses: ad.disable_account\n  - id: b\n    uses: entra.disable_user\n    needs: [Disable_AD]\n",
			[]string{`rb.yaml:4:9: error: id "Disable_AD" must be lower-case letters, digits and dashes`}},
		{"a step that is not a mapping", head + "  - ad.disable_account\n",
			[]string{"rb.yaml:4:5: error: step 1: want a mapping, got a string"}},
		{"a step without id or uses", head + "  - needs: []\n", []string{
			"rb.yaml:4:5: error: step 1 has no id",
			"rb.yaml:4:5: error: step 1 has no uses",
		}},
		{"a duplicate id points at the second and names the first's line",
			head + "  - id: a\n    uses: ad.disable_account\n  - id: a\n    uses: entra.disable_user\n",
			[]string{`rb.yaml:6:5: error: duplicate step id "a" (first at line 4)`}},
		{"an unknown step with an obvious fix suggests it", head + "  - id: a\n    uses: ad.disable_acount\n",
			[]string{`rb.yaml:5:11: error: unknown step "ad.disable_acount" (did you mean "ad.disable_account"?)`}},
		{"an unknown step without an obvious fix points at the catalog", head + "  - id: a\n    uses: okta.suspend\n",
			[]string{"rb.yaml:5:11: error: unknown step \"okta.suspend\" (`revoke steps` lists the registered ones)"}},
		{"an ambiguous typo suggests nothing", head + "  - id: a\n    uses: entra.reset\n",
			[]string{"rb.yaml:5:11: error: unknown step \"entra.reset\" (`revoke steps` lists the registered ones)"}},
		{"with: unknown, mistyped and out-of-range parameters, each at its node",
			head + "  - id: a\n    uses: ad.reset_password\n    with:\n      times: 9\n      length: long\n      count: 1\n", []string{
				`rb.yaml:7:14: error: ad.reset_password.times: 9 is out of range 1–5`,
				`rb.yaml:8:15: error: ad.reset_password.length: want an integer, got a string`,
				`rb.yaml:9:7: error: ad.reset_password has no parameter "count" (it has times, length)`,
			}},
		{"with: an enum violation", head + "  - id: a\n    uses: entra.disable_devices\n    with: {managed_action: nuke}\n",
			[]string{`rb.yaml:6:28: error: entra.disable_devices.managed_action: "nuke" is not one of none, retire, wipe`}},
		{"with: a step that takes no parameters", head + "  - id: a\n    uses: entra.disable_user\n    with: {force: true}\n",
			[]string{`rb.yaml:6:12: error: entra.disable_user takes no parameters, got "force"`}},
		{"with: a missing required parameter is reported at the step", head + "  - id: a\n    uses: ad.test_required\n",
			[]string{`rb.yaml:4:5: error: ad.test_required needs parameter "group"`}},
		{"with: a required parameter with a bad value is not also missing",
			head + "  - id: a\n    uses: ad.test_required\n    with: {group: [x]}\n",
			[]string{`rb.yaml:6:19: error: ad.test_required.group: want a string, got a list`}},
		{"with must be a mapping", head + "  - id: a\n    uses: ad.reset_password\n    with: [times]\n",
			[]string{"rb.yaml:6:11: error: with: want a mapping, got a list"}},
		{"with is not checked for an unknown step", head + "  - id: a\n    uses: ad.nope\n    with: {x: 1}\n",
			[]string{"rb.yaml:5:11: error: unknown step \"ad.nope\" (`revoke steps` lists the registered ones)"}},
		{"needs naming an unknown step or the step itself",
			head + "  - id: a\n    uses: ad.disable_account\n    needs: [a, b, 3]\n", []string{
				`rb.yaml:6:13: error: step "a" needs itself`,
				`rb.yaml:6:16: error: step "a" needs "b", which is not a step of this runbook`,
				`rb.yaml:6:19: error: needs item 3: want a string, got a number`,
			}},
		{"needs listing a step twice is a warning",
			head + "  - id: a\n    uses: ad.disable_account\n  - id: b\n    uses: entra.disable_user\n    needs: [a, a]\n",
			[]string{`rb.yaml:8:16: warning: step "b" lists "a" in needs twice`}},
		{"a cycle is printed", head +
			"  - id: a\n    uses: ad.disable_account\n    needs: [c]\n" +
			"  - id: b\n    uses: entra.disable_user\n    needs: [a]\n" +
			"  - id: c\n    uses: entra.revoke_sessions\n    needs: [b]\n",
			[]string{`rb.yaml:9:13: error: needs form a cycle: a → c → b → a`}},
		{"a two-step cycle", head +
			"  - id: a\n    uses: ad.disable_account\n    needs: [b]\n" +
			"  - id: b\n    uses: entra.disable_user\n    needs: [a]\n",
			[]string{`rb.yaml:9:13: error: needs form a cycle: a → b → a`}},
		{"on_error, retry and timeout out of bounds", head +
			"  - id: a\n    uses: ad.disable_account\n    on_error: stop\n    retry: {attempts: 21, max_wait: soon}\n    timeout: 0s\n" +
			"  - id: b\n    uses: entra.disable_user\n    retry: {attempts: 0, max_wait: 0s}\n    timeout: 60\n", []string{
			`rb.yaml:6:15: error: on_error: "stop" is not one of block, continue, abort`,
			`rb.yaml:7:23: error: retry.attempts: 21 is out of range 1–20`,
			`rb.yaml:7:37: error: retry.max_wait: "soon" is not a duration such as 30s or 2m`,
			`rb.yaml:8:14: error: timeout: want a positive duration such as 30s or 2m, got 0s`,
			`rb.yaml:11:23: error: retry.attempts: 0 is out of range 1–20`,
			`rb.yaml:11:36: error: retry.max_wait: want a positive duration such as 30s or 2m, got 0s`,
			`rb.yaml:12:14: error: timeout: want a duration such as 30s or 2m, got a number`,
		}},
		{"retry must be a mapping and tags a list of strings", head +
			"  - id: a\n    uses: ad.disable_account\n    retry: 3\n    tags: [x, [y]]\n", []string{
			"rb.yaml:6:12: error: retry: want a mapping, got a number",
			"rb.yaml:7:11: error: tags: item 2: want a string, got a list",
		}},
		{"a repeated key is reported at the second", "version: 1\nname: rb\nname: other\nsteps:\n  - {id: a, uses: ad.disable_account}\n",
			[]string{`rb.yaml:3:1: error: key "name" given twice in runbook (first at line 2)`}},
		{"a non-string key is refused", "version: 1\nname: rb\n? [x]\n: 1\nsteps:\n  - {id: a, uses: ad.disable_account}\n",
			[]string{"rb.yaml:3:3: error: runbook: keys must be strings, got a list"}},
		{"problems in several steps are all reported", head +
			"  - id: a\n    uses: ad.nope\n  - id: b\n    uses: ad.reset_password\n    with: {times: 0}\n  - id: c\n    uses: entra.disable_user\n    needs: [z]\n",
			[]string{
				"rb.yaml:5:11: error: unknown step \"ad.nope\" (`revoke steps` lists the registered ones)",
				"rb.yaml:8:19: error: ad.reset_password.times: 0 is out of range 1–5",
				`rb.yaml:11:13: error: step "c" needs "z", which is not a step of this runbook`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, lints := DecodeRunbook("rb.yaml", []byte(tt.yaml), reg)
			checkLints(t, lints, tt.want)
		})
	}
}

func TestDecodeRunbookRefusesBadFiles(t *testing.T) {
	reg := testRegistry(t)
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"an empty file", "", []string{"rb.yaml: error: file is empty"}},
		{"a file of comments", "# nothing yet\n", []string{"rb.yaml: error: file is empty"}},
		{"a document marker alone", "---\n", []string{"rb.yaml: error: file is empty"}},
		{"several documents", head + "  - {id: a, uses: ad.disable_account}\n---\nname: other\n",
			[]string{"rb.yaml:5:1: error: file holds more than one YAML document (the second starts here); keep one per file"}},
		{"a tab in the indentation is named, at its line and column", "version: 1\nname: rb\nsteps:\n\t- id: a\n",
			[]string{"rb.yaml:4:1: error: a tab character in the indentation: YAML indents with spaces only"}},
		{"a tab after spaces is found at its column", "version: 1\nname: rb\nsteps:\n  - id: a\n  \t uses: ad.disable_account\n",
			[]string{"rb.yaml:5:3: error: a tab character in the indentation: YAML indents with spaces only"}},
		{"another character that cannot start a token keeps yaml's message, its prefix removed", "version: 1\nname: rb\nsteps: @x\n",
			[]string{"rb.yaml:3:1: error: found character that cannot start any token"}},
		{"a parser error points at the construct's line, not yaml's 0-based one", "version: 1\nname: [rb\n",
			[]string{"rb.yaml:2:1: error: did not find expected ',' or ']'"}},
		{"a parser error in a construct on line 1 points where it failed", "[a, b\n",
			[]string{"rb.yaml:2:1: error: did not find expected ',' or ']'"}},
		{"a scanner error keeps yaml's line", "version: 1\nname: rb\nsteps: a: b\n",
			[]string{"rb.yaml:3:1: error: mapping values are not allowed in this context"}},
		{"anchors and aliases", head + "  - &s {id: a, uses: ad.disable_account}\n  - *s\n", []string{
			"rb.yaml:4:5: error: anchor &s: anchors and aliases are not allowed; write the value out",
			"rb.yaml:5:5: error: alias *s: anchors and aliases are not allowed; write the value out",
		}},
		{"an alias to an unknown anchor", "version: *v\n", []string{"rb.yaml: error: unknown anchor 'v' referenced"}},
		{"binary garbage", "\x7fELF\x02\x01\x01\x00\x00", []string{"rb.yaml:1:8: error: file holds NUL bytes: not a text file"}},
		{"invalid UTF-8", "version: 1\nname: caf\xe9\n", []string{"rb.yaml:2:10: error: file is not valid UTF-8"}},
		{"a top level that is a list", "- id: a\n",
			[]string{"rb.yaml:1:1: error: top level is a list; want a mapping of keys such as version and name"}},
		{"a top level that is a string", "hello\n",
			[]string{"rb.yaml:1:1: error: top level is a string; want a mapping of keys such as version and name"}},
		{"a file over MaxFileSize", "#" + strings.Repeat("x", MaxFileSize),
			[]string{"rb.yaml: error: file is 1048577 bytes, more than the 1048576 allowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb, lints := DecodeRunbook("rb.yaml", []byte(tt.data), reg)
			checkLints(t, lints, tt.want)
			if rb == nil || rb.File != "rb.yaml" {
				t.Errorf("runbook = %+v, want one with File set", rb)
			}
		})
	}
}

func TestDecodeRunbookFillsDefaults(t *testing.T) {
	data := []byte(`version: 1
name: compromised
title: Compromised account
description: Cut off an account an attacker may control.
steps:
  - id: disable-ad-account
    uses: ad.disable_account
  - id: reset-ad-password
    uses: ad.reset_password
    needs: [disable-ad-account]
    with: {times: 2}
  - id: confirm-compromised
    uses: entra.confirm_compromised
    on_error: continue
    retry: {attempts: 3, max_wait: 2m}
    timeout: 1m
    tags: [identity-protection]
`)
	reg := testRegistry(t)
	rb, lints := DecodeRunbook("builtin:compromised.yaml", data, reg)
	checkLints(t, lints, nil)
	sum := sha256.Sum256(data)
	if rb.Digest != hex.EncodeToString(sum[:]) || rb.File != "builtin:compromised.yaml" {
		t.Errorf("File, Digest = %q, %q", rb.File, rb.Digest)
	}
	if rb.Version != 1 || rb.Name != "compromised" || rb.Scenario != "compromised" ||
		rb.Title != "Compromised account" || rb.Description != "Cut off an account an attacker may control." {
		t.Errorf("header = %+v", rb)
	}
	if len(rb.Steps) != 3 {
		t.Fatalf("%d steps, want 3", len(rb.Steps))
	}
	spec, _ := reg.Step("ad.disable_account")
	want := &StepDef{ID: "disable-ad-account", Uses: "ad.disable_account", Spec: spec, With: steps.Values{},
		OnError: Block, Retry: Retry{Attempts: DefaultAttempts, MaxWait: DefaultMaxWait}, Timeout: DefaultTimeout,
		Line: 6, Column: 5}
	if !reflect.DeepEqual(rb.Steps[0], want) {
		t.Errorf("step 0 = %+v\nwant      %+v", rb.Steps[0], want)
	}
	reset := rb.Step("reset-ad-password")
	if !reflect.DeepEqual(reset.With, steps.Values{"times": 2, "length": 32}) ||
		!reflect.DeepEqual(reset.Needs, []string{"disable-ad-account"}) || reset.Line != 8 {
		t.Errorf("reset step = %+v", reset)
	}
	confirm := rb.Step("confirm-compromised")
	if confirm.OnError != Continue || confirm.Retry != (Retry{Attempts: 3, MaxWait: 2 * time.Minute}) ||
		confirm.Timeout != time.Minute || !reflect.DeepEqual(confirm.Tags, []string{"identity-protection"}) {
		t.Errorf("confirm step = %+v", confirm)
	}
}

func TestDecodeRunbookKeepsExplicitScenario(t *testing.T) {
	rb, lints := DecodeRunbook("rb.yaml", []byte("version: 1\nname: leaver-contractors\nscenario: termination\nsteps:\n  - {id: a, uses: ad.disable_account}\n"), testRegistry(t))
	checkLints(t, lints, nil)
	if rb.Scenario != "termination" {
		t.Errorf("Scenario = %q, want termination", rb.Scenario)
	}
}

func TestDecodeRunbookSamples(t *testing.T) {
	// testdata/decode holds valid samples (also the fuzz seeds): each must
	// decode without a Lint.
	paths, err := filepath.Glob("testdata/decode/runbook-*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	reg := testRegistry(t)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		_, lints := DecodeRunbook(p, data, reg)
		checkLints(t, lints, nil)
	}
}

func TestCheckRunbookNames(t *testing.T) {
	rbs := []*Runbook{
		{Name: "termination", File: "a.yaml"},
		{Name: "compromised", File: "b.yaml"},
		nil,
		{Name: "", File: "broken.yaml"},
		{Name: "termination", File: "c.yaml"},
		{Name: "termination", File: "d.yaml"},
	}
	checkLints(t, CheckRunbookNames(rbs), []string{
		`c.yaml: error: runbook name "termination" is already used by a.yaml`,
		`d.yaml: error: runbook name "termination" is already used by a.yaml`,
	})
}

func TestClosestName(t *testing.T) {
	names := []string{"ad.disable_account", "ad.reset_password", "entra.disable_user", "entra.reset_password"}
	tests := []struct{ in, want string }{
		{"ad.disable_acount", "ad.disable_account"},
		{"AD.Disable_Account", "ad.disable_account"},
		{"disable_account", "ad.disable_account"},
		{"entra.disable_usr", "entra.disable_user"},
		{"reset_password", ""}, // two equally close
		{"okta.suspend", ""},
	}
	for _, tt := range tests {
		if got := closestName(tt.in, names); got != tt.want {
			t.Errorf("closestName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
