package main

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// version is set at release time with -ldflags "-X main.version=v1.2.3";
// when it is empty the module version the Go toolchain stamped is used.
var version = ""

// versionCmd prints what was built: the version, and the commit when the
// binary was built from a checkout, so a journal's "which revoke did
// this?" has an answer.
type versionCmd struct{}

func (*versionCmd) Name() string { return "version" }
func (*versionCmd) Synopsis() string {
	return "print revoke's version and the commit it was built from"
}
func (*versionCmd) Usage() string              { return "" }
func (*versionCmd) SetFlags(fs *pflag.FlagSet) {}

func (*versionCmd) Run(ctx context.Context, c *cli, args []string) error {
	if len(args) > 0 {
		return usageErrorf("version takes no arguments")
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(c.stdout, versionLine(version, info))
	return nil
}

// versionLine renders "revoke VERSION[ (commit REV[, modified], TIME)]"
// from the -ldflags version (which wins: a release says what it is) or
// the build info's module version, and the build info's VCS stamp. A
// binary built with `go run` or from outside a checkout has no commit, and
// a plain `go build` in a checkout has the module version "(devel)" (or a
// pseudo-version from the commit): "(devel)" and no version at all print
// as "devel", the truth about such a binary; a pseudo-version as it is.
func versionLine(ldflag string, info *debug.BuildInfo) string {
	v := ldflag
	if v == "" && info != nil {
		v = info.Main.Version
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	line := "revoke " + v
	if info == nil {
		return line
	}
	var rev, when string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return line
	}
	line += " (commit " + rev
	if modified {
		// Built from a work tree with uncommitted changes: the commit
		// alone does not say what the binary holds.
		line += ", modified"
	}
	if when != "" {
		line += ", " + when
	}
	return line + ")"
}
