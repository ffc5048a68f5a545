package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/wasmcanvas/wasmcanvas/internal/obstest"
	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/service"
)

// startObserver runs an Observer exporting to env until stop (also at the
// test's end); stop flushes its spans.
func startObserver(t testing.TB, env map[string]string) (o *observe.Observer, stop func()) {
	t.Helper()
	o = observe.New(observe.Options{ServiceName: "gateway-test", Getenv: func(k string) string { return env[k] }})
	r := service.NewRunner(o.Service())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("observer shutdown: %v", err)
		}
	}
	t.Cleanup(stop)
	return o, stop
}

var shop = observe.Source{Namespace: "components", Component: "shop"}

// The gateway continues the client's trace: its server span is a child of
// the client's traceparent, the handler's context and traceparent header
// name that span, and the span reaches OTLP with the Component's identity.
func TestServerSpanContinuesClientTrace(t *testing.T) {
	t.Parallel()
	rc := obstest.NewReceiver(t)
	o, stopObserver := startObserver(t, rc.Env())
	g := New(Options{Observer: o})
	const (
		clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		clientSpan  = "00f067aa0ba902b7"
	)
	seen := make(chan trace.SpanContext, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc := trace.SpanContextFromContext(r.Context())
		if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; r.Header.Get("Traceparent") != want {
			t.Errorf("handler's traceparent %q, want its context's span %q", r.Header.Get("Traceparent"), want)
		}
		// observe.SourceFrom is what the runtime reads.
		if src, ok := observe.SourceFrom(r.Context()); !ok || src != (observe.Source{Namespace: "components", Component: "shop", API: "catalog"}) {
			t.Errorf("observe.SourceFrom = %+v, %v; want the route's Source with its API", src, ok)
		}
		seen <- sc
		w.WriteHeader(http.StatusTeapot)
	})
	if err := g.SetRoutes("shop", []Route{{API: "catalog", Path: "/shop/catalog", Handler: handler, Source: shop}}); err != nil {
		t.Fatal(err)
	}
	base := serve(t, g)
	req, _ := http.NewRequest("GET", base+"/shop/catalog/items", nil)
	req.Header.Set("Traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := <-seen
	if sc.TraceID().String() != clientTrace || sc.SpanID().String() == clientSpan || !sc.SpanID().IsValid() {
		t.Fatalf("handler's span context %s/%s, want the client's trace with the gateway's own span", sc.TraceID(), sc.SpanID())
	}

	stopObserver() // flushes
	spans := rc.Spans()
	if len(spans) != 1 {
		t.Fatalf("%d spans exported, want the gateway's one", len(spans))
	}
	s := spans[0]
	got := []string{
		hexID(s.GetTraceId()), hexID(s.GetParentSpanId()), hexID(s.GetSpanId()), s.GetName(), s.GetKind().String(),
		obstest.Attr(s.GetAttributes(), "oda.component.name"), obstest.Attr(s.GetAttributes(), "oda.api"),
		obstest.Attr(s.GetAttributes(), "http.response.status_code"),
	}
	want := []string{clientTrace, clientSpan, sc.SpanID().String(), "GET catalog", "SPAN_KIND_SERVER", "shop", "catalog", "int_value:418"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("exported span:\n got %q\nwant %q", got, want)
	}
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// A Metrics route serves its Component's series: the requests the gateway
// routed to it by API and status, errors, the in-flight gauge; scrapes
// count in canvas_gateway_* only.
func TestComponentMetricsRoute(t *testing.T) {
	t.Parallel()
	o, _ := startObserver(t, nil)
	g := New(Options{Observer: o})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/fail") {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	err := g.SetRoutes("shop", []Route{
		{API: "catalog", Path: "/shop/catalog", Handler: handler, Source: shop},
		{API: "metrics", Path: "/shop/metrics", Source: shop, Metrics: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, g)
	const n = 5
	for i := range n {
		path := "/shop/catalog/ok"
		if i == 0 {
			path = "/shop/catalog/fail"
		}
		do(t, "GET", base+path)
		obstest.Scrape(t, client, base+"/shop/metrics") // scrapes between requests count nowhere here
	}
	fams := obstest.Scrape(t, client, base+"/shop/metrics")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"wasmcanvas_requests_total", []string{"api=catalog", "code=200"}, n - 1},
		{"wasmcanvas_requests_total", []string{"api=catalog", "code=502"}, 1},
		{"wasmcanvas_request_errors_total", []string{"api=catalog", "code=502"}, 1},
		{"wasmcanvas_request_duration_seconds", []string{"api=catalog"}, n},
		{"wasmcanvas_instances_in_flight", nil, 0},
	} {
		if v, _, ok := testkit.Sample(fams, c.name, c.labels...); !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if v, _, ok := testkit.Sample(fams, "wasmcanvas_requests_total", "api=metrics", "code=200"); ok {
		t.Errorf("scrapes counted in the Component's series: %v", v)
	}

	// Removed, the Component's series go; deployed again, they start afresh.
	g.RemoveApp("shop")
	if err := g.SetRoutes("shop", []Route{{API: "metrics", Path: "/shop/metrics", Source: shop, Metrics: true}}); err != nil {
		t.Fatal(err)
	}
	if v, _, ok := testkit.Sample(obstest.Scrape(t, client, base+"/shop/metrics"), "wasmcanvas_requests_total", "api=catalog", "code=200"); ok {
		t.Errorf("after RemoveApp the old series remain: %v", v)
	}
}

// In-flight counts requests inside the handler.
func TestComponentInFlight(t *testing.T) {
	t.Parallel()
	o, _ := startObserver(t, nil)
	g := New(Options{Observer: o})
	inside, release := make(chan struct{}), make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inside <- struct{}{}
		<-release
	})
	if err := g.SetRoutes("shop", []Route{{API: "catalog", Path: "/shop/catalog", Handler: handler, Source: shop}, {API: "metrics", Path: "/shop/metrics", Source: shop, Metrics: true}}); err != nil {
		t.Fatal(err)
	}
	base := serve(t, g)
	done := make(chan struct{})
	go func() {
		defer close(done)
		do(t, "GET", base+"/shop/catalog")
	}()
	<-inside
	if v, _, _ := testkit.Sample(obstest.Scrape(t, client, base+"/shop/metrics"), "wasmcanvas_instances_in_flight"); v != 1 {
		t.Errorf("in flight during a request = %v, want 1", v)
	}
	close(release)
	<-done
	if v, _, _ := testkit.Sample(obstest.Scrape(t, client, base+"/shop/metrics"), "wasmcanvas_instances_in_flight"); v != 0 {
		t.Errorf("in flight after = %v, want 0", v)
	}
}

func TestRouteErrors(t *testing.T) {
	t.Parallel()
	o, _ := startObserver(t, nil)
	for name, c := range map[string]struct {
		g     *Gateway
		route Route
		want  string
	}{
		"no observer": {New(Options{}), Route{API: "metrics", Path: "/m", Source: shop, Metrics: true}, "has no handler"},
		"no source":   {New(Options{Observer: o}), Route{API: "metrics", Path: "/m", Metrics: true}, "needs a Source"},
		"bad source":  {New(Options{Observer: o}), Route{API: "a", Path: "/a", Handler: http.NotFoundHandler(), Source: observe.Source{Namespace: "components", Component: "Not_A_Name"}}, "is not a Component"},
		"no handler":  {New(Options{Observer: o}), Route{API: "a", Path: "/a", Source: shop}, "has no handler"},
	} {
		err := c.g.SetRoutes("app", []Route{c.route})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
}
