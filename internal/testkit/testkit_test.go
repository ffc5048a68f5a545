package testkit

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
)

func TestNATSIsJetStreamAndStopsAtCleanup(t *testing.T) {
	before := Goroutines()
	var url string
	t.Run("server", func(t *testing.T) {
		s := NATS(t, embedded.Config{})
		url = s.ClientURL()
		js, err := jetstream.New(Connect(t, url))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.AccountInfo(t.Context()); err != nil {
			t.Fatalf("JetStream not enabled: %v", err)
		}
	})
	if err := Leaks(before); err != nil {
		t.Fatalf("the server and its connection outlived their test: %v", err)
	}
}

func TestLeaksSeesALeakedGoroutine(t *testing.T) {
	before := Goroutines()
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-release
	}()
	err := Leaks(before)
	close(release)
	<-done
	if err == nil || !strings.Contains(err.Error(), "TestLeaksSeesALeakedGoroutine") {
		t.Fatalf("Leaks = %v, want the blocked goroutine named", err)
	}
}

func TestWaitForErrReturnsOnceTrue(t *testing.T) {
	start := time.Now()
	n := 0
	WaitFor(t, 5*time.Second, "three polls", func() bool { n++; return n == 3 })
	if n != 3 || time.Since(start) > 5*time.Second {
		t.Fatalf("polled %d times", n)
	}
}
