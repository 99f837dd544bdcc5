package main

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// The four situations the built-in runbooks are designed around, planned
// offline from the facts files shipped in examples/facts.
var planCases = []struct {
	name, facts, user string
	code              int
	run, skip         []string
	with              map[string]map[string]any
	deny              []string
}{
	{
		name:  "a synced user in a hybrid tenant: AD first, no cloud password reset",
		facts: "hybrid-synced", user: "adele@contoso.test", code: 0,
		run: []string{"confirm-compromised", "disable-ad-account", "disable-devices", "disable-entra-user",
			"remove-auth-methods", "remove-inbox-rules", "reset-ad-password", "revoke-consents", "revoke-sessions"},
		skip: []string{"reset-entra-password"},
		with: map[string]map[string]any{"reset-ad-password": {"times": 2.0, "length": 32.0}},
	},
	{
		name:  "a cloud-only user in a hybrid tenant: Entra steps, cloud password reset twice",
		facts: "cloud-user-hybrid", user: "contractor@contoso.test", code: 0,
		run: []string{"confirm-compromised", "disable-devices", "disable-entra-user",
			"remove-auth-methods", "remove-inbox-rules", "reset-entra-password", "revoke-consents", "revoke-sessions"},
		skip: []string{"disable-ad-account", "reset-ad-password"},
		with: map[string]map[string]any{"reset-entra-password": {"times": 2.0}},
	},
	{
		name:  "a cloud-only environment: every AD step skipped",
		facts: "cloud-environment", user: "lee@fabrikam.test", code: 0,
		run: []string{"confirm-compromised", "disable-devices", "disable-entra-user",
			"remove-auth-methods", "remove-inbox-rules", "reset-entra-password", "revoke-consents", "revoke-sessions"},
		skip: []string{"disable-ad-account", "reset-ad-password"},
	},
	{
		name:  "a protected account: denied, exit 3",
		facts: "protected", user: "breakglass@contoso.test", code: 3,
		run: []string{"confirm-compromised", "disable-devices", "disable-entra-user",
			"remove-auth-methods", "remove-inbox-rules", "reset-entra-password", "revoke-consents", "revoke-sessions"},
		skip: []string{"disable-ad-account", "reset-ad-password"},
		deny: []string{
			"breakglass@contoso.test is protected: environment contoso-prod lists breakglass@contoso.test as protected; to proceed anyway, pass --allow-protected and name who approved it with --approved-by",
			"breakglass@contoso.test is protected: it holds privileged Entra roles (Global Administrator); to proceed anyway, pass --allow-protected and name who approved it with --approved-by",
		},
	},
}

func TestPlanJSON(t *testing.T) {
	for _, tt := range planCases {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, "plan", "compromised", "--user", tt.user,
				"--facts", repo+"/examples/facts/"+tt.facts+".yaml", "--output", "json")
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, stderr)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("%v\n%s", err, stdout)
			}
			var keys []string
			for k := range got {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if want := []string{"deny", "environment", "runbook", "steps", "subject", "warn"}; !reflect.DeepEqual(keys, want) {
				t.Errorf("keys %v, want %v", keys, want)
			}
			var run, skip []string
			for _, s := range got["steps"].([]any) {
				step := s.(map[string]any)
				var stepKeys []string
				for k := range step {
					stepKeys = append(stepKeys, k)
				}
				sort.Strings(stepKeys)
				if want := []string{"id", "needs", "reason", "run", "uses", "wave", "with"}; !reflect.DeepEqual(stepKeys, want) {
					t.Errorf("step keys %v, want %v", stepKeys, want)
				}
				id := step["id"].(string)
				if step["run"].(bool) {
					run = append(run, id)
				} else {
					skip = append(skip, id)
					if step["reason"] == "" {
						t.Errorf("skipped step %s has no reason", id)
					}
				}
				for k, v := range tt.with[id] {
					if w := step["with"].(map[string]any)[k]; w != v {
						t.Errorf("%s: with.%s = %v, want %v", id, k, w, v)
					}
				}
			}
			sort.Strings(run)
			sort.Strings(skip)
			if !reflect.DeepEqual(run, tt.run) {
				t.Errorf("run %v, want %v", run, tt.run)
			}
			if !reflect.DeepEqual(skip, tt.skip) {
				t.Errorf("skip %v, want %v", skip, tt.skip)
			}
			var deny []string
			for _, d := range got["deny"].([]any) {
				deny = append(deny, d.(string))
			}
			if !reflect.DeepEqual(deny, tt.deny) {
				t.Errorf("deny %q, want %q", deny, tt.deny)
			}
		})
	}
}

func TestPlanText(t *testing.T) {
	stdout, _, code := runCLI(t, "plan", "compromised", "--user", "adele@contoso.test",
		"--facts", repo+"/examples/facts/hybrid-synced.yaml")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := `Plan: compromised for adele@contoso.test in contoso-prod (hybrid)

Wave 1
  run   disable-ad-account       ad.disable_account
  run   disable-entra-user       entra.disable_user
  run   confirm-compromised      entra.confirm_compromised

Wave 2
  run   reset-ad-password        ad.reset_password  length=32 times=2  (needs disable-ad-account)
  run   disable-devices          entra.disable_devices  managed_action=none  (needs disable-entra-user)
  run   revoke-sessions          entra.revoke_sessions  (needs disable-ad-account, disable-entra-user)

Wave 3
  run   remove-auth-methods      entra.remove_auth_methods  (needs revoke-sessions)
  run   remove-inbox-rules       entra.remove_inbox_rules  match=suspicious  (needs revoke-sessions)
  run   revoke-consents          entra.revoke_consents  (needs revoke-sessions)

Skipped
  skip  reset-entra-password     entra.reset_password: synced from on-premises AD: the password is mastered there, so the on-premises reset is the one that counts
`
	if stdout != want {
		t.Errorf("got:\n%s\nwant:\n%s", stdout, want)
	}
}

func TestPlanProtectedAllowedWithApproval(t *testing.T) {
	stdout, stderr, code := runCLI(t, "plan", "compromised", "--user", "breakglass@contoso.test",
		"--facts", repo+"/examples/facts/protected.yaml", "--allow-protected", "--approved-by", "ciso")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "warning: breakglass@contoso.test is protected (it holds privileged Entra roles (Global Administrator)); proceeding because ciso approved it") {
		t.Errorf("no approval warning:\n%s", stdout)
	}
}

func TestPlanErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"facts.yaml": "subject: {ref: a@b.c}\nnope: 1\n",
		"ok.yaml":    "subject: {ref: a@b.c, entra: {id: x, userPrincipalName: a@b.c}}\n",
	})
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"a facts file with an unknown key", []string{"plan", "compromised", "--user", "a@b.c", "--facts", dir + "/facts.yaml"}, 2,
			dir + "/facts.yaml:2:1: error: unknown key \"nope\" in facts file"},
		{"a missing facts file", []string{"plan", "compromised", "--user", "a@b.c", "--facts", dir + "/missing.yaml"}, 2,
			"no such file or directory"},
		{"an unknown runbook", []string{"plan", "nosuch", "--user", "a@b.c", "--facts", dir + "/ok.yaml"}, 2,
			`revoke: no runbook "nosuch": not a loaded runbook (compromised, termination) nor a file`},
		{"a user that does not match the facts", []string{"plan", "compromised", "--user", "z@b.c", "--facts", dir + "/ok.yaml"}, 2,
			"revoke: --user z@b.c does not match the facts file's subject.ref a@b.c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d (want %d), stderr:\n%s\nwant it to contain:\n%s", code, tt.code, stderr, tt.stderr)
			}
		})
	}
}
