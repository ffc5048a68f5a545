package wadmtest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

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
