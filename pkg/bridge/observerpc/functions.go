package observerpc

import (
	"context"
	"errors"
	"fmt"

	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// Package is the WIT package served, with its version: a new version of
// wit/observe.wit changes it here, in pkg/observe's WIT test and in
// translate's link.
const Package = "wasmcanvas:observe@0.2.0"

// Instance is the wRPC instance name of one interface of Package, e.g.
// "wasmcanvas:observe/metrics@0.2.0".
func Instance(iface string) string { return "wasmcanvas:observe/" + iface + "@0.2.0" }

// function is one WIT function: decode reads its params tuple and returns
// the call, which records through the Recorder and encodes the results
// tuple. A function is fallible when it returns result<_, error>: a call
// that fails with an *observe.Error writes nothing, and fail encodes the
// error side.
type function struct {
	iface, name string
	fallible    bool
	decode      func(d *wire.Decoder) call
}

type call func(ctx context.Context, rec observe.Recorder, src observe.Source, r *wire.Encoder) error

// fail ends a call that failed with err: the WIT error result when fn has
// one and err is an *observe.Error, else a failed wRPC call.
func (fn function) fail(r *wire.Encoder, err error) error {
	var oe *observe.Error
	if !fn.fallible || !errors.As(err, &oe) || oe.Kind < 0 || oe.Kind >= errorCases {
		return fmt.Errorf("%s.%s: %w", Instance(fn.iface), fn.name, err)
	}
	r.Result(false)
	r.Case(uint32(oe.Kind))
	r.Str(oe.Message)
	return nil
}

// functions are wit/observe.wit's functions, interface by interface, in
// WIT order; wit_test.go checks none is missing.
var functions = []function{
	metric("counter-add", (*wire.Decoder).U64, observe.Recorder.CounterAdd),
	metric("gauge-set", (*wire.Decoder).F64, observe.Recorder.GaugeSet),
	metric("gauge-add", (*wire.Decoder).F64, observe.Recorder.GaugeAdd),
	metric("histogram-record", (*wire.Decoder).F64, observe.Recorder.HistogramRecord),
	// current has no error result: a call without a link fails as a call.
	{"tracing", "current", false, func(*wire.Decoder) call {
		return func(ctx context.Context, rec observe.Recorder, src observe.Source, r *wire.Encoder) error {
			tc, ok := rec.Current(ctx, src)
			r.Option(ok)
			if ok {
				traceContext(r, tc)
			}
			return nil
		}
	}},
	{"tracing", "start-span", true, func(d *wire.Decoder) call {
		name, kind := d.Str(), observe.SpanKind(d.Case(spanKinds))
		var parent *observe.TraceContext
		if d.Option() {
			tc := decodeTraceContext(d)
			parent = &tc
		}
		return func(ctx context.Context, rec observe.Recorder, src observe.Source, r *wire.Encoder) error {
			s, err := rec.StartSpan(ctx, src, name, kind, parent)
			if err != nil {
				return err
			}
			r.Result(true)
			span(r, s)
			return nil
		}
	}},
	{"tracing", "end-span", true, func(d *wire.Decoder) call {
		s, attrs := decodeSpan(d), keyValues(d)
		status := observe.SpanStatus{Code: observe.StatusCode(d.Case(statusCodes))}
		if status.Code == observe.StatusError {
			status.Description = d.Str()
		}
		return unitResult(func(ctx context.Context, rec observe.Recorder, src observe.Source) error {
			return rec.EndSpan(ctx, src, s, attrs, status)
		})
	}},
	{"logging", "log", true, func(d *wire.Decoder) call {
		level, msg, fields := observe.Level(d.Case(levels)), d.Str(), keyValues(d)
		return unitResult(func(ctx context.Context, rec observe.Recorder, src observe.Source) error {
			return rec.Log(ctx, src, level, msg, fields)
		})
	}},
}

// metric is a metrics function: (name: string, value: T, labels:
// list<key-value>) -> result<_, error>.
func metric[T any](name string, value func(*wire.Decoder) T,
	record func(observe.Recorder, context.Context, observe.Source, string, T, []observe.KeyValue) error) function {
	return function{"metrics", name, true, func(d *wire.Decoder) call {
		n, v, labels := d.Str(), value(d), keyValues(d)
		return unitResult(func(ctx context.Context, rec observe.Recorder, src observe.Source) error {
			return record(rec, ctx, src, n, v, labels)
		})
	}}
}

// The case counts of the WIT's enums and variants.
const (
	spanKinds   = 5 // span-kind
	statusCodes = 3 // span-status
	levels      = 6 // level
	errorCases  = 4 // types.error
)

// unitResult is the call of a function returning result<_, error>.
func unitResult(f func(context.Context, observe.Recorder, observe.Source) error) call {
	return func(ctx context.Context, rec observe.Recorder, src observe.Source, r *wire.Encoder) error {
		if err := f(ctx, rec, src); err != nil {
			return err
		}
		r.Result(true)
		return nil
	}
}

func keyValues(d *wire.Decoder) []observe.KeyValue {
	n := d.ListLen()
	if n == 0 || d.Err() != nil {
		return nil
	}
	kvs := make([]observe.KeyValue, 0, min(n, wire.PreallocMax))
	for range n {
		kvs = append(kvs, observe.KeyValue{Key: d.Str(), Value: d.Str()})
		if d.Err() != nil {
			return nil
		}
	}
	return kvs
}

func decodeTraceContext(d *wire.Decoder) observe.TraceContext {
	return observe.TraceContext{Traceparent: d.Str(), Tracestate: d.Str()}
}

func traceContext(r *wire.Encoder, tc observe.TraceContext) {
	r.Str(tc.Traceparent)
	r.Str(tc.Tracestate)
}

func decodeSpan(d *wire.Decoder) observe.Span {
	s := observe.Span{Context: decodeTraceContext(d)}
	if d.Option() {
		id := d.Str()
		s.ParentSpanID = &id
	}
	s.Name = d.Str()
	s.Kind = observe.SpanKind(d.Case(spanKinds))
	s.StartUnixNanos = d.U64()
	return s
}

func span(r *wire.Encoder, s observe.Span) {
	traceContext(r, s.Context)
	r.Option(s.ParentSpanID != nil)
	if s.ParentSpanID != nil {
		r.Str(*s.ParentSpanID)
	}
	r.Str(s.Name)
	r.Case(uint32(s.Kind))
	r.U64(s.StartUnixNanos)
}
