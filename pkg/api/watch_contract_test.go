package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/client/natsclient"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// transports are the two client.Client implementations, dialled to env.
// overflowEnds says whether a consumer that falls behind by more than the
// client's buffer must see the watch end: over NATS the client's buffer is
// all there is; over HTTP the sockets' buffers may hold every event.
var transports = []struct {
	name         string
	overflowEnds bool
	dial         func(t *testing.T, e *env) client.Client
}{
	{"http", false, func(t *testing.T, e *env) client.Client {
		cl, err := client.NewHTTP(e.url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cl.Close() })
		return cl
	}},
	{"nats", true, func(t *testing.T, e *env) client.Client {
		nc, err := nats.Connect(e.natsURL)
		if err != nil {
			t.Fatal(err)
		}
		cl := natsclient.New(nc, true)
		t.Cleanup(func() { _ = cl.Close() })
		return cl
	}},
}

const watched = "ctk-productcatalogmanagement"

// natsWatchBuffer is the NATS client's watch buffer (natsclient's
// watchBuffer): more changes than this in one stall must end the watch.
const natsWatchBuffer = 256

// TestWatchSlowConsumer: a consumer that stalls while hundreds of changes
// happen sees every one of them in order, or the watch ends with
// ErrWatchEnded after an unbroken prefix of them; never a silent gap.
func TestWatchSlowConsumer(t *testing.T) {
	t.Parallel()
	const changes = 400 // beyond the NATS client's 256-message buffer
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if code, data := e.do(http.MethodPost, wire.PathComponents, component(t, nil)); code != 201 {
				t.Fatalf("create: %d %s", code, data)
			}
			cl := tr.dial(t, e)
			// published receives what the server sends over NATS, so the
			// consumer is released only once every change is on its way to
			// it, or the server broke its stream (a publisher that fell
			// behind the fan-out is cut off too).
			pc, err := nats.Connect(e.natsURL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pc.Close)
			published := make(chan *nats.Msg, 2*changes)
			for _, subj := range []string{wire.WatchWildcard, wire.WatchEndedSubject} {
				if _, err := pc.ChanSubscribe(subj, published); err != nil {
					t.Fatal(err)
				}
			}
			if err := pc.Flush(); err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithTimeout(e.ctx, 45*time.Second)
			defer cancel()
			bookmark, release := make(chan struct{}), make(chan struct{})
			errAllSeen := errors.New("all changes seen")
			var seen []int64 // observedGeneration of each MODIFIED event, as the changes count
			done := make(chan error, 1)
			go func() { // ends when the watch does; ctx bounds it
				done <- cl.Watch(ctx, "components", watched, func(ev wire.WatchEvent) error {
					switch {
					case ev.Type == wire.WatchBookmark:
						close(bookmark)
						select { // stall: everything below happens meanwhile
						case <-release:
						case <-ctx.Done():
						}
					case ev.Type == wire.WatchModified && ev.Object.Status != nil && ev.Object.Status.WasmCloud != nil:
						seen = append(seen, ev.Object.Status.WasmCloud.ObservedGeneration)
						if seen[len(seen)-1] == changes {
							return errAllSeen
						}
					}
					return nil
				})
			}()
			select {
			case <-bookmark:
			case err := <-done:
				t.Fatalf("watch ended before its BOOKMARK: %v", err)
			}
			for i := 1; i <= changes; i++ {
				st := oda.ComponentStatus{WasmCloud: &oda.WasmCloudStatus{App: watched, ObservedGeneration: int64(i)}}
				if _, err := e.status.Put(ctx, "components", watched, st); err != nil {
					t.Fatal(err)
				}
			}
			// The status bucket keeps one revision per key, so under load
			// the server's store watch may fold changes together (the
			// watch is level-based); what it did publish, the client must
			// show in order with no gap, up to the last change.
			var sent []int64
		wait:
			for {
				select {
				case m := <-published:
					if m.Subject == wire.WatchEndedSubject {
						t.Logf("the server broke its NATS stream after %d changes", len(sent))
						break wait
					}
					var ev wire.WatchEvent
					if json.Unmarshal(m.Data, &ev) != nil || ev.Type != wire.WatchModified || ev.Object == nil || ev.Object.Status == nil || ev.Object.Status.WasmCloud == nil {
						continue
					}
					sent = append(sent, ev.Object.Status.WasmCloud.ObservedGeneration)
					if sent[len(sent)-1] == changes {
						break wait
					}
				case <-ctx.Done():
					t.Fatalf("the server published %d changes, not the last of %d: %v", len(sent), changes, ctx.Err())
				}
			}
			close(release)
			err = <-done
			if len(seen) > len(sent) {
				t.Fatalf("the watch saw %d changes, more than the %d the server published", len(seen), len(sent))
			}
			for i, g := range seen {
				if g != sent[i] {
					t.Fatalf("event %d of %d carried change %d, the server's was %d: changes were skipped silently", i+1, len(seen), g, sent[i])
				}
			}
			switch {
			case errors.Is(err, errAllSeen):
				if tr.overflowEnds && len(sent) > natsWatchBuffer {
					t.Errorf("all %d changes arrived through the client's %d-message buffer: the stall did not overflow it", len(sent), natsWatchBuffer)
				}
			case errors.Is(err, client.ErrWatchEnded):
				t.Logf("watch ended after %d of %d changes: %v", len(seen), changes, err)
			default:
				t.Fatalf("watch saw %d of %d changes and ended with %v; want all of them or ErrWatchEnded", len(seen), changes, err)
			}
		})
	}
}

// TestWatchStreamBreak: when the server's stream breaks, the watch ends
// with ErrWatchEnded over both transports.
func TestWatchStreamBreak(t *testing.T) {
	t.Parallel()
	breaks := []struct {
		name string
		cut  func(*env)
	}{
		{"store watch restarted", func(e *env) { e.srv.Rewatch() }},
		{"watches closed", func(e *env) { e.srv.CloseWatches() }},
	}
	for _, tr := range transports {
		for _, b := range breaks {
			t.Run(fmt.Sprintf("%s/%s", tr.name, b.name), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				cl := tr.dial(t, e)
				ctx, cancel := context.WithTimeout(e.ctx, 45*time.Second)
				defer cancel()
				err := cl.Watch(ctx, "", "", func(ev wire.WatchEvent) error {
					if ev.Type == wire.WatchBookmark {
						b.cut(e)
					}
					return nil
				})
				if !errors.Is(err, client.ErrWatchEnded) {
					t.Errorf("watch ended with %v, want ErrWatchEnded", err)
				}
			})
		}
	}
}
