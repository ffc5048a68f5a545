package up

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
)

// outgoingSpan is the runtime's hook for a component's outgoing request:
// a client span whose traceparent the dependent API gets, a child of the
// traceparent the component set on the request (its own span, which wins)
// or, when it set none, of the request it serves; it ends when the
// response headers or an error arrive.
func outgoingSpan(o *observe.Observer) func(context.Context, *http.Request) func(*http.Response, error) {
	return func(ctx context.Context, req *http.Request) func(*http.Response, error) {
		src, _ := observe.SourceFrom(ctx) // the route the gateway served
		span := o.StartClientSpan(ctx, src, req)
		return func(resp *http.Response, err error) {
			switch {
			case err != nil:
				span.SetStatus(codes.Error, err.Error())
			case resp.StatusCode >= 500:
				span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
			}
			if resp != nil {
				span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
			}
			span.End()
		}
	}
}
