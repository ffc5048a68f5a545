package runtime

import (
	"context"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/wasi"
)

// startJetStream runs an embedded nats-server with JetStream and returns a
// client on it.
func startJetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	js, _ := startJetStreamServer(t)
	return js
}

func startJetStreamServer(t testing.TB) (jetstream.JetStream, *embedded.Server) {
	t.Helper()
	srv := testkit.NATS(t, embedded.Config{ServerName: "kv-test"})
	js, err := jetstream.New(testkit.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	return js, srv
}

// kvHarness instantiates testdata/keyvalue.wat, whose exports are the
// wasi:keyvalue host functions lowered and lifted through the canonical ABI.
type kvHarness struct {
	t    *testing.T
	comp *cm.Component
	inst *cm.Instance
	ctx  *wasi.Ctx
}

func newKVHarness(t *testing.T, eng *cm.Engine, kv KeyValue) *kvHarness {
	t.Helper()
	return newKVHarnessCtx(t, context.Background(), eng, kv)
}

// newKVHarnessCtx is newKVHarness with ctx as the request's context.
func newKVHarnessCtx(t *testing.T, ctx context.Context, eng *cm.Engine, kv KeyValue) *kvHarness {
	t.Helper()
	wctx := wasi.NewCtx(ctx, &wasi.Config{Name: "kv-probe", KeyValue: kv})
	comp, inst := instantiateWAT(t, eng, "testdata/keyvalue.wat", wctx, wasi.Interfaces())
	return &kvHarness{t: t, comp: comp, inst: inst, ctx: wctx}
}

// instantiateWAT compiles the component at path, links defs and
// instantiates it in a store with wctx; all of it is closed in t.Cleanup.
func instantiateWAT(t testing.TB, eng *cm.Engine, path string, wctx *wasi.Ctx, defs ...map[string]wasi.Definer) (*cm.Component, *cm.Instance) {
	t.Helper()
	wat, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	comp, err := cm.Compile(eng, wat)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { comp.Close() })
	lnk := cm.NewLinker(eng)
	t.Cleanup(func() { lnk.Close() })
	if err := wasi.Link(lnk, comp, defs...); err != nil {
		t.Fatal(err)
	}
	s := cm.NewStore(eng, cm.StoreLimits{}, wctx)
	t.Cleanup(func() { s.Close() })
	inst, err := lnk.Instantiate(s, comp)
	if err != nil {
		t.Fatal(err)
	}
	return comp, inst
}

