package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

func TestCreateGetUpdateDelete(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := testCtx(t)
	if s.Bucket() != "CANVAS_COMPONENTS" {
		t.Fatalf("Bucket() = %q", s.Bucket())
	}

	if _, err := s.Get(ctx, "default", "cat"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing key = %v, want ErrNotFound", err)
	}
	before := time.Now().Add(-time.Minute)
	rev1, err := s.Create(ctx, "default", "cat", doc{Spec: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "default", "cat")
	if err != nil {
		t.Fatal(err)
	}
	if got.Value != (doc{Spec: "v1"}) || got.Revision != rev1 || got.Namespace != "default" || got.Name != "cat" || got.Updated.Before(before) {
		t.Fatalf("Get = %+v, want v1 at revision %d", got, rev1)
	}

	_, err = s.Create(ctx, "default", "cat", doc{Spec: "again"})
	var ce *ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) || ce.Current != rev1 || ce.Op != "create" {
		t.Fatalf("second Create = %v, want a create conflict at revision %d", err, rev1)
	}

	rev2, err := s.Update(ctx, "default", "cat", doc{Spec: "v2"}, rev1)
	if err != nil {
		t.Fatal(err)
	}
	if rev2 <= rev1 {
		t.Fatalf("Update revision %d not after %d", rev2, rev1)
	}
	_, err = s.Update(ctx, "default", "cat", doc{Spec: "stale"}, rev1)
	if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) {
		t.Fatalf("stale Update = %v, want *ConflictError", err)
	}
	if ce.Expected != rev1 || ce.Current != rev2 {
		t.Fatalf("conflict expected=%d current=%d, want %d and %d", ce.Expected, ce.Current, rev1, rev2)
	}
	for _, want := range []string{"default.cat", fmt.Sprintf("expected revision %d, current is %d", rev1, rev2), "re-read it and retry"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("conflict message %q does not say %q", err, want)
		}
	}
	if _, err := s.Update(ctx, "default", "cat", doc{}, 0); err == nil || !strings.Contains(err.Error(), "expected revision is 0") {
		t.Fatalf("Update with revision 0 = %v", err)
	}

	rev3, err := s.Put(ctx, "default", "cat", doc{Spec: "v3"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "default", "cat"); got.Revision != rev3 || got.Value.Spec != "v3" {
		t.Fatalf("after Put got %+v, want v3 at %d", got, rev3)
	}

	if err := s.Delete(ctx, "default", "cat", rev2); !errors.Is(err, ErrConflict) {
		t.Fatalf("Delete at a stale revision = %v, want ErrConflict", err)
	}
	if err := s.Delete(ctx, "default", "cat", rev3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "default", "cat"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "default", "cat", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete of a deleted key = %v, want ErrNotFound", err)
	}
	err = s.Delete(ctx, "default", "cat", rev3)
	if !errors.As(err, &ce) || ce.Current != 0 || !strings.Contains(err.Error(), "no longer exists") {
		t.Fatalf("CAS Delete of a deleted key = %v, want a conflict saying it no longer exists", err)
	}
	if _, err := s.Update(ctx, "default", "cat", doc{}, rev3); !errors.Is(err, ErrConflict) {
		t.Fatalf("Update of a deleted key = %v, want ErrConflict", err)
	}

	rev5, err := s.Create(ctx, "default", "cat", doc{Spec: "reborn"})
	if err != nil {
		t.Fatalf("Create after Delete: %v", err)
	}
	if err := s.Delete(ctx, "default", "cat", 0); err != nil {
		t.Fatal(err)
	}
	if rev5 <= rev3 {
		t.Fatalf("revision went backwards: %d after %d", rev5, rev3)
	}
}

func TestHistory(t *testing.T) {
	t.Parallel()
	_, js := connect(t, startServer(t).ClientURL())
	ctx := testCtx(t)
	s, err := New[doc](ctx, js, Options{Bucket: "HIST", History: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.History(ctx, "default", "none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("History of a missing key = %v, want ErrNotFound", err)
	}
	var revs []uint64
	for i := range 4 {
		rev, err := s.Put(ctx, "default", "h", doc{N: i})
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, rev)
	}
	if err := s.Delete(ctx, "default", "h", 0); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, "default", "h")
	if err != nil {
		t.Fatal(err)
	}
	// History 3 keeps the last three writes: puts 2 and 3, then the delete.
	if len(h) != 3 {
		t.Fatalf("History has %d entries, want 3: %+v", len(h), h)
	}
	for i, want := range []struct {
		kind EventKind
		rev  uint64
		n    int
	}{{EventPut, revs[2], 2}, {EventPut, revs[3], 3}, {EventDelete, revs[3] + 1, 0}} {
		if h[i].Kind != want.kind || h[i].Revision != want.rev || h[i].Value.N != want.n || h[i].Err != nil || h[i].Name != "h" {
			t.Errorf("History[%d] = %+v, want %v rev %d n %d", i, h[i], want.kind, want.rev, want.n)
		}
	}
}

