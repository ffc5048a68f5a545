package gateway

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkObservability compares requests through the gateway to a Wasm
// component (the runtime's echo) with observability on (an Observer
// exporting spans over OTLP/HTTP to a collector on loopback that discards
// them, per-component series, traceparent in and out) and off (no Observer), alternating
// request by request in one run. Goal: on/off ≤ 1.2.
func BenchmarkObservability(b *testing.B) {
	echo := echoComponent(b)
	// The collector's decoding is not the canvas's cost: this one discards.
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(collector.Close)
	o, _ := startObserver(b, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL})
	route := []Route{{API: "catalog", Path: "/shop/catalog", Handler: echo, Source: shop}}
	gateways := map[string]*Gateway{"on": New(Options{Observer: o}), "off": New(Options{})}
	for _, g := range gateways {
		if err := g.SetRoutes("shop", route); err != nil {
			b.Fatal(err)
		}
	}
	const path, traceparent = "/shop/catalog/items", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	body := strings.Repeat("x", 256)
	// Served once: b.Run calls its function again for each -count.
	urls := map[bool]string{true: serve(b, gateways["on"]) + path, false: serve(b, gateways["off"]) + path}
	b.Run("http", func(b *testing.B) {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}
		alternate(b, func(on bool) time.Duration {
			return postEcho(b, c, urls[on], body, http.Header{"Traceparent": {traceparent}})
		})
	})

	// inproc calls ServeHTTP directly: the cost without the network.
	inproc := func(gateways map[string]*Gateway) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			alternate(b, func(on bool) time.Duration {
				g := gateways["off"]
				if on {
					g = gateways["on"]
				}
				return serveEcho(b, g, path, body, http.Header{"Traceparent": {traceparent}})
			})
		}
	}
	b.Run("inproc", inproc(gateways))
	// inproc-go routes to a Go handler that echoes the body: what is left
	// is the gateway's own cost of observing (allocs/op counts both runs).
	goEcho := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(w, r.Body) })
	goRoute := []Route{{API: "catalog", Path: "/shop/catalog", Handler: goEcho, Source: shop}}
	goGateways := map[string]*Gateway{"on": New(Options{Observer: o}), "off": New(Options{})}
	for _, g := range goGateways {
		if err := g.SetRoutes("shop", goRoute); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("inproc-go", inproc(goGateways))
}

// alternate runs on and off in turns, which goes first alternating so
// neither gains from the order, and reports both rates and their ratio.
func alternate(b *testing.B, get func(on bool) time.Duration) {
	var dOn, dOff time.Duration
	get(true)
	get(false)
	first := true
	for b.Loop() {
		if first {
			dOn += get(true)
			dOff += get(false)
		} else {
			dOff += get(false)
			dOn += get(true)
		}
		first = !first
	}
	n := float64(b.N)
	b.ReportMetric(n/dOn.Seconds(), "on-req/s")
	b.ReportMetric(n/dOff.Seconds(), "off-req/s")
	b.ReportMetric(dOn.Seconds()/dOff.Seconds(), "on/off")
	b.ReportMetric((dOn-dOff).Seconds()/n*1e6, "added-us")
}

// postEcho POSTs body to url with hdr, expects it echoed with 200 and
// returns how long the exchange took.
func postEcho(b *testing.B, c *http.Client, url, body string, hdr http.Header) time.Duration {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	maps.Copy(req.Header, hdr)
	start := time.Now()
	res, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	d := time.Since(start)
	if res.StatusCode != http.StatusOK || n != int64(len(body)) {
		b.Fatalf("%s: %d, %d bytes", url, res.StatusCode, n)
	}
	return d
}

// serveEcho is postEcho through g.ServeHTTP, without the network.
func serveEcho(b *testing.B, g *Gateway, path, body string, hdr http.Header) time.Duration {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	maps.Copy(req.Header, hdr)
	rec := httptest.NewRecorder()
	start := time.Now()
	g.ServeHTTP(rec, req)
	d := time.Since(start)
	if rec.Code != http.StatusOK || rec.Body.Len() != len(body) {
		b.Fatalf("%d, %d bytes", rec.Code, rec.Body.Len())
	}
	return d
}
