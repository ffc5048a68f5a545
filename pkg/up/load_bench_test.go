package up_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// BenchmarkLoad1000 applies 1,000 Components (the hand-written echo) to
// one embedded canvas, then sends traffic from 8 clients spread at random
// across 100 of them for 10 s, in two halves, and reports what an
// operator watches: RSS after the applies and its peak under traffic, the
// instance pool's peak occupancy and requests left waiting for a slot (as
// canvasd's /metrics exports them: wasmcanvas_runtime_*), and p50/p99
// latency and requests per second of each half (bounded: the second half
// no worse than the first). WASMCANVAS_LOAD_COMPONENTS and _SPREAD change
// the counts.
//
// Run: go test -run '^$' -bench Load1000 -benchtime 1x ./pkg/up/
func BenchmarkLoad1000(b *testing.B) {
	n, spread := envInt("WASMCANVAS_LOAD_COMPONENTS", 1000), envInt("WASMCANVAS_LOAD_SPREAD", 100)
	const clients, window = 8, 10 * time.Second
	for i := 0; i < b.N; i++ {
		opts := up.Options{StateDir: b.TempDir(), Listen: "127.0.0.1:0", Ingress: "127.0.0.1:0", NATSPort: -1, ArtefactRoots: testRoots}
		c, err := up.Start(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		cl, err := client.NewHTTP(c.Info().API, admin(b, c.Info().StateDir))
		if err != nil {
			b.Fatal(err)
		}
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * clients}}
		applyEchoes(b, cl, "l", n)
		waitEchoes(b, hc, c.Info().Ingress, "l", n)
		b.ReportMetric(rssBytes(b)/(1<<20), "RSS-applied-MiB")

		// Sample RSS and the runtime's metrics while the traffic runs.
		stop := make(chan struct{})
		var peakRSS, peakWaiting float64
		var sampleErr error // the sampler may not end the benchmark itself
		var sampler sync.WaitGroup
		sampler.Go(func() {
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
				}
				rss, err := readRSS()
				waiting, werr := readMetric(hc, c.Info().API, "wasmcanvas_runtime_requests_waiting")
				if err = errors.Join(err, werr); err != nil {
					sampleErr = err
					return
				}
				peakRSS, peakWaiting = max(peakRSS, rss), max(peakWaiting, waiting)
			}
		})
		var halves [2]loadResult
		for h := range halves {
			anyOf := func(int) string { return fmt.Sprintf("/l-%04d", rand.IntN(spread)) }
			halves[h] = load(b, hc, c.Info().Ingress, anyOf, clients, window/2)
		}
		close(stop)
		sampler.Wait()
		if sampleErr != nil {
			b.Fatal(sampleErr)
		}
		b.ReportMetric(peakRSS/(1<<20), "RSS-peak-MiB")
		b.ReportMetric(runtimeMetric(b, hc, c.Info().API, "wasmcanvas_runtime_instances_in_use_peak"), "pool-peak-in-use")
		b.ReportMetric(runtimeMetric(b, hc, c.Info().API, "wasmcanvas_runtime_pool_instances"), "pool-size")
		b.ReportMetric(peakWaiting, "peak-waiting")
		for h, r := range halves {
			b.ReportMetric(r.rate(), fmt.Sprintf("half%d-req/s", h+1))
			b.ReportMetric(ms(percentile(r.lat, 0.50)), fmt.Sprintf("half%d-p50-ms", h+1))
			b.ReportMetric(ms(percentile(r.lat, 0.99)), fmt.Sprintf("half%d-p99-ms", h+1))
		}
		if err := c.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// runtimeMetric reads one unlabelled gauge from canvasd's /metrics.
func runtimeMetric(b *testing.B, hc *http.Client, api, name string) float64 {
	b.Helper()
	v, err := readMetric(hc, api, name)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func readMetric(hc *http.Client, api, name string) (float64, error) {
	resp, err := hc.Get(api + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("canvasd's /metrics (%d) has no %s", resp.StatusCode, name)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