func TestListByNamespace(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := testCtx(t)
	if l, err := s.List(ctx, ""); err != nil || len(l) != 0 {
		t.Fatalf("List of an empty bucket = %v, %v", l, err)
	}
	for _, k := range []string{"b/two", "a/one", "b/one", "c/gone"} {
		ns, name, _ := strings.Cut(k, "/")
		if _, err := s.Put(ctx, ns, name, doc{Spec: k}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "c", "gone", 0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ns   string
		want []string
	}{
		{"", []string{"a/one", "b/one", "b/two"}},
		{"b", []string{"b/one", "b/two"}},
		{"c", nil},
		{"zzz", nil},
	}
	for _, tt := range tests {
		l, err := s.List(ctx, tt.ns)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range l {
			got = append(got, e.Namespace+"/"+e.Name)
			if e.Value.Spec != e.Namespace+"/"+e.Name {
				t.Errorf("%s/%s holds %q", e.Namespace, e.Name, e.Value.Spec)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("List(%q) = %v, want %v", tt.ns, got, tt.want)
		}
	}
}

func TestInvalidKeys(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := testCtx(t)
	tests := []struct {
		ns, name string
		want     string
	}{
		{"", "x", `invalid namespace "": is empty`},
		{"default", "", `invalid name "": is empty`},
		{"Default", "x", `invalid namespace "Default": character 'D' at offset 0`},
		{"default", "a.b", `invalid name "a.b": character '.' at offset 1`},
		{"default", "a*", `character '*'`},
		{"default", "a>", `character '>'`},
		{"default", "a b", `character ' '`},
		{"-x", "y", "starts or ends with '-'"},
		{"x", "y-", "starts or ends with '-'"},
		{"x", strings.Repeat("a", 64), "is 64 characters long"},
	}
	for _, tt := range tests {
		ops := map[string]error{}
		_, ops["get"] = s.Get(ctx, tt.ns, tt.name)
		_, ops["create"] = s.Create(ctx, tt.ns, tt.name, doc{})
		_, ops["update"] = s.Update(ctx, tt.ns, tt.name, doc{}, 1)
		_, ops["put"] = s.Put(ctx, tt.ns, tt.name, doc{})
		ops["delete"] = s.Delete(ctx, tt.ns, tt.name, 0)
		_, ops["history"] = s.History(ctx, tt.ns, tt.name)
		for op, err := range ops {
			if !errors.Is(err, oda.ErrInvalidKey) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "DNS-1123") {
				t.Errorf("%s(%q, %q) = %v, want ErrInvalidKey saying %q", op, tt.ns, tt.name, err, tt.want)
			}
		}
	}
	if _, err := s.List(ctx, "Bad"); !errors.Is(err, oda.ErrInvalidKey) {
		t.Errorf("List(Bad) = %v, want ErrInvalidKey", err)
	}
	if _, err := s.Watch(ctx, "a.b"); !errors.Is(err, oda.ErrInvalidKey) {
		t.Errorf("Watch(a.b) = %v, want ErrInvalidKey", err)
	}
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	_, js := connect(t, startServer(t).ClientURL())
	ctx := testCtx(t)
	tests := []struct {
		opts Options
		want string
	}{
		{Options{Bucket: "a.b"}, "Options.Bucket"},
		{Options{History: 65}, "Options.History 65"},
		{Options{History: -1}, "Options.History -1"},
		{Options{Replicas: 6}, "Options.Replicas 6"},
	}
	for _, tt := range tests {
		if _, err := New[doc](ctx, js, tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error naming %s", tt.opts, err, tt.want)
		}
	}
	s, err := New[doc](ctx, js, Options{Bucket: "OPTS", History: 5})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, s.Bucket())
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info := st.(*jetstream.KeyValueBucketStatus).StreamInfo()
	if st.History() != 5 || info.Config.Storage != jetstream.FileStorage {
		t.Fatalf("bucket history %d storage %v, want 5 and file", st.History(), info.Config.Storage)
	}
	// Reopening with a new history updates the bucket in place.
	if _, err := New[doc](ctx, js, Options{Bucket: "OPTS", History: 7}); err != nil {
		t.Fatal(err)
	}
	if st, err = kv.Status(ctx); err != nil || st.History() != 7 {
		t.Fatalf("history after reopen = %v, %v; want 7", st, err)
	}
}

// TestConcurrentWriters races writers doing read-modify-write on one key:
// for every revision exactly one Update wins, and every increment that was
// acknowledged is in the final value.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := testCtx(t)
	if _, err := s.Create(ctx, "default", "counter", doc{}); err != nil {
		t.Fatal(err)
	}
	const writers, perWriter = 6, 15
	var (
		mu        sync.Mutex
		winners   = map[uint64]int{} // expected revision -> successful updates
		conflicts int
		wg        sync.WaitGroup
		errs      = make(chan error, writers)
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done, attempts := 0, 0; done < perWriter; attempts++ {
				if attempts > 100*perWriter*writers {
					errs <- fmt.Errorf("writer %d: gave up after %d attempts", w, attempts)
					return
				}
				cur, err := s.Get(ctx, "default", "counter")
				if err != nil {
					errs <- err
					return
				}
				_, err = s.Update(ctx, "default", "counter", doc{N: cur.Value.N + 1}, cur.Revision)
				mu.Lock()
				switch {
				case err == nil:
					winners[cur.Revision]++
					done++
				case errors.Is(err, ErrConflict):
					conflicts++
				default:
					mu.Unlock()
					errs <- err
					return
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for rev, n := range winners {
		if n != 1 {
			t.Errorf("revision %d was updated %d times", rev, n)
		}
	}
	final, err := s.Get(ctx, "default", "counter")
	if err != nil {
		t.Fatal(err)
	}
	if final.Value.N != writers*perWriter || len(winners) != writers*perWriter {
		t.Fatalf("counter = %d with %d winning revisions, want %d", final.Value.N, len(winners), writers*perWriter)
	}
	t.Logf("%d updates, %d conflicts", len(winners), conflicts)
}
