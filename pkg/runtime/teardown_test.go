package runtime_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"

	wruntime "github.com/wasmcanvas/wasmcanvas/pkg/runtime"
)

// An instance whose teardown is slow (wasmtime resetting 16 MiB of memory
// it keeps resident) is torn down after its response; once teardowns are
// quick again they happen before it. Either way a request holds its pool
// slot until its teardown ends, and Close waits for the teardowns.
func TestSlowTeardownFollowsTheResponse(t *testing.T) {
	t.Parallel()
	if os.Getenv(wruntime.PagemapScanEnv) == "on" {
		t.Skip("with PAGEMAP_SCAN a grown memory no request wrote resets quickly: this test needs the whole reset")
	}
	h, err := wruntime.NewHost(wruntime.Config{Log: zaptest.NewLogger(t), PoolInstances: 2, NoBaseline: true, Limits: wruntime.Limits{MaxMemoryBytes: 48 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			h.Close()
		}
	})
	c, err := h.Load(context.Background(), "echo", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	do := func(path string, want int) {
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader("hi")))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", path, rec.Code, want)
		}
	}
	if wruntime.SlowTeardown(c) {
		t.Fatal("a component no request ran is said to have slow teardowns")
	}
	// /bomb grows the memory to the cap, so its teardown resets the
	// resident 16 MiB.
	for range 8 {
		do("/bomb", http.StatusInternalServerError)
	}
	if !wruntime.SlowTeardown(c) {
		t.Fatal("after 8 instances with 16 MiB to reset, teardowns are not counted slow")
	}
	// Concurrent requests, more than the pool's 2 slots, while their
	// teardowns run after them: each waits for a slot, none fails.
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			if i%3 == 0 {
				do("/bomb", http.StatusInternalServerError)
			} else {
				do("/echo", http.StatusOK)
			}
		})
	}
	wg.Wait()
	if st := h.Stats(); st.PeakInUse > 2 {
		t.Errorf("peak instances in use %d, over the pool's 2", st.PeakInUse)
	}
	for i := 0; i < 60 && wruntime.SlowTeardown(c); i++ {
		do("/echo", http.StatusOK)
	}
	if wruntime.SlowTeardown(c) {
		t.Error("after 60 quick teardowns they are still counted slow")
	}
	do("/bomb", http.StatusInternalServerError) // one more after its response
	h.Close()
	closed = true
	if st := h.Stats(); st.InUse != 0 {
		t.Errorf("after Close %d instances are in use: it did not wait for their teardowns", st.InUse)
	}
}