func newEngine(t *testing.T) *cm.Engine {
	t.Helper()
	eng, err := cm.NewEngine(cm.EngineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

func (h *kvHarness) call(name string, args ...cm.Value) cm.Value {
	h.t.Helper()
	x, err := h.comp.Export(name)
	if err != nil {
		h.t.Fatal(err)
	}
	defer x.Close()
	fn, err := h.inst.Func(x)
	if err != nil {
		h.t.Fatal(err)
	}
	out, err := fn.Call(args...)
	if err != nil {
		h.t.Fatalf("%s: %v", name, err)
	}
	if len(out) == 0 {
		return nil
	}
	return out[0]
}

// open opens identifier and fails the test unless it succeeds.
func (h *kvHarness) open(identifier string) cm.Resource {
	h.t.Helper()
	r := h.call("open", identifier).(cm.Result)
	if r.Err {
		h.t.Fatalf("open %q = %#v", identifier, r)
	}
	return r.Value.(cm.Resource)
}

func ok(v cm.Value) cm.Value { return cm.Result{Value: v} }

func keyResponse(cursor cm.Value, keys ...string) cm.Value {
	var l cm.List
	for _, k := range keys {
		l = append(l, k)
	}
	return ok(cm.Record{{Name: "keys", Value: l}, {Name: "cursor", Value: cm.Option{Value: cursor}}})
}

// kvModes runs f once reading JetStream directly and once through a
// KVReplicas replica: a component must not tell them apart.
func kvModes(t *testing.T, f func(t *testing.T, newKV func(js jetstream.JetStream, bucket string, opts ...JetStreamKVOption) KeyValue)) {
	t.Run("direct", func(t *testing.T) {
		t.Parallel()
		f(t, NewJetStreamKV)
	})
	t.Run("replica", func(t *testing.T) {
		t.Parallel()
		f(t, func(js jetstream.JetStream, bucket string, opts ...JetStreamKVOption) KeyValue {
			r := NewKVReplicas(js, 0, nil)
			t.Cleanup(r.Close)
			kv := NewJetStreamKV(js, bucket, append(opts, WithKVReplica(r))...)
			t.Cleanup(func() { kv.(io.Closer).Close() })
			return kv
		})
	})
}

func TestKeyValueThroughTheCanonicalABI(t *testing.T) {
	kvModes(t, testKeyValueThroughTheCanonicalABI)
}

func testKeyValueThroughTheCanonicalABI(t *testing.T, newKV func(jetstream.JetStream, string, ...JetStreamKVOption) KeyValue) {
	js := startJetStream(t)
	h := newKVHarness(t, newEngine(t), newKV(js, "kv-abi", WithKVMaxValueBytes(64)))
	b := h.open("default")
	odd := "produkt/ä b*>.." // not a valid KV key: stored encoded
	steps := []struct {
		name string
		fn   string
		args []cm.Value
		want cm.Value
	}{
		{"get of a missing key is none", "get", []cm.Value{b, "productOffering.1"}, ok(cm.Option{})},
		{"exists of a missing key", "exists", []cm.Value{b, "productOffering.1"}, ok(false)},
		{"set", "set", []cm.Value{b, "productOffering.1", []byte(`{"id":"1"}`)}, ok(nil)},
		{"get returns the value", "get", []cm.Value{b, "productOffering.1"}, ok(cm.Option{Value: []byte(`{"id":"1"}`)})},
		{"exists after set", "exists", []cm.Value{b, "productOffering.1"}, ok(true)},
		{"set an odd key", "set", []cm.Value{b, odd, []byte("x")}, ok(nil)},
		{"get the odd key", "get", []cm.Value{b, odd}, ok(cm.Option{Value: []byte("x")})},
		{"empty value is some(empty)", "set", []cm.Value{b, "empty", cm.List(nil)}, ok(nil)},
		{"get empty", "get", []cm.Value{b, "empty"}, ok(cm.Option{Value: cm.List(nil)})},
		{"too large", "set", []cm.Value{b, "big", make([]byte, 65)}, cm.Result{Err: true, Value: cm.Variant{Case: "other", Value: "value too large: 65 bytes, at most 64"}}},
		{"increment a missing counter", "increment", []cm.Value{b, "seq.productOffering", uint64(1)}, ok(uint64(1))},
		{"increment again", "increment", []cm.Value{b, "seq.productOffering", uint64(41)}, ok(uint64(42))},
		{"the counter is decimal ASCII", "get", []cm.Value{b, "seq.productOffering"}, ok(cm.Option{Value: []byte("42")})},
		{"increment a non-number", "increment", []cm.Value{b, "productOffering.1", uint64(1)}, cm.Result{Err: true, Value: cm.Variant{Case: "other", Value: `increment "productOffering.1": the value is not a decimal u64`}}},
		{"list keys", "list-keys", []cm.Value{b, cm.Option{}}, keyResponse(nil, "empty", "productOffering.1", odd, "seq.productOffering")},
		{"list from a cursor", "list-keys", []cm.Value{b, cm.Option{Value: uint64(2)}}, keyResponse(nil, odd, "seq.productOffering")},
		{"list past the end", "list-keys", []cm.Value{b, cm.Option{Value: uint64(9)}}, keyResponse(nil)},
		{"delete", "delete", []cm.Value{b, "productOffering.1"}, ok(nil)},
		{"get after delete", "get", []cm.Value{b, "productOffering.1"}, ok(cm.Option{})},
		{"delete a missing key", "delete", []cm.Value{b, "never"}, ok(nil)},
		{"increment an empty value", "increment", []cm.Value{b, "empty", uint64(3)}, cm.Result{Err: true, Value: cm.Variant{Case: "other", Value: `increment "empty": the value is not a decimal u64`}}},
		{"delete the odd key", "delete", []cm.Value{b, odd}, ok(nil)},
		{"list after deletes", "list-keys", []cm.Value{b, cm.Option{}}, keyResponse(nil, "empty", "seq.productOffering")},
	}
	for _, s := range steps {
		if got := h.call(s.fn, s.args...); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("%s: %s = %#v, want %#v", s.name, s.fn, got, s.want)
		}
	}
	before := h.ctx.Len()
	h.call("drop", b)
	if got := h.ctx.Len(); got != before-1 {
		t.Fatalf("dropping the bucket left %d host objects, want %d", got, before-1)
	}
}

func TestKeyValueIncrementAfterDelete(t *testing.T) {
	kvModes(t, func(t *testing.T, newKV func(jetstream.JetStream, string, ...JetStreamKVOption) KeyValue) {
		testKeyValueIncrementAfterDelete(t, newKV(startJetStream(t), "kv-inc"))
	})
}

func testKeyValueIncrementAfterDelete(t *testing.T, kv KeyValue) {
	h := newKVHarness(t, newEngine(t), kv)
	b := h.open("")
	for _, s := range []struct {
		fn   string
		args []cm.Value
		want cm.Value
	}{
		{"increment", []cm.Value{b, "n", uint64(5)}, ok(uint64(5))},
		{"delete", []cm.Value{b, "n"}, ok(nil)},
		{"increment", []cm.Value{b, "n", uint64(2)}, ok(uint64(2))},
		{"increment", []cm.Value{b, "n", ^uint64(0)}, cm.Result{Err: true, Value: cm.Variant{Case: "other", Value: `increment "n": 2 + 18446744073709551615 overflows u64`}}},
	} {
		if got := h.call(s.fn, s.args...); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("%s %v = %#v, want %#v", s.fn, s.args[1:], got, s.want)
		}
	}
}

