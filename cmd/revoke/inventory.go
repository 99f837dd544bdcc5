package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/revoke-dev/revoke/steps"
)

// inventoryCmd lists what a subject still holds, read-only: the same
// report a run ends with, for someone nobody ran anything on, or to check
// again later.
type inventoryCmd struct {
	user, envFile, stateDir, output string
}

func (*inventoryCmd) Name() string { return "inventory" }
func (*inventoryCmd) Synopsis() string {
	return "list what a subject still holds that outlives a disabled account (read-only)"
}
func (*inventoryCmd) Usage() string { return "--user REF [--env FILE]" }

func (r *inventoryCmd) SetFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&r.user, "user", "u", "", "the subject: UPN, object id, sAMAccountName, DOMAIN\\user, DN or SID (required)")
	fs.StringVar(&r.envFile, "env", "", "environment file (default: the embedded sandbox)")
	outputFlag(fs, &r.output)
}

// inventoryResult is `revoke inventory -o json`.
type inventoryResult struct {
	Subject  string           `json:"subject"`
	Residual []steps.Residual `json:"residual"`
}

func (r *inventoryCmd) Run(ctx context.Context, c *cli, args []string) error {
	if err := checkOutput(r.output); err != nil {
		return err
	}
	if len(args) != 0 {
		return usageErrorf("inventory takes no arguments: name the subject with --user")
	}
	if strings.TrimSpace(r.user) == "" {
		return usageErrorf("inventory needs --user REF")
	}
	sess, err := c.openSession(ctx, r.envFile, r.stateDir)
	if err != nil {
		return err
	}
	defer sess.Close()
	subject, err := sess.resolve(ctx, r.user)
	if err != nil {
		return err
	}
	items, ok := sess.conns.Inventory(ctx, subject)
	if !ok {
		return fmt.Errorf("no backend of environment %s can take an inventory", sess.env.Name)
	}
	if r.output != "text" {
		if items == nil {
			items = []steps.Residual{}
		}
		return writeJSON(c.stdout, inventoryResult{Subject: subject.Ref, Residual: items})
	}
	if sess.env.tenant != nil {
		fmt.Fprintln(c.stdout, "Sandbox: no --env given, so this reads the embedded sandbox tenant. Nothing real is touched.")
		fmt.Fprintln(c.stdout)
	}
	fmt.Fprintf(c.stdout, "What %s still holds:\n", termSafe(subject.Ref))
	printResidual(c.stdout, items)
	return nil
}

// residualOrder is the order the report lists kinds in: what signs in or
// acts first, what is only held last, what could not be read at the end.
var residualOrder = []string{
	steps.ResidualAccount, steps.ResidualToken, steps.ResidualSignInMethod, steps.ResidualInboxRule,
	steps.ResidualConsent, steps.ResidualRole, steps.ResidualAppAssignment, steps.ResidualGroup,
	steps.ResidualLicense, steps.ResidualDevice,
}

// printResidual lists residual items by kind, each with how long it lasts
// and why it was left; what could not be checked comes last, so nobody
// reads silence as nothing.
func printResidual(w io.Writer, items []steps.Residual) {
	if len(items) == 0 {
		fmt.Fprintln(w, "  nothing the backends can read")
		return
	}
	// By kind, what could not be checked last; within a kind each
	// backend's own order is kept.
	rank := func(kind string) int {
		if i := slices.Index(residualOrder, kind); i >= 0 {
			return i
		}
		if kind == steps.ResidualUnchecked {
			return len(residualOrder) + 1
		}
		return len(residualOrder)
	}
	sorted := slices.Clone(items)
	slices.SortStableFunc(sorted, func(a, b steps.Residual) int { return cmp.Compare(rank(a.Kind), rank(b.Kind)) })
	for _, it := range sorted {
		kind := strings.ReplaceAll(it.Kind, "_", " ")
		if it.Kind == steps.ResidualUnchecked {
			kind = "NOT CHECKED"
		}
		line := fmt.Sprintf("  %-14s %s: %s", kind, it.Backend, it.What)
		if it.Until != "" {
			line += "; " + it.Until
		}
		if it.Why != "" {
			line += " (" + it.Why + ")"
		}
		fmt.Fprintln(w, termSafe(line))
	}
}
