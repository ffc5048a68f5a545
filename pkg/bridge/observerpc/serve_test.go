package observerpc

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/proto"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc"
)

// spanSink is an OTLP/HTTP trace receiver on loopback: it decodes each
// export with the OTLP protobuf definitions and keeps the spans' names
// with their service.name and oda.component.name.
type spanSink struct {
	*httptest.Server
	mu    sync.Mutex
	spans []string // "service/component/name"
}

func newSpanSink(t *testing.T) *spanSink {
	s := &spanSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "want an OTLP trace export on /v1/traces", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, rs := range req.GetResourceSpans() {
			service := ""
			for _, a := range rs.GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					service = a.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					component := ""
					for _, a := range sp.GetAttributes() {
						if a.GetKey() == "oda.component.name" {
							component = a.GetValue().GetStringValue()
						}
					}
					s.spans = append(s.spans, service+"/"+component+"/"+sp.GetName())
				}
			}
		}
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *spanSink) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.spans...)
}

// The service as canvas-bridge runs it: the bridge starts Serve with the
// host data's config and otel_config; metrics-listen opens the listener,
// otel_config sends the spans to OTLP, and the bridge's stop flushes them.
func TestServe(t *testing.T) {
	t.Parallel()
	url := testkit.NATS(t, embedded.Config{}).ClientURL()
	sink := newSpanSink(t)
	on := true
	traces := sink.URL + "/v1/traces"
	core, logs := observer.New(zap.InfoLevel)
	b, err := bridge.New(bridge.HostData{HostID: "NHOST", LatticeRPCPrefix: lat, ProviderKey: provider, LatticeRPCURL: url,
		Config:     map[string]string{ConfigMetricsListen: "127.0.0.1:0"},
		OtelConfig: bridge.OtelConfig{EnableTraces: &on, TracesEndpoint: &traces},
		LinkDefinitions: []bridge.LinkDefinition{
			observeLink(shop, map[string]string{ConfigNamespace: "shop", ConfigComponent: "productcatalog"}),
		}}, bridge.Options{Logger: zap.New(core), Services: []bridge.Service{New(Options{Getenv: func(string) string { return "" }})}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = b.Shutdown(context.Background())
		}
	})

	rpc, err := wrpc.NewClient(testkit.Connect(t, url), subject.WRPCPrefix(lat, provider))
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	c := &Client{RPC: rpc, SourceID: shop}
	s, err := c.StartSpan(ctx, "create offering", observe.SpanInternal, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EndSpan(ctx, s, nil, observe.SpanStatus{Code: observe.StatusOK}); err != nil {
		t.Fatal(err)
	}
	if err := c.CounterAdd(ctx, "offerings_created_total", 1, nil); err != nil {
		t.Fatal(err)
	}

	listening := logs.FilterMessage("serving Prometheus metrics").All()
	if len(listening) != 1 {
		t.Fatalf("%d log lines about the metrics listener, want 1", len(listening))
	}
	addr := listening[0].ContextMap()["address"].(string)
	resp, err := http.Get("http://" + addr + MetricsPath + "/" + shop)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics/%s on the listener: %s", shop, resp.Status)
	}

	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if got := sink.names(); len(got) != 1 || got[0] != ServiceName+"/productcatalog/create offering" {
		t.Errorf("OTLP spans after the bridge's stop: %q, want the component's span from %s", got, ServiceName)
	}
	if _, err := http.Get("http://" + addr + MetricsPath); err == nil {
		t.Error("the metrics listener still answers after the bridge's stop")
	}
}
