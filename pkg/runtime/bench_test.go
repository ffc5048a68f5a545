package runtime_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
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

// BenchmarkEchoWasmVsNative compares the WAT echo component behind the Go
// host with a native Go echo handler, both on 127.0.0.1 in one run:
//
//   - latency: b.N small POSTs to each, alternating, one at a time; p50 and
//     p99 of both and the p50 the host adds (goal < 100 us);
//   - throughput: then 8 clients keep each server busy for a while, in
//     alternating rounds; requests/s of both and wasm's share of native's
//     (wasm/native, goal >= 0.5).
//
// "pooled" is the host's default (wasmtime's pooling allocator),
// "pooled-pagemap-scan" the same with Config.PagemapScan (a freed memory
// reset by the pages present and private, not all it keeps resident),
// "on-demand" maps each request's memory afresh (Config.OnDemand).
func BenchmarkEchoWasmVsNative(b *testing.B) {
	b.Run("pooled", func(b *testing.B) { benchEcho(b, wruntime.Config{}) })
	b.Run("pooled-pagemap-scan", func(b *testing.B) { benchEcho(b, wruntime.Config{PagemapScan: true}) })
	b.Run("on-demand", func(b *testing.B) { benchEcho(b, wruntime.Config{OnDemand: true}) })
}

