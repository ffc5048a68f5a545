package runtime_test

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	wruntime "github.com/wasmcanvas/wasmcanvas/pkg/runtime"
)

// TestMaxConcurrentAnswers503WithRetryAfter holds the only slot of a
// component capped at 1 with a request whose body stays open, then sends
// two /loop requests. When the holder's deadline frees the slot, at most
// one of them takes it (and loops until its own deadline, 504); the other
// is still waiting when the slot's next holder is, and gets 503.
func TestMaxConcurrentAnswers503WithRetryAfter(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	core, logs := observer.New(zap.DebugLevel)
	h := newHost(t, wruntime.Config{Log: zap.New(core)})
	capped, err := h.Load(context.Background(), "capped", echoWAT(t), wruntime.ComponentConfig{
		Limits: wruntime.Limits{RequestTimeout: timeout, MaxConcurrent: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if capped.Info().Limits.MaxConcurrent != 1 {
		t.Fatalf("Info().Limits.MaxConcurrent = %d", capped.Info().Limits.MaxConcurrent)
	}
	free, err := h.Load(context.Background(), "uncapped", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, capped)
	freeURL := serve(t, free)

	first, _ := hold(t, url)
	type result struct {
		resp *http.Response
		err  error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			resp, err := client.Get(url + "/loop")
			results <- result{resp, err}
		}()
	}

	// Another component on the same host is not held back by the cap.
	resp, err := client.Get(freeURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the uncapped component answered %d while the capped one was full", resp.StatusCode)
	}

	busy := 0
	for range 2 {
		select {
		case r := <-results:
			if r.err != nil {
				t.Fatal(r.err)
			}
			defer r.resp.Body.Close()
			switch r.resp.StatusCode {
			case http.StatusServiceUnavailable:
				busy++
				if ra := r.resp.Header.Get("Retry-After"); ra != "2" {
					t.Errorf("503 Retry-After = %q, want the request timeout in seconds, 2", ra)
				}
			case http.StatusGatewayTimeout:
			default:
				t.Fatalf("a /loop beyond the cap answered %d, want 503 or 504", r.resp.StatusCode)
			}
			problemOf(t, r.resp, r.resp.StatusCode)
		case <-time.After(4 * timeout):
			t.Fatal("a request beyond the cap got no answer")
		}
	}
	if busy == 0 {
		t.Fatal("both requests beyond the cap got a slot; want at least one 503")
	}
	first.Body.Close()

	// A request that waits gets the slot as soon as its holder finishes
	// (on a component of its own with a generous deadline, so a slow
	// machine cannot turn the holder into a 504).
	patient, err := h.Load(context.Background(), "patient", echoWAT(t), wruntime.ComponentConfig{
		Limits: wruntime.Limits{RequestTimeout: 30 * time.Second, MaxConcurrent: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	var patientEntered atomic.Int64
	patientURL := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		patientEntered.Add(1)
		patient.ServeHTTP(w, r)
	}))
	holder, release := hold(t, patientURL)
	defer holder.Body.Close()
	waited := make(chan int, 1)
	go func() {
		resp, err := client.Get(patientURL + "/")
		if err != nil {
			waited <- 0
			return
		}
		resp.Body.Close()
		waited <- resp.StatusCode
	}()
	testkit.WaitFor(t, 5*time.Second, "the waiting request to reach the component", func() bool { return patientEntered.Load() == 2 })
	release()
	if got, err := io.ReadAll(holder.Body); string(got) != "ld" {
		for _, e := range logs.All() {
			t.Logf("host log: %s %v", e.Message, e.ContextMap())
		}
		t.Fatalf("holder body %q (%v)", got, err)
	}
	select {
	case status := <-waited:
		if status != 200 {
			t.Fatalf("the waiting request answered %d once the slot was free, want 200", status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting request got no slot once the holder finished")
	}
}

func hold(t *testing.T, url string) (*http.Response, func()) {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	// Headers reach the client with the first echoed chunk.
	go pw.Write([]byte("he"))
	resp, err := client.Post(url+"/hold", "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		resp.Body.Close()
		t.Fatalf("the holder's echo: %v", err)
	}
	return resp, func() {
		pw.Write([]byte("ld"))
		pw.Close()
	}
}

// waitFor polls cond until it holds or d passes.
