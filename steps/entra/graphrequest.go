package entra

import (
	"context"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// Requests go through the Graph SDK's request adapter (its middleware
// pipeline, token provider and error mapping) and its request builders
// (their URL templates), but decode into and encode from revoke's own
// small types (graphtypes.go) rather than the SDK's models: one model of
// msgraph-sdk-go/models names the constructors of the types its
// properties hold, and the entity discriminator names every entity type,
// so using any of them links all of Graph v1.0 (about 20 MB of the
// binary; docs/benchmarks.md, "The release binary").

// graphErrors maps every error status to Graph's OData error, as the
// SDK's generated request methods do, so that classify (errors.go) reads
// the same *odataerrors.ODataError it always has.
var graphErrors = abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// parsable is a pointer to one of revoke's Graph types: what send and
// collection construct and decode into.
type parsable[T any] interface {
	*T
	serialization.Parsable
}

// request is a request builder's RequestInformation and the error
// building it returned, so that a builder's To…RequestInformation call can
// be handed to send as it is.
type request struct {
	info *abs.RequestInformation
	err  error
}

// req wraps a To…RequestInformation call's results for send.
func req(info *abs.RequestInformation, err error) request { return request{info, err} }

// withBody returns a request with method and body to the URL of the
// request builder b (its template and path parameters), as the builder's
// own Patch or Post would build it: Accept and the body as
// application/json. The SDK's methods for writes take its models; this
// takes revoke's.
func (c *Conn) withBody(ctx context.Context, method abs.HttpMethod, b *abs.BaseRequestBuilder, body serialization.Parsable) request {
	info := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(method, b.UrlTemplate, b.PathParameters)
	info.Headers.TryAdd("Accept", "application/json")
	err := info.SetContentFromParsable(ctx, c.graph.GetAdapter(), "application/json", body)
	return request{info, err}
}

// send sends r and decodes the answer into a new T. An empty answer (204)
// is nil and no error, as with the SDK's methods.
func send[T any, P parsable[T]](ctx context.Context, c *Conn, r request) (P, error) {
	if r.err != nil {
		return nil, r.err
	}
	res, err := c.graph.GetAdapter().Send(ctx, r.info, factory[T, P], graphErrors)
	if err != nil || res == nil {
		return nil, err
	}
	return res.(P), nil
}

// factory is the kiota ParsableFactory of T.
func factory[T any, P parsable[T]](serialization.ParseNode) (serialization.Parsable, error) {
	return P(new(T)), nil
}

// collection is one page of a Graph collection response: value, and the
// link to the next page when there is one.
type collection[T any, P parsable[T]] struct {
	value         []P
	odataNextLink *string
}

// GetFieldDeserializers reads value and @odata.nextLink.
func (c *collection[T, P]) GetFieldDeserializers() map[string]func(serialization.ParseNode) error {
	return map[string]func(serialization.ParseNode) error{
		"value": func(n serialization.ParseNode) error {
			vs, err := n.GetCollectionOfObjectValues(factory[T, P])
			if err != nil {
				return err
			}
			if vs != nil {
				c.value = make([]P, len(vs))
				for i, v := range vs {
					if v != nil {
						c.value[i] = v.(P)
					}
				}
			}
			return nil
		},
		"@odata.nextLink": stringField(&c.odataNextLink),
	}
}

// Serialize is never called: revoke sends no collection.
func (c *collection[T, P]) Serialize(serialization.SerializationWriter) error { return nil }

// nextLink is the link to the next page, or "" on the last.
func (c *collection[T, P]) nextLink() string { return deref(c.odataNextLink) }

// sendPage sends r and decodes the answer as a page of T.
func sendPage[T any, P parsable[T]](ctx context.Context, c *Conn, r request) (*collection[T, P], error) {
	return send[collection[T, P]](ctx, c, r)
}
