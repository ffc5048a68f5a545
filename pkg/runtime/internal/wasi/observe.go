package wasi

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
)

// ObserveInterfaces serve wasmcanvas:observe (wit/observe.wit: metrics,
// tracing, logging; types has only types) from Config.Observe, every call
// made as Config.Source (with the API of the request's route, Ctx.source)
// and the request's Ctx.Context: the same Recorder canvas-bridge serves
// over wRPC, called in-process. A Recorder's
// *observe.Error reaches the guest as the WIT error case; any other error
// is a host failure and traps. Observe must be set (observe.Unlinked for a
// component with no link: every call then answers not-linked).
func ObserveInterfaces() map[string]Definer {
	return map[string]Definer{
		"wasmcanvas:observe/metrics": defineObserveMetrics,
		"wasmcanvas:observe/tracing": defineObserveTracing,
		"wasmcanvas:observe/logging": defineObserveLogging,
	}
}

func defineObserveMetrics(li *cm.LinkerInstance) error {
	metric := func(name string, record func(c *Ctx, metric string, v cm.Value, labels []observe.KeyValue) error) error {
		return fn(li, name, func(c *Ctx, a []cm.Value) (cm.Value, error) {
			labels, err := keyValues(a[2])
			if err != nil {
				return nil, fmt.Errorf("wasmcanvas:observe/metrics#%s labels: %w", name, err)
			}
			return observeResult(nil, record(c, a[0].(string), a[1], labels))
		})
	}
	return all(
		metric("counter-add", func(c *Ctx, n string, v cm.Value, l []observe.KeyValue) error {
			return c.cfg.Observe.CounterAdd(c.Context, c.source(), n, v.(uint64), l)
		}),
		metric("gauge-set", func(c *Ctx, n string, v cm.Value, l []observe.KeyValue) error {
			return c.cfg.Observe.GaugeSet(c.Context, c.source(), n, v.(float64), l)
		}),
		metric("gauge-add", func(c *Ctx, n string, v cm.Value, l []observe.KeyValue) error {
			return c.cfg.Observe.GaugeAdd(c.Context, c.source(), n, v.(float64), l)
		}),
		metric("histogram-record", func(c *Ctx, n string, v cm.Value, l []observe.KeyValue) error {
			return c.cfg.Observe.HistogramRecord(c.Context, c.source(), n, v.(float64), l)
		}),
	)
}

func defineObserveTracing(li *cm.LinkerInstance) error {
	return all(
		fn(li, "current", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			tc, ok := c.cfg.Observe.Current(c.Context, c.source())
			if !ok {
				return cm.Option{}, nil
			}
			return cm.Option{Value: traceContextValue(tc)}, nil
		}),
		fn(li, "start-span", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			kind, err := enumCase(a[1], observe.SpanConsumer)
			if err != nil {
				return nil, fmt.Errorf("wasmcanvas:observe/tracing#start-span kind: %w", err)
			}
			var parent *observe.TraceContext
			if p := a[2].(cm.Option).Value; p != nil {
				tc, err := traceContextOf(p)
				if err != nil {
					return nil, fmt.Errorf("wasmcanvas:observe/tracing#start-span parent: %w", err)
				}
				parent = &tc
			}
			span, err := c.cfg.Observe.StartSpan(c.Context, c.source(), a[0].(string), kind, parent)
			if err != nil {
				return observeResult(nil, err)
			}
			return observeResult(spanValue(span), nil)
		}),
		fn(li, "end-span", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			span, err := spanOf(a[0])
			if err != nil {
				return nil, fmt.Errorf("wasmcanvas:observe/tracing#end-span span: %w", err)
			}
			attrs, err := keyValues(a[1])
			if err != nil {
				return nil, fmt.Errorf("wasmcanvas:observe/tracing#end-span attributes: %w", err)
			}
			status, err := spanStatusOf(a[2])
			if err != nil {
				return nil, fmt.Errorf("wasmcanvas:observe/tracing#end-span status: %w", err)
			}
			return observeResult(nil, c.cfg.Observe.EndSpan(c.Context, c.source(), span, attrs, status))
		}),
	)
}

func defineObserveLogging(li *cm.LinkerInstance) error {
	return fn(li, "log", func(c *Ctx, a []cm.Value) (cm.Value, error) {
		level, err := enumCase(a[0], observe.LevelCritical)
		if err != nil {
			return nil, fmt.Errorf("wasmcanvas:observe/logging#log level: %w", err)
		}
		fields, err := keyValues(a[2])
		if err != nil {
			return nil, fmt.Errorf("wasmcanvas:observe/logging#log fields: %w", err)
		}
		return observeResult(nil, c.cfg.Observe.Log(c.Context, c.source(), level, a[1].(string), fields))
	})
}

// observeResult is the WIT result<T, error> of a Recorder call that gave
// ok (nil for result<_, error>) or err.
func observeResult(ok cm.Value, err error) (cm.Value, error) {
	if err == nil {
		if ok == nil {
			return okNothing, nil
		}
		return cm.Result{Value: ok}, nil
	}
	var oe *observe.Error
	if errors.As(err, &oe) {
		return cm.Result{Err: true, Value: cm.Variant{Case: oe.Kind.String(), Value: oe.Message}}, nil
	}
	return nil, fmt.Errorf("wasmcanvas:observe: %w", err)
}

// okNothing is the ok case of result<_, error>, boxed once: most calls answer it.
var okNothing cm.Value = cm.Result{}