func benchEcho(b *testing.B, cfg wruntime.Config) {
	cfg.NoBaseline = true // measure the optimised code
	h := newHost(b, cfg)
	if cfg.PagemapScan && !h.PagemapScan() {
		b.Log("PAGEMAP_SCAN is not available here: this is the default reset")
	}
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
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	body := strings.Repeat("x", 256)
	do := func(url string) (time.Duration, error) {
		start := time.Now()
		resp, err := client.Post(url+"/bench", "text/plain", strings.NewReader(body))
		if err != nil {
			return 0, err
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n != int64(len(body)) {
			return 0, fmt.Errorf("%s: status %d, %d bytes", url, resp.StatusCode, n)
		}
		return time.Since(start), nil
	}
	for _, u := range []string{wasm.URL, native.URL} {
		if _, err := do(u); err != nil {
			b.Fatal(err)
		}
	}
	lw := make([]time.Duration, 0, b.N)
	ln := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		dw, err := do(wasm.URL)
		if err != nil {
			b.Fatal(err)
		}
		dn, err := do(native.URL)
		if err != nil {
			b.Fatal(err)
		}
		lw, ln = append(lw, dw), append(ln, dn)
	}
	b.StopTimer()
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	pw, pn := percentiles(lw), percentiles(ln)
	b.ReportMetric(us(pw[0]), "wasm-p50-us")
	b.ReportMetric(us(pw[1]), "wasm-p99-us")
	b.ReportMetric(us(pn[0]), "native-p50-us")
	b.ReportMetric(us(pn[1]), "native-p99-us")
	b.ReportMetric(us(pw[0]-pn[0]), "added-p50-us")

	// Throughput: 8 clients, a fixed number of requests per round.
	const clients, perClient, rounds = 8, 250, 4
	burst := func(url string) (time.Duration, error) {
		errs := make(chan error, clients)
		t0 := time.Now()
		for range clients {
			go func() {
				for range perClient {
					if _, err := do(url); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		var first error
		for range clients {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		return time.Since(t0), first
	}
	var tw, tn time.Duration
	for range rounds {
		dw, err := burst(wasm.URL)
		if err != nil {
			b.Fatal(err)
		}
		dn, err := burst(native.URL)
		if err != nil {
			b.Fatal(err)
		}
		tw, tn = tw+dw, tn+dn
	}
	total := float64(clients * perClient * rounds)
	b.ReportMetric(total/tw.Seconds(), "wasm-req/s")
	b.ReportMetric(total/tn.Seconds(), "native-req/s")
	b.ReportMetric(float64(tn)/float64(tw), "wasm/native")
}

// percentiles returns the p50 and p99 of ds (which it sorts).
func percentiles(ds []time.Duration) [2]time.Duration {
	slices.Sort(ds)
	return [2]time.Duration{ds[len(ds)/2], ds[len(ds)*99/100]}
}

// BenchmarkEchoHandler serves the WAT echo component in-process (no
// network, a recorder for the response): the host's own cost per request.
func BenchmarkEchoHandler(b *testing.B) {
	for name, cfg := range map[string]wruntime.Config{
		"pooled":      {NoBaseline: true},
		"on-demand":   {OnDemand: true, NoBaseline: true},
		"pooled-list": {NoBaseline: true, NoStreamAdapter: true}, // bodies as list<u8>, no stream adapter
	} {
		b.Run(name, func(b *testing.B) {
			h := newHost(b, cfg)
			c, err := h.Load(context.Background(), "echo", echoWAT(b), wruntime.ComponentConfig{})
			if err != nil {
				b.Fatal(err)
			}
			body := strings.Repeat("x", 256)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				c.ServeHTTP(rec, httptest.NewRequest("POST", "/bench", strings.NewReader(body)))
				if rec.Code != http.StatusOK || rec.Body.Len() != len(body) {
					b.Fatalf("status %d, %d bytes", rec.Code, rec.Body.Len())
				}
				wruntime.WaitTornDown(c) // the host's whole cost, teardown included
			}
		})
	}
}

// productCatalog reads the built TMF620 example, skipping when it is absent;
// WASMCANVAS_PRODUCTCATALOG names another build of it (say, one made with
// jco's --debug-starlingmonkey-build, whose functions have names in a
// profile).
func productCatalog(b *testing.B) []byte {
	path := wruntime.ProductCatalogWasm
	if p := os.Getenv("WASMCANVAS_PRODUCTCATALOG"); p != "" {
		path = p
	}
	wasm, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b.Skipf("%s is absent: build it with `make examples` (or examples/productcatalog/build.sh)", path)
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
// productcatalog JS component, per iteration: with an empty compile cache
// and the baseline tier (the default: served from quickly compiled code,
// Winch's where it can be selected, while the optimised code compiles; it
// also reports when that took over), the same with Cranelift's baseline
// (Config.NoWinch), with an empty cache and no baseline tier (the whole
// optimising compile first, as before the tier), and with the cache the
// first load filled (optimised code loaded from disk).
func BenchmarkColdStartJS(b *testing.B) {
	wasm := productCatalog(b)
	js := wruntime.StartJetStreamForTest(b)
	client := &http.Client{Timeout: 60 * time.Second}
	start := func(cfg wruntime.Config, name string, wantTier string, wantHit bool) (first, optimized time.Duration) {
		h, err := wruntime.NewHost(cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close()
		swapped := make(chan struct{})
		t0 := time.Now()
		c, err := h.Load(context.Background(), name, wasm, wruntime.ComponentConfig{
			KeyValue: wruntime.NewJetStreamKV(js, "coldstart"),
			OnTier:   func(wruntime.Info) { close(swapped) },
		})
		if err != nil {
			b.Fatal(err)
		}
		if i := c.Info(); i.CacheHit != wantHit || i.Tier != wantTier {
			b.Fatalf("%s: cache hit %v on tier %s, want %v on %s", name, i.CacheHit, i.Tier, wantHit, wantTier)
		}
		srv := httptest.NewServer(c)
		defer srv.Close()
		getOK(b, client, srv.URL+catalogList)
		first = time.Since(t0)
		if wantTier == wruntime.TierBaseline {
			select {
			case <-swapped:
			case <-time.After(5 * time.Minute):
				b.Fatal("no optimised code within 5 minutes")
			}
			optimized = time.Since(t0)
			getOK(b, client, srv.URL+catalogList)
		}
		return first, optimized
	}
	var baseline, optimized, cranelift, whole, warm time.Duration
	for i := 0; i < b.N; i++ {
		cache := b.TempDir()
		f, o := start(wruntime.Config{CacheDir: cache}, "cold", wruntime.TierBaseline, false)
		baseline, optimized = baseline+f, optimized+o
		f, _ = start(wruntime.Config{CacheDir: b.TempDir(), NoWinch: true}, "cold-cranelift-baseline", wruntime.TierBaseline, false)
		cranelift += f
		f, _ = start(wruntime.Config{CacheDir: b.TempDir(), NoBaseline: true}, "cold-no-baseline", wruntime.TierOptimized, false)
		whole += f
		f, _ = start(wruntime.Config{CacheDir: cache}, "warm", wruntime.TierOptimized, true)
		warm += f
	}
	per := func(d time.Duration) float64 { return float64(d.Milliseconds()) / float64(b.N) }
	b.ReportMetric(per(baseline), "cold-ms")
	b.ReportMetric(per(optimized), "cold-optimized-ms")
	b.ReportMetric(per(cranelift), "cold-cranelift-baseline-ms")
	b.ReportMetric(per(whole), "cold-no-baseline-ms")
	b.ReportMetric(per(warm), "warm-ms")
	b.ReportMetric(float64(whole)/float64(baseline), "no-baseline/baseline")
	b.ReportMetric(float64(cranelift)/float64(baseline), "cranelift/winch")
}

// BenchmarkJSTiers measures what a TMF620 list request costs on each kind
// of code: Winch's baseline, Cranelift's baseline (Config.NoWinch), both
// held there (the optimising compile waits), and optimised code; 300
// sequential GETs each per round, rounds alternating, through a loopback
// server. A component serves from baseline code only until its optimised
// code takes over (seconds), so this is what its first requests cost. Its
// baseline code runs on the baseline engine, whose instances map their
// memory on demand, and its optimised code in the pool, whose memories
// are reset in place: the ratios compare what a component's first
// requests cost with its later ones, not only the compilers.
func BenchmarkJSTiers(b *testing.B) {
	wasm := productCatalog(b)
	js := wruntime.StartJetStreamForTest(b)
	client := &http.Client{Timeout: 60 * time.Second}
	// Reads from an in-memory replica of the bucket, as canvas up serves
	// them: the request is the JavaScript's, not JetStream's.
	replicas := wruntime.NewKVReplicas(js, 0, nil)
	b.Cleanup(replicas.Close)
	type tier struct {
		name, compiler string
		cfg            wruntime.Config
		url            string
		took           time.Duration
	}
	tiers := []*tier{
		{name: "winch", compiler: "winch", cfg: wruntime.Config{}},
		{name: "cranelift-baseline", compiler: "cranelift", cfg: wruntime.Config{NoWinch: true}},
		{name: "optimized", cfg: wruntime.Config{NoBaseline: true}},
	}
	for _, t := range tiers {
		h, err := wruntime.NewHost(t.cfg)
		if err != nil {
			b.Fatal(err)
		}
		release := make(chan struct{})
		wruntime.SetOptimizeHook(h, func(string) { <-release })
		b.Cleanup(func() { close(release); h.Close() })
		c, err := h.Load(context.Background(), t.name, wasm, wruntime.ComponentConfig{KeyValue: wruntime.NewJetStreamKV(js, "tiers", wruntime.WithKVReplica(replicas))})
		if err != nil {
			b.Fatal(err)
		}
		if got := c.Info().BaselineCompiler; got != t.compiler {
			b.Logf("%s: code compiled by %q, not %q (no Winch on this machine?)", t.name, got, t.compiler)
		}
		srv := httptest.NewServer(c)
		b.Cleanup(srv.Close)
		t.url = srv.URL + catalogList
		getOK(b, client, t.url)
	}
	const perRound = 300
	for i := 0; i < b.N; i++ {
		for _, t := range tiers {
			t0 := time.Now()
			for range perRound {
				getOK(b, client, t.url)
			}
			t.took += time.Since(t0)
		}
	}
	n := float64(b.N * perRound)
	for _, t := range tiers {
		b.ReportMetric(float64(t.took.Microseconds())/n, t.name+"-us/req")
	}
	b.ReportMetric(float64(tiers[0].took)/float64(tiers[2].took), "winch/optimized")
	b.ReportMetric(float64(tiers[1].took)/float64(tiers[2].took), "cranelift-baseline/optimized")
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
	h := newHost(b, wruntime.Config{CacheDir: b.TempDir(), NoBaseline: true}) // measure the optimised code
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
	p := percentiles(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(p[0].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p[1].Microseconds())/1000, "p99-ms")
}

// BenchmarkStream10MiB sends a 10 MiB chunked body through the WAT echo
// (which reads 4 KiB and writes it back, request and response streaming at
// once) and through a native Go echo handler (full duplex, io.Copy), over
// 127.0.0.1 in one run. The echo is served twice: wrapped with the stream
// adapter (the default: chunks cross into the host as latin1 strings) and
// as it is (Config.NoStreamAdapter: as list<u8>, one value per byte). The
// body is text (hex digits) or binary (every byte value: half of them take
// two bytes as latin1 in UTF-8). Per server it reports MB/s in (size /
// time until the client sent the request body's last byte, paced by the
// handler's reading through the socket buffers) and out (size / time
// until the last response byte arrived), and the adapter's rate as a
// share of native's and as a multiple of list<u8>'s (goal: wasm >= 200
// MB/s each way).
func BenchmarkStream10MiB(b *testing.B) {
	const size = 10 << 20
	text := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	binary := make([]byte, size)
	for i := range binary {
		binary[i] = byte(i*7 + i>>8)
	}
	for _, body := range []struct {
		name string
		src  []byte
	}{{"text", text}, {"binary", binary}, {"random", randomBytes(size)}} {
		b.Run(body.name, func(b *testing.B) { benchStream(b, body.src) })
	}
}

func benchStream(b *testing.B, src []byte) {
	servers := map[string]string{}
	for name, cfg := range map[string]wruntime.Config{
		"wasm": {NoBaseline: true}, // measure the optimised code
		"list": {NoBaseline: true, NoStreamAdapter: true},
	} {
		h := newHost(b, cfg)
		c, err := h.Load(context.Background(), "echo", echoWAT(b), wruntime.ComponentConfig{})
		if err != nil {
			b.Fatal(err)
		}
		servers[name] = serve(b, c)
	}
	servers["native"] = serve(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		buf := make([]byte, 4<<10)
		io.CopyBuffer(w, r.Body, buf)
	}))
	client := &http.Client{Timeout: 60 * time.Second}
	defer client.CloseIdleConnections()
	// once streams src to url and returns when the request body was read
	// to its end and when the last response byte arrived, from the start.
	once := func(url string) (in, out time.Duration) {
		body := &eofReader{r: bytes.NewReader(src)}
		req, _ := http.NewRequest("POST", url+"/stream", io.MultiReader(body))
		req.TransferEncoding = []string{"chunked"}
		t0 := time.Now()
		body.start = t0
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		out = time.Since(t0)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, src) || resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: status %d, %d of %d bytes back (equal: %v, %v)", url, resp.StatusCode, len(got), len(src), bytes.Equal(got, src), err)
		}
		return body.eof, out
	}
	order := []string{"wasm", "list", "native"}
	for _, name := range order {
		once(servers[name])
	}
	in, out := map[string]time.Duration{}, map[string]time.Duration{}
	b.ResetTimer()
	for range b.N {
		for _, name := range order {
			i, o := once(servers[name])
			in[name] += i
			out[name] += o
		}
	}
	b.StopTimer()
	mbs := func(d time.Duration) float64 { return float64(len(src)) * float64(b.N) / 1e6 / d.Seconds() }
	for _, name := range order {
		b.ReportMetric(mbs(in[name]), name+"-in-MB/s")
		b.ReportMetric(mbs(out[name]), name+"-out-MB/s")
	}
	b.ReportMetric(float64(in["native"])/float64(in["wasm"]), "wasm/native-in")
	b.ReportMetric(float64(out["native"])/float64(out["wasm"]), "wasm/native-out")
	b.ReportMetric(float64(in["list"])/float64(in["wasm"]), "wasm/list-in")
	b.ReportMetric(float64(out["list"])/float64(out["wasm"]), "wasm/list-out")
}

type eofReader struct {
	r     io.Reader
	start time.Time
	eof   time.Duration
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF && e.eof == 0 {
		e.eof = time.Since(e.start)
	}
	return n, err
}

// BenchmarkStreamInProcess echoes 1 MiB of text through the WAT echo
// in-process (the body from memory, a recorder for the response: no
// network, no waiting), with the stream adapter and as list<u8>, and
// reports MB/s: what the crossings alone allow.
func BenchmarkStreamInProcess(b *testing.B) {
	text := bytes.Repeat([]byte("0123456789abcdef"), (1<<20)/16)
	binary := make([]byte, len(text))
	for i := range binary {
		binary[i] = byte(i*7 + i>>8)
	}
	bodies := map[string][]byte{"adapter": text, "adapter-binary": binary, "adapter-random": randomBytes(len(text)), "list": text}
	for _, name := range []string{"adapter", "adapter-binary", "adapter-random", "list"} {
		src := bodies[name]
		b.Run(name, func(b *testing.B) {
			h := newHost(b, wruntime.Config{NoBaseline: true, NoStreamAdapter: name == "list"})
			c, err := h.Load(context.Background(), "echo", echoWAT(b), wruntime.ComponentConfig{})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				rec := httptest.NewRecorder()
				c.ServeHTTP(rec, httptest.NewRequest("POST", "/stream", bytes.NewReader(src)))
				if rec.Code != http.StatusOK || rec.Body.Len() != len(src) {
					b.Fatalf("status %d, %d bytes", rec.Code, rec.Body.Len())
				}
			}
			b.ReportMetric(float64(len(src))*float64(b.N)/1e6/b.Elapsed().Seconds(), "MB/s")
		})
	}
}

// randomBytes is n bytes from a fixed-seed generator: a body like a
// compressed or encrypted one, whose bytes above 0x7f no branch predictor
// can foresee.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{1}).Read(b)
	return b
}
