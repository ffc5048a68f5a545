package runtime_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	wruntime "github.com/wasmcanvas/wasmcanvas/pkg/runtime"
)

// BenchmarkEchoWasmVsNative sends the same small POST through the WAT echo
// component and through a native Go echo handler, alternating within one
// run, and reports both latencies and wasm's throughput as a fraction of
// native (wasm/native).
func BenchmarkEchoWasmVsNative(b *testing.B) {
	b.Run("default", func(b *testing.B) { benchEcho(b, wruntime.Config{}) })
	b.Run("pooling", func(b *testing.B) {
		benchEcho(b, wruntime.Config{PoolInstances: 64, Limits: wruntime.Limits{MaxMemoryBytes: 64 << 20}})
	})
}

func benchEcho(b *testing.B, cfg wruntime.Config) {
	h := newHost(b, cfg)
	c, err := h.Load(context.Background(), "echo", echoWAT(b), wruntime.ComponentConfig{})
	if err != nil {
		b.Fatal(err)
	}
	wasm := httptest.NewServer(c)
	defer wasm.Close()
	native := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Path", r.URL.RequestURI())
		io.Copy(w, r.Body)
	}))
	defer native.Close()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	body := strings.Repeat("x", 256)
	do := func(url string) time.Duration {
		start := time.Now()
		resp, err := client.Post(url+"/bench", "text/plain", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n != int64(len(body)) {
			b.Fatalf("%s: status %d, %d bytes", url, resp.StatusCode, n)
		}
		return time.Since(start)
	}
	do(wasm.URL)
	do(native.URL)
	b.ResetTimer()
	var tw, tn time.Duration
	for i := 0; i < b.N; i++ {
		tw += do(wasm.URL)
		tn += do(native.URL)
	}
	b.ReportMetric(float64(tw.Nanoseconds())/float64(b.N), "wasm-ns/req")
	b.ReportMetric(float64(tn.Nanoseconds())/float64(b.N), "native-ns/req")
	b.ReportMetric(float64(tn)/float64(tw), "wasm/native")
}

// productCatalog reads the built TMF620 example, skipping when it is absent.
func productCatalog(b *testing.B) []byte {
	wasm, err := os.ReadFile(wruntime.ProductCatalogWasm)
	if errors.Is(err, fs.ErrNotExist) {
		b.Skipf("%s is absent: build it with `make examples` (or examples/productcatalog/build.sh)", wruntime.ProductCatalogWasm)
	}
	if err != nil {
		b.Fatal(err)
	}
	return wasm
}

const catalogList = "/productcatalog/tmf-api/productCatalogManagement/v4/productOffering"

// getOK sends one GET and fails unless it answers 200.
func getOK(b *testing.B, c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
}

// BenchmarkColdStartJS measures Load plus the first request of the
// productcatalog JS component twice per iteration: with an empty compile
// cache (a full Cranelift compile) and with the cache the first load
// filled (native code loaded from disk), and reports their ratio.
func BenchmarkColdStartJS(b *testing.B) {
	wasm := productCatalog(b)
	js := wruntime.StartJetStreamForTest(b)
	client := &http.Client{Timeout: 60 * time.Second}
	start := func(cache string, name string, wantHit bool) time.Duration {
		h, err := wruntime.NewHost(wruntime.Config{CacheDir: cache})
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		t0 := time.Now()
		c, err := h.Load(context.Background(), name, wasm, wruntime.ComponentConfig{KeyValue: wruntime.NewJetStreamKV(js, "coldstart")})
		if err != nil {
			b.Fatal(err)
		}
		if c.Info().CacheHit != wantHit {
			b.Fatalf("%s: cache hit %v, want %v", name, c.Info().CacheHit, wantHit)
		}
		srv := httptest.NewServer(c)
		defer srv.Close()
		getOK(b, client, srv.URL+catalogList)
		return time.Since(t0)
	}
	var cold, warm time.Duration
	for i := 0; i < b.N; i++ {
		cache := b.TempDir()
		cold += start(cache, "cold", false)
		warm += start(cache, "warm", true)
	}
	b.ReportMetric(float64(cold.Milliseconds())/float64(b.N), "cold-ms")
	b.ReportMetric(float64(warm.Milliseconds())/float64(b.N), "warm-ms")
	b.ReportMetric(float64(cold)/float64(warm), "cold/warm")
}

