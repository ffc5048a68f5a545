package reconcile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
)

// newRecorder is a Recorder on a NATS server of its own, with a context
// that bounds the test.
func newRecorder(t *testing.T, opts RecorderOptions) (context.Context, *Recorder) {
	t.Helper()
	srv := testkit.NATS(t, embedded.Config{})
	js, err := jetstream.New(testkit.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	rec, err := NewRecorder(ctx, js, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, rec
}

func TestRecorderFoldsRepeatsAndLists(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ctx, rec := newRecorder(t, RecorderOptions{PerKey: 3, Now: func() time.Time { now = now.Add(time.Second); return now }})
	const key, uid = "components.pc", "uid-1"
	steps := []struct{ typ, reason, msg string }{
		{EventNormal, ReasonManifestPut, "stored v-1"},
		{EventWarning, ReasonDeployFailed, "no host"},
		{EventWarning, ReasonDeployFailed, "no host"},
		{EventWarning, ReasonDeployFailed, "no host"},
		{EventNormal, ReasonDeployed, "deployed v-1"},
	}
	for _, s := range steps {
		if err := rec.Record(ctx, key, uid, s.typ, s.reason, s.msg); err != nil {
			t.Fatal(err)
		}
	}
	if err := rec.Record(ctx, "components.other", "uid-other", EventNormal, ReasonDeleted, "gone"); err != nil {
		t.Fatal(err)
	}
	got, err := rec.List(ctx, key, uid)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		reason string
		count  int
	}{{ReasonManifestPut, 1}, {ReasonDeployFailed, 3}, {ReasonDeployed, 1}}
	if len(got) != len(want) {
		t.Fatalf("List = %+v, want %d events", got, len(want))
	}
	for i, w := range want {
		if got[i].Reason != w.reason || got[i].Count != w.count || got[i].Key != key {
			t.Errorf("event %d = %+v, want %s ×%d", i, got[i], w.reason, w.count)
		}
	}
	if f := got[1]; !f.LastTimestamp.After(f.FirstTimestamp) {
		t.Errorf("folded event timestamps first %s last %s", f.FirstTimestamp, f.LastTimestamp)
	}
	if none, err := rec.List(ctx, "components.never", ""); err != nil || len(none) != 0 {
		t.Fatalf("List of a key without events = %v, %v", none, err)
	}

	// PerKey bounds what is kept per Component.
	for _, m := range []string{"a", "b", "c", "d"} {
		if err := rec.Record(ctx, key, uid, EventNormal, ReasonDeployed, m); err != nil {
			t.Fatal(err)
		}
	}
	got, err = rec.List(ctx, key, uid)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Message != "b" || got[2].Message != "d" {
		t.Fatalf("after 4 more events List = %+v, want the last 3 (b, c, d)", got)
	}

	// The Component deleted and created again under its name is another
	// incarnation: its events start afresh, and a repeat of the old one's
	// last event is not folded into it.
	if err := rec.Record(ctx, key, "uid-2", EventNormal, ReasonDeployed, "d"); err != nil {
		t.Fatal(err)
	}
	got, err = rec.List(ctx, key, "uid-2")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Reason != ReasonDeployed || got[0].Count != 1 || got[0].UID != "uid-2" {
		t.Fatalf("events of the new incarnation = %+v, want its one Deployed", got)
	}
	if old, err := rec.List(ctx, key, uid); err != nil || len(old) != 2 || old[1].Message != "d" || old[1].Count != 1 {
		t.Fatalf("events of the old incarnation = %+v, %v, want c and d, unfolded", old, err)
	}

	// A namespace's events: every Component's, every incarnation's, in
	// the order recorded, each with its place in the stream.
	if err := rec.Record(ctx, "elsewhere.x", "uid-x", EventNormal, ReasonDeployed, "x"); err != nil {
		t.Fatal(err)
	}
	all, err := rec.ListNamespace(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	ns, err := rec.ListNamespace(ctx, "components")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(ns)+1 || all[len(all)-1].Key != "elsewhere.x" {
		t.Fatalf("every namespace: %+v; components: %+v", all, ns)
	}
	var msgs []string
	for i, ev := range ns {
		msgs = append(msgs, ev.Key+":"+ev.Message)
		if ev.Seq == 0 || (i > 0 && ev.Seq <= ns[i-1].Seq) {
			t.Errorf("event %d has stream sequence %d after %d", i, ev.Seq, ns[max(i-1, 0)].Seq)
		}
	}
	if want := "components.other:gone components.pc:c components.pc:d components.pc:d"; strings.Join(msgs, " ") != want {
		t.Errorf("events in components = %s, want %s", strings.Join(msgs, " "), want)
	}
	if none, err := rec.ListNamespace(ctx, "empty"); err != nil || len(none) != 0 {
		t.Errorf("events in a namespace without any = %v, %v", none, err)
	}
	for _, bad := range []string{"*", ">", "components.pc", "a b"} {
		if evs, err := rec.ListNamespace(ctx, bad); err == nil {
			t.Errorf("events in namespace %q = %d events, want an error (not a name: a wildcard or a dot would widen the subject)", bad, len(evs))
		}
	}
}

// Watch delivers what is recorded after a sequence, in its namespace only,
// a fold again with its count grown, and closes when its context ends.
func TestRecorderWatch(t *testing.T) {
	t.Parallel()
	ctx, rec := newRecorder(t, RecorderOptions{})
	if err := rec.Record(ctx, "components.a", "u", EventNormal, ReasonDeployed, "before"); err != nil {
		t.Fatal(err)
	}
	listed, err := rec.ListNamespace(ctx, "components")
	if err != nil || len(listed) != 1 {
		t.Fatalf("list = %v, %v", listed, err)
	}
	wctx, stop := context.WithCancel(ctx)
	ch, err := rec.Watch(wctx, "components", listed[0].Seq)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ key, msg string }{{"elsewhere.b", "not here"}, {"components.a", "after"}, {"components.a", "after"}} {
		if err := rec.Record(ctx, r.key, "u", EventWarning, ReasonDeployFailed, r.msg); err != nil {
			t.Fatal(err)
		}
	}
	next := func() Event {
		t.Helper()
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("the watch closed")
			}
			return ev
		case <-ctx.Done():
			t.Fatal("no event")
		}
		return Event{}
	}
	first, fold := next(), next()
	if first.Message != "after" || first.Count != 1 || fold.Message != "after" || fold.Count != 2 ||
		!fold.FirstTimestamp.Equal(first.FirstTimestamp) || fold.Seq <= first.Seq || first.Seq <= listed[0].Seq {
		t.Errorf("watched %+v then %+v; want the new event, then it folded with count 2", first, fold)
	}
	stop()
	for open := true; open; {
		select {
		case _, open = <-ch:
		case <-ctx.Done():
			t.Fatal("the watch did not close when its context ended")
		}
	}
	if _, err := rec.Watch(ctx, "*", 0); err == nil {
		t.Error("a watch of namespace * started")
	}
}
