package runtime_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
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
