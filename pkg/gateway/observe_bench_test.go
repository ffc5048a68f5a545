package gateway

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/obstest"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime"
)

// BenchmarkObservability compares requests through the gateway to a Wasm
// component (the runtime's echo) with observability on (an Observer
// exporting spans over OTLP/HTTP to a receiver on loopback, per-component
// series, traceparent in and out) and off (no Observer), alternating
// request by request in one run. Goal: on/off ≤ 1.2.
func BenchmarkObservability(b *testing.B) {
	wasm, err := os.ReadFile("../runtime/testdata/echo-http.wasm")
	if err != nil {
		b.Fatal(err)
	}
	host, err := runtime.NewHost(runtime.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { host.Close() })
	echo, err := host.Load(context.Background(), "echo", wasm, runtime.ComponentConfig{})
	if err != nil {
		b.Fatal(err)
	}
	rc := obstest.NewReceiver(b)
	o, _ := startObserver(b, rc.Env())
	route := []Route{{API: "catalog", Path: "/shop/catalog", Handler: echo, Source: shop}}
	urls := map[string]string{}
	for name, opts := range map[string]Options{"on": {Observer: o}, "off": {}} {
		g := New(opts)
		if err := g.SetRoutes("shop", route); err != nil {
			b.Fatal(err)
		}
		urls[name] = serve(b, g) + "/shop/catalog/items"
	}
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}
	body := strings.Repeat("x", 256)
	get := func(url string) time.Duration {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		start := time.Now()
		res, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || n != int64(len(body)) {
			b.Fatalf("%s: %d, %d bytes", url, res.StatusCode, n)
		}
		return time.Since(start)
	}
	get(urls["on"])
	get(urls["off"])
	var dOn, dOff time.Duration
	for b.Loop() {
		dOn += get(urls["on"])
		dOff += get(urls["off"])
	}
	n := float64(b.N)
	b.ReportMetric(n/dOn.Seconds(), "on-req/s")
	b.ReportMetric(n/dOff.Seconds(), "off-req/s")
	b.ReportMetric(dOn.Seconds()/dOff.Seconds(), "on/off")
}
