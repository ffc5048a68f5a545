package observe

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// propagator is W3C trace context, the one format the canvas carries.
var propagator = propagation.TraceContext{}

// Extract returns ctx carrying the trace context of h's traceparent and
// tracestate headers (ctx unchanged when h has none or a malformed one).
func Extract(ctx context.Context, h http.Header) context.Context {
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// Inject sets h's traceparent and tracestate to ctx's span context, for an
// outgoing request.
func Inject(ctx context.Context, h http.Header) {
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// ContextWithTraceContext returns ctx carrying tc as its remote parent: what
// the bridge does with a wRPC call's traceparent header.
func ContextWithTraceContext(ctx context.Context, tc TraceContext) (context.Context, error) {
	sc, err := tc.SpanContext()
	if err != nil {
		return ctx, err
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc), nil
}

// SpanContext parses tc (W3C trace context level 1, version 00).
func (tc TraceContext) SpanContext() (trace.SpanContext, error) {
	carrier := propagation.MapCarrier{"traceparent": tc.Traceparent}
	if tc.Tracestate != "" {
		carrier["tracestate"] = tc.Tracestate
	}
	sc := trace.SpanContextFromContext(propagator.Extract(context.Background(), carrier))
	if !sc.IsValid() {
		return sc, errorf(InvalidArgument, "traceparent %.80q: want 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>, ids not all zero", tc.Traceparent)
	}
	return sc, nil
}

// TraceContextOf is sc in W3C form.
func TraceContextOf(sc trace.SpanContext) TraceContext {
	carrier := propagation.MapCarrier{}
	propagator.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
	return TraceContext{Traceparent: carrier["traceparent"], Tracestate: carrier["tracestate"]}
}

// attributes are the ODA identity every span and log record of a component carries.
func (s Source) attributes() []attribute.KeyValue {
	a := []attribute.KeyValue{
		attribute.String("oda.component.name", s.Component),
		attribute.String("oda.component.namespace", s.Namespace),
	}
	if s.API != "" {
		a = append(a, attribute.String("oda.api", s.API))
	}
	return a
}

const (
	maxSpanName  = 256
	maxAttrs     = 128
	maxKeyLen    = 128
	maxValueLen  = 4096
	maxMessage   = 8192
	redactedText = "[redacted]"
)

// secretWords mark a field or attribute whose value is never written out.
var secretWords = []string{"password", "passwd", "secret", "token", "authorization", "cookie", "apikey", "api_key", "api-key", "credential", "private"}

// redact returns v, or a placeholder when key names a secret.
func redact(key, v string) string {
	k := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return redactedText
		}
	}
	return v
}

// checkKeyValues is the rule for span attributes and log fields: bounded
// counts and names, values cut to a bounded length, secrets redacted.
func checkKeyValues(what string, kvs []KeyValue) ([]attribute.KeyValue, error) {
	if len(kvs) > maxAttrs {
		return nil, errorf(InvalidArgument, "%d %ss, at most %d", len(kvs), what, maxAttrs)
	}
	out := make([]attribute.KeyValue, len(kvs))
	for i, kv := range kvs {
		if kv.Key == "" || len(kv.Key) > maxKeyLen {
			return nil, errorf(InvalidName, "%s key %.80q: 1 to %d bytes", what, kv.Key, maxKeyLen)
		}
		out[i] = attribute.String(kv.Key, truncate(redact(kv.Key, kv.Value), maxValueLen))
	}
	return out, nil
}

// LogRecord is a guest's log message and context cut to what the
// Observer keeps of them (8 KiB, 4 KiB): for a path that logs a record the
// Observer did not take.
func LogRecord(message, context string) (string, string) {
	return truncate(message, maxMessage), truncate(context, maxValueLen)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// Current is the WIT function: the trace context of the request ctx serves.
func (o *Observer) Current(ctx context.Context, src Source) (TraceContext, bool) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return TraceContext{}, false
	}
	return TraceContextOf(sc), true
}

