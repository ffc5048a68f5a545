package wrpc

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
)

// The NATS headers wasmCloud puts on an invocation (WRPC.md §2): the
// calling component or provider, the link the call travels on, W3C trace
// context, and the target the provider SDK's client names.
const (
	HeaderSourceID    = "source-id"
	HeaderLinkName    = "link-name"
	HeaderTargetID    = "target-id"
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
)

// HeaderError is the canvas's one addition to the wire: a server of this
// package sets it, with the handler's error, on the empty message that
// closes the results of a failed call. wRPC 0.0.1 reports a failed call
// only by closing the results early, which a caller of a function without
// results cannot tell from success; upstream peers read payloads only and
// ignore the header.
const HeaderError = "wasmcanvas-error"

// DefaultTimeout bounds a call whose context has no deadline: the client's
// wait for the results, and the server's wait for params plus its handler.
// It is the wasmCloud provider SDK's default invocation timeout.
const DefaultTimeout = 10 * time.Second

// MaxValueBytes is the most params or results one call may carry; a peer
// that sends more fails the call.
const MaxValueBytes = 16 << 20

// ErrNoResponders is the error of a call nothing serves: NATS answered the
// invocation with status 503. The target is not running, or the prefix,
// instance or function name is wrong.
var ErrNoResponders = errors.New("wrpc: no responders: nothing serves this function (is the target running, and are the prefix, instance and function right?)")

// ErrClosed is the error of a call on a closed Client or Server.
var ErrClosed = errors.New("wrpc: closed")

// A RemoteError is a failed call as the server reported it (HeaderError).
type RemoteError struct {
	Message string
}

func (e *RemoteError) Error() string { return "wrpc: the server failed the call: " + e.Message }

type headerKey struct{}

// Header returns the NATS headers of the invocation a handler serves
// (source-id, link-name, traceparent...), or nil outside a handler.
func Header(ctx context.Context) nats.Header {
	h, _ := ctx.Value(headerKey{}).(nats.Header)
	return h
}

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultTimeout)
}

// publishStream writes p to subj in messages of at most max bytes, then
// the empty message that ends the stream, carrying h.
func publishStream(nc *nats.Conn, subj string, p []byte, h nats.Header) error {
	limit := int(nc.MaxPayload())
	for len(p) > 0 {
		n := min(len(p), limit)
		if err := nc.Publish(subj, p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nc.PublishMsg(&nats.Msg{Subject: subj, Header: h})
}
