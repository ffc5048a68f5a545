package wadmtest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// StartNATS starts an embedded nats-server with JetStream on 127.0.0.1 (a
// port from the OS, store in a test temp dir), shut down when the test
// ends, and returns its client URL.
func StartNATS(t testing.TB) string {
	t.Helper()
	opts := &server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("wadmtest: nats-server: %v", err)
	}
	ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatalf("wadmtest: nats-server not ready after 10s")
	}
	return ns.ClientURL()
}

// Connect connects to url; the connection closes when the test ends.
func Connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("wadmtest: connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Run starts a double for lattice on nc and closes it when the test ends.
func Run(t testing.TB, nc *nats.Conn, lattice string, opts ...Option) *Server {
	t.Helper()
	s, err := New(nc, lattice, opts...)
	if err != nil {
		t.Fatalf("wadmtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("wadmtest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}
