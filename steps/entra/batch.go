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
// one another, so they go together in Graph's $batch, 20 to a request, a
// few requests at once: one round trip for up to 20 objects.
//
// Graph throttles each request inside a batch on its own: a 200 batch can
// carry a 429 for one item and 204s for the rest. Each item's answer is
// therefore classified as if it had come alone (its status, its error
// body, its Retry-After and x-ms-throttle-scope), each deletion that went
// is journaled, and the step's error is the one for what did not go: the
// engine retries the step, a retry skips what was journaled, so only the
// throttled items are sent again, after their Retry-After. An item whose
// outcome the answer does not make plain (no answer for it, a status that
// is neither a success nor an error) is never reported done: it is
// Retryable, and the retry lists again and finds it there or gone.
//
// The SDK builds the batch (msgraphgocore.BatchRequest: item URLs from the
// request builders, relative to the version); its answer is read here with
// encoding/json, since the SDK's reader panics on answers it does not
// expect (a header value that is not a string, an item without an id, an
// empty body), and a panic in a batch's goroutine would end the process
// with Graph's deletions unjournaled.
//
// Requests of different subjects are not batched together: they already
// go at once over one HTTP/2 connection, so a batch would save no round
// trip, and Graph counts every item against its limits all the same
// (docs/benchmarks.md, "JSON batching, where it saves round trips").

// batchShape is how many requests go in one $batch and how many batches
// are in flight at once.
type batchShape struct{ size, inFlight int }

var (
	// directoryBatches: Graph's limit of 20 requests a batch, and a few
	// batches at once.
	directoryBatches = batchShape{size: 20, inFlight: 4}
	// mailboxBatches: Outlook runs at most four requests at once for a
	// mailbox, batch items included, and answers the others 429
	// (MailboxConcurrency), so a mailbox gets batches of four, one at a
	// time.
	mailboxBatches = batchShape{size: 4, inFlight: 1}
)

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
// round trips as shape allows: one alone as the request builder would
// send it, more in $batch requests of shape.size, shape.inFlight at once.
// Before each batch it spends its requests with charge (a bulk run's
// budget, Call.Charge), less the one Apply was charged, one batch after
// another; a batch whose budget cannot be had is not sent, nor any after
// it, and each of their calls gets that error. It returns each call's
// classified error, nil when it succeeded, in calls' order.
func (c *Conn) sendAll(ctx context.Context, calls []batchCall, shape batchShape, charge func(context.Context, int) error) []error {
	errs := make([]error, len(calls))
	slots := make(chan struct{}, shape.inFlight)
	var wg sync.WaitGroup
	for start := 0; start < len(calls); start += shape.size {
		end := min(start+shape.size, len(calls))
		chunk, out := calls[start:end], errs[start:end]
		spend := len(chunk)
		if start == 0 {
			spend-- // the request Apply was charged
		}
		// Spent here, one batch after another, in Apply's goroutine (a
		// bulk's Spend is not for several at once): a batch whose budget
		// cannot be had is not sent, nor any after it.
		if err := charge(ctx, spend); err != nil {
			for i := start; i < len(calls); i++ {
				errs[i] = err
			}
			break
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			c.sendBatch(ctx, chunk, out)
		})
	}
	wg.Wait()
	return errs
}

// sendBatch sends calls in one request, a $batch when there are several,
// and writes each call's classified error into errs.
func (c *Conn) sendBatch(ctx context.Context, calls []batchCall, errs []error) {
	adapter := c.graph.GetAdapter()
	if len(calls) == 1 {
		errs[0] = classify(ctx, calls[0].op, adapter.SendNoContent(ctx, calls[0].req, graphErrors), calls[0].ec)
		return
	}
	all := func(err error) {
		for i, call := range calls {
			errs[i] = classify(ctx, call.op, err, call.ec)
		}
	}
	batch := msgraphgocore.NewBatchRequest(adapter)
	ids := make([]string, len(calls))
	for i, call := range calls {
		item, err := batch.AddBatchRequestStep(*call.req)
		if err != nil {
			// Nothing was sent: a request the SDK cannot batch is a bug
			// here, not Graph's answer.
			all(fmt.Errorf("build the batch: %w", err))
			return
		}
		ids[i] = *item.GetId()
	}
	answers, err := c.postBatch(ctx, batch)
	if err != nil {
		// The batch as a whole was refused or lost, or its answer cannot
		// be read: each call gets that (a 429 for the batch throttles all
		// of them).
		all(err)
		return
	}
	for i, call := range calls {
		errs[i] = classify(ctx, call.op, itemError(answers[ids[i]]), call.ec)
	}
}

