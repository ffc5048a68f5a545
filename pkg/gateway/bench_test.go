package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkGateway compares requests per second through the gateway with
// the same handler served bare, in the same run and alternating request
// by request so both see the same machine load. "http" goes over real
// loopback HTTP; "inproc" calls ServeHTTP directly to show the gateway's
// own cost without the network.
func BenchmarkGateway(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"id":"1"}`))
	})
	routes := []Route{
		{API: "tmf620", Path: "/productcatalog/tmf-api/productCatalogManagement/v4", Handler: h},
		{API: "metrics", Path: "/productcatalog/metrics", Handler: h},
	}
	const path = "/productcatalog/tmf-api/productCatalogManagement/v4/productOffering/1"

	b.Run("http", func(b *testing.B) {
		g := New(Options{})
		if err := g.SetRoutes("productcatalog", routes); err != nil {
			b.Fatal(err)
		}
		viaGateway := serve(b, g) + path
		bare := serveBare(b, h) + path
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}
		get := func(url string) time.Duration {
			start := time.Now()
			res, err := c.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Fatalf("%s: %d", url, res.StatusCode)
			}
			return time.Since(start)
		}
		var dGateway, dBare time.Duration
		for b.Loop() {
			dGateway += get(viaGateway)
			dBare += get(bare)
		}
		report(b, dGateway, dBare)
	})

	b.Run("inproc", func(b *testing.B) {
		g := New(Options{})
		if err := g.SetRoutes("productcatalog", routes); err != nil {
			b.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, path, nil)
		var dGateway, dBare time.Duration
		for b.Loop() {
			start := time.Now()
			g.ServeHTTP(httptest.NewRecorder(), req)
			mid := time.Now()
			h.ServeHTTP(httptest.NewRecorder(), req)
			dGateway += mid.Sub(start)
			dBare += time.Since(mid)
		}
		report(b, dGateway, dBare)
	})
}

func report(b *testing.B, dGateway, dBare time.Duration) {
	n := float64(b.N)
	b.ReportMetric(n/dGateway.Seconds(), "gateway-req/s")
	b.ReportMetric(n/dBare.Seconds(), "bare-req/s")
	b.ReportMetric(dBare.Seconds()/dGateway.Seconds(), "gateway/bare")
}