// StartSpan is the WIT function. It records nothing: the span's ids come
// from here, and EndSpan exports it with them.
func (o *Observer) StartSpan(ctx context.Context, src Source, name string, kind SpanKind, parent *TraceContext) (Span, error) {
	if _, err := src.Key(); err != nil {
		return Span{}, err
	}
	if err := checkSpan(name, kind); err != nil {
		return Span{}, err
	}
	psc := trace.SpanContextFromContext(ctx)
	if parent != nil {
		var err error
		if psc, err = parent.SpanContext(); err != nil {
			return Span{}, err
		}
	}
	sc := trace.SpanContextConfig{SpanID: newSpanID(), TraceFlags: trace.FlagsSampled}
	var parentID *string
	if psc.IsValid() {
		sc.TraceID, sc.TraceFlags, sc.TraceState = psc.TraceID(), psc.TraceFlags(), psc.TraceState()
		id := psc.SpanID().String()
		parentID = &id
	} else {
		sc.TraceID = newTraceID()
	}
	return Span{
		Context:        TraceContextOf(trace.NewSpanContext(sc)),
		ParentSpanID:   parentID,
		Name:           name,
		Kind:           kind,
		StartUnixNanos: uint64(time.Now().UnixNano()),
	}, nil
}

func checkSpan(name string, kind SpanKind) error {
	if name == "" || len(name) > maxSpanName {
		return errorf(InvalidName, "span name %.80q: 1 to %d bytes", name, maxSpanName)
	}
	if kind < SpanInternal || kind > SpanConsumer {
		return errorf(InvalidArgument, "span kind %d is not one of %v", kind, spanKinds)
	}
	return nil
}

// EndSpan is the WIT function: it exports span, ended now, with the ids
// StartSpan gave it.
func (o *Observer) EndSpan(ctx context.Context, src Source, span Span, attributes []KeyValue, status SpanStatus) error {
	if _, err := src.Key(); err != nil {
		return err
	}
	if err := checkSpan(span.Name, span.Kind); err != nil {
		return err
	}
	sc, err := span.Context.SpanContext()
	if err != nil {
		return err
	}
	attrs, err := checkKeyValues("attribute", attributes)
	if err != nil {
		return err
	}
	if status.Code < StatusUnset || status.Code > StatusError {
		return errorf(InvalidArgument, "span status %d is not one of %v", status.Code, statusCodes)
	}
	pctx := trace.ContextWithSpanContext(ctx, trace.SpanContext{}) // a root unless the span names its parent
	if span.ParentSpanID != nil {
		var pid trace.SpanID
		if b, err := hex.DecodeString(*span.ParentSpanID); err != nil || len(b) != len(pid) {
			return errorf(InvalidArgument, "parent span id %.80q: want 16 hex digits", *span.ParentSpanID)
		} else {
			copy(pid[:], b)
		}
		pctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: sc.TraceID(), SpanID: pid, TraceFlags: sc.TraceFlags(), TraceState: sc.TraceState(), Remote: true,
		}))
	}
	pctx = context.WithValue(pctx, forcedIDsKey{}, forcedIDs{trace: sc.TraceID(), span: sc.SpanID()})
	_, s := o.tracer().Start(pctx, span.Name,
		trace.WithTimestamp(time.Unix(0, int64(span.StartUnixNanos))),
		trace.WithSpanKind(otelKinds[span.Kind]),
		trace.WithAttributes(src.attributes()...),
		trace.WithAttributes(attrs...))
	switch status.Code {
	case StatusOK:
		s.SetStatus(codes.Ok, "")
	case StatusError:
		s.SetStatus(codes.Error, truncate(status.Description, maxValueLen))
	}
	s.End()
	return nil
}

var otelKinds = [...]trace.SpanKind{
	SpanInternal: trace.SpanKindInternal,
	SpanServer:   trace.SpanKindServer,
	SpanClient:   trace.SpanKindClient,
	SpanProducer: trace.SpanKindProducer,
	SpanConsumer: trace.SpanKindConsumer,
}

// ServerSpans makes the gateway's spans for the requests routed to src.
// What is the same for every request (span names, src's attributes) is
// made here once, so make one per route, not per request.
func (o *Observer) ServerSpans(src Source) *ServerSpans {
	s := &ServerSpans{o: o, api: src.API, ident: src.attributes()}
	for i, m := range httpMethods {
		s.names[i] = m + " " + src.API
	}
	return s
}

