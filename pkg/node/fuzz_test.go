package node

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
)

// fuzzHandlers are the node's control-interface handlers in a fixed order
// (the fuzzer's op picks one; the seed corpus under testdata/fuzz names
// them by index).
func fuzzHandlers(n *Node) []func([]byte, string) []byte {
	return []func([]byte, string) []byte{
		n.scale, n.update, n.hostStop, n.componentAuction, n.providerAuction, // 0-4
		n.providerStart, n.providerStop, n.labelPut, n.labelDel, n.linkPut, // 5-9
		n.linkDel, n.linkApply, n.linkDelApply, n.configPut, n.configApply, // 10-14
		n.configDel, n.configGet, n.configPeer, n.linkGet, n.inventoryReply, // 15-19
	}
}

// nodeState is what a request may change.
type nodeState struct {
	Labels     map[string]string
	Components map[string]Component
	Providers  []string
	Links      []latticeadmin.Link
	Config     map[string]map[string]string
}

// idle waits until the worker has run every job queued so far.
func idle(t testing.TB, n *Node) {
	t.Helper()
	done := make(chan struct{})
	n.enqueue(func(context.Context) { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the node's worker is stuck")
	}
}

func stateOf(n *Node) nodeState {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := nodeState{Labels: maps.Clone(n.labels), Components: map[string]Component{}, Providers: slices.Sorted(maps.Keys(n.providers)), Links: slices.Clone(n.links), Config: map[string]map[string]string{}}
	for id, c := range n.components {
		s.Components[id] = *c
	}
	for k, v := range n.config {
		s.Config[k] = maps.Clone(v)
	}
	return s
}

// FuzzControlRequest gives any payload, and any last subject token, to
// each control-interface handler as the node's subscriptions would: none
// panics, each reply is a CtlResponse (or none, where upstream's host
// stays silent), a refusal says what was wrong, and a refused request
// changes nothing the node holds.
func FuzzControlRequest(f *testing.F) {
	srv := testkit.NATS(f, embedded.Config{})
	n, err := New(Options{Conn: testkit.Connect(f, srv.ClientURL()), Lattice: lat, NoPeers: true, Heartbeat: time.Hour, Logger: zap.NewNop()})
	if err != nil {
		f.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(n.Close)
	handlers := fuzzHandlers(n)
	f.Add(uint8(0), "", []byte(`{"component_ref":"file:///c.wasm","component_id":"c","count":1,"config":["a","a"],"component_limits":{"m":"1"}}`))
	f.Add(uint8(9), "", []byte(`{"source_id":"s","target":"t","wit_namespace":"wasi","wit_package":"http","interfaces":["incoming-handler"]}`))
	f.Add(uint8(13), "cfg", []byte(`{"a":"1"}`))
	f.Add(uint8(7), "", []byte(`{"key":"zone","value":"eu"}`))
	f.Add(uint8(0), "", []byte(strings.Repeat("[", 20000)))
	f.Fuzz(func(t *testing.T, op uint8, arg string, data []byte) {
		h := handlers[int(op)%len(handlers)]
		arg = arg[strings.LastIndexByte(arg, '.')+1:] // the subject's last token
		idle(t, n)
		before := stateOf(n)
		raw := h(data, arg)
		if raw == nil {
			return
		}
		var reply struct {
			Success *bool   `json:"success"`
			Message *string `json:"message"`
		}
		if err := json.Unmarshal(raw, &reply); err != nil || reply.Success == nil || reply.Message == nil {
			t.Fatalf("handler %d: reply %q is not a CtlResponse (%v)", op%uint8(len(handlers)), raw, err)
		}
		if *reply.Success {
			return
		}
		if strings.TrimSpace(*reply.Message) == "" {
			t.Fatalf("handler %d: a refusal that does not say why: %s", op%uint8(len(handlers)), raw)
		}
		idle(t, n)
		if after := stateOf(n); !reflect.DeepEqual(before, after) {
			t.Fatalf("handler %d refused (%s) and changed the node:\nbefore %+v\n after %+v", op%uint8(len(handlers)), *reply.Message, before, after)
		}
	})
}

// FuzzWasmLayer feeds a registry's manifest to wasmLayer: whatever the
// bytes, it does not panic, an error names the reference, and a layer it
// returns is one a pull can take as declared: a Wasm media type, a size in
// (0, maxComponentBytes] and a sha256 digest of 64 hex digits, so the
// cache path built from it stays in blobs/sha256.
func FuzzWasmLayer(f *testing.F) {
	f.Add(wasmManifest("sha256:"+strings.Repeat("ab", 32), 10134))
	f.Add(wasmManifest("sha512:"+strings.Repeat("ab", 64), 10134))
	f.Add(wasmManifest("sha256:"+strings.Repeat("ab", 32), -1))
	f.Add([]byte(`{"schemaVersion":2,"layers":[{"mediaType":"application/wasm","digest":"sha256:../../etc","size":1}]}`))
	f.Add([]byte(`{"layers":[[[[[[[[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := v1.ParseManifest(bytes.NewReader(b))
		if err != nil {
			return
		}
		l, err := wasmLayer("reg.example/c:1", m)
		if err != nil {
			if !strings.Contains(err.Error(), "reg.example/c:1") {
				t.Fatalf("wasmLayer(%q): %v does not name the reference", b, err)
			}
			return
		}
		if l.MediaType != MediaTypeWasm && l.MediaType != MediaTypeWasmLegacy || l.Size <= 0 || l.Size > maxComponentBytes ||
			l.Digest.Algorithm != "sha256" || len(l.Digest.Hex) != 64 || strings.Trim(l.Digest.Hex, "0123456789abcdef") != "" {
			t.Fatalf("wasmLayer(%q) = %+v", b, l)
		}
	})
}
