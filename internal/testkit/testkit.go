// Package testkit makes real parts cheap in tests: an embedded nats-server
// started through the same embedded.Start production uses, a bounded
// WaitFor, loggers that write to t.Log, a Prometheus scrape (Scrape,
// Sample) and a goroutine-leak check for TestMain. Tests only; no production package imports it.
package testkit

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
)

// NATS starts an embedded nats-server with JetStream for the test and stops
// it in t.Cleanup. Unset fields default to a store under t.TempDir(), a
// port from the OS and a logger writing warnings to t.Log.
func NATS(t testing.TB, cfg embedded.Config) *embedded.Server {
	t.Helper()
	if cfg.StoreDir == "" {
		cfg.StoreDir = t.TempDir()
	}
	if cfg.Port == 0 {
		cfg.Port = -1
	}
	if cfg.Logger == nil {
		cfg.Logger = Logger(t, zap.WarnLevel)
	}
	s, err := embedded.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// Connect connects to url and closes the connection in t.Cleanup.
func Connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// WaitFor polls cond until it is true, failing the test after d with what
// it was waiting for.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	WaitForErr(t, d, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

// WaitForErr polls cond until it returns nil, failing the test after d with
// what it was waiting for and the last error cond gave.
func WaitForErr(t testing.TB, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	interval := 5 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not done after %s: %v", what, d, err)
		}
		time.Sleep(interval)
		interval = min(interval*2, 100*time.Millisecond)
	}
}

type notYet struct{}

func (notYet) Error() string { return "condition not met" }

var errNotYet error = notYet{}

// Logger returns a zap logger that writes entries at level and above to
// t.Log, so they show with the test that made them.
func Logger(t testing.TB, level zapcore.Level) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(level))
}

// VerifyNoLeaks runs the package's tests and then fails the run if any
// goroutine they started is still running: call it from TestMain. ignore
// names goroutines that outlive every test by design (process-wide pools).
//
// A goroutine that is on its way out (a stopped nats-server's store
// flusher) may take longer than goleak's own ~1 s of retries on a loaded
// 2-core CI machine, so it looks again for up to leakGrace before it calls
// anything a leak.
func VerifyNoLeaks(m *testing.M, ignore ...goleak.Option) {
	VerifyNoLeaksThen(m, nil, ignore...)
}

// VerifyNoLeaksThen is VerifyNoLeaks that calls cleanup (when not nil)
// after the check, before the process exits: for what a package's tests
// share across tests (goleak.Cleanup is not an option here).
func VerifyNoLeaksThen(m *testing.M, cleanup func(), ignore ...goleak.Option) {
	ignore = append(ignore, natsStoreRace...)
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(leakGrace)
		err := goleak.Find(ignore...)
		for err != nil && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			err = goleak.Find(ignore...)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	if cleanup != nil {
		cleanup()
	}
	os.Exit(code)
}

// natsStoreRace ignores the two goroutines nats-server v2.15 leaves, as far
// as their stacks tell, when a
// JetStream stream is created while the server shuts down (the store's
// flusher and the access-time ticker it registers): the server's race,
// seen once in a CI-like run of cmd/canvas/cli under load. A server a test
// forgets to stop is still caught by its other goroutines (accept loops,
// routes, JetStream's own).
var natsStoreRace = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*fileStore).flushStreamStateLoop"),
	goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server/ats.Register.func1"),
}

// leakGrace bounds how long VerifyNoLeaks waits for goroutines to end.
const leakGrace = 10 * time.Second

// Goroutines records the goroutines running now, for Leaks.
func Goroutines() goleak.Option { return goleak.IgnoreCurrent() }

// Leaks reports the goroutines running now that were not in before,
// retrying for a while as goleak does: what VerifyNoLeaks checks after a
// package's tests, for use inside one test.
func Leaks(before goleak.Option) error { return goleak.Find(before) }
