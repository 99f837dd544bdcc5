package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/revoke-dev/revoke/engine"
	"github.com/revoke-dev/revoke/steps"
)

// stepsCmd prints the step catalog from the registered specs.
type stepsCmd struct {
	output   string
	markdown bool
}

func (*stepsCmd) Name() string { return "steps" }
func (*stepsCmd) Synopsis() string {
	return "the step catalog: what each step does, its parameters and permissions"
}
func (*stepsCmd) Usage() string { return "[NAME]" }

func (s *stepsCmd) SetFlags(fs *pflag.FlagSet) {
	outputFlag(fs, &s.output)
	fs.BoolVar(&s.markdown, "markdown", false, "print the whole reference as Markdown (docs/steps.md)")
}

func (s *stepsCmd) Run(ctx context.Context, c *cli, args []string) error {
	if err := checkOutput(s.output); err != nil {
		return err
	}
	if len(args) > 1 {
		return usageErrorf("steps takes at most one step name")
	}
	if s.markdown {
		_, err := c.stdout.Write(engine.StepReference(c.reg))
		return err
	}
	if len(args) == 0 {
		if s.output == "json" {
			out := []any{}
			for _, spec := range c.reg.Steps() {
				out = append(out, specJSON(c.reg, spec))
			}
			return writeJSON(c.stdout, out)
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STEP\tSUMMARY")
		for _, spec := range c.reg.Steps() {
			fmt.Fprintf(tw, "%s\t%s\n", spec.Name, spec.Summary)
		}
		return tw.Flush()
	}
	spec, ok := c.reg.Step(args[0])
	if !ok {
		return &exitError{code: exitFailure, err: fmt.Errorf("no step %q (run 'revoke steps' for the list)", args[0])}
	}
	if s.output == "json" {
		return writeJSON(c.stdout, specJSON(c.reg, spec))
	}
	w := c.stdout
	fmt.Fprintf(w, "%s — %s\n\n%s\n", spec.Name, spec.Summary, spec.Description)
	if len(spec.Params) > 0 {
		fmt.Fprintln(w, "\nParameters:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for i := range spec.Params {
			p := &spec.Params[i]
			def := engine.DefaultText(p)
			if def != "" {
				def = "default " + def
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", p.Name, engine.TypeText(p), def, p.Description)
		}
		tw.Flush()
	}
	fmt.Fprintln(w, "\nPermissions:")
	for _, line := range engine.PermissionLines(c.reg, spec) {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprintf(w, "\nIdempotent: %s\n", map[bool]string{true: "yes", false: "no"}[spec.Idempotent])
	return nil
}

func specJSON(reg *steps.Registry, spec *steps.Spec) map[string]any {
	params := []any{}
	for i := range spec.Params {
		p := &spec.Params[i]
		params = append(params, map[string]any{
			"name": p.Name, "type": p.Type, "description": p.Description, "required": p.Required,
			"default": engine.ParamJSON(p.Default), "enum": p.Enum, "min": p.Min, "max": p.Max,
		})
	}
	perms := []any{}
	for _, p := range spec.Permissions {
		perms = append(perms, map[string]any{"kind": p.Kind, "title": reg.PermissionTitle(spec.Backend(), p.Kind), "names": p.Names})
	}
	return map[string]any{
		"name": spec.Name, "backend": spec.Backend(), "summary": spec.Summary, "description": spec.Description,
		"params": params, "idempotent": spec.Idempotent, "containment": spec.Containment,
		"permissions": perms,
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// nonNil makes a nil list an empty one, so JSON shows [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
