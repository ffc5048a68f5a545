package observe

import (
	"context"
	"errors"
	"fmt"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// Recorder is wit/observe.wit's metrics, tracing and logging interfaces in
// Go: one method per WIT function, each after a context (carrying the trace
// context of the request being served) and the calling component's Source.
// The bridge serves it over wRPC and the runtime in-process; wit_test.go
// checks the two cannot drift.
type Recorder interface {
	CounterAdd(ctx context.Context, src Source, name string, delta uint64, labels []KeyValue) error
	GaugeSet(ctx context.Context, src Source, name string, value float64, labels []KeyValue) error
	GaugeAdd(ctx context.Context, src Source, name string, delta float64, labels []KeyValue) error
	HistogramRecord(ctx context.Context, src Source, name string, value float64, labels []KeyValue) error

	Current(ctx context.Context, src Source) (TraceContext, bool)
	StartSpan(ctx context.Context, src Source, name string, kind SpanKind, parent *TraceContext) (Span, error)
	EndSpan(ctx context.Context, src Source, span Span, attributes []KeyValue, status SpanStatus) error

	Log(ctx context.Context, src Source, level Level, message string, fields []KeyValue) error
}

// Source is the component a call comes from, as the transport knows it
// (the bridge from the link, the runtime from the instance it runs).
type Source struct {
	Namespace string // the ODA Component's namespace
	Component string // the ODA Component's name
	API       string // the API being served, when known
}

// Key is the Component's key; an invalid Source is not linked.
func (s Source) Key() (oda.Key, error) {
	k, err := oda.NewKey(s.Namespace, s.Component)
	if err == nil {
		return k, nil
	}
	var ke *oda.KeyError     // declared past the fast path: errors.As makes it escape
	if errors.As(err, &ke) { // its Reason, not its Error: that quotes the whole value
		return oda.Key{}, errorf(NotLinked, "source %.80q/%.80q is not a Component: its %s %s", s.Namespace, s.Component, ke.Field, ke.Reason)
	}
	return k, err
}

// sourceKey is the context key of WithSource.
type sourceKey struct{}

// WithSource is ctx serving a request for src: the gateway sets its
// route's Source (with the route's API) so that what the component records
// while serving it can name the API. src is not copied: it must not change
// afterwards (a pointer, so the gateway boxes it once per route, not once
// per request).
func WithSource(ctx context.Context, src *Source) context.Context {
	return context.WithValue(ctx, sourceKey{}, src)
}

// SourceFrom is the Source WithSource put in ctx.
func SourceFrom(ctx context.Context) (Source, bool) {
	if s, ok := ctx.Value(sourceKey{}).(*Source); ok && s != nil {
		return *s, true
	}
	return Source{}, false
}

// KeyValue is WIT's key-value: a metric label, a span attribute or a log field.
type KeyValue struct {
	Key   string
	Value string
}

// ErrorKind is a case of WIT's types.error.
type ErrorKind int

const (
	NotLinked ErrorKind = iota
	InvalidName
	InvalidArgument
	TooManySeries
)

var errorKinds = [...]string{"not-linked", "invalid-name", "invalid-argument", "too-many-series"}

func (k ErrorKind) String() string { return enumName(errorKinds[:], int(k)) }

// Error is WIT's types.error: the call recorded nothing.
type Error struct {
	Kind    ErrorKind
	Message string
}

func (e *Error) Error() string { return e.Kind.String() + ": " + e.Message }

func errorf(k ErrorKind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// TraceContext is WIT's trace-context: W3C traceparent and tracestate.
type TraceContext struct {
	Traceparent string
	Tracestate  string
}

// SpanKind is WIT's span-kind.
type SpanKind int

const (
	SpanInternal SpanKind = iota
	SpanServer
	SpanClient
	SpanProducer
	SpanConsumer
)

var spanKinds = [...]string{"internal", "server", "client", "producer", "consumer"}

func (k SpanKind) String() string { return enumName(spanKinds[:], int(k)) }

// StatusCode is the case of WIT's span-status.
type StatusCode int

const (
	StatusUnset StatusCode = iota
	StatusOK
	StatusError
)

var statusCodes = [...]string{"unset", "ok", "error"}

func (c StatusCode) String() string { return enumName(statusCodes[:], int(c)) }

// SpanStatus is WIT's span-status; Description goes with StatusError.
type SpanStatus struct {
	Code        StatusCode
	Description string
}

// Span is WIT's span: an open span the component holds until EndSpan.
type Span struct {
	Context        TraceContext
	ParentSpanID   *string
	Name           string
	Kind           SpanKind
	StartUnixNanos uint64
}

// Level is WIT's logging level (wasi:logging's levels).
type Level int

const (
	LevelTrace Level = iota
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
	LevelCritical
)

var levels = [...]string{"trace", "debug", "info", "warn", "error", "critical"}

func (l Level) String() string { return enumName(levels[:], int(l)) }

func enumName(names []string, i int) string {
	if i < 0 || i >= len(names) {
		return fmt.Sprintf("unknown(%d)", i)
	}
	return names[i]
}
