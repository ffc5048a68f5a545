package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

func TestWatchReplayThenLive(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := testCtx(t)
	revA1, _ := s.Put(ctx, "a", "one", doc{Spec: "a1"})
	if _, err := s.Put(ctx, "b", "one", doc{Spec: "b1"}); err != nil {
		t.Fatal(err)
	}
	revA2, _ := s.Put(ctx, "a", "two", doc{Spec: "a2"})
	revA1b, err := s.Update(ctx, "a", "one", doc{Spec: "a1b"}, revA1)
	if err != nil {
		t.Fatal(err)
	}
	revGone, _ := s.Put(ctx, "a", "gone", doc{Spec: "x"})
	if err := s.Delete(ctx, "a", "gone", revGone); err != nil {
		t.Fatal(err)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.Watch(wctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		kind EventKind
		name string
		spec string
		rev  uint64
	}
	check := func(ev Event[doc], w want) {
		t.Helper()
		if ev.Kind != w.kind || ev.Name != w.name || ev.Value.Spec != w.spec || ev.Err != nil || (w.rev != 0 && ev.Revision != w.rev) {
			t.Fatalf("event %v %s/%s %q rev %d err %v, want %v %s %q rev %d", ev.Kind, ev.Namespace, ev.Name, ev.Value.Spec, ev.Revision, ev.Err, w.kind, w.name, w.spec, w.rev)
		}
		if w.kind != EventReplayDone && ev.Namespace != "a" {
			t.Fatalf("event from namespace %q in a watch of a", ev.Namespace)
		}
	}
	// Replay: the latest write of each key in revision order, the delete
	// marker included so a restarted watcher learns about deletes it missed.
	check(next(t, ch), want{EventPut, "two", "a2", revA2})
	check(next(t, ch), want{EventPut, "one", "a1b", revA1b})
	check(next(t, ch), want{EventDelete, "gone", "", revGone + 1})
	check(next(t, ch), want{EventReplayDone, "", "", 0})

	if _, err := s.Put(ctx, "b", "other", doc{Spec: "ignored"}); err != nil {
		t.Fatal(err)
	}
	revNew, _ := s.Create(ctx, "a", "new", doc{Spec: "n"})
	if err := s.Delete(ctx, "a", "two", 0); err != nil {
		t.Fatal(err)
	}
	check(next(t, ch), want{EventPut, "new", "n", revNew})
	check(next(t, ch), want{EventDelete, "two", "", revNew + 1})

	cancel()
	waitClosed(t, ch)
}

func TestWatchEmptyAndAllNamespaces(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := testCtx(t)
	ch, err := s.Watch(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, ch); ev.Kind != EventReplayDone {
		t.Fatalf("first event on an empty bucket = %v, want replay-done", ev.Kind)
	}
	for i, ns := range []string{"x", "y", "z"} {
		rev, err := s.Put(ctx, ns, "c", doc{N: i})
		if err != nil {
			t.Fatal(err)
		}
		if ev := next(t, ch); ev.Kind != EventPut || ev.Namespace != ns || ev.Revision != rev || ev.Value.N != i {
			t.Fatalf("event %+v, want put %s/c rev %d", ev, ns, rev)
		}
	}
}

// TestWatchOrderUnderLoad writes more changes than the client library buffers
// while the reader is not reading: nothing is lost or reordered.
func TestWatchOrderUnderLoad(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := testCtx(t)
	ch, err := s.Watch(ctx, "load")
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, ch); ev.Kind != EventReplayDone {
		t.Fatalf("first event = %v, want replay-done", ev.Kind)
	}
	const n = 600
	revs := make([]uint64, n)
	for i := range n {
		if revs[i], err = s.Put(ctx, "load", fmt.Sprintf("k%d", i%7), doc{N: i}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		ev := next(t, ch)
		if ev.Kind != EventPut || ev.Revision != revs[i] || ev.Value.N != i {
			t.Fatalf("event %d: %v rev %d n %d, want put rev %d n %d", i, ev.Kind, ev.Revision, ev.Value.N, revs[i], i)
		}
	}
}

func TestWatchEndsWithConnection(t *testing.T) {
	t.Parallel()
	nc, js := connect(t, startServer(t).ClientURL())
	s, err := New[doc](testCtx(t), js, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.Watch(testCtx(t), "")
	if err != nil {
		t.Fatal(err)
	}
	next(t, ch)
	nc.Close()
	waitClosed(t, ch)
}

// TestUndecodableValue: a value written by something else is reported, not
// hidden, and does not stop the watch.
func TestUndecodableValue(t *testing.T) {
	t.Parallel()
	_, js := connect(t, startServer(t).ClientURL())
	ctx := testCtx(t)
	s, err := New[doc](ctx, js, Options{})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, s.Bucket())
	if err != nil {
		t.Fatal(err)
	}
	badRev, err := kv.Put(ctx, "default.bad", []byte("{not json"))
	if err != nil {
		t.Fatal(err)
	}
	var syntaxErr *json.SyntaxError
	if _, err := s.Get(ctx, "default", "bad"); !errors.As(err, &syntaxErr) {
		t.Fatalf("Get of an undecodable value = %v, want a decode error", err)
	}
	if _, err := s.List(ctx, "default"); err == nil {
		t.Fatal("List over an undecodable value succeeded")
	}
	goodRev, err := s.Put(ctx, "default", "good", doc{Spec: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.Watch(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, ch); ev.Kind != EventPut || ev.Name != "bad" || ev.Revision != badRev || ev.Err == nil {
		t.Fatalf("first event %+v, want put of bad with Err", ev)
	}
	if ev := next(t, ch); ev.Kind != EventPut || ev.Name != "good" || ev.Revision != goodRev || ev.Err != nil {
		t.Fatalf("second event %+v, want put of good", ev)
	}
	if err := s.Delete(ctx, "default", "bad", badRev); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "Not.Label", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if l, err := s.List(ctx, ""); !errors.Is(err, oda.ErrInvalidKey) {
		t.Fatalf("List with a key the store did not write = %v, %v; want ErrInvalidKey", l, err)
	}
}

func waitClosed[T any](t *testing.T, ch <-chan Event[T]) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("watch channel still open 10s after its context ended")
		}
	}
}
