package observerpc

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/service"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

const (
	lat      = "components"
	provider = translate.BridgeID
	// The linked components: one whose link names its ODA Component, one
	// without config (lattice/source id), one whose id is no DNS label,
	// one whose kept link is its identity link (lattice/source id too).
	shop     = "shop-api"
	billing  = "billing"
	nkeyID   = "MBCOMPONENTNKEY"
	identity = "party-api"
)

type fixture struct {
	url     string // the nats-server's
	rpc     *wrpc.Client
	srv     *server
	obs     *observe.Observer
	metrics string // base URL of the metrics handler
}

func observeLink(source string, cfg map[string]string) bridge.LinkDefinition {
	return bridge.LinkDefinition{SourceID: source, Target: provider, Name: "default", WitNamespace: "wasmcanvas", WitPackage: "observe",
		Interfaces: []string{"metrics", "tracing", "logging"}, TargetConfig: cfg}
}

// newFixture serves the functions from a real nats-server with the links
// of a bridge made from host data, and the metrics handler on loopback.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	url := testkit.NATS(t, embedded.Config{}).ClientURL()
	b, err := bridge.New(bridge.HostData{HostID: "NHOST", LatticeRPCPrefix: lat, ProviderKey: provider, LatticeRPCURL: url,
		LinkDefinitions: []bridge.LinkDefinition{
			observeLink(shop, map[string]string{ConfigNamespace: "shop", ConfigComponent: "productcatalog", ConfigAPI: "tmf620"}),
			observeLink(billing, nil),
			observeLink(nkeyID, nil),
			{SourceID: identity, Target: provider, Name: "default", WitNamespace: "wasmcanvas", WitPackage: "identity",
				Interfaces: []string{"identity"}, TargetConfig: map[string]string{ConfigComponent: "shop-party", "canvasSystemRole": "admin"}},
		}}, bridge.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := testkit.Logger(t, zap.ErrorLevel)
	obs := observe.New(observe.Options{Getenv: func(string) string { return "" }, Logger: log})
	r := service.NewRunner(obs.Service())
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	srv := newServer(obs, bridge.Env{Lattice: lat, ProviderKey: provider, Links: b.Links(), Config: b.Config}, log)
	prefix := subject.WRPCPrefix(lat, provider)
	ws, err := srv.serve(testkit.Connect(t, url), prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	hs := httptest.NewServer(srv.metricsHandler())
	t.Cleanup(hs.Close)
	c, err := wrpc.NewClient(testkit.Connect(t, url), prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &fixture{url: url, rpc: c, srv: srv, obs: obs, metrics: hs.URL}
}

func (f *fixture) client(source string) *Client { return &Client{RPC: f.rpc, SourceID: source} }

// scrape parses path's exposition; a status other than 200 is returned
// with no families.
func (f *fixture) scrape(t *testing.T, path string) (map[string]*dto.MetricFamily, int) {
	t.Helper()
	resp, err := http.Get(f.metrics + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
	return fams, resp.StatusCode
}

// sample sums the series of family name that have all of labels ("k=v"):
// counters' and gauges' values, histograms' counts; found says whether
// there was one.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (sum float64, found bool) {
	for _, m := range fams[name].GetMetric() {
		have := map[string]bool{}
		for _, l := range m.GetLabel() {
			have[l.GetName()+"="+l.GetValue()] = true
		}
		if slices.ContainsFunc(labels, func(l string) bool { return !have[l] }) {
			continue
		}
		found = true
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
	}
	return sum, found
}

var (
	web        = []observe.KeyValue{{Key: "channel", Value: "web"}}
	traceID    = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan = "00f067aa0ba902b7"
	caller     = observe.TraceContext{Traceparent: "00-" + traceID + "-" + callerSpan + "-01"}
)

// Every function over NATS from a linked component, and what it recorded
// at /metrics/{source-id} and /metrics.
func TestLinkedCalls(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	c := f.client(shop)
	for range 3 {
		if err := c.CounterAdd(ctx, "offerings_created_total", 2, web); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.GaugeSet(ctx, "queue_depth", 7, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.GaugeAdd(ctx, "queue_depth", -2.5, nil); err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{0.01, 0.2} {
		if err := c.HistogramRecord(ctx, "query_seconds", v, web); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := c.Current(ctx); err != nil || ok {
		t.Errorf("current without a traceparent header: %v, %v; want none", ok, err)
	}
	c.Trace = caller
	if tc, ok, err := c.Current(ctx); err != nil || !ok || !strings.Contains(tc.Traceparent, traceID) {
		t.Errorf("current with a traceparent header: %+v, %v, %v; want the caller's trace", tc, ok, err)
	}
	s, err := c.StartSpan(ctx, "GET /productOffering", observe.SpanServer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.ParentSpanID == nil || *s.ParentSpanID != callerSpan || !strings.Contains(s.Context.Traceparent, traceID) ||
		s.Name != "GET /productOffering" || s.Kind != observe.SpanServer || s.StartUnixNanos == 0 {
		t.Errorf("start-span in the caller's trace: %+v", s)
	}
	if err := c.EndSpan(ctx, s, web, observe.SpanStatus{Code: observe.StatusError, Description: "boom"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Log(ctx, observe.LevelWarn, "low stock", web); err != nil {
		t.Fatal(err)
	}

	fams, code := f.scrape(t, "/metrics/"+shop)
	for _, w := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"offerings_created_total", []string{"channel=web"}, 6},
		{"queue_depth", nil, 4.5},
		{"query_seconds", []string{"channel=web"}, 2},
		{"wasmcanvas_bridge_calls_total", []string{"source_id=" + shop, "function=counter-add", "result=ok"}, 3},
		{"wasmcanvas_bridge_calls_total", []string{"source_id=" + shop, "function=start-span", "result=ok"}, 1},
		{"wasmcanvas_bridge_calls_total", []string{"source_id=" + shop, "function=end-span", "result=ok"}, 1},
		{"wasmcanvas_bridge_calls_total", []string{"source_id=" + shop, "interface=logging", "function=log", "result=ok"}, 1},
	} {
		if got, ok := sample(fams, w.name, w.labels...); !ok || got != w.want {
			t.Errorf("/metrics/%s (status %d): %s%v = %v (found %v), want %v", shop, code, w.name, w.labels, got, ok, w.want)
		}
	}

	if err := f.client(billing).CounterAdd(ctx, "invoices_total", 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.client(identity).CounterAdd(ctx, "parties_total", 1, nil); err != nil {
		t.Fatal(err)
	}
	all, _ := f.scrape(t, "/metrics")
	for _, w := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"offerings_created_total", []string{"wasmcanvas_namespace=shop", "wasmcanvas_component=productcatalog", "channel=web"}, 6},
		{"invoices_total", []string{"wasmcanvas_namespace=" + lat, "wasmcanvas_component=" + billing}, 1},
		{"parties_total", []string{"wasmcanvas_namespace=" + lat, "wasmcanvas_component=" + identity}, 1},
		{"wasmcanvas_bridge_calls_total", []string{"source_id=" + billing, "result=ok"}, 1},
	} {
		if got, ok := sample(all, w.name, w.labels...); !ok || got != w.want {
			t.Errorf("/metrics: %s%v = %v (found %v), want %v", w.name, w.labels, got, ok, w.want)
		}
	}
	if own, _ := f.scrape(t, "/metrics/"+billing); own["offerings_created_total"] != nil {
		t.Error("/metrics/billing shows shop's series")
	}
}

// What a component gets wrong comes back as the WIT error, and nothing
// is recorded.
func TestWITErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		source string
		call   func(*Client) error
		kind   observe.ErrorKind
		says   string
	}{
		{"no link", "unlinked-api", func(c *Client) error { return c.CounterAdd(ctx, "refused_total", 1, nil) }, observe.NotLinked, "no link"},
		{"no link, log", "unlinked-api", func(c *Client) error { return c.Log(ctx, observe.LevelInfo, "x", nil) }, observe.NotLinked, "no link"},
		{"no source-id", "", func(c *Client) error { return c.HistogramRecord(ctx, "refused_seconds", 1, nil) }, observe.NotLinked, "no link"},
		{"id no Component", nkeyID, func(c *Client) error { return c.CounterAdd(ctx, "refused_total", 1, nil) }, observe.NotLinked, "set target config namespace and component"},
		{"metric name", shop, func(c *Client) error { return c.CounterAdd(ctx, "refused-total", 1, nil) }, observe.InvalidName, "metric name"},
		{"reserved name", shop, func(c *Client) error { return c.GaugeSet(ctx, "wasmcanvas_refused", 1, nil) }, observe.InvalidName, "reserved"},
		{"bad parent", shop, func(c *Client) error {
			_, err := c.StartSpan(ctx, "refused", observe.SpanInternal, &observe.TraceContext{Traceparent: "00-zz"})
			return err
		}, observe.InvalidArgument, "traceparent"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(f.client(tt.source))
			var oe *observe.Error
			if !errors.As(err, &oe) || oe.Kind != tt.kind || !strings.Contains(oe.Message, tt.says) {
				t.Fatalf("got %v, want the WIT error %s saying %q", err, tt.kind, tt.says)
			}
		})
	}
	all, _ := f.scrape(t, "/metrics")
	for name := range all {
		if strings.HasPrefix(name, "refused") {
			t.Errorf("a refused call recorded %s", name)
		}
	}
	if got, _ := sample(all, "wasmcanvas_bridge_calls_total", "source_id=", "result=not-linked"); got != 4 {
		t.Errorf("not-linked calls counted %v, want 4 (under source_id \"\")", got)
	}
	if _, code := f.scrape(t, "/metrics/unlinked-api"); code != http.StatusNotFound {
		t.Errorf("/metrics of a component with no link: %d, want 404", code)
	}
}

// Params that do not match the WIT, an unknown function and current
// without a link fail the call (a wrpc error, not a result); nothing is
// recorded and the server keeps serving.
func TestFailedCalls(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := (&Client{SourceID: shop}).header()
	good := metricParams("refused_total", 1, (*wire.Encoder).U64, nil).Bytes()
	var hugeList wire.Encoder
	hugeList.Str("refused_total")
	hugeList.U64(1)
	hugeList.ListLen(1 << 30)
	var badKind wire.Encoder
	badKind.Str("refused")
	badKind.Case(spanKinds)
	badKind.Option(false)
	for _, tt := range []struct {
		name      string
		iface, fn string
		params    []byte
		want      error
	}{
		{"garbage", "metrics", "counter-add", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, &wrpc.RemoteError{}},
		{"truncated", "metrics", "counter-add", good[:len(good)-2], &wrpc.RemoteError{}},
		{"trailing bytes", "metrics", "counter-add", append(good[:len(good):len(good)], 0), &wrpc.RemoteError{}},
		{"list longer than the params", "metrics", "counter-add", hugeList.Bytes(), &wrpc.RemoteError{}},
		{"enum case out of range", "tracing", "start-span", badKind.Bytes(), &wrpc.RemoteError{}},
		{"empty", "logging", "log", nil, &wrpc.RemoteError{}},
		{"unknown function", "metrics", "counter-sub", good, wrpc.ErrNoResponders},
		{"unknown interface", "identity", "counter-add", good, wrpc.ErrNoResponders},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.rpc.Invoke(ctx, Instance(tt.iface), tt.fn, tt.params, h)
			var re *wrpc.RemoteError
			if _, remote := tt.want.(*wrpc.RemoteError); remote && !errors.As(err, &re) || !remote && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %T %v", err, tt.want, tt.want)
			}
		})
	}
	if _, _, err := f.client("unlinked-api").Current(ctx); !errors.As(err, new(*wrpc.RemoteError)) || !strings.Contains(err.Error(), "no link") {
		t.Errorf("current without a link: %v, want a failed call saying no link", err)
	}
	if err := f.client(shop).CounterAdd(ctx, "still_serving_total", 1, nil); err != nil {
		t.Fatalf("after the failed calls: %v", err)
	}
	fams, _ := f.scrape(t, "/metrics/"+shop)
	if _, ok := sample(fams, "refused_total"); ok {
		t.Error("a failed call recorded refused_total")
	}
	if got, _ := sample(fams, "still_serving_total"); got != 1 {
		t.Errorf("still_serving_total = %v, want 1", got)
	}
}

