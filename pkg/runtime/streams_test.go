package runtime_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	wruntime "github.com/wasmcanvas/wasmcanvas/pkg/runtime"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/compose"
)

const (
	bulkIface    = "wasmcanvas:bulk/streams@0.2.0#"
	streamsIface = "wasi:io/streams@0.2.6#"
)

// hostCalls returns the host functions the profile saw called, by name.
func hostCalls(p *wruntime.Profile) map[string]int64 {
	calls := map[string]int64{}
	for _, s := range p.Stop().HostCalls {
		calls[s.Name] = s.Count
	}
	return calls
}

// echoBytes streams b through the echo at url and checks it comes back.
func echoBytes(t *testing.T, url string, b []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/stream", io.MultiReader(bytes.NewReader(b)))
	req.TransferEncoding = []string{"chunked"}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(got, b) {
		t.Fatalf("%d bytes: status %d, %d bytes back (equal: %v), %v", len(b), resp.StatusCode, len(got), bytes.Equal(got, b), err)
	}
}

// checkRoute fails t unless the echo's reads and writes took the bulk
// route (the stream adapter) when bulk is set, and list<u8> otherwise.
func checkRoute(t *testing.T, calls map[string]int64, bulk bool) {
	t.Helper()
	br, lr := calls[bulkIface+"blocking-read"], calls[streamsIface+"[method]input-stream.blocking-read"]
	bw, lw := calls[bulkIface+"blocking-write-and-flush"], calls[streamsIface+"[method]output-stream.blocking-write-and-flush"]
	if bulk && (br == 0 || bw == 0 || lr != 0 || lw != 0) || !bulk && (br != 0 || bw != 0 || lr == 0 || lw == 0) {
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range calls {
				if !yield(n) {
					return
				}
			}
		})
		t.Fatalf("want bulk %v: reads bulk %d, list %d; writes bulk %d, list %d (host calls: %s)", bulk, br, lr, bw, lw, strings.Join(names, ", "))
	}
}

