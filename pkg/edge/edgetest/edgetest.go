// Package edgetest holds what the tests of secured lattices share: a
// receiver that tells which messages arrived before a probe (to show a
// refused message never came, without sleeping), and the pattern of an nkey
// seed to grep output for, and a nats-server started in-process from a
// config file pkg/edge wrote. It is for tests only.
package edgetest

import (
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// SeedPattern matches an nkey seed of an operator, account or user (SO…,
// SA…, SU…, 58 characters), and not a public key that happens to hold SO.
var SeedPattern = regexp.MustCompile(`\bS[OAU][A-Z2-7]{56}\b`)

// FreeAddr is a 127.0.0.1 address with a port the OS just handed out.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Receiver gathers the messages of some subscriptions on one connection,
// in the order they arrive.
type Receiver chan *nats.Msg

// Subscribe subscribes nc to subjects into one Receiver.
func Subscribe(t testing.TB, nc *nats.Conn, subjects ...string) Receiver {
	t.Helper()
	r := make(Receiver, 256)
	for _, s := range subjects {
		if _, err := nc.ChanSubscribe(s, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return r
}

// DeliveredUntil calls publish (every 100ms) until r gets a message on
// probe, and returns the subjects that arrived before it. A message
// published before the probe on the same path has arrived by then, so an
// empty result shows it was refused.
func DeliveredUntil(t testing.TB, r Receiver, probe string, publish func()) []string {
	t.Helper()
	var before []string
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	publish()
	for {
		select {
		case m := <-r:
			if m.Subject == probe {
				return before
			}
			before = append(before, m.Subject)
		case <-tick.C:
			publish()
		case <-deadline:
			t.Fatalf("%s never arrived (got %q)", probe, before)
		}
	}
}

// StartServer runs nats-server in-process from a config file written by
// pkg/edge, exactly as the nats-server binary would read it, and stops it
// when the test ends.
func StartServer(t testing.TB, conf string) *server.Server {
	t.Helper()
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("%s: %v", conf, err)
	}
	opts.NoSigs, opts.NoLog = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("%s: %v", conf, err)
	}
	srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats-server from %s not ready", conf)
	}
	return srv
}