// postBatch sends batch and reads Graph's answer into its items by id.
// Its error is the SDK's for a batch refused as a whole (classify reads
// it as any answer), or Retryable when Graph took the batch and its
// answer cannot be read (whether each request was done is unknown).
func (c *Conn) postBatch(ctx context.Context, batch msgraphgocore.BatchRequest) (map[string]*batchAnswer, error) {
	adapter := c.graph.GetAdapter()
	req := abs.NewRequestInformation()
	req.Method = abs.POST
	req.UrlTemplate = "{+baseurl}/$batch"
	if err := req.SetContentFromParsable(ctx, adapter, "application/json", batch); err != nil {
		return nil, fmt.Errorf("build the batch: %w", err)
	}
	req.Headers.TryAdd("Accept", "application/json")
	raw, err := adapter.SendPrimitive(ctx, req, "[]byte", graphErrors)
	if err != nil {
		return nil, err
	}
	body, _ := raw.([]byte)
	answers, err := decodeBatch(body)
	if err != nil {
		return nil, steps.RetryableAfter(fmt.Errorf("read the batch's answer: %w: whether it was done is unknown", err), 0)
	}
	return answers, nil
}

// batchAnswer is one item of a $batch answer.
type batchAnswer struct {
	status  int // 0 when the answer's status was not a whole number
	headers map[string]string
	body    json.RawMessage
}

// decodeBatch reads a $batch answer into its items by id. Odd items are
// kept as well as they can be read (a header that is not a string is left
// out, a status that is not a whole number is 0), so that each is judged
// on its own; only an answer that is not a batch answer at all is an
// error.
func decodeBatch(body []byte) (map[string]*batchAnswer, error) {
	var in struct {
		Responses []struct {
			ID      string          `json:"id"`
			Status  json.RawMessage `json:"status"`
			Headers map[string]any  `json:"headers"`
			Body    json.RawMessage `json:"body"`
		} `json:"responses"`
	}
	if len(body) == 0 {
		return nil, errors.New("the answer is empty")
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("not a batch answer: %w", err)
	}
	out := make(map[string]*batchAnswer, len(in.Responses))
	for _, r := range in.Responses {
		a := &batchAnswer{headers: map[string]string{}, body: r.Body}
		if n, err := strconv.Atoi(string(r.Status)); err == nil {
			a.status = n
		}
		for k, v := range r.Headers {
			if s, ok := v.(string); ok {
				a.headers[k] = s
			}
		}
		if r.ID != "" {
			out[r.ID] = a
		}
	}
	return out, nil
}

// itemError is what the SDK would have returned had the batch item's
// request come alone: nil for a success (2xx); for an error (4xx, 5xx)
// Graph's OData error, or an ApiError when the body is not one, with the
// item's status and headers, so classify reads its Retry-After and
// throttle scope. Anything else leaves the outcome unknown: Retryable,
// never done.
func itemError(a *batchAnswer) error {
	switch {
	case a == nil:
		return steps.RetryableAfter(errors.New("the batch's answer from Graph has no response for it: whether it was done is unknown"), 0)
	case a.status >= 200 && a.status < 300:
		return nil
	case a.status < 400 || a.status > 599:
		return steps.RetryableAfter(fmt.Errorf("graph answered %d for it inside the batch: whether it was done is unknown", a.status), 0)
	}
	headers := abs.NewResponseHeaders()
	for k, v := range a.headers {
		headers.Add(k, v)
	}
	var apiErr abs.ApiErrorable = &abs.ApiError{Message: "Graph answered " + strconv.Itoa(a.status) + " " + http.StatusText(a.status)}
	if len(a.body) > 0 && a.body[0] == '{' {
		if node, err := jsonser.NewJsonParseNode(a.body); err == nil {
			if v, err := node.GetObjectValue(odataerrors.CreateODataErrorFromDiscriminatorValue); err == nil {
				if odata, ok := v.(*odataerrors.ODataError); ok && odata.GetErrorEscaped() != nil {
					apiErr = odata
				}
			}
		}
	}
	apiErr.SetStatusCode(a.status)
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
}

// removeAll deletes the objects rs names that earlier attempts did not
// journal (sendAll: together, in as few round trips as shape allows),
// journals each deletion that went or found the object gone, in rs'
// order, and returns the indexes of those and the error for what did not
// go: the one that needs a person (a refusal) before one the engine may
// retry, and of retryable ones the longest wait.
func (c *Conn) removeAll(ctx context.Context, call *steps.Call, rs []removal, shape batchShape) ([]int, error) {
	prior := priorRemoved(call)
	var todo []int
	var calls []batchCall
	for i, r := range rs {
		if !prior[r.id] {
			todo = append(todo, i)
			calls = append(calls, r.call)
		}
	}
	errs := c.sendAll(ctx, calls, shape, call.Charge)
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
		case gone(err):
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
