package wadmclient_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmclient"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

// BenchmarkRoundTrip measures a wadm status round trip (client -> double ->
// last message of the wadm_status stream -> reply -> decode) against a bare
// NATS request/reply with the same reply size, interleaved in one run, and
// reports their ratio.
func BenchmarkRoundTrip(b *testing.B) {
	url := testkit.NATS(b, embedded.Config{}).ClientURL()
	serverConn, clientConn := testkit.Connect(b, url), testkit.Connect(b, url)
	wadmtest.Run(b, serverConn, "bench")
	c, err := wadmclient.New(clientConn, "bench")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := &wadm.Manifest{
		APIVersion: wadm.APIVersion, Kind: wadm.Kind,
		Metadata: wadm.Metadata{Name: "app", Annotations: map[string]string{wadm.AnnotationVersion: "v1"}},
		Spec:     wadm.Spec{Components: []wadm.Component{{Name: "c", Type: wadm.ComponentTypeComponent, Properties: wadm.Properties{Image: "file:///c.wasm"}}}},
	}
	if _, err := c.Put(ctx, m); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Deploy(ctx, "app", ""); err != nil {
		b.Fatal(err)
	}
	var reply []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		r, err := clientConn.Request(subject.WadmModel("", "bench", subject.WadmStatus, "app"), nil, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		if resp, err := c.Status(ctx, "app"); err == nil && resp.Status.Info.Type == wadm.StatusDeployed {
			reply = r.Data
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("app never deployed")
		}
	}
	echo, err := serverConn.Subscribe("bench.echo", func(msg *nats.Msg) { _ = msg.Respond(reply) })
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = echo.Unsubscribe() }()
	if err := serverConn.Flush(); err != nil {
		b.Fatal(err)
	}

	var bare, status time.Duration
	iters := 0
	b.ResetTimer()
	for b.Loop() {
		iters++
		t0 := time.Now()
		if _, err := clientConn.Request("bench.echo", nil, 5*time.Second); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := c.Status(ctx, "app"); err != nil {
			b.Fatal(err)
		}
		bare += t1.Sub(t0)
		status += time.Since(t1)
	}
	n := float64(iters)
	b.ReportMetric(float64(bare.Nanoseconds())/n, "bare-ns/req")
	b.ReportMetric(float64(status.Nanoseconds())/n, "status-ns/req")
	b.ReportMetric(float64(status)/float64(bare), "x-vs-bare-nats")
}
