// Package obstest helps tests check what the canvas's observability sends:
// an OTLP/HTTP collector on loopback that decodes what it receives with
// the OTLP protobuf definitions, and a Prometheus scrape parsed with
// expfmt. Test code only.
package obstest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
)

// Receiver is an OTLP/HTTP collector (traces, metrics, logs) on
// 127.0.0.1; it keeps what it was sent.
type Receiver struct {
	// URL is the endpoint for OTEL_EXPORTER_OTLP_ENDPOINT.
	URL string

	mu      sync.Mutex
	spans   []*tracepb.Span
	logs    []*collogs.ExportLogsServiceRequest
	metrics []*colmetrics.ExportMetricsServiceRequest
	auth    []string
}

// NewReceiver starts a Receiver, closed when the test ends.
func NewReceiver(t testing.TB) *Receiver {
	rc := &Receiver{}
	srv := httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL
	return rc
}

// Env is the OTEL_* environment that sends every signal to rc.
func (rc *Receiver) Env() map[string]string {
	return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": rc.URL}
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want an application/x-protobuf body", http.StatusBadRequest)
		return
	}
	var req, resp proto.Message
	switch r.URL.Path {
	case "/v1/traces":
		req, resp = &coltrace.ExportTraceServiceRequest{}, &coltrace.ExportTraceServiceResponse{}
	case "/v1/logs":
		req, resp = &collogs.ExportLogsServiceRequest{}, &collogs.ExportLogsServiceResponse{}
	case "/v1/metrics":
		req, resp = &colmetrics.ExportMetricsServiceRequest{}, &colmetrics.ExportMetricsServiceResponse{}
	default:
		http.NotFound(w, r)
		return
	}
	if err := proto.Unmarshal(body, req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.auth = append(rc.auth, r.Header.Get("Authorization"))
	switch req := req.(type) {
	case *coltrace.ExportTraceServiceRequest:
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				rc.spans = append(rc.spans, ss.GetSpans()...)
			}
		}
	case *collogs.ExportLogsServiceRequest:
		rc.logs = append(rc.logs, req)
	case *colmetrics.ExportMetricsServiceRequest:
		rc.metrics = append(rc.metrics, req)
	}
	rc.mu.Unlock()
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// Spans are the spans received so far, in arrival order.
func (rc *Receiver) Spans() []*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*tracepb.Span(nil), rc.spans...)
}

// Logs are the log exports received so far.
func (rc *Receiver) Logs() []*collogs.ExportLogsServiceRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*collogs.ExportLogsServiceRequest(nil), rc.logs...)
}

// Metrics are the metric exports received so far.
func (rc *Receiver) Metrics() []*colmetrics.ExportMetricsServiceRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*colmetrics.ExportMetricsServiceRequest(nil), rc.metrics...)
}

// Auth are the Authorization headers of every export, in arrival order.
func (rc *Receiver) Auth() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.auth...)
}

// Attr is the string attribute key of kvs ("" when absent).
func Attr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			if s, ok := kv.GetValue().GetValue().(*commonpb.AnyValue_StringValue); ok {
				return s.StringValue
			}
			return kv.GetValue().String()
		}
	}
	return ""
}

// Scrape GETs url and parses the Prometheus text exposition.
func Scrape(t testing.TB, client *http.Client, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	return testkit.ParseExposition(t, resp.Body)
}
