package sandbox

import (
	_ "embed"
	"fmt"
)

// defaultSeedYAML is a copy of examples/sandbox/contoso.yaml (embed cannot
// reach parent directories); a test keeps the two identical.
//
//go:embed default_seed.yaml
var defaultSeedYAML []byte

// DefaultSeedFile is the name DefaultSeed's positions refer to.
const DefaultSeedFile = "examples/sandbox/contoso.yaml"

// DefaultSeed is the Contoso tenant of examples/sandbox/contoso.yaml,
// parsed afresh on every call so callers may change it.
func DefaultSeed() *Seed {
	s, err := ParseSeed(DefaultSeedFile, defaultSeedYAML)
	if err != nil {
		// The embedded file is tested; failing here is a build defect.
		panic(fmt.Sprintf("sandbox: embedded default seed: %v", err))
	}
	return s
}
