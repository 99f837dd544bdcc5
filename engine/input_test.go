package engine

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/revoke-dev/revoke/steps"
)

func TestPolicyInputHasTheContractShape(t *testing.T) {
	rb := policyTestRunbook(t)
	rb.Steps = rb.Steps[2:5] // reset-ad-password, reset-entra-password, disable-devices
	rb.Steps[0].Tags = []string{"credentials"}
	env := contosoFacts
	env.Backends = map[string]map[string]any{"ad": {"leavers_ou": "OU=Leavers,DC=contoso,DC=com", "timeout": 10 * time.Second}}
	got := PolicyInput(rb, env, syncedSubject(), Request{RequestedBy: "soc-oncall", Reason: "INC-4711"})
	want := map[string]any{
		"scenario": "compromised",
		"runbook": map[string]any{"name": "compromised", "scenario": "compromised", "steps": []any{
			map[string]any{"id": "reset-ad-password", "uses": "ad.reset_password",
				"with": map[string]any{"times": 2, "length": 32}, "needs": []any{"disable-ad-account"}, "tags": []any{"credentials"}},
			map[string]any{"id": "reset-entra-password", "uses": "entra.reset_password",
				"with": map[string]any{"times": 2, "length": 32}, "needs": []any{"disable-entra-user"}, "tags": []any{}},
			map[string]any{"id": "disable-devices", "uses": "entra.disable_devices",
				"with": map[string]any{"managed_action": "none", "grace": "1m30s"}, "needs": []any{"disable-entra-user"}, "tags": []any{}},
		}},
		"environment": map[string]any{"name": "contoso", "kind": "hybrid", "protected": []any{"breakglass1@contoso.com"},
			"backends": map[string]any{"ad": map[string]any{"leavers_ou": "OU=Leavers,DC=contoso,DC=com", "timeout": "10s"}}},
		"subject": map[string]any{
			"ref": "adele@contoso.com", "protected": []any{}, "gaps": []any{},
			"entra": map[string]any{"id": "u1", "userPrincipalName": "adele@contoso.com", "accountEnabled": true,
				"onPremisesSyncEnabled": true, "privilegedRoles": []any{}},
			"ad": map[string]any{"distinguishedName": "CN=Adele Vance,OU=Staff,DC=contoso,DC=com", "sAMAccountName": "adele",
				"userAccountControl": 512, "disabled": false, "adminCount": 0,
				"memberOf": []any{"CN=Sales,OU=Groups,DC=contoso,DC=com"}},
		},
		"request": map[string]any{"requested_by": "soc-oncall", "reason": "INC-4711", "allow_protected": false},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("input:\n%s\nwant:\n%s", g, w)
	}
}

func TestPolicyInputLeavesOutWhatIsUnknown(t *testing.T) {
	rb := &Runbook{Name: "custom"} // no scenario: it defaults to the name
	tests := []struct {
		name    string
		subject *steps.Subject
		req     Request
		subj    map[string]any
		request map[string]any
	}{
		{
			name:    "a subject found nowhere has only its ref",
			subject: &steps.Subject{Ref: "nobody"},
			subj:    map[string]any{"ref": "nobody", "protected": []any{}, "gaps": []any{}},
			request: map[string]any{"requested_by": "", "reason": "", "allow_protected": false},
		},
		{
			name:    "no subject at all has an empty ref",
			subj:    map[string]any{"ref": "", "protected": []any{}, "gaps": []any{}},
			request: map[string]any{"requested_by": "", "reason": "", "allow_protected": false},
		},
		{
			name:    "ticket and approver appear when given",
			subject: &steps.Subject{Ref: "x", Facts: map[string]map[string]any{"entra": {"id": "1"}, "ad": nil}},
			req:     Request{RequestedBy: "a", Reason: "b", Ticket: "T-1", ApprovedBy: "ciso", AllowProtected: true},
			subj:    map[string]any{"ref": "x", "entra": map[string]any{"id": "1"}, "protected": []any{}, "gaps": []any{}},
			request: map[string]any{"requested_by": "a", "reason": "b", "ticket": "T-1", "approved_by": "ciso", "allow_protected": true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := PolicyInput(rb, EnvironmentFacts{Name: "e", Kind: "cloud"}, tt.subject, tt.req)
			if !reflect.DeepEqual(in["subject"], tt.subj) {
				t.Errorf("subject %#v, want %#v", in["subject"], tt.subj)
			}
			if !reflect.DeepEqual(in["request"], tt.request) {
				t.Errorf("request %#v, want %#v", in["request"], tt.request)
			}
			if in["scenario"] != "custom" {
				t.Errorf("scenario %v, want the runbook's name", in["scenario"])
			}
			env := map[string]any{"name": "e", "kind": "cloud", "protected": []any{}, "backends": map[string]any{}}
			if !reflect.DeepEqual(in["environment"], env) {
				t.Errorf("environment %#v, want %#v", in["environment"], env)
			}
		})
	}
}

