package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/steps"
)

// demoConn is a backend connection; a real one wraps an LDAP or Graph client.
type demoConn struct{ enabled map[string]bool }

func (c *demoConn) Resolve(ctx context.Context, ref string) (map[string]any, error) {
	return map[string]any{"enabled": c.enabled[ref]}, nil
}
func (c *demoConn) Close() error { return nil }

// disableAccount is a step: Check reads, Apply changes.
type disableAccount struct{}

func (disableAccount) Check(ctx context.Context, call *steps.Call) (steps.Change, error) {
	if !call.Conn.(*demoConn).enabled[call.Subject.Ref] {
		return steps.Change{Satisfied: true, Summary: "already disabled"}, nil
	}
	return steps.Change{Summary: "enabled: true → false"}, nil
}

func (disableAccount) Apply(ctx context.Context, call *steps.Call) (steps.Change, error) {
	call.Conn.(*demoConn).enabled[call.Subject.Ref] = false
	return steps.Change{Summary: "enabled: true → false"}, nil
}

func ExampleExecutor_Run() {
	reg := steps.NewRegistry()
	reg.RegisterBackend(steps.BackendSpec{Name: "demo", Summary: "A demo directory", Kinds: []string{"cloud"},
		Open: func(context.Context, *steps.Env) (steps.Conn, error) { return nil, errors.New("unused") }})
	reg.Register(steps.Spec{Name: "demo.disable_account", Summary: "Disable the account", Containment: true,
		New: func() steps.Step { return disableAccount{} }})
	spec, _ := reg.Step("demo.disable_account")

	// A plan as the policy decided it: one step to run, one skipped.
	disable := &engine.StepDef{ID: "disable", Uses: spec.Name, Spec: spec, OnError: engine.Block}
	again := &engine.StepDef{ID: "disable-again", Uses: spec.Name, Spec: spec, Needs: []string{"disable"}}
	skipped := &engine.StepDef{ID: "disable-on-prem", Uses: spec.Name, Spec: spec}
	plan := &engine.Plan{
		Runbook: &engine.Runbook{Name: "termination", Steps: []*engine.StepDef{disable, again, skipped}},
		Subject: &steps.Subject{Ref: "adele@contoso.com"},
		Request: engine.Request{RequestedBy: "soc-oncall", Reason: "INC-4711"},
		Steps: []*engine.PlannedStep{
			{Def: disable, Run: true, Wave: 1},
			{Def: again, Run: true, Wave: 2},
			{Def: skipped, Run: false, Reason: "cloud-only environment"},
		},
	}

	state, _ := os.MkdirTemp("", "revoke-example")
	defer os.RemoveAll(state)
	journal, err := engine.CreateJournal(state, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer journal.Close()

	x := &engine.Executor{
		Conns:   map[string]steps.Conn{"demo": &demoConn{enabled: map[string]bool{"adele@contoso.com": true}}},
		Journal: journal,
	}
	res, err := x.Run(context.Background(), plan)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("outcome:", res.Outcome)
	for _, s := range res.Steps {
		fmt.Printf("%s: %s %s%s\n", s.ID, s.Status, s.Change.Summary, s.Reason)
	}

	log, _ := engine.ReadJournal(journal.Path())
	fmt.Println("journal verifies:", log.VerifyChain() == nil)
	for _, ev := range log.Events {
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%d %s %s", ev.Seq, ev.Type, ev.Step)))
	}
	// Output:
	// outcome: contained
	// disable: succeeded enabled: true → false
	// disable-again: satisfied already disabled
	// disable-on-prem: skipped cloud-only environment
	// journal verifies: true
	// 1 run_started
	// 2 step_started disable
	// 3 step_succeeded disable
	// 4 step_started disable-again
	// 5 step_satisfied disable-again
	// 6 run_finished
}
