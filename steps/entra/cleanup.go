package entra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/revoke-dev/revoke/steps"
)

// What the clean-up steps (remove_auth_methods, remove_inbox_rules,
// revoke_consents, remove_roles) share: each deletes a list of objects one
// by one, journals each deletion as progress under progressRemoved, counts
// a 404 as done, and verifies by listing again.

// progressRemoved is the Details key of the progress record a clean-up
// step leaves for each object it deleted: the object's id. A retried or
// resumed Apply skips those ids, since a fresh listing may still show an
// object deleted a moment ago.
const progressRemoved = "removed"

// verifyWaits are the pauses before each listing Verify makes: a deletion
// takes a few seconds to show in a new listing, so Verify reads again over
// about 3 s before it gives up. A variable so that tests need not wait.
var verifyWaits = []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}

// priorRemoved is the set of object ids earlier attempts of this step
// journaled as deleted.
func priorRemoved(call *steps.Call) map[string]bool {
	done := map[string]bool{}
	for _, p := range call.Prior {
		if id, ok := p.Details[progressRemoved].(string); ok && id != "" {
			done[id] = true
		}
	}
	return done
}

// gone reports whether a classified Graph error says the object is not
// there: a DELETE answered 404 has nothing left to delete, which is what
// the step wanted (a resume after a crash finds it so).
func gone(err error) bool {
	var ge *graphError
	return errors.As(err, &ge) && ge.status == http.StatusNotFound
}

// badRequest reports whether err is Graph's 400.
func badRequest(err error) bool {
	var ge *graphError
	return errors.As(err, &ge) && ge.status == http.StatusBadRequest
}

// verifyGone lists what is left with left, pausing verifyWaits between
// listings, until nothing is; then it returns nil. When something is still
// listed after the last listing it returns a Retryable error naming it:
// the engine retries Verify alone, and Graph has had longer to catch up.
// A failed listing ends it with that error.
func verifyGone(ctx context.Context, left func(ctx context.Context) (string, error)) error {
	var what string
	for _, wait := range verifyWaits {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		var err error
		if what, err = left(ctx); err != nil {
			return err
		}
		if what == "" {
			return nil
		}
	}
	return steps.RetryableAfter(fmt.Errorf("entra: still listed after the deletions: %s", what), time.Second)
}
