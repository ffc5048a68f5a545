package embedded_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
)

// BenchmarkKVPutSync measures acknowledged KV puts with SyncAlways (what
// Start runs) against nats-server's default interval sync, and reports
// the ratio of the two from the same run.
func BenchmarkKVPutSync(b *testing.B) {
	measure := func(b *testing.B, relaxed bool, n int) time.Duration {
		e := testkit.NATS(b, embedded.RelaxedSync(embedded.Config{}, relaxed))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		nc, err := lattice.Connect(ctx, lattice.Config{URLs: e.ClientURL()}, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "BENCH", Storage: jetstream.FileStorage})
		if err != nil {
			b.Fatal(err)
		}
		val := make([]byte, 2048)
		start := time.Now()
		for i := range n {
			if _, err := kv.Put(ctx, "k"+string(rune('a'+i%26)), val); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	b.ResetTimer()
	syncAlways := measure(b, false, b.N)
	relaxed := measure(b, true, b.N)
	b.ReportMetric(float64(syncAlways)/float64(b.N), "ns/put-syncalways")
	b.ReportMetric(float64(relaxed)/float64(b.N), "ns/put-interval")
	b.ReportMetric(float64(syncAlways)/float64(relaxed), "syncalways/interval")
}
