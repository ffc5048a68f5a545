package up_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// serveWait polls url until it answers 200 (bounded) and returns when.
func serveWait(b *testing.B, hc *http.Client, url string, limit time.Duration) time.Time {
	deadline := time.Now().Add(limit)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Now()
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s not served within %s", url, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// applyEchoes applies n echo Components named prefix-0000… at
// /prefix-0000…, 8 at a time, and returns how long that took.
func applyEchoes(b *testing.B, cl *client.HTTP, prefix string, n int) time.Duration {
	b.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for k := 0; k < n; k++ {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			name := fmt.Sprintf("%s-%04d", prefix, k)
			if _, _, err := cl.Apply(context.Background(), name+".yaml", component(name, "/"+name)); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// waitEchoes waits until each of applyEchoes' Components serves.
func waitEchoes(b *testing.B, hc *http.Client, ingress, prefix string, n int) {
	b.Helper()
	for k := 0; k < n; k++ {
		serveWait(b, hc, fmt.Sprintf("%s/%s-%04d", ingress, prefix, k), 10*time.Minute)
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

// BenchmarkApplyToServing measures, on one embedded canvas, the time from
// `apply` to the first successful request through the gateway, over 100
// applies of distinct Components (goal: p99 < 250 ms).
func BenchmarkApplyToServing(b *testing.B) {
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		c, err := up.Start(context.Background(), up.Options{StateDir: dir, Listen: "127.0.0.1:0", Ingress: "127.0.0.1:0", NATSPort: -1, ArtefactRoots: testRoots})
		if err != nil {
			b.Fatal(err)
		}
		cl, err := client.NewHTTP(c.Info().API, admin(b, c.Info().StateDir))
		if err != nil {
			b.Fatal(err)
		}
		hc := &http.Client{Timeout: 5 * time.Second}
		var lat []time.Duration
		for n := 0; n < 100; n++ {
			name := fmt.Sprintf("bench-%d-%03d", i, n)
			start := time.Now()
			if _, _, err := cl.Apply(context.Background(), name+".yaml", component(name, "/"+name)); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, serveWait(b, hc, c.Info().Ingress+"/"+name, time.Minute).Sub(start))
		}
		b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
		if err := c.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// rssBytes reads this process's resident set size.
func rssBytes(b *testing.B) float64 {
	v, err := readRSS()
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// readRSS is this process's VmRSS in bytes.
func readRSS() (float64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024, nil
		}
	}
	return 0, errors.New("/proc/self/status has no VmRSS")
}

// BenchmarkDensity applies 1,000 Components to one embedded canvas and
// reports the apply rate, the resident memory once all serve (goal < 2 GiB)
// and the time from restart to all of them serving again (goal < 5 s).
// Set WASMCANVAS_DENSITY to change the count.
func BenchmarkDensity(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("WASMCANVAS_DENSITY")); err == nil && v > 0 {
		n = v
	}
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		opts := up.Options{StateDir: dir, Listen: "127.0.0.1:0", Ingress: "127.0.0.1:0", NATSPort: -1, ArtefactRoots: testRoots}
		c, err := up.Start(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		cl, err := client.NewHTTP(c.Info().API, admin(b, c.Info().StateDir))
		if err != nil {
			b.Fatal(err)
		}
		hc := &http.Client{Timeout: 5 * time.Second}
		start := time.Now()
		applied := applyEchoes(b, cl, "d", n)
		waitEchoes(b, hc, c.Info().Ingress, "d", n)
		b.ReportMetric(float64(n)/applied.Seconds(), "applies/s")
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "served/s")
		b.ReportMetric(rssBytes(b)/(1<<20), "RSS-MiB")
		if err := c.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		restart := time.Now()
		c2, err := up.Start(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		waitEchoes(b, hc, c2.Info().Ingress, "d", n)
		b.ReportMetric(time.Since(restart).Seconds(), "restart-to-serving-s")
		if err := c2.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