// errWITMismatch marks a value whose shape is not wit/observe.wit's: the
// component was built against another version of the interface.
var errWITMismatch = errors.New("not the shape wit/observe.wit gives it (WIT version mismatch)")

// keyValues reads a list<key-value>.
func keyValues(v cm.Value) ([]observe.KeyValue, error) {
	l, ok := v.(cm.List)
	if !ok {
		return nil, fmt.Errorf("%T is %w", v, errWITMismatch)
	}
	if len(l) == 0 {
		return nil, nil
	}
	out := make([]observe.KeyValue, len(l))
	for i, x := range l {
		r, ok := x.(cm.Record)
		if !ok || len(r) != 2 || r[0].Name != "key" || r[1].Name != "value" {
			return nil, fmt.Errorf("element %d: %w", i, errWITMismatch)
		}
		k, ok1 := r[0].Value.(string)
		val, ok2 := r[1].Value.(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("element %d: %w", i, errWITMismatch)
		}
		out[i] = observe.KeyValue{Key: k, Value: val}
	}
	return out, nil
}

// fields reads a record whose field names are names, in order.
func fields(v cm.Value, names ...string) (cm.Record, error) {
	// The errors print names joined, not names itself: that would move
	// every call's names to the heap.
	r, ok := v.(cm.Record)
	if !ok || len(r) != len(names) {
		return nil, fmt.Errorf("record [%s] is %w", strings.Join(names, " "), errWITMismatch)
	}
	for i, f := range r {
		if f.Name != names[i] {
			return nil, fmt.Errorf("record [%s]: field %q is %w", strings.Join(names, " "), f.Name, errWITMismatch)
		}
	}
	return r, nil
}

// witCase is a Go type whose values are the cases of a WIT enum or
// variant, 0 to some last one, named by String (pkg/observe owns the names).
type witCase interface {
	~int
	String() string
}

// enumCase reads a WIT enum whose cases are 0 to last of T.
func enumCase[T witCase](v cm.Value, last T) (T, error) {
	e, _ := v.(cm.Enum)
	return caseNamed(string(e), last)
}

func caseNamed[T witCase](name string, last T) (T, error) {
	for k := T(0); k <= last; k++ {
		if k.String() == name {
			return k, nil
		}
	}
	return 0, fmt.Errorf("case %.80q is %w", name, errWITMismatch)
}

func traceContextValue(tc observe.TraceContext) cm.Value {
	return cm.Record{{Name: "traceparent", Value: tc.Traceparent}, {Name: "tracestate", Value: tc.Tracestate}}
}

func traceContextOf(v cm.Value) (observe.TraceContext, error) {
	f, err := fields(v, "traceparent", "tracestate")
	if err != nil {
		return observe.TraceContext{}, err
	}
	tp, ok1 := f[0].Value.(string)
	ts, ok2 := f[1].Value.(string)
	if !ok1 || !ok2 {
		return observe.TraceContext{}, fmt.Errorf("trace-context: %w", errWITMismatch)
	}
	return observe.TraceContext{Traceparent: tp, Tracestate: ts}, nil
}

func spanValue(s observe.Span) cm.Value {
	var parent cm.Option
	if s.ParentSpanID != nil {
		parent.Value = *s.ParentSpanID
	}
	return cm.Record{
		{Name: "context", Value: traceContextValue(s.Context)},
		{Name: "parent-span-id", Value: parent},
		{Name: "name", Value: s.Name},
		{Name: "kind", Value: cm.Enum(s.Kind.String())},
		{Name: "start-unix-nanos", Value: s.StartUnixNanos},
	}
}

func spanOf(v cm.Value) (observe.Span, error) {
	f, err := fields(v, "context", "parent-span-id", "name", "kind", "start-unix-nanos")
	if err != nil {
		return observe.Span{}, err
	}
	tc, err := traceContextOf(f[0].Value)
	if err != nil {
		return observe.Span{}, err
	}
	kind, err := enumCase(f[3].Value, observe.SpanConsumer)
	if err != nil {
		return observe.Span{}, err
	}
	parent, ok1 := f[1].Value.(cm.Option)
	name, ok2 := f[2].Value.(string)
	start, ok3 := f[4].Value.(uint64)
	if !ok1 || !ok2 || !ok3 {
		return observe.Span{}, fmt.Errorf("span: %w", errWITMismatch)
	}
	s := observe.Span{Context: tc, Name: name, Kind: kind, StartUnixNanos: start}
	if parent.Value != nil {
		id, ok := parent.Value.(string)
		if !ok {
			return observe.Span{}, fmt.Errorf("span parent-span-id: %w", errWITMismatch)
		}
		s.ParentSpanID = &id
	}
	return s, nil
}

func spanStatusOf(v cm.Value) (observe.SpanStatus, error) {
	vv, ok := v.(cm.Variant)
	if !ok {
		return observe.SpanStatus{}, fmt.Errorf("span-status: %w", errWITMismatch)
	}
	code, err := caseNamed(vv.Case, observe.StatusError)
	if err != nil {
		return observe.SpanStatus{}, err
	}
	s := observe.SpanStatus{Code: code}
	if code == observe.StatusError {
		if s.Description, ok = vv.Value.(string); !ok {
			return observe.SpanStatus{}, fmt.Errorf("span-status error: %w", errWITMismatch)
		}
	}
	return s, nil
}
