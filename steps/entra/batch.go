package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	abs "github.com/microsoft/kiota-abstractions-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/revoke-dev/revoke/steps"
)

// JSON batching. A clean-up step that deletes several objects (a user's
// group memberships, consents, inbox rules, app assignments) used to send
// one DELETE after another: n round trips. The deletions do not depend on
// one another, so they go together in Graph's $batch, 20 to a request, the
// requests at once: one round trip for up to 20 objects.
//
// Graph throttles each request inside a batch on its own: a 200 batch can
// carry a 429 for one item and 204s for the rest. Each item's answer is
// therefore classified as if it had come alone (its status, its error
// body, its Retry-After and x-ms-throttle-scope), each deletion that went
// is journaled, and the step's error is the one for what did not go: the
// engine retries the step, a retry skips what was journaled, so only the
// throttled items are sent again, after their Retry-After.
//
// Requests of different subjects are not batched together: they already
// go at once over one HTTP/2 connection, so a batch would save no round
// trip, and Graph counts every item against its limits all the same
// (docs/benchmarks.md, "JSON batching").

// maxBatch is Graph's limit of requests in one $batch.
const maxBatch = 20

// odataErrors maps every error status to Graph's OData error, as the
// SDK's request builders do.
var odataErrors = abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

func init() {
	// A batch refused as a whole is read with the error mapping the SDK
	// keeps in a registry under this key; with none, Graph's message is
	// lost. The registry is a map without a lock: written here, before
	// any request.
	_ = msgraphgocore.RegisterError(msgraphgocore.BatchRequestErrorRegistryKey, odataErrors)
}

// batchCall is one of several independent requests that answer no
// content: what it does, in classify's words; the request, made by the
// SDK's request builder (so its URL is the builder's, a membership's
// always ending in /$ref); and how its failure is classified.
type batchCall struct {
	op  string
	req *abs.RequestInformation
	ec  errorContext
}

// sendAll sends calls, which must not depend on one another, in as few
// round trips as Graph allows: one alone as the request builder would
// send it, more in $batch requests of up to 20, sent at once. It returns
// each call's classified error, nil when it succeeded, in calls' order.
func (c *Conn) sendAll(ctx context.Context, calls []batchCall) []error {
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for start := 0; start < len(calls); start += maxBatch {
		chunk, out := calls[start:min(start+maxBatch, len(calls))], errs[start:min(start+maxBatch, len(calls))]
		wg.Go(func() { c.sendBatch(ctx, chunk, out) })
	}
	wg.Wait()
	return errs
}

// sendBatch sends calls in one request, a $batch when there are several,
// and writes each call's classified error into errs.
func (c *Conn) sendBatch(ctx context.Context, calls []batchCall, errs []error) {
	adapter := c.graph.GetAdapter()
	if len(calls) == 1 {
		errs[0] = classify(ctx, calls[0].op, adapter.SendNoContent(ctx, calls[0].req, odataErrors), calls[0].ec)
		return
	}
	batch := msgraphgocore.NewBatchRequest(adapter)
	ids := make([]string, len(calls))
	for i, call := range calls {
		item, err := batch.AddBatchRequestStep(*call.req)
		if err != nil {
			// A request the SDK cannot put in a batch is a bug here,
			// not Graph's answer: nothing was sent.
			for j := range calls {
				errs[j] = fmt.Errorf("entra: %s: build the batch: %w", calls[j].op, err)
			}
			return
		}
		ids[i] = *item.GetId()
	}
	resp, err := batch.Send(ctx, adapter)
	if err != nil {
		// The batch as a whole was refused or lost: each call gets that
		// answer (a 429 for the batch throttles all of them).
		for i, call := range calls {
			errs[i] = classify(ctx, call.op, err, call.ec)
		}
		return
	}
	for i, call := range calls {
		errs[i] = classify(ctx, call.op, itemError(resp.GetResponseById(ids[i])), call.ec)
	}
}

