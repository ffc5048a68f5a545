package runtime

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/wasmcanvas/wasmcanvas/internal/obstest"
	"github.com/wasmcanvas/wasmcanvas/internal/testkit"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/wasi"
	"github.com/wasmcanvas/wasmcanvas/pkg/service"
)

// observeHarness instantiates testdata/observe.wat, whose exports are the
// wasmcanvas:observe host functions lowered and lifted through the
// canonical ABI.
type observeHarness struct {
	t    testing.TB
	comp *cm.Component
	inst *cm.Instance
}

func newObserveHarness(t testing.TB, ctx context.Context, rec observe.Recorder, src observe.Source) *observeHarness {
	t.Helper()
	eng, err := cm.NewEngine(cm.EngineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	comp, inst := instantiateWAT(t, eng, "testdata/observe.wat", wasi.NewCtx(ctx, &wasi.Config{Name: "observe-probe", Observe: rec, Source: src}),
		wasi.Interfaces(), wasi.ObserveInterfaces())
	return &observeHarness{t: t, comp: comp, inst: inst}
}

// fn resolves the export name.
func (h *observeHarness) fn(name string) *cm.Func {
	h.t.Helper()
	x, err := h.comp.Export(name)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { x.Close() })
	fn, err := h.inst.Func(x)
	if err != nil {
		h.t.Fatal(err)
	}
	return fn
}

func (h *observeHarness) call(name string, args ...cm.Value) cm.Value {
	h.t.Helper()
	out, err := h.fn(name).Call(args...)
	if err != nil {
		h.t.Fatalf("%s: %v", name, err)
	}
	return out[0]
}

// spy is a Recorder that notes each call's arguments as it reached Go,
// then lets the Observer record it; the metric name "host_failure" fails
// as a host would (not with an *observe.Error).
type spy struct {
	*observe.Observer
	mu    sync.Mutex
	calls []string
	spans []observe.Span
	ctxs  []context.Context
}

var errHostFailure = errors.New("recorder unavailable")

func (s *spy) note(ctx context.Context, src observe.Source, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, fmt.Sprintf("%s/%s ", src.Namespace, src.Component)+fmt.Sprintf(format, args...))
	s.ctxs = append(s.ctxs, ctx)
}

func (s *spy) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) == 0 {
		return ""
	}
	return s.calls[len(s.calls)-1]
}

func (s *spy) CounterAdd(ctx context.Context, src observe.Source, name string, delta uint64, labels []observe.KeyValue) error {
	s.note(ctx, src, "counter-add %s %d %v", name, delta, labels)
	if name == "host_failure" {
		return errHostFailure
	}
	return s.Observer.CounterAdd(ctx, src, name, delta, labels)
}

func (s *spy) GaugeSet(ctx context.Context, src observe.Source, name string, value float64, labels []observe.KeyValue) error {
	s.note(ctx, src, "gauge-set %s %v %v", name, value, labels)
	return s.Observer.GaugeSet(ctx, src, name, value, labels)
}

func (s *spy) GaugeAdd(ctx context.Context, src observe.Source, name string, delta float64, labels []observe.KeyValue) error {
	s.note(ctx, src, "gauge-add %s %v %v", name, delta, labels)
	return s.Observer.GaugeAdd(ctx, src, name, delta, labels)
}

func (s *spy) HistogramRecord(ctx context.Context, src observe.Source, name string, value float64, labels []observe.KeyValue) error {
	s.note(ctx, src, "histogram-record %s %v %v", name, value, labels)
	return s.Observer.HistogramRecord(ctx, src, name, value, labels)
}

func (s *spy) StartSpan(ctx context.Context, src observe.Source, name string, kind observe.SpanKind, parent *observe.TraceContext) (observe.Span, error) {
	p := "none"
	if parent != nil {
		p = fmt.Sprintf("%+v", *parent)
	}
	s.note(ctx, src, "start-span %s %s %s", name, kind, p)
	return s.Observer.StartSpan(ctx, src, name, kind, parent)
}

