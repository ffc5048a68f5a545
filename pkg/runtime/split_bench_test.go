package runtime_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	wruntime "github.com/wasmcanvas/wasmcanvas/pkg/runtime"
	"github.com/wasmcanvas/wasmcanvas/pkg/service"
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
	h := newHost(b, wruntime.Config{CacheDir: splitCache(b), NoBaseline: true}) // measure the optimised code
	// As canvas up serves it: reads from an in-memory replica of the bucket.
	replicas := wruntime.NewKVReplicas(js, 0, nil)
	b.Cleanup(replicas.Close)
	// And observed, as canvas up observes it (no OTLP exporter here): an
	// unlinked component's calls fail, and a failure costs the guest ~1 ms
	// (an exception with its stack).
	c, err := h.Load(context.Background(), "productcatalog", wasm, wruntime.ComponentConfig{
		KeyValue: wruntime.NewJetStreamKV(js, "split", wruntime.WithKVReplica(replicas)),
		Observe:  startObserver(b),
		Source:   observe.Source{Namespace: "default", Component: "productcatalog"},
	})
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
				// One request at a time, its teardown included (it
				// follows the response): the phases do not overlap.
				wruntime.WaitTornDown(tc.c)
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

// startObserver starts an observe.Observer with no OTLP endpoint; the
// benchmark's cleanup stops it.
func startObserver(b *testing.B) *observe.Observer {
	o := observe.New(observe.Options{ServiceName: "bench", Getenv: func(string) string { return "" }})
	runner := service.NewRunner(o.Service())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := runner.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := runner.Shutdown(ctx); err != nil {
			b.Error(err)
		}
	})
	return o
}

// serveOK serves one request in-process and fails unless it answers want.
func serveOK(b *testing.B, c *wruntime.Component, method, path, body string, want int) {
	if err := serveWant(c, method, path, body, want); err != nil {
		b.Fatal(err)
	}
}

// serveWant serves one request in-process and says how it differs from
// want (safe off the benchmark's goroutine).
func serveWant(c *wruntime.Component, method, path, body string, want int) error {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	c.ServeHTTP(rec, req)
	if rec.Code != want {
		return fmt.Errorf("%s %s: %d %s, want %d", method, path, rec.Code, rec.Body, want)
	}
	return nil
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

// BenchmarkJSConcurrency serves productcatalog GET by id in-process from 1
// and from 8 goroutines, on a host keeping 64 KiB of each pooled memory
// resident (what it kept before) and on one keeping the default
// (DefaultResidentBytes), alternating, and reports requests per second of
// each. With 64 KiB, every request faults in the pages of the 10 MiB heap
// it touches and unmaps them after, and each unmapping interrupts the
// other core (a TLB shootdown): 8 concurrent requests served fewer per
// second than one. A third host keeps the default with Config.PagemapScan:
// its resets stop after 32 runs of present private pages and decommit the
// rest, so the heap faults back in too (README, Numbers). Each host and
// number of goroutines serves jsConcurrencyRequests a round, three rounds,
// whatever b.N: one iteration is the whole measurement (`make bench`
// runs one, its first taking over a second).
//
// Run: go test -run '^$' -bench JSConcurrency ./pkg/runtime/
func BenchmarkJSConcurrency(b *testing.B) {
	wasm := productCatalog(b)
	js := wruntime.StartJetStreamForTest(b)
	replicas := wruntime.NewKVReplicas(js, 0, nil)
	b.Cleanup(replicas.Close)
	obs := startObserver(b)
	cache := splitCache(b)
	hosts := []struct {
		name     string
		resident uint64
		scan     bool
		c        *wruntime.Component
	}{{name: "resident-64KiB", resident: 64 << 10}, {name: "resident-default", resident: 0}, {name: "pagemap-scan", scan: true}}
	for i := range hosts {
		h := newHost(b, wruntime.Config{CacheDir: cache, ResidentBytes: hosts[i].resident, PagemapScan: hosts[i].scan, NoBaseline: true})
		c, err := h.Load(context.Background(), "productcatalog", wasm, wruntime.ComponentConfig{
			KeyValue: wruntime.NewJetStreamKV(js, "concurrency", wruntime.WithKVReplica(replicas)), Observe: obs,
		})
		if err != nil {
			b.Fatal(err)
		}
		hosts[i].c = c
	}
	for i := 1; i <= 20; i++ {
		serveOK(b, hosts[0].c, "POST", catalogList, fmt.Sprintf(`{"name":"Offer %d","lifecycleStatus":"Active"}`, i), http.StatusCreated)
	}
	rates := map[string]float64{}
	const n = jsConcurrencyRequests
	for round := 0; round < 3; round++ {
		for _, h := range hosts {
			for _, workers := range []int{1, 8} {
				var wg sync.WaitGroup
				t0 := time.Now()
				for w := 0; w < workers; w++ {
					wg.Go(func() {
						for i := w; i < n; i += workers {
							if err := serveWant(h.c, "GET", catalogList+"/7", "", http.StatusOK); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				rates[fmt.Sprintf("%s-%dw", h.name, workers)] += float64(n) / time.Since(t0).Seconds() / 3
			}
		}
	}
	for name, r := range rates {
		b.ReportMetric(r, name+"-req/s")
	}
	b.ReportMetric(rates["resident-default-8w"]/rates["resident-64KiB-8w"], "8w-default/64KiB")
	b.ReportMetric(rates["pagemap-scan-8w"]/rates["resident-default-8w"], "8w-pagemap-scan/default")
}

// jsConcurrencyRequests is what BenchmarkJSConcurrency serves per host,
// goroutine count and round.
const jsConcurrencyRequests = 400
