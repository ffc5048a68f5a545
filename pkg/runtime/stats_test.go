package runtime_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	wruntime "github.com/wasmcanvas/wasmcanvas/pkg/runtime"
)

// TestStats: the host counts requests in instances (and the peak),
// requests waiting for a slot, and components by tier, and its collector
// exports them.
func TestStats(t *testing.T) {
	t.Parallel()
	h := newHost(t, wruntime.Config{PoolInstances: 2, NoBaseline: true})
	c, err := h.Load(context.Background(), "slow", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if st := h.Stats(); st.PoolInstances != 2 || st.InUse != 0 || st.Components[wruntime.TierOptimized] != 1 || st.Artefacts != 1 {
		t.Fatalf("idle stats %+v", st)
	}
	// Three requests whose bodies do not end hold both slots and make the
	// third wait.
	var wg sync.WaitGroup
	bodies := make([]*blockingBody, 3)
	for i := range bodies {
		bodies[i] = &blockingBody{release: make(chan struct{})}
		wg.Go(func() {
			rec := httptest.NewRecorder()
			c.ServeHTTP(rec, httptest.NewRequest("POST", "/", bodies[i]))
		})
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if st := h.Stats(); st.InUse == 2 && st.Waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v, want 2 in use and 1 waiting", h.Stats())
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(h.Collector())
	want := `
# HELP wasmcanvas_runtime_instances_in_use Component instances in use now: a request's, from its start until its instance is torn down (which may follow its response).
# TYPE wasmcanvas_runtime_instances_in_use gauge
wasmcanvas_runtime_instances_in_use 2
# HELP wasmcanvas_runtime_requests_waiting Requests waiting for an instance slot.
# TYPE wasmcanvas_runtime_requests_waiting gauge
wasmcanvas_runtime_requests_waiting 1
# HELP wasmcanvas_runtime_components Loaded components by the tier of the code serving them.
# TYPE wasmcanvas_runtime_components gauge
wasmcanvas_runtime_components{tier="baseline"} 0
wasmcanvas_runtime_components{tier="optimized"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "wasmcanvas_runtime_instances_in_use", "wasmcanvas_runtime_requests_waiting", "wasmcanvas_runtime_components"); err != nil {
		t.Error(err)
	}
	for _, b := range bodies {
		close(b.release)
	}
	wg.Wait()
	// An instance is in use until torn down, which follows its response.
	for deadline := time.Now().Add(10 * time.Second); h.Stats().InUse != 0 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
	}
	if st := h.Stats(); st.InUse != 0 || st.Waiting != 0 || st.PeakInUse != 2 {
		t.Fatalf("after: %+v, want none in use or waiting, peak 2", st)
	}
}

// blockingBody is a request body that blocks until released, then ends.
type blockingBody struct{ release chan struct{} }

func (b *blockingBody) Read(p []byte) (int, error) {
	<-b.release
	return 0, http.ErrBodyReadAfterClose
}