func TestKeyValueOpenErrors(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	eng := newEngine(t)
	noSuchStore := func(v cm.Value) bool {
		r, _ := v.(cm.Result)
		return r.Err && r.Value.(cm.Variant).Case == "no-such-store"
	}
	for name, kv := range map[string]KeyValue{
		"no KeyValue configured": nil,
		"another identifier":     NewJetStreamKV(js, "kv-open"),
	} {
		h := newKVHarness(t, eng, kv)
		if got := h.call("open", "other"); !noSuchStore(got) {
			t.Errorf("%s: open(\"other\") = %#v, want no-such-store", name, got)
		}
		if h.ctx.Len() != 0 {
			t.Errorf("%s: a failed open left %d host objects", name, h.ctx.Len())
		}
	}
	h := newKVHarness(t, eng, NewJetStreamKV(js, "not a bucket name"))
	got := h.call("open", "default").(cm.Result)
	if v, _ := got.Value.(cm.Variant); !got.Err || v.Case != "other" || !strings.Contains(v.Value.(string), `open JetStream KV bucket "not a bucket name"`) {
		t.Errorf("open on an invalid bucket name = %#v, want other(...) naming the bucket", got)
	}
}

// TestKeyValueBackendDown: a call the backend cannot answer within the
// request's deadline is other(...) for the guest, not a trap or a hang.
//
// Through a replica too: with the connection down the replica may be
// missing writes, so it does not answer.
func TestKeyValueBackendDown(t *testing.T) {
	kvModes(t, testKeyValueBackendDown)
}