// The request's JSON form (journals, --output json) uses the input's names.
// A journal written before the keys became snake_case still resumes with
// who asked and who approved.
func TestRequestReadsLegacyKeys(t *testing.T) {
	tests := []struct {
		name, in string
		want     Request
	}{
		{"snake_case", `{"requested_by":"soc","reason":"r","approved_by":"ciso","allow_protected":true}`,
			Request{RequestedBy: "soc", Reason: "r", ApprovedBy: "ciso", AllowProtected: true}},
		{"camelCase of older journals", `{"requestedBy":"soc","reason":"r","ticket":"T-1","approvedBy":"ciso","allowProtected":true}`,
			Request{RequestedBy: "soc", Reason: "r", Ticket: "T-1", ApprovedBy: "ciso", AllowProtected: true}},
		{"the new key wins", `{"requested_by":"new","requestedBy":"old"}`, Request{RequestedBy: "new"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got Request
			if err := json.Unmarshal([]byte(tc.in), &got); err != nil || got != tc.want {
				t.Errorf("%+v (%v), want %+v", got, err, tc.want)
			}
		})
	}
}

func TestRequestJSON(t *testing.T) {
	data, err := json.Marshal(Request{RequestedBy: "soc", Reason: "INC-1", ApprovedBy: "ciso", AllowProtected: true})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"requested_by":"soc","reason":"INC-1","approved_by":"ciso","allow_protected":true}`
	if string(data) != want {
		t.Errorf("got %s, want %s", data, want)
	}
}

func TestPlainJSON(t *testing.T) {
	type custom struct {
		A int `json:"a"`
	}
	when := time.Date(2025, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"strings and numbers stay", map[string]any{"s": "x", "i": 3, "f": 1.5, "b": true, "n": nil},
			map[string]any{"s": "x", "i": 3, "f": 1.5, "b": true, "n": nil}},
		{"string lists become []any", []string{"a", "b"}, []any{"a", "b"}},
		{"nested lists of maps", []map[string]any{{"x": []string{"y"}}}, []any{map[string]any{"x": []any{"y"}}}},
		{"small integers widen", map[string]any{"a": int32(-4), "b": uint16(7), "c": float32(0.5)},
			map[string]any{"a": int64(-4), "b": int64(7), "c": 0.5}},
		{"durations and times become strings", []any{90 * time.Second, when}, []any{"1m30s", "2025-03-01T11:00:00Z"}},
		{"anything else goes through JSON", custom{A: 2}, map[string]any{"a": 2.0}},
		{"step values are maps", steps.Values{"keep": []string{"g"}}, map[string]any{"keep": []any{"g"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := plainJSON(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
			// Whatever comes out, OPA must take it.
			if _, err := ast.InterfaceToValue(got); err != nil {
				t.Errorf("OPA refuses it: %v", err)
			}
		})
	}
}
