package observe_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/wasmcanvas/wasmcanvas/internal/obstest"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/service"
)

// spansByName are the spans rc received, by name.
func spansByName(rc *obstest.Receiver) map[string]*tracepb.Span {
	out := map[string]*tracepb.Span{}
	for _, s := range rc.Spans() {
		out[s.GetName()] = s
	}
	return out
}

func startObserver(t *testing.T, env map[string]string) (*observe.Observer, *service.Runner) {
	t.Helper()
	o := observe.New(observe.Options{ServiceName: "canvas-test", Getenv: func(k string) string { return env[k] }})
	r := service.NewRunner(o.Service())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown(context.Background()) })
	return o, r
}

// One trace from the client's traceparent through the gateway's span, the
// component's own span and the span of its call to a dependent API, sent
// to an OTLP receiver; the component's log carries the same trace.
func TestOneTraceFromClientToDependentAPI(t *testing.T) {
	t.Parallel()
	rc := obstest.NewReceiver(t)
	o, runner := startObserver(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": rc.URL,
		"OTEL_EXPORTER_OTLP_HEADERS":  "Authorization=Bearer%20otlp-secret",
	})
	const (
		clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		clientSpan  = "00f067aa0ba902b7"
	)
	var gotTraceparent string
	dependent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotTraceparent = r.Header.Get("traceparent")
	}))
	t.Cleanup(dependent.Close)

	// The gateway receives the client's request.
	in := httptest.NewRequest(http.MethodGet, "/productcatalog/productOffering", nil)
	in.Header.Set("traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	ctx, gw := o.ServerSpans(catalog).Start(context.Background(), in)

	// The component, through the WIT functions.
	cur, ok := o.Current(ctx, catalog)
	if !ok {
		t.Fatal("no current trace context inside the request")
	}
	span, err := o.StartSpan(ctx, catalog, "list offerings", observe.SpanInternal, nil)
	must(t, err)
	must(t, o.Log(ctx, catalog, observe.LevelInfo, "listing offerings", []observe.KeyValue{{Key: "count", Value: "3"}, {Key: "api_token", Value: "tok-123"}}))
	must(t, o.CounterAdd(ctx, catalog, "productcatalog_offerings_listed_total", 1, nil))

	// Its outgoing request carries its span; the runtime adds the client span.
	out, err := http.NewRequestWithContext(ctx, http.MethodGet, dependent.URL+"/party", nil)
	must(t, err)
	out.Header.Set("traceparent", span.Context.Traceparent)
	cs := o.StartClientSpan(ctx, catalog, out)
	resp, err := http.DefaultClient.Do(out)
	must(t, err)
	resp.Body.Close()
	cs.End()
	must(t, o.EndSpan(ctx, catalog, span, []observe.KeyValue{{Key: "offerings", Value: "3"}, {Key: "db.password", Value: "hunter2"}}, observe.SpanStatus{Code: observe.StatusOK}))
	gw.End(http.StatusOK)

	// A span outside any request starts a trace of its own.
	root, err := o.StartSpan(context.Background(), catalog, "nightly reindex", observe.SpanInternal, nil)
	must(t, err)
	must(t, o.EndSpan(context.Background(), catalog, root, nil, observe.SpanStatus{Code: observe.StatusError, Description: "index full"}))

	// Stop flushes every signal.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, runner.Shutdown(sctx))

	spans := spansByName(rc)
	gwSpan, compSpan, outSpan := spans["GET productcatalogmanagement"], spans["list offerings"], spans["GET "+out.URL.Host]
	if gwSpan == nil || compSpan == nil || outSpan == nil {
		t.Fatalf("received spans %v; want the gateway's, the component's and the outgoing call's", keys(spans))
	}
	for _, s := range []*tracepb.Span{gwSpan, compSpan, outSpan} {
		if got := hex.EncodeToString(s.GetTraceId()); got != clientTrace {
			t.Errorf("span %q: trace id %s, want the client's %s", s.GetName(), got, clientTrace)
		}
		if obstest.Attr(s.GetAttributes(), "oda.component.name") != "productcatalog" || obstest.Attr(s.GetAttributes(), "oda.component.namespace") != "components" {
			t.Errorf("span %q lacks the ODA component attributes: %v", s.GetName(), s.GetAttributes())
		}
	}
	chain := []struct {
		child  *tracepb.Span
		parent string
	}{{gwSpan, clientSpan}, {compSpan, hex.EncodeToString(gwSpan.GetSpanId())}, {outSpan, hex.EncodeToString(compSpan.GetSpanId())}}
	for _, c := range chain {
		if got := hex.EncodeToString(c.child.GetParentSpanId()); got != c.parent {
			t.Errorf("span %q: parent %s, want %s", c.child.GetName(), got, c.parent)
		}
	}
	if want := "00-" + clientTrace + "-" + hex.EncodeToString(gwSpan.GetSpanId()) + "-01"; cur.Traceparent != want {
		t.Errorf("Current = %q, want the gateway span %q", cur.Traceparent, want)
	}
	if want := "00-" + clientTrace + "-" + hex.EncodeToString(outSpan.GetSpanId()) + "-01"; gotTraceparent != want {
		t.Errorf("the dependent API got traceparent %q, want the client span %q", gotTraceparent, want)
	}
	if compSpan.GetKind() != tracepb.Span_SPAN_KIND_INTERNAL || gwSpan.GetKind() != tracepb.Span_SPAN_KIND_SERVER || outSpan.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("kinds: gateway %v, component %v, outgoing %v", gwSpan.GetKind(), compSpan.GetKind(), outSpan.GetKind())
	}
	if r := spans["nightly reindex"]; r == nil || len(r.GetParentSpanId()) != 0 ||
		"00-"+hex.EncodeToString(r.GetTraceId())+"-"+hex.EncodeToString(r.GetSpanId())+"-01" != root.Context.Traceparent ||
		r.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR || r.GetStatus().GetMessage() != "index full" {
		t.Errorf("root span %v: want it exported under %s with no parent and its error status", r, root.Context.Traceparent)
	}
	if got := obstest.Attr(compSpan.GetAttributes(), "db.password"); got != "[redacted]" {
		t.Errorf("span attribute db.password = %q, want it redacted", got)
	}
	if compSpan.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_OK || compSpan.GetStartTimeUnixNano() != span.StartUnixNanos {
		t.Errorf("component span: status %v, start %d (want ok, %d)", compSpan.GetStatus(), compSpan.GetStartTimeUnixNano(), span.StartUnixNanos)
	}

	for _, a := range rc.Auth() {
		if a != "Bearer otlp-secret" {
			t.Errorf("an export came with Authorization %q, want the OTEL_EXPORTER_OTLP_HEADERS value", a)
		}
	}
	logs := rc.Logs()
	if len(logs) == 0 {
		t.Fatal("no OTLP logs received")
	}
	lr := logs[0].GetResourceLogs()[0].GetScopeLogs()[0].GetLogRecords()[0]
	if lr.GetBody().GetStringValue() != "listing offerings" || hex.EncodeToString(lr.GetTraceId()) != clientTrace ||
		obstest.Attr(lr.GetAttributes(), "oda.api") != "productcatalogmanagement" || obstest.Attr(lr.GetAttributes(), "count") != "3" ||
		obstest.Attr(lr.GetAttributes(), "api_token") != "[redacted]" {
		t.Errorf("log record %v: want the message, the client's trace id, the ODA API, count=3 and api_token redacted", lr)
	}
	var found bool
	for _, req := range rc.Metrics() {
		for _, rm := range req.GetResourceMetrics() {
			if obstest.Attr(rm.GetResource().GetAttributes(), "service.name") != "canvas-test" {
				t.Errorf("metrics resource %v, want service.name canvas-test", rm.GetResource())
			}
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					if m.GetName() == "productcatalog_offerings_listed_total" {
						dp := m.GetSum().GetDataPoints()[0]
						found = dp.GetAsDouble() == 1 && obstest.Attr(dp.GetAttributes(), "oda.component.name") == "productcatalog"
					}
				}
			}
		}
	}
	if !found {
		t.Errorf("the component's counter is not among the OTLP metrics with value 1 and its component attribute")
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// With no OTEL_* endpoint nothing is exported, yet the trace context still
// flows from the client to the dependent API.
func TestOffStillPropagates(t *testing.T) {
	t.Parallel()
	o, _ := startObserver(t, nil)
	if c := o.Config(); c.Traces.On() || c.Metrics.On() || c.Logs.On() {
		t.Fatalf("config %+v, want every signal off", c)
	}
	in := httptest.NewRequest(http.MethodGet, "/x", nil)
	in.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx, gw := o.ServerSpans(catalog).Start(context.Background(), in)
	defer gw.End(http.StatusOK)
	span, err := o.StartSpan(ctx, catalog, "work", observe.SpanInternal, nil)
	must(t, err)
	if span.ParentSpanID == nil || *span.ParentSpanID != "00f067aa0ba902b7" {
		t.Errorf("parent = %v, want the client's span", span.ParentSpanID)
	}
	out := httptest.NewRequest(http.MethodGet, "http://party.example/", nil)
	out.Header.Set("traceparent", span.Context.Traceparent)
	o.StartClientSpan(ctx, catalog, out).End()
	if got := out.Header.Get("traceparent"); got != span.Context.Traceparent {
		t.Errorf("outgoing traceparent %q, want the component's %q", got, span.Context.Traceparent)
	}
	must(t, o.EndSpan(ctx, catalog, span, nil, observe.SpanStatus{}))
}

func TestSpansRefuseBadInput(t *testing.T) {
	t.Parallel()
	o := observe.New(observe.Options{})
	ctx := context.Background()
	bad := &observe.TraceContext{Traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}
	if _, err := o.StartSpan(ctx, catalog, "x", observe.SpanInternal, bad); !isKind(err, observe.InvalidArgument) {
		t.Errorf("zero trace id: err = %v", err)
	}
	if _, err := o.StartSpan(ctx, catalog, "", observe.SpanInternal, nil); !isKind(err, observe.InvalidName) {
		t.Errorf("empty span name: err = %v", err)
	}
	if _, err := o.StartSpan(ctx, observe.Source{Namespace: "Bad NS", Component: "x"}, "x", observe.SpanInternal, nil); !isKind(err, observe.NotLinked) {
		t.Errorf("bad source: err = %v", err)
	}
	root, err := o.StartSpan(ctx, catalog, "root", observe.SpanServer, nil)
	must(t, err)
	if root.ParentSpanID != nil {
		t.Errorf("a span with no parent anywhere has parent %v", *root.ParentSpanID)
	}
	child, err := o.StartSpan(ctx, catalog, "child", observe.SpanInternal, &root.Context)
	must(t, err)
	if child.Context.Traceparent[3:35] != root.Context.Traceparent[3:35] {
		t.Errorf("child %s is not in root's trace %s", child.Context.Traceparent, root.Context.Traceparent)
	}
	badParent := "xyz"
	child.ParentSpanID = &badParent
	if err := o.EndSpan(ctx, catalog, child, nil, observe.SpanStatus{}); !isKind(err, observe.InvalidArgument) {
		t.Errorf("malformed parent span id: err = %v", err)
	}
	if err := o.EndSpan(ctx, catalog, root, []observe.KeyValue{{Key: "", Value: "v"}}, observe.SpanStatus{}); !isKind(err, observe.InvalidName) {
		t.Errorf("empty attribute key: err = %v", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                  string
		env                   map[string]string
		traces, metrics, logs string
		service, err          string
	}{
		{name: "nothing set: off", env: nil, service: "canvasd"},
		{name: "one endpoint for all", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"},
			traces: "http://collector:4318/v1/traces", metrics: "http://collector:4318/v1/metrics", logs: "http://collector:4318/v1/logs", service: "canvasd"},
		{name: "per signal wins, exporter none", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example/otlp",
			"OTEL_LOGS_EXPORTER": "none", "OTEL_SERVICE_NAME": "edge-canvas"},
			traces: "https://traces.example/otlp", metrics: "http://collector:4318/v1/metrics", service: "edge-canvas"},
		{name: "disabled", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, service: "canvasd"},
		{name: "bad URL", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, err: "OTEL_EXPORTER_OTLP_ENDPOINT: want an http:// or https:// URL"},
		{name: "bad headers never quoted", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_HEADERS": "a=1,s3cret-no-equals"},
			err: "OTEL_EXPORTER_OTLP_HEADERS: entry 2: want key=value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := observe.ConfigFromEnv(func(k string) string { return c.env[k] }, "canvasd")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("err = %v, want %q and no header content", err, c.err)
				}
				return
			}
			must(t, err)
			if cfg.Traces.URL != c.traces || cfg.Metrics.URL != c.metrics || cfg.Logs.URL != c.logs || cfg.ServiceName != c.service {
				t.Errorf("config %+v, want traces %q metrics %q logs %q service %q", cfg, c.traces, c.metrics, c.logs, c.service)
			}
		})
	}
	cfg, err := observe.ConfigFromEnv(func(k string) string {
		return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_HEADERS": "a=1,b=x%20y", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "a=2"}[k]
	}, "canvasd")
	must(t, err)
	if h := cfg.Traces.Headers; h["a"] != "2" || h["b"] != "x y" {
		t.Errorf("trace headers %v: want the signal's a=2 over the general a=1, and b decoded", h)
	}
	if s := fmt.Sprintf("%v %+v", cfg, cfg); strings.Contains(s, "x y") || !strings.Contains(s, "http://c/v1/traces (headers a, b)") {
		t.Errorf("a Config prints as %q: want URLs and header names, no header values", s)
	}
}

// A bad OTEL_* setting stops the process at start-up, naming the variable.
func TestServiceRefusesBadEnvironment(t *testing.T) {
	t.Parallel()
	o := observe.New(observe.Options{Getenv: func(k string) string {
		return map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://collector"}[k]
	}})
	err := service.NewRunner(o.Service()).Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "observability: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: want an http:// or https:// URL") {
		t.Fatalf("err = %v", err)
	}
}
