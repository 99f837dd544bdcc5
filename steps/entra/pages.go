package entra

import (
	"context"

	"github.com/revoke-dev/revoke/steps"
)

// page is a Graph collection response (a *collection).
type page interface{ nextLink() string }

// eachPage fetches a collection page by page, following @odata.nextLink:
// get("") fetches the first page, get(link) the next. At most maxPages
// pages are read, so a server that links a page to itself cannot hold a
// step forever.
func eachPage[P page](ctx context.Context, op string, ec errorContext, get func(next string) (P, error), visit func(P)) error {
	next := ""
	for n := 0; n < maxPages; n++ {
		p, err := get(next)
		if err != nil {
			return classify(ctx, op, err, ec)
		}
		visit(p)
		if next = p.nextLink(); next == "" {
			return nil
		}
	}
	return steps.Errorf(steps.Invalid, "entra: %s: more than %d pages: the listing does not end", op, maxPages)
}
