// Package policies holds the default Rego policies that ship with revoke,
// embedded so that every binary decides the same way out of the box.
//
// Every module is `package revoke` (decision rules: skip, with, deny, warn)
// or `package revoke.lint` (validation rules for CI: violation for errors,
// advice for warnings). *_test.rego files hold their tests; `revoke
// validate` runs them. The policy contract is in docs/policies.md.
package policies

import "embed"

// FS holds the default policies and their tests, at the top level.
//
//go:embed *.rego
var FS embed.FS
