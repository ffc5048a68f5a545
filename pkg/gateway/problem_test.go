package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/problem"
)

func decodeProblem(t *testing.T, res response) problem.Details {
	t.Helper()
	if ct := res.header.Get("Content-Type"); ct != problem.ContentType {
		t.Fatalf("Content-Type %q, want %q (body %q)", ct, problem.ContentType, res.body)
	}
	var p problem.Details
	dec := json.NewDecoder(strings.NewReader(res.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body %q: %v", res.body, err)
	}
	return p
}

const secret = "s3cr3t-internal-detail"

func TestProblems(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	g := New(Options{Logger: zap.New(core)})
	base := serve(t, g)
	mustSet(t, g, "app", []Route{
		{API: "panics", Path: "/app/panics", Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic(secret)
		})},
		{API: "ok", Path: "/app/ok", Handler: echo("app", "ok")},
	})
	mustSet(t, g, "loading", []Route{{API: "l", Path: "/loading", Handler: echo("loading", "l")}})
	g.SetUnavailable("loading", "compiling the component")

	tests := []struct {
		path       string
		status     int
		wantDetail string
	}{
		{"/nothing/here", http.StatusNotFound, `no API is served at "/nothing/here"`},
		{"/app/panics", http.StatusBadGateway, "failed to produce a response"},
		{"/loading/x", http.StatusServiceUnavailable, `the API "l" of "loading" is not ready: compiling the component`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			res := do(t, http.MethodGet, base+tc.path)
			p := decodeProblem(t, res)
			want := problem.Details{Type: "about:blank", Title: http.StatusText(tc.status), Status: tc.status, Instance: tc.path}
			if res.status != tc.status || p.Type != want.Type || p.Title != want.Title || p.Status != want.Status || p.Instance != want.Instance {
				t.Fatalf("got %d %+v, want %d %+v", res.status, p, tc.status, want)
			}
			if !strings.Contains(p.Detail, tc.wantDetail) {
				t.Fatalf("detail %q, want it to contain %q", p.Detail, tc.wantDetail)
			}
			if strings.Contains(res.body, secret) {
				t.Fatalf("the handler's failure leaked to the client: %q", res.body)
			}
		})
	}

	// The gateway keeps serving after a panic, the same route included.
	if res := do(t, http.MethodGet, base+"/app/ok"); res.status != http.StatusOK {
		t.Fatalf("after a panic: %d %q", res.status, res.body)
	}
	if res := do(t, http.MethodGet, base+"/app/panics"); res.status != http.StatusBadGateway {
		t.Fatalf("second panic: %d", res.status)
	}
	if res := do(t, http.MethodGet, base+"/loading"); res.header.Get("Retry-After") == "" {
		t.Fatalf("503 without Retry-After")
	}
	g.SetReady("loading")
	if res := do(t, http.MethodGet, base+"/loading/x"); res.status != http.StatusOK || res.body != "loading/l /loading/x" {
		t.Fatalf("after SetReady: %d %q", res.status, res.body)
	}

	panics := logs.FilterMessage("gateway: handler panicked").All()
	if len(panics) != 2 {
		t.Fatalf("%d panic logs, want 2", len(panics))
	}
	ctx := panics[0].ContextMap()
	if ctx["panic"] != secret || ctx["route"].(map[string]any)["path"] != "/app/panics" {
		t.Fatalf("panic log lacks the panic value or the route: %v", ctx)
	}
	failed := logs.FilterMessage("gateway: request failed").FilterField(zap.String("api", "panics")).All()
	if len(failed) != 2 || !strings.Contains(failed[0].ContextMap()["error"].(string), "panic") {
		t.Fatalf("the failed requests were not logged with their cause: %v", failed)
	}
}

func TestUnavailableBeforeRoutes(t *testing.T) {
	t.Parallel()
	g := New(Options{})
	base := serve(t, g)
	g.SetUnavailable("app", "")
	mustSet(t, g, "app", []Route{{API: "a", Path: "/app", Handler: echo("app", "a")}})
	res := do(t, http.MethodGet, base+"/app")
	if p := decodeProblem(t, res); p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Detail, "not ready") {
		t.Fatalf("got %+v, want 503 not ready", p)
	}
	if got := g.Routes(); len(got) != 1 || got[0].Ready || got[0].Reason != "not ready" {
		t.Fatalf("routes %+v, want one unready route", got)
	}
}

func TestPanicAfterHeadersAbortsResponse(t *testing.T) {
	t.Parallel()
	g := New(Options{})
	base := serve(t, g)
	mustSet(t, g, "app", []Route{{API: "a", Path: "/app", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("partial"))
		http.NewResponseController(w).Flush()
		panic("midway")
	})}})
	res, err := client.Get(base + "/app")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if _, err := io.ReadAll(res.Body); err == nil {
		t.Fatal("the client read a complete body from a response cut short by a panic")
	}
	if r := do(t, http.MethodGet, base+"/nope"); r.status != http.StatusNotFound {
		t.Fatalf("gateway unusable after an aborted response: %d", r.status)
	}
}

func TestMetricsAndRequestLog(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	core, logs := observer.New(zapcore.InfoLevel)
	g := New(Options{Logger: zap.New(core), Registerer: reg})
	base := serve(t, g)
	mustSet(t, g, "pc", []Route{{API: "tmf620", Path: "/pc/api", Handler: echo("pc", "tmf620")}})
	mustSet(t, g, "canvas", []Route{{API: "metrics", Path: "/metrics", Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}})
	for range 3 {
		do(t, http.MethodGet, base+"/pc/api/x")
	}
	do(t, http.MethodGet, base+"/missing")

	res := do(t, http.MethodGet, base+"/metrics")
	for _, want := range []string{
		`canvas_gateway_requests_total{api="tmf620",app="pc",code="200"} 3`,
		`canvas_gateway_requests_total{api="",app="",code="404"} 1`,
		`canvas_gateway_request_duration_seconds_count{api="tmf620",app="pc"} 3`,
		// The scrape itself is in flight while it is rendered.
		`canvas_gateway_requests_in_flight 1`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("metrics lack %q:\n%s", want, res.body)
		}
	}

	entries := logs.FilterMessage("gateway: request").FilterField(zap.String("app", "pc")).All()
	if len(entries) != 3 {
		t.Fatalf("%d request logs for app pc, want 3", len(entries))
	}
	m := entries[0].ContextMap()
	wantBody := len("pc/tmf620 /pc/api/x")
	if m["method"] != "GET" || m["path"] != "/pc/api/x" || m["api"] != "tmf620" || m["status"] != int64(200) || m["bytes"] != int64(wantBody) {
		t.Fatalf("request log %v", m)
	}
	if _, ok := m["duration"]; !ok {
		t.Fatalf("request log lacks duration: %v", m)
	}
}

func TestTwoGatewaysShareARegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	a := New(Options{Registerer: reg})
	b := New(Options{Registerer: reg})
	if a.metrics.requests != b.metrics.requests {
		t.Fatal("the second gateway did not reuse the registered collectors")
	}
}
