// Package builtin imports every step plugin that ships with revoke: the one
// list of what a build contains.
package builtin

import (
	// Each plugin registers its backend and steps in steps.Default.
	_ "github.com/revoke-dev/revoke/steps/ad"
	_ "github.com/revoke-dev/revoke/steps/entra"
	_ "github.com/revoke-dev/revoke/steps/servicenow"
)