func (s *spy) EndSpan(ctx context.Context, src observe.Source, span observe.Span, attributes []observe.KeyValue, status observe.SpanStatus) error {
	s.note(ctx, src, "end-span %s %s %v %s(%s)", span.Name, span.Kind, attributes, status.Code, status.Description)
	s.mu.Lock()
	s.spans = append(s.spans, span)
	s.mu.Unlock()
	return s.Observer.EndSpan(ctx, src, span, attributes, status)
}

func (s *spy) Log(ctx context.Context, src observe.Source, level observe.Level, message string, fields []observe.KeyValue) error {
	s.note(ctx, src, "log %s %q %v", level, message, fields)
	return s.Observer.Log(ctx, src, level, message, fields)
}

func newSpy(t testing.TB) *spy {
	return &spy{Observer: observe.New(observe.Options{Logger: zaptest.NewLogger(t), Getenv: func(string) string { return "" }})}
}

var probeSource = observe.Source{Namespace: "probes", Component: "observe-probe"}

func kvs(pairs ...string) cm.List {
	var l cm.List
	for i := 0; i+1 < len(pairs); i += 2 {
		l = append(l, cm.Record{{Name: "key", Value: pairs[i]}, {Name: "value", Value: pairs[i+1]}})
	}
	return l
}

func errCase(c, msg string) cm.Value {
	return cm.Result{Err: true, Value: cm.Variant{Case: c, Value: msg}}
}

// okResult is result<_, error>'s ok.
var okResult = cm.Result{}

const (
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
	clientParent  = "00-" + clientTraceID + "-" + clientSpanID + "-01"
)