func TestOTLPConfig(t *testing.T) {
	t.Parallel()
	on, off := true, false
	ep := func(s string) *string { return &s }
	for _, tt := range []struct {
		name string
		in   bridge.OtelConfig
		want string // fmt of the Config, "<nil>" for OTEL_*
	}{
		{"nothing on: OTEL_* decide", bridge.OtelConfig{}, "<nil>"},
		{"all on, default endpoint", bridge.OtelConfig{EnableObservability: true},
			"&{canvas-bridge http://localhost:4318/v1/traces http://localhost:4318/v1/metrics http://localhost:4318/v1/logs}"},
		{"traces only, own endpoint", bridge.OtelConfig{EnableObservability: true, EnableMetrics: &off, EnableLogs: &off,
			ObservabilityEndpoint: ep("http://collector:4318")}, "&{canvas-bridge http://collector:4318/v1/traces off off}"},
		{"logs only", bridge.OtelConfig{EnableLogs: &on, LogsEndpoint: ep("https://logs.example/v1/logs")},
			"&{canvas-bridge off off https://logs.example/v1/logs}"},
		{"gRPC: OTEL_* decide", bridge.OtelConfig{EnableObservability: true, Protocol: "grpc"}, "<nil>"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := otlpConfig(tt.in, zap.NewNop())
			s := "<nil>"
			if got != nil {
				s = "&{" + got.ServiceName + " " + got.Traces.String() + " " + got.Metrics.String() + " " + got.Logs.String() + "}"
			}
			if s != tt.want {
				t.Errorf("got %s\nwant %s", s, tt.want)
			}
		})
	}
}

// A deleted link's Component registry is dropped once no other link
// records as that Component, so links that come and go do not grow the
// bridge; one still used by another caller stays.
func TestForgetOnLastLinkDeleted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	gone := observe.Source{Namespace: lat, Component: "gone-api"}
	kept := observe.Source{Namespace: "shop", Component: "productcatalog"}
	for _, src := range []observe.Source{gone, kept} {
		if err := f.obs.CounterAdd(ctx, src, "calls_total", 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	// gone-api's link was deleted (it is not in the store); shop-api's link
	// to shop/productcatalog is deleted too, but the store still holds one
	// recording as that Component (shop's).
	f.srv.forget("gone-api", bridge.Link{})
	f.srv.forget("other-shop-api", bridge.Link{Config: map[string]string{ConfigNamespace: "shop", ConfigComponent: "productcatalog"}})
	for src, want := range map[observe.Source]bool{gone: false, kept: true} {
		m, err := f.obs.Metrics(src)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ok := testkit.Sample(testkit.Scrape(t, m.Handler()), "calls_total"); ok != want {
			t.Errorf("%s/%s: calls_total present %v after its link was deleted, want %v", src.Namespace, src.Component, ok, want)
		}
	}
}
