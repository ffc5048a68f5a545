package wrpc_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// A provider serves wasmcanvas:observe/metrics counter-add on the lattice
// (prefix {lattice}.{provider id}), and a component's host calls it with
// the component's id in source-id. counter-add has no results: the call
// succeeds with none, or fails with an error.
func Example() {
	dir, _ := os.MkdirTemp("", "wrpc-example")
	defer os.RemoveAll(dir)
	ns, err := embedded.Start(embedded.Config{StoreDir: dir, Port: -1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ns.WaitForShutdown()
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	prefix := subject.WRPCPrefix("default", "canvas-bridge")

	srv, err := wrpc.NewServer(nc, prefix, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	counts := make(chan string, 1)
	err = srv.Handle("wasmcanvas:observe/metrics@0.1.0", "counter-add",
		func(ctx context.Context, p *wire.Decoder, _ *wire.Encoder) error {
			name, delta := p.Str(), p.U64()
			labels := make([]string, p.ListLen())
			for i := range labels {
				labels[i] = p.Str() + "=" + p.Str()
			}
			if err := p.Err(); err != nil {
				return err
			}
			counts <- fmt.Sprintf("%s: %s +%d %v", wrpc.Header(ctx).Get(wrpc.HeaderSourceID), name, delta, labels)
			return nil
		})
	if err != nil {
		fmt.Println(err)
		return
	}

	c, err := wrpc.NewClient(nc, prefix)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	var params wire.Encoder
	params.Str("offerings_created_total")
	params.U64(1)
	params.ListLen(1)
	params.Str("catalog")
	params.Str("default")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.Invoke(ctx, "wasmcanvas:observe/metrics@0.1.0", "counter-add", params.Bytes(),
		nats.Header{wrpc.HeaderSourceID: {"productcatalog"}, wrpc.HeaderLinkName: {"default"}})
	fmt.Println(<-counts, err)
	// Output: productcatalog: offerings_created_total +1 [catalog=default] <nil>
}