// echoVariants returns n WAT echo components whose bytes, and compiled
// code, differ by one data segment.
func echoVariants(b *testing.B, n int) [][]byte {
	wat := echoWAT(b)
	anchor := []byte(`(data (i32.const 570) "/upstream")`)
	if !bytes.Contains(wat, anchor) {
		b.Fatalf("testdata/echo-http.wat no longer has %s to add a variant after", anchor)
	}
	out := make([][]byte, n)
	for i := range out {
		seg := fmt.Appendf(nil, "%s\n    (data (i32.const 3000) \"variant-%d\")", anchor, i)
		out[i] = bytes.Replace(wat, anchor, seg, 1)
	}
	return out
}

// vmRSS is this process's resident set from /proc/self/status, in bytes.
func vmRSS(b *testing.B) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status (%v): VmRSS is Linux-only", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("parse VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	b.Fatal("/proc/self/status has no VmRSS")
	return 0
}

// BenchmarkDensity loads 1,000 components made from 10 distinct
// artefacts into one host (sharing a compile cache) and reports the growth
// of the process's RSS, in total and per component; each component is
// checked to serve one request.
func BenchmarkDensity(b *testing.B) {
	const components, artefacts = 1000, 10
	variants := echoVariants(b, artefacts)
	var total int64
	for i := 0; i < b.N; i++ {
		cache := b.TempDir()
		// FreeOSMemory, not just GC: earlier benchmarks in this binary
		// leave freed heap that the OS would otherwise reclaim mid-measure.
		debug.FreeOSMemory()
		before := vmRSS(b)
		h, err := wruntime.NewHost(wruntime.Config{CacheDir: cache})
		if err != nil {
			b.Fatal(err)
		}
		loaded := make([]*wruntime.Component, components)
		for j := range loaded {
			if loaded[j], err = h.Load(context.Background(), fmt.Sprintf("c%d", j), variants[j%artefacts], wruntime.ComponentConfig{}); err != nil {
				b.Fatal(err)
			}
		}
		debug.FreeOSMemory()
		total += vmRSS(b) - before
		for _, c := range loaded {
			rec := httptest.NewRecorder()
			c.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != http.StatusOK {
				b.Fatalf("%s: %d", c.Info().Name, rec.Code)
			}
		}
		h.Close()
	}
	mib := float64(total) / float64(b.N) / (1 << 20)
	b.ReportMetric(mib, "RSS-MiB/1000")
	b.ReportMetric(mib*1024/components, "RSS-KiB/component")
}

// BenchmarkJSThroughput sends GETs of a two-offering list to the
// productcatalog JS component over real HTTP, one at a time, and reports
// requests per second and the p50/p99 latency.
func BenchmarkJSThroughput(b *testing.B) {
	wasm := productCatalog(b)
	js := wruntime.StartJetStreamForTest(b)
	h := newHost(b, wruntime.Config{CacheDir: b.TempDir()})
	c, err := h.Load(context.Background(), "productcatalog", wasm, wruntime.ComponentConfig{KeyValue: wruntime.NewJetStreamKV(js, "throughput")})
	if err != nil {
		b.Fatal(err)
	}
	url := serve(b, c) + catalogList
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for _, name := range []string{"Fibre 1G", "Fibre 500M"} {
		resp, err := client.Post(url, "application/json", strings.NewReader(`{"name":"`+name+`","lifecycleStatus":"Active"}`))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("POST productOffering: %d", resp.StatusCode)
		}
	}
	getOK(b, client, url)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		getOK(b, client, url)
		lat = append(lat, time.Since(start))
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
