package steps

import (
	"reflect"
	"testing"
)

func TestAssignedApps(t *testing.T) {
	tests := []struct {
		name      string
		facts     map[string]map[string]any
		want      []string
		published bool
	}{
		{"nobody published", map[string]map[string]any{"entra": {"id": "x"}}, nil, false},
		{"an empty list is published", map[string]map[string]any{"entra": {FactAppAssignments: []any{}}}, nil, true},
		{"names and objects from two backends, each once, sorted", map[string]map[string]any{
			"entra": {FactAppAssignments: []any{"Salesforce", map[string]any{"displayName": "Contoso Expenses (legacy)"}, 7}},
			"other": {FactAppAssignments: []string{"Salesforce", "Zendesk"}},
			"third": {FactAppAssignments: []map[string]any{{"name": "Atlassian"}}},
		}, []string{"Atlassian", "Contoso Expenses (legacy)", "Salesforce", "Zendesk"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, published := AssignedApps(&Subject{Facts: tc.facts})
			if !reflect.DeepEqual(got, tc.want) || published != tc.published {
				t.Errorf("AssignedApps = %q, %t; want %q, %t", got, published, tc.want, tc.published)
			}
		})
	}
	if got, published := AssignedApps(nil); got != nil || published {
		t.Errorf("nil subject: %q, %t", got, published)
	}
}

func TestDisplayNameAndUPN(t *testing.T) {
	s := &Subject{
		Facts: map[string]map[string]any{"ad": {"sAMAccountName": "miriam"}, "entra": {FactDisplayName: "Miriam Graham"}},
		Identities: map[string]Identity{
			"ad":    {IDs: map[string]string{IDSAM: "miriam"}},
			"entra": {IDs: map[string]string{IDUPN: "miriam@contoso.test"}},
		},
	}
	if got := DisplayName(s); got != "Miriam Graham" {
		t.Errorf("DisplayName = %q", got)
	}
	if got := UPN(s); got != "miriam@contoso.test" {
		t.Errorf("UPN = %q", got)
	}
	if DisplayName(nil) != "" || UPN(nil) != "" || UPN(&Subject{}) != "" {
		t.Error("nil or empty subject gave a name")
	}
	// Two backends that both know: the first by name, whatever the map's order.
	both := &Subject{
		Facts: map[string]map[string]any{"b": {FactDisplayName: "B"}, "a": {FactDisplayName: "A"}, "c": {FactDisplayName: ""}},
		Identities: map[string]Identity{
			"b": {IDs: map[string]string{IDUPN: "b@contoso.test"}},
			"a": {IDs: map[string]string{IDUPN: "a@contoso.test"}},
		},
	}
	for range 20 {
		if got := DisplayName(both); got != "A" {
			t.Fatalf("DisplayName of two = %q, want the first backend's", got)
		}
		if got := UPN(both); got != "a@contoso.test" {
			t.Fatalf("UPN of two = %q, want the first backend's", got)
		}
	}
}
