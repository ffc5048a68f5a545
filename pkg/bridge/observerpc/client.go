package observerpc

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// Client calls wasmcanvas:observe over wRPC as the component SourceID: the
// caller's side of the encoding the handlers decode, for Go callers and
// tests. A WIT error comes back as an *observe.Error; a failed call as the
// wrpc error.
type Client struct {
	RPC      *wrpc.Client // on {lattice}.{provider key}
	SourceID string
	// Trace, when its Traceparent is set, goes as the traceparent and
	// tracestate headers.
	Trace observe.TraceContext
}

func (c *Client) header() nats.Header {
	h := nats.Header{wrpc.HeaderSourceID: {c.SourceID}}
	if c.Trace.Traceparent != "" {
		h.Set(wrpc.HeaderTraceparent, c.Trace.Traceparent)
		if c.Trace.Tracestate != "" {
			h.Set(wrpc.HeaderTracestate, c.Trace.Tracestate)
		}
	}
	return h
}

// invoke calls fn with params and decodes the results with res, which
// sees a decoder positioned after the result tag when fallible.
func (c *Client) invoke(ctx context.Context, iface, fn string, params *wire.Encoder, res func(*wire.Decoder)) error {
	b, err := c.RPC.Invoke(ctx, Instance(iface), fn, params.Bytes(), c.header())
	if err != nil {
		return err
	}
	d := wire.NewDecoder(b)
	res(d)
	if err := d.Finish(); err != nil {
		return fmt.Errorf("%s.%s: results do not match wit/observe.wit: %w", Instance(iface), fn, err)
	}
	return nil
}

// unit calls a function returning result<_, error>.
func (c *Client) unit(ctx context.Context, iface, fn string, params *wire.Encoder) error {
	var werr *observe.Error
	err := c.invoke(ctx, iface, fn, params, func(d *wire.Decoder) {
		if !d.Result() {
			werr = decodeError(d)
		}
	})
	if err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	return nil
}

func decodeError(d *wire.Decoder) *observe.Error {
	return &observe.Error{Kind: observe.ErrorKind(d.Case(errorCases)), Message: d.Str()}
}

func encodeKeyValues(e *wire.Encoder, kvs []observe.KeyValue) {
	e.ListLen(len(kvs))
	for _, kv := range kvs {
		e.Str(kv.Key)
		e.Str(kv.Value)
	}
}

// metricParams encodes a metrics function's params.
func metricParams[T any](name string, v T, put func(*wire.Encoder, T), labels []observe.KeyValue) *wire.Encoder {
	var e wire.Encoder
	e.Str(name)
	put(&e, v)
	encodeKeyValues(&e, labels)
	return &e
}

// CounterAdd, GaugeSet, GaugeAdd and HistogramRecord call the WIT metrics
// functions.
func (c *Client) CounterAdd(ctx context.Context, name string, delta uint64, labels []observe.KeyValue) error {
	return c.unit(ctx, "metrics", "counter-add", metricParams(name, delta, (*wire.Encoder).U64, labels))
}

func (c *Client) GaugeSet(ctx context.Context, name string, v float64, labels []observe.KeyValue) error {
	return c.unit(ctx, "metrics", "gauge-set", metricParams(name, v, (*wire.Encoder).F64, labels))
}

func (c *Client) GaugeAdd(ctx context.Context, name string, delta float64, labels []observe.KeyValue) error {
	return c.unit(ctx, "metrics", "gauge-add", metricParams(name, delta, (*wire.Encoder).F64, labels))
}

func (c *Client) HistogramRecord(ctx context.Context, name string, v float64, labels []observe.KeyValue) error {
	return c.unit(ctx, "metrics", "histogram-record", metricParams(name, v, (*wire.Encoder).F64, labels))
}

// Current calls tracing.current.
func (c *Client) Current(ctx context.Context) (observe.TraceContext, bool, error) {
	var tc observe.TraceContext
	var ok bool
	err := c.invoke(ctx, "tracing", "current", &wire.Encoder{}, func(d *wire.Decoder) {
		if ok = d.Option(); ok {
			tc = decodeTraceContext(d)
		}
	})
	return tc, ok, err
}

// StartSpan calls tracing.start-span.
func (c *Client) StartSpan(ctx context.Context, name string, kind observe.SpanKind, parent *observe.TraceContext) (observe.Span, error) {
	var e wire.Encoder
	e.Str(name)
	e.Case(uint32(kind))
	e.Option(parent != nil)
	if parent != nil {
		traceContext(&e, *parent)
	}
	var s observe.Span
	var werr *observe.Error
	err := c.invoke(ctx, "tracing", "start-span", &e, func(d *wire.Decoder) {
		if d.Result() {
			s = decodeSpan(d)
		} else {
			werr = decodeError(d)
		}
	})
	if err != nil {
		return observe.Span{}, err
	}
	if werr != nil {
		return observe.Span{}, werr
	}
	return s, nil
}

// EndSpan calls tracing.end-span.
func (c *Client) EndSpan(ctx context.Context, s observe.Span, attributes []observe.KeyValue, status observe.SpanStatus) error {
	var e wire.Encoder
	span(&e, s)
	encodeKeyValues(&e, attributes)
	e.Case(uint32(status.Code))
	if status.Code == observe.StatusError {
		e.Str(status.Description)
	}
	return c.unit(ctx, "tracing", "end-span", &e)
}

// Log calls logging.log.
func (c *Client) Log(ctx context.Context, level observe.Level, message string, fields []observe.KeyValue) error {
	var e wire.Encoder
	e.Case(uint32(level))
	e.Str(message)
	encodeKeyValues(&e, fields)
	return c.unit(ctx, "logging", "log", &e)
}