// ServerSpans opens the server spans of one route; see Observer.ServerSpans.
type ServerSpans struct {
	o     *Observer
	api   string
	names [len(httpMethods)]string // by httpMethods
	ident []attribute.KeyValue
}

// serverSpanOptions are made once: each option is an interface value.
var serverSpanOptions = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

var httpMethods = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace,
}

// Start opens the span for r: a child of the client's traceparent when r
// has one. The returned context is the one the component's Current answers
// from; End the span when the response is written.
func (s *ServerSpans) Start(ctx context.Context, r *http.Request) (context.Context, ServerSpan) {
	ctx = Extract(ctx, r.Header)
	name := ""
	for i, m := range httpMethods {
		if m == r.Method {
			name = s.names[i]
			break
		}
	}
	if name == "" {
		name = r.Method + " " + s.api
	}
	ctx, span := s.o.tracer().Start(ctx, name, serverSpanOptions...)
	return ctx, ServerSpan{span: span, spans: s, method: r.Method, path: r.URL.Path}
}

// ServerSpan is an open server span; the zero value is none, and its End
// does nothing.
type ServerSpan struct {
	span         trace.Span
	spans        *ServerSpans
	method, path string
}

// serverAttrs are the attributes of a server span: the route's identity,
// the method, the path and the status.
const serverAttrs = 6

// attrBuffers hold the attributes End passes to the span, which copies them.
var attrBuffers = sync.Pool{New: func() any { return new([serverAttrs]attribute.KeyValue) }}

// End ends the span of a request answered with status. Every attribute is
// set here, in one call: the span then holds one array of them, not one
// grown at start and again at the end. None is needed at start: the
// sampler (parent-based, else always on) reads none.
func (s ServerSpan) End(status int) {
	if s.span == nil {
		return
	}
	buf := attrBuffers.Get().(*[serverAttrs]attribute.KeyValue)
	attrs := append(buf[:0], s.spans.ident...)
	attrs = append(attrs,
		attribute.String("http.request.method", s.method),
		attribute.String("url.path", s.path),
		attribute.Int("http.response.status_code", status))
	s.span.SetAttributes(attrs...)
	clear(buf[:])
	attrBuffers.Put(buf)
	if status >= 500 {
		s.span.SetStatus(codes.Error, http.StatusText(status))
	}
	s.span.End()
}

// SpanContext is the span's context (invalid for the zero ServerSpan).
func (s ServerSpan) SpanContext() trace.SpanContext {
	if s.span == nil {
		return trace.SpanContext{}
	}
	return s.span.SpanContext()
}

// StartClientSpan opens the span of src's outgoing request req to a
// dependent API: a child of the traceparent the component set on req, or of
// ctx's span, and sets req's traceparent to the new span. End it when the
// response arrives.
func (o *Observer) StartClientSpan(ctx context.Context, src Source, req *http.Request) trace.Span {
	ctx = Extract(ctx, req.Header)
	ctx, span := o.tracer().Start(ctx, req.Method+" "+req.URL.Host,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(src.attributes()...),
		trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("server.address", req.URL.Host)))
	Inject(ctx, req.Header)
	return span
}

// forcedIDs make the SDK export a span under the ids StartSpan handed out.
type (
	forcedIDsKey struct{}
	forcedIDs    struct {
		trace trace.TraceID
		span  trace.SpanID
	}
)

// idGenerator gives the SDK the forced ids when the context has them and
// random ones otherwise.
type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if f, ok := ctx.Value(forcedIDsKey{}).(forcedIDs); ok {
		return f.trace, f.span
	}
	return newTraceID(), newSpanID()
}

func (idGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if f, ok := ctx.Value(forcedIDsKey{}).(forcedIDs); ok {
		return f.span
	}
	return newSpanID()
}

func newTraceID() (id trace.TraceID) {
	for !id.IsValid() {
		binary.BigEndian.PutUint64(id[:8], rand.Uint64())
		binary.BigEndian.PutUint64(id[8:], rand.Uint64())
	}
	return id
}

func newSpanID() (id trace.SpanID) {
	for !id.IsValid() {
		binary.BigEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}