// TestStreamAdapter streams every byte value both ways through the WAT
// echo, wrapped with the stream adapter (the default) and as it is, and
// checks from the host calls which route the bytes took. Not parallel: a
// profile is process-wide.
func TestStreamAdapter(t *testing.T) {
	body := make([]byte, 300<<10)
	for i := range body {
		body[i] = byte(i*7 + i>>8)
	}
	for _, bulk := range []bool{true, false} {
		h := newHost(t, wruntime.Config{NoStreamAdapter: !bulk})
		c, err := h.Load(context.Background(), "echo", echoWAT(t), wruntime.ComponentConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if i := c.Info(); i.StreamAdapter != bulk || i.StreamsRetyped != bulk {
			t.Fatalf("Info.StreamAdapter %v, StreamsRetyped %v, want %v", i.StreamAdapter, i.StreamsRetyped, bulk)
		}
		url := serve(t, c)
		prof := wruntime.StartProfile()
		for _, b := range [][]byte{body, nil, body[:1], {0x80, 0xff, 0x00}} {
			echoBytes(t, url, b)
		}
		checkRoute(t, hostCalls(prof), bulk)
	}
}

// TestStreamAdapterPacks echoes what the host and the adapter pack (bytes
// that are not UTF-8, or not ASCII on their way out) and what they pass
// plain: binary bodies of every length up to 40 (every last group of the
// 7-byte packing), UTF-8 text with a three-byte char across each 4 KiB
// read (that chunk goes packed, the others plain), and text with stray
// bytes.
func TestStreamAdapterPacks(t *testing.T) {
	h := newHost(t, wruntime.Config{})
	c, err := h.Load(context.Background(), "echo", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, c)
	bin := make([]byte, 40)
	for i := range bin {
		bin[i] = byte(0xff - i*37)
	}
	for n := range len(bin) + 1 {
		echoBytes(t, url, bin[:n])
	}
	text := []byte(strings.Repeat("ODA canvas ☃ ", 3000))
	echoBytes(t, url, text)
	echoBytes(t, url, append(text[:5000:5000], append([]byte{0xc3, 0x28, 0xff}, text[:9000]...)...))
}

// TestStreamAdapterFallsBack loads a component whose streams import does
// not match WASI 0.2 (a parameter renamed): the wrapped component does not
// compile, so the host warns and loads the artefact as it is.
func TestStreamAdapterFallsBack(t *testing.T) {
	wat := echoWAT(t)
	decl := []byte(`(func (param "self" (borrow $is)) (param "len" u64) (result (result (list u8) (error $se))))`)
	if !bytes.Contains(wat, decl) {
		t.Fatalf("testdata/echo-http.wat no longer declares blocking-read as %s", decl)
	}
	wat = bytes.Replace(wat, decl, bytes.Replace(decl, []byte(`"len"`), []byte(`"size"`), 1), 1)
	core, logs := observer.New(zap.WarnLevel)
	h := newHost(t, wruntime.Config{Log: zap.New(core)})
	c, err := h.Load(context.Background(), "renamed", wat, wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Info().StreamAdapter {
		t.Error("Info.StreamAdapter set for a component loaded as it is")
	}
	if n := logs.FilterMessage("loading without the stream adapter").Len(); n != 1 {
		t.Fatalf("%d warnings that the adapter was left out, want 1 (logs: %v)", n, logs.All())
	}
	prof := wruntime.StartProfile()
	echoBytes(t, serve(t, c), []byte("still served"))
	checkRoute(t, hostCalls(prof), false)
}

// TestStreamAdapterLeavesTypesAlone loads an echo that also puts its
// blocking-read in an instance of its own: retyping it would change what
// that instance carries, so the guest is nested as it is and the adapter
// serves it lists (between components); the bytes still reach the host in
// bulk, every byte value intact.
func TestStreamAdapterLeavesTypesAlone(t *testing.T) {
	wat := echoWAT(t)
	alias := []byte(`(alias export $streams "[method]input-stream.blocking-read" (func $read))`)
	if !bytes.Contains(wat, alias) {
		t.Fatalf("testdata/echo-http.wat no longer aliases blocking-read as %s", alias)
	}
	wat = bytes.Replace(wat, alias, append(alias, `
  (instance $passed (export "read" (func $read)))`...), 1)
	wasm, err := cm.WATToBinary(wat)
	if err != nil {
		t.Fatal(err)
	}
	if noRetype, err := compose.Check(wasm); err != nil || !errors.Is(noRetype, compose.ErrNotApplicable) || !strings.Contains(noRetype.Error(), "passes on") {
		t.Fatalf("compose.Check: %v, %v; want it wrapped, not retyped: passes on", noRetype, err)
	}
	echo, err := os.ReadFile("testdata/echo-http.wasm")
	if err != nil {
		t.Fatal(err)
	}
	if noRetype, err := compose.Check(echo); noRetype != nil || err != nil {
		t.Fatalf("the echo itself is not retyped (%v) or not wrapped (%v)", noRetype, err)
	}
	core, logs := observer.New(zap.InfoLevel)
	h := newHost(t, wruntime.Config{Log: zap.New(core)})
	c, err := h.Load(context.Background(), "passes-read", wasm, wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if i := c.Info(); !i.StreamAdapter || i.StreamsRetyped {
		t.Fatalf("Info.StreamAdapter %v, StreamsRetyped %v: want wrapped, not retyped", i.StreamAdapter, i.StreamsRetyped)
	}
	why := logs.FilterMessage("stream adapter serves the component lists: its types are not retyped").All()
	if len(why) != 1 || !strings.Contains(fmt.Sprint(why[0].ContextMap()["reason"]), "passes on") {
		t.Fatalf("the load did not say why the guest keeps lists: %v", logs.All())
	}
	body := make([]byte, 100<<10)
	for i := range body {
		body[i] = byte(i*7 + i>>8)
	}
	prof := wruntime.StartProfile()
	echoBytes(t, serve(t, c), body)
	checkRoute(t, hostCalls(prof), true)
}

// TestStreamAdapterFallsBackToLists: should wasmtime refuse the retyped
// guest (here its wrap is cut short), the host loads it with the adapter
// serving it lists, and warns once; the bytes still cross in bulk.
func TestStreamAdapterFallsBackToLists(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	h := newHost(t, wruntime.Config{Log: zap.New(core)})
	var wraps []bool
	wruntime.SetWrapHook(h, func(out []byte, retyped bool) []byte {
		wraps = append(wraps, retyped)
		if retyped {
			return out[:len(out)-3]
		}
		return out
	})
	c, err := h.Load(context.Background(), "echo", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if i := c.Info(); !i.StreamAdapter || i.StreamsRetyped {
		t.Fatalf("Info.StreamAdapter %v, StreamsRetyped %v: want wrapped, not retyped", i.StreamAdapter, i.StreamsRetyped)
	}
	if !slices.Equal(wraps, []bool{true, false}) {
		t.Fatalf("wraps (retyped?) %v, want the retyped one then the lists", wraps)
	}
	if n := logs.FilterMessage("loading with the stream adapter, the component's types not retyped").Len(); n != 1 || logs.Len() != 1 {
		t.Fatalf("want one warning that the guest keeps lists, got %v", logs.All())
	}
	prof := wruntime.StartProfile()
	echoBytes(t, serve(t, c), []byte("served \x00\x80\xff through lists"))
	checkRoute(t, hostCalls(prof), true)
}

// TestRetypeLeavesSharedTypesAlone: a streams instance type that another
// import has too is not patched (the other import would change with it).
func TestRetypeLeavesSharedTypesAlone(t *testing.T) {
	wasm, err := cm.WATToBinary([]byte(`(component
  (type $T (instance
    (export "input-stream" (type $is (sub resource)))
    (export "output-stream" (type $os (sub resource)))
    (export "error" (type $err (sub resource)))
    (type $se0 (variant (case "last-operation-failed" (own $err)) (case "closed")))
    (export "stream-error" (type $se (eq $se0)))
    (export "[method]input-stream.blocking-read"
      (func (param "self" (borrow $is)) (param "len" u64) (result (result (list u8) (error $se)))))))
  (import "wasi:io/streams@0.2.6" (instance $s (type $T)))
  (import "example:other/streams" (instance $o (type $T)))
  (core module $m)
  (core instance (instantiate $m))
  (export "other" (instance $o)))`))
	if err != nil {
		t.Fatal(err)
	}
	if noRetype, err := compose.Check(wasm); err != nil || !errors.Is(noRetype, compose.ErrNotApplicable) || !strings.Contains(noRetype.Error(), "example:other/streams's too") {
		t.Fatalf("compose.Check: %v, %v; want it wrapped, not retyped: the type is another import's too", noRetype, err)
	}
}

// TestStreamAdapterOddAddresses has the echo read its chunks to, and
// write them from, odd addresses: a latin1+utf16 string is 2-aligned in
// the canonical ABI, a list<u8> is not, and a retyped guest's lowers must
// take what its list<u8> took (wasmtime 39 checks the address a string
// leaves from, which the adapter's allocator keeps even, and not the one
// it lands at; the guest's writes stay lists).
func TestStreamAdapterOddAddresses(t *testing.T) {
	wat := echoWAT(t)
	for _, decl := range []string{`(global $bump (mut i32) (i32.const 4096))`, `(global.set $bump (i32.const 4096))`} {
		if !bytes.Contains(wat, []byte(decl)) {
			t.Fatalf("testdata/echo-http.wat no longer has %s", decl)
		}
		wat = bytes.Replace(wat, []byte(decl), []byte(strings.Replace(decl, "4096", "4097", 1)), 1)
	}
	// and it traps should a chunk land at an even one.
	load := []byte(`(local.set $ptr (i32.load (i32.const 20)))`)
	if !bytes.Contains(wat, load) {
		t.Fatalf("testdata/echo-http.wat no longer has %s", load)
	}
	wat = bytes.Replace(wat, load, append(load, ` (if (i32.eqz (i32.and (local.get $ptr) (i32.const 1))) (then unreachable))`...), 1)
	h := newHost(t, wruntime.Config{})
	c, err := h.Load(context.Background(), "odd", wat, wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 50<<10)
	for i := range body {
		body[i] = byte(i*7 + i>>8)
	}
	url := serve(t, c)
	for _, b := range [][]byte{body, body[:3], {0xff}} {
		echoBytes(t, url, b)
	}
}

// TestStreamAdapterWrapsJavaScript checks the TMF620 example (every
// wasi:io/streams function in its import, made by componentize-js) is
// wrapped and answers through the adapter.
func TestStreamAdapterWrapsJavaScript(t *testing.T) {
	wasm, err := os.ReadFile(wruntime.ProductCatalogWasm)
	if errors.Is(err, fs.ErrNotExist) && os.Getenv("WASMCANVAS_REQUIRE_EXAMPLES") == "" {
		t.Skipf("%s is absent: build it with `make examples`", wruntime.ProductCatalogWasm)
	}
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.WarnLevel)
	h := newHost(t, wruntime.Config{Log: zap.New(core), CacheDir: t.TempDir()})
	c, err := h.Load(context.Background(), "productcatalog", wasm, wruntime.ComponentConfig{
		KeyValue: wruntime.NewJetStreamKV(wruntime.StartJetStreamForTest(t), "streams"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 0 {
		t.Fatalf("warnings: %v", logs.All())
	}
	prof := wruntime.StartProfile()
	resp, err := client.Get(serve(t, c) + catalogList)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	calls := hostCalls(prof)
	if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte("[")) {
		t.Fatalf("GET: %d %q", resp.StatusCode, body)
	}
	var bulk, list int64
	for n, k := range calls {
		switch {
		case strings.HasPrefix(n, "wasmcanvas:bulk/streams@0.2.0#"):
			bulk += k
		case strings.Contains(n, "output-stream.write") || strings.Contains(n, "output-stream.blocking-write"):
			list += k
		}
	}
	if bulk == 0 || list != 0 {
		t.Fatalf("bulk writes %d, list writes %d: %v", bulk, list, calls)
	}
}

// envRefused sets env to a value that is neither on nor off and checks
// that NewHost refuses it, naming both.
func envRefused(t *testing.T, env, value string) {
	t.Helper()
	t.Setenv(env, value)
	want := fmt.Sprintf("%s=%q: want on or off", env, value)
	if _, err := wruntime.NewHost(wruntime.Config{OnDemand: true}); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%s=%s: %v, want an error saying %s", env, value, err, want)
	}
}

// echoWithEnvOff loads the echo on a new host with env set to off.
func echoWithEnvOff(t *testing.T, env string) *wruntime.Component {
	t.Helper()
	t.Setenv(env, "off")
	h := newHost(t, wruntime.Config{})
	c, err := h.Load(context.Background(), "echo", echoWAT(t), wruntime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStreamAdapterEnv(t *testing.T) {
	envRefused(t, wruntime.StreamAdapterEnv, "sometimes")
	c := echoWithEnvOff(t, wruntime.StreamAdapterEnv)
	prof := wruntime.StartProfile()
	echoBytes(t, serve(t, c), []byte("as list<u8>"))
	checkRoute(t, hostCalls(prof), false)
}

// wrappedEchoSum is the sha256 of testdata/echo-http.wasm wrapped by the
// stream adapter at compose.Version: compiled code is cached under that
// version, so a change to what the adapter writes must come with a new
// version (and a new sum here).
const wrappedEchoSum = "67c55a326df687da0b70ba4c7586735b8d306004835e5e168aaf1f4a76d96298"

func TestStreamAdapterVersionPinsItsOutput(t *testing.T) {
	wasm, err := os.ReadFile("testdata/echo-http.wasm")
	if err != nil {
		t.Fatal(err)
	}
	out, err := compose.Streams(wasm, cm.WATToBinary, true)
	if err != nil {
		t.Fatal(err)
	}
	if sum := fmt.Sprintf("%x", sha256.Sum256(out)); sum != wrappedEchoSum {
		t.Fatalf("the stream adapter's output changed (sha256 %s) at compose.Version %q: bump the version (cached code is keyed by it) and set wrappedEchoSum to the new sum", sum, compose.Version)
	}
}
