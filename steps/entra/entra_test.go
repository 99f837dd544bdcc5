package entra

import (
	"testing"

	"github.com/revoke-dev/revoke/steps"
)

// Every step registers with an implementation; those whose effect Graph
// can read back verify it.
func TestStepsRegisterWithImplementations(t *testing.T) {
	r := steps.NewRegistry()
	Register(r)
	verifies := map[string]bool{
		"entra.disable_user": true, "entra.revoke_sessions": true, "entra.disable_devices": true,
		"entra.reset_password": false, "entra.confirm_compromised": true,
		"entra.remove_auth_methods": true, "entra.remove_inbox_rules": true, "entra.revoke_consents": true,
		"entra.remove_roles": true, "entra.remove_app_assignments": true,
		"entra.remove_group_memberships": true, "entra.remove_licenses": true,
	}
	for _, s := range r.Steps() {
		want, known := verifies[s.Name]
		if !known {
			t.Errorf("unexpected step %s", s.Name)
			continue
		}
		if s.New == nil {
			t.Errorf("%s has no implementation", s.Name)
			continue
		}
		if _, ok := s.New().(steps.Verifier); ok != want {
			t.Errorf("%s: Verifier %v, want %v", s.Name, ok, want)
		}
		delete(verifies, s.Name)
	}
	for name := range verifies {
		t.Errorf("step %s not registered", name)
	}
}
