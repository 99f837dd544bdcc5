package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestRunAgainstTheEmbeddedSandbox(t *testing.T) {
	stdout, stderr, code := runCLI(t, "run", "compromised", "--user", "adele@contoso.test", "--yes", "--reason", "INC-1")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"Sandbox: no --env given",
		"AD        adele: userAccountControl 512 (enabled)",
		"succeeded   disable-ad-account",
		"userAccountControl: 512 → 514 (disabled)",
		"succeeded   reset-ad-password",
		"password reset 2 times",
		"skipped     reset-entra-password",
		"succeeded   revoke-sessions",
		"Contained. Time to containment: ",
		"Time to clean-up: ",
		"\nStill open (what the directories say the subject still holds):\n",
		"entra: access tokens issued before ",
		"NOT CHECKED    entra: mail forwarding set on the mailbox in Exchange",
		"AD        adele: userAccountControl 514 (disabled)",
		"Entra ID  adele@contoso.test: accountEnabled false",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", stdout)
	}

	id := regexp.MustCompile(`Run (\w{26}) contained`).FindStringSubmatch(stdout)
	if id == nil {
		t.Fatalf("no run id in:\n%s", stdout)
	}
	runs, _, code := runCLI(t, "runs")
	if code != 0 || !strings.Contains(runs, id[1]) || !strings.Contains(runs, "compromised  adele@contoso.test  tester") {
		t.Errorf("runs: exit %d\n%s", code, runs)
	}
	show, stderr, code := runCLI(t, "show", id[1], "--verify")
	if code != 0 || !strings.Contains(show, "hash chain verified") || !strings.Contains(show, "run finished: contained") {
		t.Errorf("show: exit %d\n%s\n%s", code, show, stderr)
	}
}

func TestRunRefusals(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no --yes without a terminal", []string{"run", "compromised", "--user", "adele@contoso.test"}, 2, "",
			"revoke: refusing to change anything without --yes: stdin is not a terminal to ask on"},
		{"a protected account is denied", []string{"run", "compromised", "--user", "breakglass@contoso.test", "--yes"}, 3,
			"denied: breakglass@contoso.test is protected", ""},
		{"an unknown user changes nothing", []string{"run", "compromised", "--user", "nobody@contoso.test", "--yes"}, 1, "",
			"revoke: nobody@contoso.test was not found in ad or entra: check the reference (UPN, object id, sAMAccountName, DOMAIN\\user, DN or SID); nothing was changed"},
		{"an injected filter finds nobody", []string{"run", "compromised", "--user", "*)(objectClass=*@contoso.test", "--yes"}, 1, "",
			"was not found in ad or entra"},
		{"a logon name AD could not hold is refused", []string{"run", "compromised", "--user", "*)(objectClass=*", "--yes"}, 1, "",
			`revoke: subject reference "*)(objectClass=*": a logon name (sAMAccountName) cannot contain "*"`},
		{"a bad --max-parallel", []string{"run", "compromised", "--user", "x", "--yes", "--max-parallel", "0"}, 2, "",
			"revoke: --max-parallel must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
		})
	}
}

func TestPlanLive(t *testing.T) {
	stdout, stderr, code := runCLI(t, "plan", "compromised", "--user", "o'brien@contoso.test", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var plan struct {
		Subject string `json:"subject"`
		Steps   []struct {
			ID    string `json:"id"`
			Run   bool   `json:"run"`
			Check *struct {
				Summary   string   `json:"summary"`
				Satisfied bool     `json:"satisfied"`
				Error     string   `json:"error"`
				Missing   []string `json:"missing"`
			} `json:"check"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(stdout), &plan); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	checks := map[string]string{}
	for _, s := range plan.Steps {
		if s.Run {
			if s.Check == nil || s.Check.Error != "" || len(s.Check.Missing) > 0 {
				t.Errorf("step %s: check %+v", s.ID, s.Check)
				continue
			}
			checks[s.ID] = s.Check.Summary
		}
	}
	if checks["disable-entra-user"] != "accountEnabled: true → false" {
		t.Errorf("disable-entra-user check = %q", checks["disable-entra-user"])
	}
	if !strings.HasPrefix(checks["disable-ad-account"], "userAccountControl: 512 → 514") {
		t.Errorf("disable-ad-account check = %q", checks["disable-ad-account"])
	}
}

func TestRunJSONOutputIsOneDocument(t *testing.T) {
	stdout, stderr, code := runCLI(t, "run", "termination", "--user", "megan@contoso.test", "--yes", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		RunID       string `json:"run_id"`
		Outcome     string `json:"outcome"`
		Containment int64  `json:"containment"`
		Steps       []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"steps"`
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Errorf("more than one JSON document on stdout:\n%s", stdout)
	}
	if res.Outcome != "contained" || len(res.RunID) != 26 || res.Containment <= 0 || len(res.Steps) != 14 {
		t.Errorf("result %+v", res)
	}
}
