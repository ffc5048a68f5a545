package store

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
)

// doc is the value type of the tests: a stand-in for an ODA Component.
type doc struct {
	Spec string `json:"spec"`
	N    int    `json:"n"`
}

// testCtx is bounded so no test can hang on a network call.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startServer runs an embedded server on a random port with its own store.
func startServer(t testing.TB) *embedded.Server { return testkit.NATS(t, embedded.Config{}) }

func connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := lattice.Connect(testCtx(t), lattice.Config{URLs: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// newStore gives the test a store on its own embedded server.
func newStore(t testing.TB) *Store[doc] {
	t.Helper()
	_, js := connect(t, startServer(t).ClientURL())
	s, err := New[doc](testCtx(t), js, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// next receives one event or fails after a bound.
func next[T any](t testing.TB, ch <-chan Event[T]) Event[T] {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event within 10s")
	}
	panic("unreachable")
}