// requestContext is a context serving a request whose traceparent is
// clientParent, as the wasi:http handler makes it.
func requestContext(t testing.TB) context.Context {
	ctx, err := observe.ContextWithTraceContext(context.Background(), observe.TraceContext{Traceparent: clientParent})
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// TestObserveHostFunctionsConvertEveryType calls each wasmcanvas:observe
// function through the canonical ABI and checks what reached the Recorder
// and what came back, errors included.
func TestObserveHostFunctionsConvertEveryType(t *testing.T) {
	rec := newSpy(t)
	h := newObserveHarness(t, requestContext(t), rec, probeSource)
	metricCases := []struct {
		fn    string
		args  []cm.Value
		want  cm.Value
		wants string // what the Recorder got
	}{
		{"counter-add", []cm.Value{"orders_total", uint64(3), kvs("channel", "web", "category", "mobile")}, okResult,
			"counter-add orders_total 3 [{channel web} {category mobile}]"},
		{"gauge-set", []cm.Value{"queue_depth", 7.5, cm.List(nil)}, okResult, "gauge-set queue_depth 7.5 []"},
		{"gauge-add", []cm.Value{"queue_depth", -2.5, cm.List(nil)}, okResult, "gauge-add queue_depth -2.5 []"},
		{"histogram-record", []cm.Value{"work_seconds", 0.125, kvs("step", "a")}, okResult,
			"histogram-record work_seconds 0.125 [{step a}]"},
		{"counter-add", []cm.Value{"9bad", uint64(1), cm.List(nil)},
			errCase("invalid-name", `metric name "9bad": use letters, digits and _ (not starting with a digit), at most 200 bytes`), ""},
		{"counter-add", []cm.Value{"fresh_total", uint64(1), kvs("__x", "y")},
			errCase("invalid-name", `metric "fresh_total": label name "__x": the prefix __ is reserved by Prometheus`), ""},
		{"gauge-set", []cm.Value{"queue_depth", math.NaN(), cm.List(nil)},
			errCase("invalid-argument", "value NaN is not a finite number"), ""},
		{"gauge-set", []cm.Value{"orders_total", 1.0, kvs("channel", "web", "category", "mobile")},
			errCase("invalid-argument", ""), ""}, // message checked by prefix below
	}
	for _, c := range metricCases {
		got := h.call(c.fn, c.args...)
		want := c.want
		if r := want.(cm.Result); r.Err && r.Value.(cm.Variant).Value == "" {
			// Only the case: the message is pkg/observe's to word.
			g := got.(cm.Result)
			if !g.Err || g.Value.(cm.Variant).Case != r.Value.(cm.Variant).Case {
				t.Errorf("%s%v = %#v, want the error case %s", c.fn, c.args, got, r.Value.(cm.Variant).Case)
			}
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s%v = %#v, want %#v", c.fn, c.args, got, want)
		}
		if c.wants != "" && rec.last() != "probes/observe-probe "+c.wants {
			t.Errorf("%s: the Recorder got %q, want %q", c.fn, rec.last(), c.wants)
		}
	}
	fams := testkit.Scrape(t, mustMetrics(t, rec.Observer, probeSource).Handler())
	for _, s := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"orders_total", []string{"category=mobile", "channel=web"}, 3},
		{"queue_depth", nil, 5},
		{"work_seconds", []string{"step=a"}, 1},
	} {
		if v, _, ok := testkit.Sample(fams, s.name, s.labels...); !ok || v != s.want {
			t.Errorf("%s%v = %v (present %v), want %v", s.name, s.labels, v, ok, s.want)
		}
	}

	// tracing: current is the request's trace context.
	wantCurrent := cm.Option{Value: cm.Record{{Name: "traceparent", Value: clientParent}, {Name: "tracestate", Value: ""}}}
	if got := h.call("current"); !reflect.DeepEqual(got, wantCurrent) {
		t.Errorf("current() = %#v, want %#v", got, wantCurrent)
	}
	r := h.call("start-span", "child", cm.Enum("client"), cm.Option{}).(cm.Result)
	if r.Err {
		t.Fatalf("start-span = %#v", r)
	}
	span := r.Value.(cm.Record)
	names := []string{"context", "parent-span-id", "name", "kind", "start-unix-nanos"}
	for i, f := range span {
		if f.Name != names[i] {
			t.Fatalf("span field %d is %q, want %q", i, f.Name, names[i])
		}
	}
	tp := span[0].Value.(cm.Record)[0].Value.(string)
	if !strings.HasPrefix(tp, "00-"+clientTraceID+"-") || strings.Contains(tp, clientSpanID) {
		t.Errorf("span traceparent %q: want a new span in trace %s", tp, clientTraceID)
	}
	if got := span[1].Value; !reflect.DeepEqual(got, cm.Option{Value: clientSpanID}) {
		t.Errorf("parent-span-id = %#v, want the request's span %s", got, clientSpanID)
	}
	if span[2].Value != "child" || span[3].Value != cm.Enum("client") || span[4].Value.(uint64) == 0 {
		t.Errorf("span = %#v", span)
	}
	if got := h.call("end-span", span, kvs("step", "done"), cm.Variant{Case: "error", Value: "boom"}); !reflect.DeepEqual(got, okResult) {
		t.Errorf("end-span = %#v", got)
	}
	if got := rec.last(); got != "probes/observe-probe end-span child client [{step done}] error(boom)" {
		t.Errorf("the Recorder got %q", got)
	}
	if got := rec.spans[len(rec.spans)-1]; got.Context.Traceparent != tp || got.ParentSpanID == nil || *got.ParentSpanID != clientSpanID {
		t.Errorf("end-span's span reached the Recorder as %+v", got)
	}
	// An explicit parent wins over current; a root span has no parent.
	other := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	r = h.call("start-span", "explicit", cm.Enum("internal"), cm.Option{Value: cm.Record{{Name: "traceparent", Value: other}, {Name: "tracestate", Value: "k=v"}}}).(cm.Result)
	if got := r.Value.(cm.Record)[1].Value; r.Err || !reflect.DeepEqual(got, cm.Option{Value: "b7ad6b7169203331"}) {
		t.Errorf("start-span with a parent = %#v", r)
	}
	if got := r.Value.(cm.Record)[0].Value.(cm.Record)[1].Value; got != "k=v" {
		t.Errorf("tracestate = %#v, want the parent's", got)
	}
	bad := h.call("start-span", "x", cm.Enum("server"), cm.Option{Value: cm.Record{{Name: "traceparent", Value: "nonsense"}, {Name: "tracestate", Value: ""}}}).(cm.Result)
	if !bad.Err || bad.Value.(cm.Variant).Case != "invalid-argument" {
		t.Errorf("start-span with a malformed parent = %#v, want invalid-argument", bad)
	}
	if got := h.call("start-span", "", cm.Enum("server"), cm.Option{}).(cm.Result); !got.Err || got.Value.(cm.Variant).Case != "invalid-name" {
		t.Errorf("start-span with no name = %#v, want invalid-name", got)
	}

	// logging
	if got := h.call("log", cm.Enum("warn"), "disk low", kvs("disk", "sda")); !reflect.DeepEqual(got, okResult) {
		t.Errorf("log = %#v", got)
	}
	if got := rec.last(); got != `probes/observe-probe log warn "disk low" [{disk sda}]` {
		t.Errorf("the Recorder got %q", got)
	}
	if got := h.call("log", cm.Enum("info"), "m", kvs("", "v")).(cm.Result); !got.Err || got.Value.(cm.Variant).Case != "invalid-name" {
		t.Errorf("log with an empty field key = %#v, want invalid-name", got)
	}

	// Every call carried the request's context.
	for i, ctx := range rec.ctxs {
		if tc, ok := rec.Current(ctx, probeSource); !ok || tc.Traceparent != clientParent {
			t.Errorf("call %d (%s) had trace context %+v, want the request's", i, rec.calls[i], tc)
		}
	}
}