// itemError is what the SDK would have returned had the batch item's
// request come alone: nil for a success, Graph's OData error (or an
// ApiError when the body is not one) with the item's status and headers
// otherwise, so classify reads its Retry-After and throttle scope.
func itemError(item msgraphgocore.BatchItem) error {
	if item == nil || item.GetStatus() == nil {
		// Whether it ran is unknown; the deletions batched are safe to
		// send again (a second DELETE finds the object gone).
		return steps.RetryableAfter(errors.New("the batch's answer from Graph has no response for it"), 0)
	}
	status := int(*item.GetStatus())
	if status < 400 {
		return nil
	}
	headers := abs.NewResponseHeaders()
	for k, v := range item.GetHeaders() {
		headers.Add(k, v)
	}
	var apiErr abs.ApiErrorable = &abs.ApiError{Message: "Graph answered " + strconv.Itoa(status) + " " + http.StatusText(status)}
	if body := item.GetBody(); body != nil {
		if raw, err := json.Marshal(map[string]any(body)); err == nil {
			if node, err := jsonser.NewJsonParseNode(raw); err == nil {
				if v, err := node.GetObjectValue(odataerrors.CreateODataErrorFromDiscriminatorValue); err == nil {
					if odata, ok := v.(*odataerrors.ODataError); ok {
						apiErr = odata
					}
				}
			}
		}
	}
	apiErr.SetStatusCode(status)
	apiErr.SetResponseHeaders(headers)
	return apiErr.(error)
}

// removal is one object a clean-up step deletes: the journaled id, the
// call that deletes it, and the progress records of its deletion.
type removal struct {
	id      string // journaled under progressRemoved, so a retry skips it
	call    batchCall
	done    string         // the progress message when it was deleted
	gone    string         // the progress message when it was already gone
	details map[string]any // the progress record's details besides the id
	// alsoGone, when set, says an error that means the object is gone
	// besides a 404.
	alsoGone func(error) bool
}

// removeAll deletes the objects rs names that earlier attempts did not
// journal (sendAll: together, in as few round trips as Graph allows),
// journals each deletion that went or found the object gone, in rs'
// order, and returns the indexes of those and the error for what did not
// go: the one that needs a person (a refusal) before one the engine may
// retry, and of retryable ones the longest wait.
func (c *Conn) removeAll(ctx context.Context, call *steps.Call, rs []removal) ([]int, error) {
	prior := priorRemoved(call)
	var todo []int
	var calls []batchCall
	for i, r := range rs {
		if !prior[r.id] {
			todo = append(todo, i)
			calls = append(calls, r.call)
		}
	}
	// Apply was charged one request of its budget; the rest are spent
	// before they go.
	if err := call.Charge(ctx, len(calls)-1); err != nil {
		return nil, err
	}
	errs := c.sendAll(ctx, calls)
	var removed []int
	var failed error
	for k, i := range todo {
		r, err := rs[i], errs[k]
		details := map[string]any{progressRemoved: r.id}
		for key, v := range r.details {
			details[key] = v
		}
		switch {
		case err == nil:
			call.Report(r.done, details)
		case gone(err) || (r.alsoGone != nil && r.alsoGone(err)):
			call.Report(r.gone, details)
		default:
			failed = graver(failed, err)
			continue
		}
		removed = append(removed, i)
	}
	return removed, failed
}

// pick returns the elements of all at the indexes idx, in idx's order.
func pick[T any](all []T, idx []int) []T {
	out := make([]T, len(idx))
	for k, i := range idx {
		out[k] = all[i]
	}
	return out
}

// graver returns whichever of two failures says more about what to do: a
// failure the engine will not retry before one it will (retrying cannot
// help the first), then the longer requested wait; a on a tie.
func graver(a, b error) error {
	switch {
	case a == nil:
		return b
	case (steps.ClassOf(a) == steps.Retryable) != (steps.ClassOf(b) == steps.Retryable):
		if steps.ClassOf(a) == steps.Retryable {
			return b
		}
		return a
	case steps.RetryAfterOf(b) > steps.RetryAfterOf(a):
		return b
	}
	return a
}