func testKeyValueBackendDown(t *testing.T, newKV func(jetstream.JetStream, string, ...JetStreamKVOption) KeyValue) {
	js, srv := startJetStreamServer(t)
	// Open the bucket first, outside the guest's 5 s per-call cap (the
	// handle is kept): on a loaded machine creating a file-backed bucket
	// can take longer, and this test is about the server going away, not
	// about a slow create.
	kv := newKV(js, "kv-down")
	setup, cancelSetup := context.WithTimeout(context.Background(), time.Minute)
	defer cancelSetup()
	if _, err := kv.Open(setup, "default"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := newKVHarnessCtx(t, ctx, newEngine(t), kv)
	b := h.open("default")
	// The key exists: a replica that answered would say some("v").
	h.call("set", b, "k", []byte("v"))
	if got := h.call("get", b, "k"); !reflect.DeepEqual(got, ok(cm.Option{Value: []byte("v")})) {
		t.Fatalf("get before the shutdown = %#v", got)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	// A replica stops answering once the connection knows it is down.
	for deadline := time.Now().Add(10 * time.Second); js.Conn().IsConnected(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the client still thinks it is connected 10 s after the server shut down")
		}
	}
	start := time.Now()
	got := h.call("get", b, "k").(cm.Result)
	if v, _ := got.Value.(cm.Variant); !got.Err || v.Case != "other" {
		t.Fatalf("get with the server down = %#v, want other(...)", got)
	}
	if el := time.Since(start); el > wasi.KeyValueCallTimeout+2*time.Second {
		t.Fatalf("get with the server down took %v, beyond the %v per-call cap", el, wasi.KeyValueCallTimeout)
	}
}

// TestKeyValueIsolation: two components on their own buckets see only
// their own keys, even under the same key names.
func TestKeyValueIsolation(t *testing.T) {
	kvModes(t, testKeyValueIsolation)
}

func testKeyValueIsolation(t *testing.T, newKV func(jetstream.JetStream, string, ...JetStreamKVOption) KeyValue) {
	js := startJetStream(t)
	eng := newEngine(t)
	a := newKVHarness(t, eng, newKV(js, "component-a"))
	b := newKVHarness(t, eng, newKV(js, "component-b"))
	ba, bb := a.open("default"), b.open("default")
	a.call("set", ba, "shared.name", []byte("a"))
	a.call("set", ba, "only.a", []byte("a"))
	b.call("set", bb, "shared.name", []byte("b"))
	for _, c := range []struct {
		h    *kvHarness
		b    cm.Resource
		fn   string
		args []cm.Value
		want cm.Value
	}{
		{a, ba, "get", []cm.Value{"shared.name"}, ok(cm.Option{Value: []byte("a")})},
		{b, bb, "get", []cm.Value{"shared.name"}, ok(cm.Option{Value: []byte("b")})},
		{b, bb, "exists", []cm.Value{"only.a"}, ok(false)},
		{a, ba, "list-keys", []cm.Value{cm.Option{}}, keyResponse(nil, "only.a", "shared.name")},
		{b, bb, "list-keys", []cm.Value{cm.Option{}}, keyResponse(nil, "shared.name")},
	} {
		if got := c.h.call(c.fn, append([]cm.Value{c.b}, c.args...)...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %v = %#v, want %#v", c.fn, c.args, got, c.want)
		}
	}
}

func TestJetStreamKVListPagesAndConcurrentIncrements(t *testing.T) {
	kvModes(t, testJetStreamKVListPagesAndConcurrentIncrements)
}

func testJetStreamKVListPagesAndConcurrentIncrements(t *testing.T, newKV func(jetstream.JetStream, string, ...JetStreamKVOption) KeyValue) {
	js := startJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := newKV(js, "kv-pages").Open(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	const n = KVListPageSize + 5
	for i := range n {
		if err := b.Set(ctx, fmt.Sprintf("k%05d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	var pages []int
	var cursor uint64
	seen := map[string]bool{}
	for more := true; more; {
		keys, next, m, err := b.ListKeys(ctx, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			seen[k] = true
		}
		pages = append(pages, len(keys))
		cursor, more = next, m
		if len(pages) > 3 {
			t.Fatalf("listing did not end: pages %v", pages)
		}
	}
	if !reflect.DeepEqual(pages, []int{KVListPageSize, 5}) || len(seen) != n {
		t.Fatalf("pages %v, %d distinct keys; want [%d 5], %d", pages, len(seen), KVListPageSize, n)
	}

	incrementConcurrently(t, ctx, b, 4, 10)
}

// incrementConcurrently has workers goroutines increment one counter each
// times, then checks that none was lost or failed.
func incrementConcurrently(t *testing.T, ctx context.Context, b Bucket, workers, each int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := b.Increment(ctx, "seq.x", 1); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	v, _, err := b.Get(ctx, "seq.x")
	if err != nil || string(v) != fmt.Sprint(workers*each) {
		t.Fatalf("counter = %q, %v; want %d (an increment was lost)", v, err, workers*each)
	}
}

func TestKeyEncoding(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ key, stored string }{
		{"productOffering.abc-1", "productOffering.abc-1"},
		{"a/b_c", "a/b_c"},
		{"", "="},
		{"a b", "=YSBi"},
		{".lead", "=LmxlYWQ"},
		{"trail.", "=dHJhaWwu"},
		{"a..b", "=YS4uYg"},
		{"x=y", "=eD15"},
		{"*", "=Kg"},
	} {
		if got := encodeKey(c.key); got != c.stored {
			t.Errorf("encodeKey(%q) = %q, want %q", c.key, got, c.stored)
		}
		if got, err := decodeKey(c.stored); err != nil || got != c.key {
			t.Errorf("decodeKey(%q) = %q, %v; want %q", c.stored, got, err, c.key)
		}
	}
	for _, stored := range []string{"=YQ", "=!!", "a b"} {
		if got, err := decodeKey(stored); err == nil {
			t.Errorf("decodeKey(%q) = %q, want an error (not something encodeKey writes)", stored, got)
		}
	}
}

// FuzzKeyEncoding: every key maps to a valid JetStream KV key that decodes
// back to it.
func FuzzKeyEncoding(f *testing.F) {
	for _, k := range []string{"", "productOffering.1", "a b", ".x", "x.", "a..b", "=", "ä", "*>", "\x00"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		stored := encodeKey(key)
		if !plainKey(stored) && !strings.HasPrefix(stored, encodedKeyPrefix) {
			t.Fatalf("encodeKey(%q) = %q, neither plain nor encoded", key, stored)
		}
		if !validKVKey(stored) {
			t.Fatalf("encodeKey(%q) = %q is not a valid JetStream KV key", key, stored)
		}
		got, err := decodeKey(stored)
		if err != nil || got != key {
			t.Fatalf("decodeKey(encodeKey(%q)) = %q, %v", key, got, err)
		}
		if plainKey(key) != (stored == key) {
			t.Fatalf("plain key %q stored as %q", key, stored)
		}
	})
}

// validKVKey is JetStream KV's key rule, written from its documentation:
// subject tokens of [-/_=.a-zA-Z0-9], no empty token.
func validKVKey(k string) bool {
	if k == "" || k[0] == '.' || k[len(k)-1] == '.' || strings.Contains(k, "..") {
		return false
	}
	return strings.Trim(k, "-/_=.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == ""
}
