package lattice

import (
	"fmt"
	"testing"
	"time"
)

// startServer runs an embedded server on a random port with its own store and
// stops it when the test ends.
func startServer(t testing.TB, cfg EmbeddedConfig) *Embedded {
	t.Helper()
	if cfg.StoreDir == "" {
		cfg.StoreDir = t.TempDir()
	}
	if cfg.Port == 0 {
		cfg.Port = -1
	}
	e, err := StartEmbedded(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Shutdown()
		e.WaitForShutdown()
	})
	return e
}

// waitFor polls fn until it returns nil or total elapses.
func waitFor(t testing.TB, total time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	interval := 5 * time.Millisecond
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", total, err)
		}
		time.Sleep(interval)
		interval = min(interval*2, 100*time.Millisecond)
	}
}

var errNotYet = fmt.Errorf("not yet")