func mustMetrics(t testing.TB, o *observe.Observer, src observe.Source) *observe.Metrics {
	t.Helper()
	m, err := o.Metrics(src)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestObserveErrorsAreNotTraps: what the guest sent wrong comes back as
// the WIT error; only a failing host traps.
func TestObserveErrorsAreNotTraps(t *testing.T) {
	h := newObserveHarness(t, context.Background(), newSpy(t), observe.Source{})
	got := h.call("counter-add", "orders_total", uint64(1), cm.List(nil)).(cm.Result)
	if !got.Err || got.Value.(cm.Variant).Case != "not-linked" {
		t.Errorf("a call from no Component = %#v, want not-linked", got)
	}
	if got := h.call("current"); !reflect.DeepEqual(got, cm.Option{}) {
		t.Errorf("current() outside a request = %#v, want none", got)
	}
	h = newObserveHarness(t, context.Background(), newSpy(t), probeSource)
	_, err := h.fn("counter-add").Call("host_failure", uint64(1), cm.List(nil))
	if err == nil || !strings.Contains(err.Error(), errHostFailure.Error()) {
		t.Errorf("a failing Recorder: %v, want a trap naming %q", err, errHostFailure)
	}
}

// loadObserveProbe loads testdata/observe.wat on a host of the test's own.
func loadObserveProbe(t *testing.T, cc ComponentConfig) *Component {
	t.Helper()
	host, err := NewHost(Config{OnDemand: true, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	wat, err := os.ReadFile("testdata/observe.wat")
	if err != nil {
		t.Fatal(err)
	}
	comp, err := host.Load(context.Background(), "observe-probe", wat, cc)
	if err != nil {
		t.Fatal(err)
	}
	return comp
}

// TestObserveOverHTTP serves testdata/observe.wat: the component records
// through the host functions while serving a request whose traceparent
// its span continues.
func TestObserveOverHTTP(t *testing.T) {
	rec := newSpy(t)
	comp := loadObserveProbe(t, ComponentConfig{Observe: rec, Source: probeSource})
	srv := httptest.NewServer(comp)
	t.Cleanup(srv.Close)
	get := func(traceparent string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
		if traceparent != "" {
			req.Header.Set("traceparent", traceparent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(clientParent); code != http.StatusOK {
		t.Fatalf("status %d, want 200 (5xx: the component's call number status-500 came out wrong)", code)
	}
	if len(rec.spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(rec.spans))
	}
	want := []string{
		`counter-add wat_requests_total 1 [{path /}]`,
		`gauge-set wat_temperature 21.5 []`,
		`histogram-record wat_latency_seconds 0.25 [{path /}]`,
		`start-span wat-work internal {Traceparent:` + clientParent + ` Tracestate:}`,
		`end-span wat-work internal [{step done}] ok()`,
		`log info "handled" [{user wat}]`,
		`log warn "served" [{context wat}]`, // wasi:logging
		`counter-add 9bad 1 []`,
	}
	for i := range want {
		want[i] = "probes/observe-probe " + want[i]
	}
	if !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("the Recorder got\n%s\nwant\n%s", strings.Join(rec.calls, "\n"), strings.Join(want, "\n"))
	}
	sc, err := rec.spans[0].Context.SpanContext()
	if err != nil {
		t.Fatal(err)
	}
	if sc.TraceID().String() != clientTraceID || rec.spans[0].ParentSpanID == nil || *rec.spans[0].ParentSpanID != clientSpanID {
		t.Errorf("the component's span is %+v, want a child of the request's traceparent %s", rec.spans[0], clientParent)
	}
	// Without a traceparent the component's span starts a trace of its own.
	if code := get(""); code != http.StatusOK {
		t.Fatalf("status %d without a traceparent, want 200", code)
	}
	if s := rec.spans[1]; s.ParentSpanID != nil || strings.Contains(s.Context.Traceparent, clientTraceID) {
		t.Errorf("span without a traceparent: %+v, want a new root", s)
	}
	// A span the gateway put in the request's context wins over the
	// client's header.
	gatewayParent := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	ctx, err := observe.ContextWithTraceContext(context.Background(), observe.TraceContext{Traceparent: gatewayParent})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	req.Header.Set("traceparent", clientParent)
	comp.ServeHTTP(w, req)
	if s := rec.spans[2]; w.Code != http.StatusOK || s.ParentSpanID == nil || *s.ParentSpanID != "b7ad6b7169203331" {
		t.Errorf("status %d, span %+v: want a child of the gateway's span %s", w.Code, s, gatewayParent)
	}
	fams := testkit.Scrape(t, mustMetrics(t, rec.Observer, probeSource).Handler())
	for _, s := range []struct {
		name      string
		labels    []string
		want, sum float64
	}{
		{"wat_requests_total", []string{"path=/"}, 3, 0},
		{"wat_temperature", nil, 21.5, 0},
		{"wat_latency_seconds", []string{"path=/"}, 3, 0.75},
	} {
		if v, sum, ok := testkit.Sample(fams, s.name, s.labels...); !ok || v != s.want || sum != s.sum {
			t.Errorf("%s%v = %v (sum %v, present %v), want %v (sum %v)", s.name, s.labels, v, sum, ok, s.want, s.sum)
		}
	}
	if _, ok := fams["9bad"]; ok {
		t.Error("the refused metric 9bad was exposed")
	}
}

// TestComponentRecordsNameTheRouteAPI: a linked component's records reach
// OTLP as its ODA Component: its wasi:logging record (the context argument
// a field) and its wasmcanvas:observe log and span carry the Component's
// name and namespace and, when the gateway routed the request, the API of
// the route (a request served without the gateway has none).
func TestComponentRecordsNameTheRouteAPI(t *testing.T) {
	rc := obstest.NewReceiver(t)
	o := observe.New(observe.Options{ServiceName: "runtime-test", Logger: zaptest.NewLogger(t), Getenv: func(k string) string { return rc.Env()[k] }})
	runner := service.NewRunner(o.Service())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := runner.Start(ctx); err != nil {
		t.Fatal(err)
	}
	comp := loadObserveProbe(t, ComponentConfig{Observe: o, Source: probeSource})
	g := gateway.New(gateway.Options{Observer: o})
	if err := g.SetRoutes("observe-probe", []gateway.Route{{API: "probeapi", Path: "/probe", Handler: comp, Source: probeSource}}); err != nil {
		t.Fatal(err)
	}
	for _, h := range []http.Handler{g, comp} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/probe", nil))
		if w.Code != http.StatusOK {
			t.Fatalf("status %d, want 200 (5xx: the component's call number status-500 came out wrong)", w.Code)
		}
	}
	if err := runner.Shutdown(ctx); err != nil { // flushes the exports
		t.Fatal(err)
	}

	type record struct{ name, namespace, api, context, severity string }
	var got []record
	for _, req := range rc.Logs() {
		for _, rl := range req.GetResourceLogs() {
			for _, sl := range rl.GetScopeLogs() {
				for _, lr := range sl.GetLogRecords() {
					a := lr.GetAttributes()
					got = append(got, record{lr.GetBody().GetStringValue() + " " + obstest.Attr(a, "oda.component.name"),
						obstest.Attr(a, "oda.component.namespace"), obstest.Attr(a, "oda.api"), obstest.Attr(a, "context"), lr.GetSeverityText()})
				}
			}
		}
	}
	want := []record{
		{"handled observe-probe", "probes", "probeapi", "", "info"},
		{"served observe-probe", "probes", "probeapi", "wat", "warn"}, // wasi:logging
		{"handled observe-probe", "probes", "", "", "info"},
		{"served observe-probe", "probes", "", "wat", "warn"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("OTLP log records (body name, namespace, API, context, severity)\n%v\nwant\n%v", got, want)
	}
	var apis []string
	for _, sp := range rc.Spans() {
		if sp.GetName() == "wat-work" {
			if a := sp.GetAttributes(); obstest.Attr(a, "oda.component.name") == "observe-probe" && obstest.Attr(a, "oda.component.namespace") == "probes" {
				apis = append(apis, obstest.Attr(a, "oda.api"))
			}
		}
	}
	if !reflect.DeepEqual(apis, []string{"probeapi", ""}) {
		t.Errorf("the component's spans have oda.api %q, want [probeapi \"\"] (through the gateway, then without it)", apis)
	}
}

// TestObserveUnsetAnswersNotLinked: without a Recorder the component is
// not linked to the canvas's observability: its first call (counter-add)
// returns the WIT error, which the probe answers with 501, instead of
// trapping (a 500), as canvas-bridge answers a caller with no link.
func TestObserveUnsetAnswersNotLinked(t *testing.T) {
	comp := loadObserveProbe(t, ComponentConfig{})
	rec := httptest.NewRecorder()
	comp.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 501 {
		t.Errorf("status %d, want 501 (counter-add answered its error)", rec.Code)
	}
}

// BenchmarkObserveHostCall is one in-process wasmcanvas:observe call
// (counter-add with two labels) from the guest into the Recorder: the
// guest makes it 100 times per export call, so the export call's own cost
// is spread thin. The baseline is the same Recorder call made from Go.
func BenchmarkObserveHostCall(b *testing.B) {
	const repeat = 100
	o := observe.New(observe.Options{Getenv: func(string) string { return "" }})
	ctx := context.Background()
	h := newObserveHarness(b, ctx, o, probeSource)
	fn := h.fn("counter-add-repeat")
	labels := kvs("channel", "web", "category", "mobile")
	goLabels := []observe.KeyValue{{Key: "channel", Value: "web"}, {Key: "category", Value: "mobile"}}
	var direct float64
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := o.CounterAdd(ctx, probeSource, "orders_total", 1, goLabels); err != nil {
				b.Fatal(err)
			}
		}
		direct = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("in-process", func(b *testing.B) {
		for b.Loop() {
			out, err := fn.Call("orders_total", uint64(1), labels, uint32(repeat))
			if err != nil || out[0].(cm.Result).Err {
				b.Fatal(out, err)
			}
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / repeat
		b.ReportMetric(ns/1000, "µs/call")
		if direct > 0 {
			b.ReportMetric(ns/direct, "x-direct")
		}
	})
}
