package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/revoke-dev/revoke/engine"
)

// schemaCmd prints the runbook JSON Schema for editors.
type schemaCmd struct{}

func (*schemaCmd) Name() string { return "schema" }
func (*schemaCmd) Synopsis() string {
	return "the JSON Schema of runbook files, for editor completion and checks"
}
func (*schemaCmd) Usage() string           { return "" }
func (*schemaCmd) SetFlags(*pflag.FlagSet) {}

func (*schemaCmd) Run(ctx context.Context, c *cli, args []string) error {
	if len(args) > 0 {
		return usageErrorf("schema takes no arguments")
	}
	return writeJSON(c.stdout, engine.RunbookSchema(c.reg))
}
