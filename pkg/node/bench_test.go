package node

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime"
)

// BenchmarkScaleToFirstRequest is the time from sending component.scale to
// a node to the first request its ingress serves from that component, with
// the compile cache warm (the component was loaded once before): echo is
// the runtime's smallest HTTP component, productcatalog the TMF620 example
// (when built: make examples). Each op scales a new component id at a new
// path (the id and path are what wadm changes); its p50 and p99 are
// reported. Goal: p99 under 300 ms.
func BenchmarkScaleToFirstRequest(b *testing.B) {
	root, err := testref.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, wasm string }{
		{"echo", filepath.Join(root, "pkg", "runtime", "testdata", "echo-http.wasm")},
		{"productcatalog", filepath.Join(root, "examples", "productcatalog", "build", "productcatalog.wasm")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if _, err := os.Stat(tc.wasm); err != nil {
				b.Skipf("%v (make examples builds it)", err)
			}
			benchScale(b, tc.wasm)
		})
	}
}

func benchScale(b *testing.B, wasm string) {
	s := startServingB(b, []string{filepath.Dir(wasm)})
	ref := "file://" + wasm
	client := &http.Client{Timeout: 5 * time.Second}
	served := func(path string) bool {
		resp, err := client.Get(s.base + path)
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// Anything but the gateway's own "no API is served" came from
		// the component (the node routes a component once it is loaded).
		return !strings.Contains(string(body), "no API is served at")
	}
	run := func(i int, warm bool) time.Duration {
		id, path := fmt.Sprintf("app-c%d", i), fmt.Sprintf("/c%d", i)
		s.route(id, path)
		start := time.Now()
		s.scale(ref, id, 1)
		deadline := start.Add(30 * time.Second)
		for !served(path) {
			if time.Now().After(deadline) {
				b.Fatalf("%s not served 30 s after component.scale", id)
			}
			time.Sleep(200 * time.Microsecond)
		}
		d := time.Since(start)
		// The warm-up is served from baseline code at first: it stays
		// until its optimised code is compiled (and in the compile
		// cache), which the scales measured then load.
		for warm && s.component(id).Info().Tier != runtime.TierOptimized {
			if time.Now().After(start.Add(2 * time.Minute)) {
				b.Fatalf("%s: no optimised code 2 min after component.scale", id)
			}
			time.Sleep(10 * time.Millisecond)
		}
		s.scale(ref, id, 0)
		return d
	}
	run(-1, true) // warms the compile cache
	var ds []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ds = append(ds, run(i, false))
	}
	b.StopTimer()
	slices.Sort(ds)
	q := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// BenchmarkHeartbeat1000 is the cost of one host_heartbeat (the inventory,
// its serde-ordered encoding and the publish) and of one host.get reply on
// a node running 1,000 components; bytes/event is the heartbeat's size.
func BenchmarkHeartbeat1000(b *testing.B) {
	h := startB(b)
	n := h.node
	n.mu.Lock()
	for i := range 1000 {
		id := fmt.Sprintf("components-app%04d-impl", i)
		n.components[id] = &Component{ID: id, ImageRef: "ghcr.io/example/app:" + fmt.Sprint(i), MaxInstances: 1,
			Annotations: map[string]string{latticeadmin.AnnotationAppSpec: fmt.Sprintf("components-app%04d", i), "wasmcloud.dev/managed-by": "wadm"}}
	}
	n.mu.Unlock()
	b.Run("heartbeat", func(b *testing.B) {
		ev, _ := envelope(n.id, EventHostHeartbeat, time.Now(), eventID(time.Now()), heartbeatOf(n.Inventory()))
		b.ReportMetric(float64(len(ev)), "bytes/event")
		for b.Loop() {
			n.Heartbeat()
		}
	})
	b.Run("host.get", func(b *testing.B) {
		for b.Loop() {
			_ = n.inventoryReply(nil, "")
		}
	})
}

func startServingB(b *testing.B, roots []string) *servingNode { return startServing(b, roots, nil) }

func startB(b *testing.B) *harness {
	return start(b, Options{Version: "bench", Workload: &recorder{}}, nil)
}
