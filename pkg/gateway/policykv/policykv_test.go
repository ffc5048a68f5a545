package policykv_test

import (
	"context"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policykv"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
)

// TestCounterLosesNoCount: gateways counting the same key at once
// through separate connections end at the exact total (compare-and-set).
func TestCounterLosesNoCount(t *testing.T) {
	s := testkit.NATS(t, embedded.Config{})
	ctx := context.Background()
	const gateways, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, gateways*each)
	for range gateways {
		js, err := jetstream.New(testkit.Connect(t, s.ClientURL()))
		if err != nil {
			t.Fatal(err)
		}
		c, err := policykv.QuotaCounter(ctx, js)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for range each {
				if _, err := c.Count(ctx, "q.route.caller", 0); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	js, _ := jetstream.New(testkit.Connect(t, s.ClientURL()))
	c, _ := policykv.QuotaCounter(ctx, js)
	if n, err := c.Count(ctx, "q.route.caller", 0); err != nil || n != gateways*each+1 {
		t.Fatalf("count after %d: %d, %v", gateways*each, n, err)
	}
}
