package observerpc

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// BenchmarkCounterAdd measures one counter-add from a linked component:
// over wRPC through the bridge's handler against a bare NATS
// request/reply carrying the same params and result, interleaved in one
// run on one nats-server (ratio; goal at most 2), the handler in-process
// (decode, link, record, encode) and the Recorder call alone (goal < 5 µs).
func BenchmarkCounterAdd(b *testing.B) {
	f := newFixture(b)
	labels := []observe.KeyValue{{Key: "channel", Value: "web"}, {Key: "category", Value: "mobile"}}
	params := metricParams("offerings_created_total", 1, (*wire.Encoder).U64, labels).Bytes()
	var ok wire.Encoder
	ok.Result(true)
	reply := ok.Bytes()
	fn := functions[0]
	if fn.name != "counter-add" {
		b.Fatalf("functions[0] is %s", fn.name)
	}
	ctx := context.Background()

	b.Run("wRPC vs bare NATS", func(b *testing.B) {
		srvConn, cliConn := testkit.Connect(b, f.url), testkit.Connect(b, f.url)
		echo, err := srvConn.Subscribe("bench.observerpc.echo", func(m *nats.Msg) { _ = m.Respond(reply) })
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = echo.Unsubscribe() }()
		if err := srvConn.Flush(); err != nil {
			b.Fatal(err)
		}
		h := (&Client{SourceID: shop}).header()
		var bare, rpc time.Duration
		iters := 0
		for b.Loop() {
			iters++
			t0 := time.Now()
			if _, err := cliConn.RequestMsg(&nats.Msg{Subject: "bench.observerpc.echo", Header: h, Data: params}, 5*time.Second); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			res, err := f.rpc.Invoke(ctx, Instance(fn.iface), fn.name, params, h)
			if err != nil || string(res) != string(reply) {
				b.Fatalf("% x, %v", res, err)
			}
			bare += t1.Sub(t0)
			rpc += time.Since(t1)
		}
		b.ReportMetric(float64(rpc.Microseconds())/float64(iters), "wrpc-us")
		b.ReportMetric(float64(bare.Microseconds())/float64(iters), "bare-us")
		b.ReportMetric(float64(rpc)/float64(bare), "wrpc/bare")
	})
	b.Run("in-process handler", func(b *testing.B) {
		for b.Loop() {
			var r wire.Encoder
			if err := f.srv.call(ctx, fn, shop, observe.TraceContext{}, wire.NewDecoder(params), &r); err != nil || len(r.Bytes()) != 1 {
				b.Fatal(r.Bytes(), err)
			}
		}
	})
	b.Run("in-process Recorder", func(b *testing.B) {
		src := observe.Source{Namespace: "shop", Component: "productcatalog"}
		for b.Loop() {
			if err := f.obs.CounterAdd(ctx, src, "offerings_created_total", 1, labels); err != nil {
				b.Fatal(err)
			}
		}
	})
}
