package observe_test

import (
	"context"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
)

// The cost of one Recorder call in-process, what a component pays per
// wasmcanvas:observe call under `canvas up` before the host-call overhead
// (goal < 5 µs).
func BenchmarkRecorder(b *testing.B) {
	ctx := context.Background()
	labels := []observe.KeyValue{{Key: "channel", Value: "web"}, {Key: "category", Value: "mobile"}}
	o := observe.New(observe.Options{})
	b.Run("counter-add", func(b *testing.B) {
		for b.Loop() {
			if err := o.CounterAdd(ctx, catalog, "productcatalog_offerings_created_total", 1, labels); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("histogram-record", func(b *testing.B) {
		for b.Loop() {
			if err := o.HistogramRecord(ctx, catalog, "productcatalog_query_seconds", 0.01, labels); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("start-end-span (tracing off)", func(b *testing.B) {
		for b.Loop() {
			s, err := o.StartSpan(ctx, catalog, "work", observe.SpanInternal, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := o.EndSpan(ctx, catalog, s, labels, observe.SpanStatus{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
