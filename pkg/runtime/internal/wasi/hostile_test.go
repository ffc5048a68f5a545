package wasi

import (
	"context"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
)

// The tests in this file are a hostile guest's: arguments at the edge of
// their types and loops that make the host keep things.

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// wakeOnWait is not ready until something waits for it: Block then scans
// every pollable, waits on them once and returns.
type wakeOnWait struct{ woke bool }

func (w *wakeOnWait) Ready() bool { return w.woke }
func (w *wakeOnWait) Wait() <-chan struct{} {
	w.woke = true
	return closedChan
}

// TestPollOfFarTimersLeavesNoTimers: a guest polling a timer an hour away
// with something that wakes it, in a loop, must not leave a Go timer per
// poll in the runtime's heap until the hour has passed. Not parallel: it
// measures the heap.
func TestPollOfFarTimersLeavesNoTimers(t *testing.T) {
	far := timerPollable{at: time.Now().Add(time.Hour)}
	ps := make([]Pollable, 51)
	for i := range 50 {
		ps[i] = far
	}
	before := heapInUse()
	for range 2000 {
		ps[50] = &wakeOnWait{}
		if ready, err := Block(context.Background(), ps); err != nil || len(ready) != 1 || ready[0] != 50 {
			t.Fatalf("Block = %v, %v; want [50]", ready, err)
		}
	}
	// 100,000 timers left waiting weigh ~20 MiB; none, nothing.
	if grown := heapInUse() - before; grown > 4<<20 {
		t.Errorf("the heap grew %d KiB over 2,000 polls of far timers: timers outlive the polls", grown>>10)
	}
}

// TestTimersAtTheEndOfU64: a duration or instant past math.MaxInt64 ns
// (292 years) is that far away, not a negative duration that is ready at
// once.
func TestTimersAtTheEndOfU64(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	h := newHarness(t, ctx)
	p := h.must("subscribe-duration", uint64(math.MaxUint64)).(cm.Resource)
	if h.must("ready", p).(bool) {
		t.Fatal("a sleep of 2^64-1 ns is ready at once")
	}
	if _, err := h.call("poll", cm.List{p}); err == nil || !strings.Contains(err.Error(), "abandoned") {
		t.Fatalf("poll of a sleep of 2^64-1 ns: %v, want abandoned with the context", err)
	}
}

// TestHoardedHandlesTrap: a guest that takes handles and never drops them
// gets MaxResources of them, then a trap that names the limit, and the
// runtime's log says which component hit it.
func TestHoardedHandlesTrap(t *testing.T) {
	t.Parallel()
	h := newHarness(t, context.Background())
	if _, err := h.call("hoard", uint32(MaxResources)); err != nil {
		t.Fatalf("hoarding %d handles: %v, want them all", MaxResources, err)
	}
	_, err := h.call("hoard", uint32(1))
	if err == nil || !strings.Contains(err.Error(), "at most 65536 per instance") {
		t.Fatalf("one handle past the limit: %v, want a trap naming the limit", err)
	}
	if h.ctx.Len() != MaxResources {
		t.Errorf("the host holds %d objects, want %d", h.ctx.Len(), MaxResources)
	}
	logged := h.logs.FilterMessageSnippet("too many host resources").All()
	if len(logged) != 1 || logged[0].ContextMap()["component"] != "probe" || logged[0].ContextMap()["limit"] != int64(MaxResources) {
		t.Errorf("log = %v, want one line with the component and the limit", logged)
	}
}

// neverReady waits on its own channel, which nothing closes.
type neverReady struct{ ch chan struct{} }

func (n neverReady) Ready() bool           { return false }
func (n neverReady) Wait() <-chan struct{} { return n.ch }

// TestPollOfManyPollables: one borrow listed 100,000 times is waited on
// once (the poll ends with its context, not a panic from reflect.Select's
// 65,536-case limit); more distinct pollables than one poll can wait for
// is an error that says so.
func TestPollOfManyPollables(t *testing.T) {
	t.Parallel()
	one := neverReady{make(chan struct{})}
	ps := make([]Pollable, 100_000)
	for i := range ps {
		ps[i] = one
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Block(ctx, ps); err == nil || !strings.Contains(err.Error(), "abandoned") {
		t.Errorf("poll of one pollable listed 100,000 times: %v, want it abandoned when its context ends", err)
	}
	for i := range ps {
		ps[i] = neverReady{make(chan struct{})}
	}
	if _, err := Block(context.Background(), ps); err == nil || !strings.Contains(err.Error(), "distinct ones one poll may wait for") {
		t.Errorf("poll of 100,000 distinct pollables: %v, want an error naming the limit", err)
	}
}
