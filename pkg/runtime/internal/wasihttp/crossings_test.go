package wasihttp

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
)

// serveEcho sends one POST with body to h in-process and fails unless it
// comes back whole.
func serveEcho(t testing.TB, h *Handler, body string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/bench", strings.NewReader(body)))
	if rec.Code != http.StatusOK || rec.Body.Len() != len(body) {
		t.Fatalf("status %d, %d of %d bytes", rec.Code, rec.Body.Len(), len(body))
	}
}

// crossings serves n echo requests and returns what each made on average:
// host calls, resource drops (calls into Go too) and Go ─▶ C calls (these
// count the whole process, so the engine's epoch ticker's calls, one a tick
// at most, are taken off).
func crossings(t testing.TB, h *Handler, body string, n int) (host, drops, cgo float64) {
	h0, d0 := cm.HostCalls()
	c0, start := runtime.NumCgoCall(), time.Now()
	for range n {
		serveEcho(t, h, body)
	}
	ticks := int64(time.Since(start) / echoEpochTick)
	h1, d1 := cm.HostCalls()
	per := func(d int64) float64 { return float64(d) / float64(n) }
	return per(h1 - h0), per(d1 - d0), per(max(runtime.NumCgoCall()-c0-ticks, 0))
}

// TestEchoCrossings pins what one echo request (256-byte body) costs in
// crossings: the guest's 17 host calls, and at most 23 calls from Go into C
// (a store, instantiate, the export and its lookup, the deadline, the
// arguments' array, the store's teardown, and the conversions inside host
// calls that C cannot do alone; 30 before cm_store_new and cm_func_call).
// A change that adds a crossing per request fails here.
func TestEchoCrossings(t *testing.T) {
	h, _ := echoHandler(t, 5*time.Second, 64<<20, nil)
	body := strings.Repeat("x", 256)
	serveEcho(t, h, body)
	host, drops, cgo := crossings(t, h, body, 200)
	t.Logf("per echo request: %.2f host calls, %.2f resource drops, %.2f Go ─▶ C calls", host, drops, cgo)
	if host != 17 {
		t.Errorf("host calls per echo request = %.2f, want 17 (the echo's imports: fields, request, body, stream, response)", host)
	}
	// 0.5 of slack for a tick more than counted and stray calls elsewhere.
	if cgo > 23.5 {
		t.Errorf("Go ─▶ C calls per echo request = %.2f, want at most 23", cgo)
	}
}

// BenchmarkEchoBodyBytes serves the echo in-process with a 0-byte and a
// 4 KiB body alternately and reports what one body byte costs (it crosses
// as list<u8> twice: read from the request, written to the response), the
// share of a 256-byte request that is body, and the crossings per request.
func BenchmarkEchoBodyBytes(b *testing.B) {
	h, _ := echoHandler(b, 5*time.Second, 64<<20, nil)
	const size = 4096
	empty, full := "", strings.Repeat("x", size)
	serveEcho(b, h, full)
	var t0, t4 time.Duration
	for b.Loop() {
		s := time.Now()
		serveEcho(b, h, empty)
		t0 += time.Since(s)
		s = time.Now()
		serveEcho(b, h, full)
		t4 += time.Since(s)
	}
	n := float64(b.N)
	perByte := float64((t4 - t0).Nanoseconds()) / n / size
	empty0 := float64(t0.Nanoseconds()) / n
	b.ReportMetric(empty0/1e3, "empty-us")
	b.ReportMetric(float64(t4.Nanoseconds())/n/1e3, "4KiB-us")
	b.ReportMetric(perByte, "ns/body-byte")
	b.ReportMetric(256*perByte/(empty0+256*perByte), "body-share-256B")
	host, drops, cgo := crossings(b, h, strings.Repeat("x", 256), 100)
	b.ReportMetric(host, "host-calls/req")
	b.ReportMetric(drops, "drops/req")
	b.ReportMetric(cgo, "cgo-calls/req")
}
