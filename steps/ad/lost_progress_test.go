package ad

import (
	"slices"
	"testing"

	"github.com/revoke-dev/revoke/steps"
)

// A reset whose modify reached the directory but whose progress line never
// reached the journal (the process died in between) is counted from
// pwdLastSet on resume: times 2 still means two resets in all.
func TestSambaResetPasswordLostProgress(t *testing.T) {
	dc := needSamba(t)
	admin := dc.admin(t)
	c := dc.open(t, nil)
	sam := unique("rvlost")
	u := dc.addUser(t, admin, sam, sam+"@contoso.test", 512)

	gen := &recordingGenerator{}
	step := &resetPasswordStep{generate: gen.generate}
	call, reports := callFor(t, c, u.UPN, steps.Values{"times": 2, "length": 32})
	// The crashed process's first reset: made, never journaled.
	if err := step.reset(t.Context(), c, u.DN, sam, 32); err != nil {
		t.Fatal(err)
	}
	call.Resumed = true

	ch, err := step.Check(t.Context(), call)
	if err != nil || ch.Details["resets"] != 1 {
		t.Fatalf("Check = %+v, %v; want 1 reset left", ch, err)
	}
	if _, err := step.Apply(t.Context(), call); err != nil {
		t.Fatal(err)
	}
	if len(gen.made) != 2 {
		t.Errorf("%d passwords sent in all, want 2 (1 before the crash, 1 after)", len(gen.made))
	}
	var msgs []string
	for _, r := range *reports {
		msgs = append(msgs, r.Message)
	}
	if want := []string{"password reset 2 of 2"}; !slices.Equal(msgs, want) {
		t.Errorf("reports %q, want %q", msgs, want)
	}
}
