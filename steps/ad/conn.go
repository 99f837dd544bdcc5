package ad

import (
	"context"
	"errors"

	"github.com/revoke-dev/revoke/steps"
)

func open(ctx context.Context, env *steps.Env) (steps.Conn, error) {
	return nil, steps.Classify(steps.Invalid, errors.New("ad: the LDAP backend is not built yet"))
}
