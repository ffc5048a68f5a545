package runtime_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	wruntime "github.com/wasmcanvas/wasmcanvas/pkg/runtime"
)

// BenchmarkJSSplit profiles the productcatalog JS component serving GET by
// id and a list of 10 in-process (no network), and hello-js answering a
// plain GET (StarlingMonkey's own per-instance work with next to no
// JavaScript), and prints where a request's time goes: instantiation, the
// guest's code, each host call, teardown (wruntime.Profile). The README's
// split is this benchmark's output.
//
// Run: go test -run '^$' -bench JSSplit -benchtime 300x ./pkg/runtime/
func BenchmarkJSSplit(b *testing.B) {
	wasm := productCatalog(b)
	js := wruntime.StartJetStreamForTest(b)
	h := newHost(b, wruntime.Config{CacheDir: splitCache(b)})
	// As canvas up serves it: reads from an in-memory replica of the bucket.
	replicas := wruntime.NewKVReplicas(js, 0, nil)
	b.Cleanup(replicas.Close)
	c, err := h.Load(context.Background(), "productcatalog", wasm, wruntime.ComponentConfig{KeyValue: wruntime.NewJetStreamKV(js, "split", wruntime.WithKVReplica(replicas))})
	if err != nil {
		b.Fatal(err)
	}
	for i := 1; i <= 20; i++ {
		body := fmt.Sprintf(`{"name":"Offer %d","lifecycleStatus":"Active","category":[{"id":"%d","name":"Category %d"}]}`, i, i%4, i%4)
		serveOK(b, c, "POST", catalogList, body, http.StatusCreated)
	}
	cases := []struct {
		name string
		c    *wruntime.Component
		path string
	}{
		{"get-by-id", c, catalogList + "/7"},
		{"list-10", c, catalogList + "?limit=10"},
	}
	if hello := helloJS(b); hello != nil {
		hc, err := h.Load(context.Background(), "hello-js", hello, wruntime.ComponentConfig{})
		if err != nil {
			b.Fatal(err)
		}
		cases = append(cases, struct {
			name string
			c    *wruntime.Component
			path string
		}{"hello-js", hc, "/greet"})
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			serveOK(b, tc.c, "GET", tc.path, "", http.StatusOK) // warm
			p := wruntime.StartProfile()
			t0 := time.Now()
			for i := 0; i < b.N; i++ {
				serveOK(b, tc.c, "GET", tc.path, "", http.StatusOK)
			}
			wall := time.Since(t0)
			r := p.Stop()
			if r.Instances != int64(b.N) {
				b.Fatalf("profiled %d instances, served %d requests", r.Instances, b.N)
			}
			host, nhost := r.HostTotal()
			us := func(d time.Duration) float64 { return float64(r.PerInstance(d).Nanoseconds()) / 1e3 }
			b.ReportMetric(us(wall), "request-µs")
			b.ReportMetric(us(r.Phase(wruntime.PhaseInstantiate).Total), "instantiate-µs")
			b.ReportMetric(us(r.Phase(wruntime.PhaseCall).Total-host), "guest-µs")
			b.ReportMetric(us(host), "host-calls-µs")
			b.ReportMetric(float64(nhost)/float64(b.N), "host-calls/req")
			b.ReportMetric(us(r.Phase(wruntime.PhaseTeardown).Total), "teardown-µs")
			if b.N == 1 {
				return // the benchmark's probe run: too few to print
			}
			var sb strings.Builder
			fmt.Fprintf(&sb, "%s, %d requests, %.0f µs each in all (the rest is the Go handler and the response):\n", tc.name, b.N, us(wall))
			if err := r.WriteTable(&sb, 8); err != nil {
				b.Fatal(err)
			}
			b.Log("\n" + sb.String())
		})
	}
}

// serveOK serves one request in-process and fails unless it answers want.
func serveOK(b *testing.B, c *wruntime.Component, method, path, body string, want int) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	c.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s, want %d", method, path, rec.Code, rec.Body, want)
	}
}

// helloJS returns examples/components/hello-js's build, or nil when `make
// components` has not built it.
func helloJS(b *testing.B) []byte {
	wasm, err := os.ReadFile(filepath.Join("..", "..", "examples", "components", "hello-js", "dist", "hello-js.wasm"))
	if err != nil {
		b.Logf("hello-js is absent (%v): `make components` builds it", err)
		return nil
	}
	return wasm
}

// splitCache is WASMCANVAS_BENCH_CACHE when set (so repeated profiling runs
// skip the 14 MB compile), else a fresh directory.
func splitCache(b *testing.B) string {
	if dir := os.Getenv("WASMCANVAS_BENCH_CACHE"); dir != "" {
		return dir
	}
	return b.TempDir()
}
