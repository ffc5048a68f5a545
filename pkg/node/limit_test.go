package node

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
)

// TestLimiter: at most max requests run at once; a rescale applies to the
// requests that come after it; a request that ends while waiting gets 503.
func TestLimiter(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		running.Add(-1)
	})
	l := newLimiter(h, 2)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		}()
	}
	testkit.WaitFor(t, 10*time.Second, "two requests running", func() bool { return running.Load() == 2 })
	time.Sleep(50 * time.Millisecond) // the other three had time to get in: they must not
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	l.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil).WithContext(ctx))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("a request that ended while waiting: %d, want 503", rec.Code)
	}
	close(release)
	wg.Wait()
	if peak.Load() != 2 {
		t.Errorf("peak %d, want 2", peak.Load())
	}

	// Scaled to 4: four at once.
	l.resize(4)
	running.Store(0)
	peak.Store(0)
	release = make(chan struct{})
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		}()
	}
	testkit.WaitFor(t, 10*time.Second, "four requests running after scaling to 4", func() bool { return running.Load() == 4 })
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if peak.Load() != 4 {
		t.Errorf("peak %d after scaling to 4, want 4", peak.Load())
	}
}
