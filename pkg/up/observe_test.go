package up_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/wasmcanvas/wasmcanvas/internal/obstest"
	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// withMetricsAPI adds a managementFunction metrics API (apiType
// prometheus) at path to an echo Component.
func withMetricsAPI(c []byte, path string) []byte {
	return fmt.Appendf(c, `  managementFunction:
    exposedAPIs:
    - name: metrics
      apiType: prometheus
      implementation: impl
      path: %s
      port: 4000
`, path)
}

// One trace from the client through canvas up: the client's trace id
// carries through the gateway's span for the calling Component, the span
// of its outgoing call to a dependent API, and the gateway's span for the
// Component serving that API, each the parent of the next.
func TestOneTraceThroughCanvasUp(t *testing.T) {
	rc := obstest.NewReceiver(t)
	c := startWith(t, up.Options{StateDir: t.TempDir(), ArtefactRoots: testRoots, Getenv: func(k string) string { return rc.Env()[k] }})
	info := c.Info()
	cl, err := client.NewHTTP(info.API, admin(t, info.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	// The echo's /fetch GETs http://{X-Upstream}/upstream: the provider
	// Component serves /upstream, and the caller, which has a dependent
	// API, may call the ingress.
	if _, _, err := cl.Apply(context.Background(), "provider.yaml", component("provider", "/upstream")); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, cl, "provider", info.Ingress)
	if _, _, err := cl.Apply(context.Background(), "caller.yaml", componentDependingOn("caller", "/fetch", "https://example.org/api.json")); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, cl, "caller", info.Ingress)

	const (
		clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		clientSpan  = "00f067aa0ba902b7"
	)
	u, _ := url.Parse(info.Ingress)
	req, _ := http.NewRequest(http.MethodGet, info.Ingress+"/fetch", nil)
	req.Header.Set("Traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	req.Header.Set("X-Upstream", u.Host)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /fetch through the caller: %s", resp.Status)
	}
	stop(t, c) // flushes the spans

	var caller, call, provider *tracepb.Span
	for _, s := range rc.Spans() {
		if hex.EncodeToString(s.GetTraceId()) != clientTrace {
			continue
		}
		switch name := obstest.Attr(s.GetAttributes(), "oda.component.name"); {
		case s.GetKind() == tracepb.Span_SPAN_KIND_SERVER && name == "caller":
			caller = s
		case s.GetKind() == tracepb.Span_SPAN_KIND_CLIENT && name == "caller":
			call = s
		case s.GetKind() == tracepb.Span_SPAN_KIND_SERVER && name == "provider":
			provider = s
		}
	}
	if caller == nil || call == nil || provider == nil {
		t.Fatalf("spans of the client's trace: gateway for caller %v, its outgoing call %v, gateway for provider %v; received %v", caller != nil, call != nil, provider != nil, rc.Spans())
	}
	for _, link := range []struct {
		child  *tracepb.Span
		parent string
	}{{caller, clientSpan}, {call, hex.EncodeToString(caller.GetSpanId())}, {provider, hex.EncodeToString(call.GetSpanId())}} {
		if got := hex.EncodeToString(link.child.GetParentSpanId()); got != link.parent {
			t.Errorf("span %q (%s): parent %s, want %s", link.child.GetName(), link.child.GetKind(), got, link.parent)
		}
	}
	if got := obstest.Attr(call.GetAttributes(), "http.response.status_code"); got != "int_value:200" {
		t.Errorf("outgoing call span status code %s, want 200", got)
	}
}

// A Component's managementFunction metrics API (apiType prometheus)
// answers at the gateway with that Component's series, at the url its
// status reports: after N requests the request counter is N.
func TestComponentMetricsAPI(t *testing.T) {
	c := start(t, t.TempDir())
	info := c.Info()
	cl, err := client.NewHTTP(info.API, admin(t, info.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"shop", "other"} {
		if _, _, err := cl.Apply(context.Background(), name+".yaml", withMetricsAPI(component(name, "/"+name+"/api"), "/"+name+"/metrics")); err != nil {
			t.Fatal(err)
		}
	}
	st := waitComplete(t, cl, "shop", info.Ingress)
	waitComplete(t, cl, "other", info.Ingress)
	if len(st.ManagementAPIs) != 1 || st.ManagementAPIs[0].URL != info.Ingress+"/shop/metrics" {
		t.Fatalf("managementAPIs %+v, want the metrics API at %s/shop/metrics", st.ManagementAPIs, info.Ingress)
	}
	metricsURL := st.ManagementAPIs[0].URL
	hc := &http.Client{Timeout: 10 * time.Second}
	const n = 7
	for i := range n {
		if code, _ := get(t, fmt.Sprintf("%s/shop/api/item-%d", info.Ingress, i)); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
		obstest.Scrape(t, hc, metricsURL)
	}
	get(t, info.Ingress+"/other/api")

	fams := obstest.Scrape(t, hc, metricsURL)
	if v, _, ok := testkit.Sample(fams, "wasmcanvas_requests_total", "api=api", "code=200"); !ok || v != n {
		t.Errorf("shop's wasmcanvas_requests_total{api=api,code=200} = %v (present %v), want %d", v, ok, n)
	}
	if v, _, ok := testkit.Sample(fams, "wasmcanvas_request_duration_seconds", "api=api"); !ok || v != n {
		t.Errorf("shop's request duration count = %v, want %d", v, n)
	}
	if len(fams["wasmcanvas_requests_total"].GetMetric()) != 1 {
		t.Errorf("shop's series hold other requests: %v", fams["wasmcanvas_requests_total"])
	}
	other := obstest.Scrape(t, hc, info.Ingress+"/other/metrics")
	if v, _, _ := testkit.Sample(other, "wasmcanvas_requests_total", "api=api", "code=200"); v != 1 {
		t.Errorf("other's request counter = %v, want 1", v)
	}
	// canvasd's /metrics keeps the control plane's series, not the Components'.
	if code, body := get(t, info.API+"/metrics"); code != 200 || !strings.Contains(body, "canvas_gateway_requests_total") || strings.Contains(body, "wasmcanvas_requests_total") {
		t.Errorf("canvasd /metrics (%d): want canvas_gateway_* and no Component series", code)
	}

	// Deleted, its metrics API is gone with it.
	if _, err := cl.Delete(context.Background(), oda.DefaultNamespace, "shop", ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := get(t, metricsURL); code == 404 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the metrics API still answers after delete")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
