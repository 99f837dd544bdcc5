// Package runbooks holds the built-in runbooks (termination, compromised)
// and their runbook tests (*_test.yaml), embedded so that every binary can
// run them with no files installed.
package runbooks

import "embed"

// FS holds the runbooks and their tests, at the top level.
//
//go:embed *.yaml
var FS embed.FS
