package wrpc_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// BenchmarkRoundTrip measures a wRPC call (invoke, accept, params end,
// results, results end; the handler decodes a record-span's params and
// echoes the span name) against a bare NATS request/reply carrying the
// same params and reply, interleaved in one run on one nats-server, and
// reports their ratio (goal: at most 2).
func BenchmarkRoundTrip(b *testing.B) {
	url := testkit.NATS(b, embedded.Config{}).ClientURL()
	srvConn, cliConn := testkit.Connect(b, url), testkit.Connect(b, url)
	var p wire.Encoder
	p.Str("4bf92f3577b34da6a3ce929d0e0e4736")
	p.Str("00f067aa0ba902b7")
	p.Option(true)
	p.Str("a3ce929d0e0e4736")
	p.Str("GET /productCatalogManagement/v5/productOffering")
	p.U64(1_700_000_000_000_000_000)
	p.U64(1_700_000_000_004_000_000)
	p.ListLen(2)
	p.Str("http.status_code")
	p.Str("200")
	p.Str("oda.component")
	p.Str("productcatalog")
	params := p.Bytes()

	s, err := wrpc.NewServer(srvConn, prefix, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Handle("wasmcanvas:observe/tracing@0.1.0", "record-span", func(_ context.Context, d *wire.Decoder, r *wire.Encoder) error {
		d.Str()
		d.Str()
		if d.Option() {
			d.Str()
		}
		name := d.Str()
		d.U64()
		d.U64()
		for range d.ListLen() {
			d.Str()
			d.Str()
		}
		r.Str(name)
		return d.Err()
	}); err != nil {
		b.Fatal(err)
	}
	var want wire.Encoder
	want.Str("GET /productCatalogManagement/v5/productOffering")
	reply := want.Bytes()
	echo, err := srvConn.Subscribe("bench.echo", func(m *nats.Msg) { _ = m.Respond(reply) })
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = echo.Unsubscribe() }()
	if err := srvConn.Flush(); err != nil {
		b.Fatal(err)
	}
	c, err := wrpc.NewClient(cliConn, prefix)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	h := nats.Header{wrpc.HeaderSourceID: {"productcatalog"}}

	var bare, rpc time.Duration
	iters := 0
	b.ResetTimer()
	for b.Loop() {
		iters++
		t0 := time.Now()
		if _, err := cliConn.RequestMsg(&nats.Msg{Subject: "bench.echo", Header: h, Data: params}, 5*time.Second); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		res, err := c.Invoke(ctx, "wasmcanvas:observe/tracing@0.1.0", "record-span", params, h)
		if err != nil || len(res) != len(reply) {
			b.Fatal(len(res), err)
		}
		bare += t1.Sub(t0)
		rpc += time.Since(t1)
	}
	b.ReportMetric(float64(rpc.Microseconds())/float64(iters), "wrpc-us")
	b.ReportMetric(float64(bare.Microseconds())/float64(iters), "bare-us")
	b.ReportMetric(float64(rpc)/float64(bare), "wrpc/bare")
}
