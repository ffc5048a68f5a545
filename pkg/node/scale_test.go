package node

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
)

// TestScaleLifecycle drives a node as wadm would: start, rescale, a
// changed ref with and without allow_update, update, stop at 0; auctions
// answered only on matching labels; providers refused but canvas-bridge.
func TestScaleLifecycle(t *testing.T) {
	w := &recorder{}
	h := start(t, Options{Version: "test", Workload: w, Labels: map[string]string{"site": "a"}}, nil)
	id := h.node.ID()
	scale := func(ref string, count uint32, allowUpdate bool) string {
		t.Helper()
		b, _ := latticeadmin.Marshal(latticeadmin.ScaleComponentCommand{ComponentRef: ref, ComponentID: "app-c", Count: count, HostID: id, Config: []string{}, AllowUpdate: allowUpdate,
			ComponentLimits: map[string]string{"memory": "64MiB"},
			Annotations:     map[string]string{latticeadmin.AnnotationAppSpec: "app"}})
		var r latticeadmin.CtlResponse[struct{}]
		if err := json.Unmarshal(h.request(subject.CtlComponentScale, id, b), &r); err != nil || !r.Success {
			t.Fatalf("scale: %+v %v", r, err)
		}
		return r.Message
	}
	inventory := func() []latticeadmin.ComponentDescription {
		t.Helper()
		inv, err := h.client.Inventory(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return inv.Components
	}
	scaled := func(skip int) map[string]any {
		var d map[string]any
		_ = json.Unmarshal(h.event(EventComponentScaled, skip), &d)
		return d
	}

	if msg := scale("file:///c1.wasm", 1, false); msg != "" {
		t.Errorf("first scale message %q, want none", msg)
	}
	if d := scaled(0); d["image_ref"] != "file:///c1.wasm" || d["max_instances"] != 1.0 {
		t.Errorf("component_scaled %v", d)
	}
	if inv := inventory(); len(inv) != 1 || inv[0].MaxInstances != 1 || inv[0].Annotations[latticeadmin.AnnotationAppSpec] != "app" || inv[0].Limits["memory"] != "64MiB" {
		t.Errorf("inventory %+v", inv)
	}

	// A changed ref without allow_update scales and keeps the old ref.
	msg := scale("file:///c2.wasm", 3, false)
	if !strings.Contains(msg, "will not be updated") {
		t.Errorf("message %q", msg)
	}
	if d := scaled(1); d["image_ref"] != "file:///c1.wasm" || d["max_instances"] != 3.0 {
		t.Errorf("component_scaled %v", d)
	}
	// With allow_update it is updated afterwards.
	if msg := scale("file:///c2.wasm", 3, true); !strings.Contains(msg, "will be updated afterwards") {
		t.Errorf("message %q", msg)
	}
	if d := scaled(3); d["image_ref"] != "file:///c2.wasm" {
		t.Errorf("component_scaled after the update %v", d)
	}
	if inv := inventory(); len(inv) != 1 || inv[0].ImageRef != "file:///c2.wasm" || inv[0].Revision != 1 {
		t.Errorf("inventory after update %+v", inv)
	}
	started, _ := w.calls()
	if !slices.Equal(started, []string{"app-c@file:///c1.wasm", "app-c@file:///c2.wasm"}) {
		t.Errorf("workload starts %q", started)
	}

	// Auctions: only on matching labels, and not for what runs here.
	auction := func(constraints map[string]string, cid string, wait time.Duration) bool {
		b, _ := latticeadmin.Marshal(latticeadmin.ComponentAuctionRequest{ComponentRef: "file:///x.wasm", ComponentID: cid, Constraints: constraints})
		_, err := h.nc.Request(subject.Ctl("", lat, subject.CtlComponentAuction, ""), b, wait)
		return err == nil
	}
	if !auction(map[string]string{"site": "a"}, "other", 5*time.Second) || !auction(nil, "other", 5*time.Second) {
		t.Error("no bid on a matching auction")
	}
	// (A bid that is not sent cannot be waited for: 300 ms is the window.)
	if auction(map[string]string{"site": "b"}, "other", 300*time.Millisecond) || auction(map[string]string{"site": "a"}, "app-c", 300*time.Millisecond) {
		t.Error("a bid on an auction whose constraints do not match, or for a running component")
	}
	b, _ := latticeadmin.Marshal(latticeadmin.ComponentAuctionRequest{ComponentRef: "r", ComponentID: "other", Constraints: map[string]string{"site": "a"}})
	m, _ := h.nc.Request(subject.Ctl("", lat, subject.CtlComponentAuction, ""), b, time.Second)
	if want := `{"success":true,"message":"","response":{"component_ref":"r","component_id":"other","host_id":"` + id + `","constraints":{"site":"a"}}}`; m == nil || string(m.Data) != want {
		t.Errorf("auction ack %v, want %s", m, want)
	}

	// canvas-bridge runs in-process and shows in the inventory.
	sb, _ := latticeadmin.Marshal(latticeadmin.StartProviderCommand{ProviderID: "sys-bridge", ProviderRef: "ghcr.io/wasmcanvas/canvas-bridge:1", HostID: id, Config: []string{}})
	h.request(subject.CtlProviderStart, id, sb)
	h.event(EventProviderStarted, 0)
	if inv, _ := h.client.Inventory(t.Context(), id); len(inv.Providers) != 1 || inv.Providers[0].ID != "sys-bridge" {
		t.Errorf("providers %+v", inv.Providers)
	}
	h.event(EventHealthCheckPassed, 0)
	h.node.Heartbeat()
	if d := string(h.event(EventHealthCheckStatus, 0)); !strings.Contains(d, `"provider_id":"sys-bridge"`) {
		t.Errorf("health_check_status %s", d)
	}

	// Scale to 0 stops it.
	scale("file:///c2.wasm", 0, false)
	if d := scaled(4); d["max_instances"] != 0.0 {
		t.Errorf("component_scaled at 0: %v", d)
	}
	if inv := inventory(); len(inv) != 0 {
		t.Errorf("inventory after scale to 0: %+v", inv)
	}
	if _, stopped := w.calls(); !slices.Equal(stopped, []string{"app-c"}) {
		t.Errorf("workload stops %q", stopped)
	}

	// host.stop closes Stopped.
	if got := h.request(subject.CtlHostStop, id, []byte(`{"host_id":"`+id+`"}`)); string(got) != `{"success":true,"message":"successfully handled stop host"}` {
		t.Errorf("host.stop: %s", got)
	}
	select {
	case <-h.node.Stopped():
	case <-time.After(5 * time.Second):
		t.Error("Stopped not closed after host.stop")
	}
}

// TestLateNodeLearnsLinksAndConfig: a node started after wadm put the
// links and config learns them from a host already there (link.get, and
// config.get for the names the links and a scale name).
func TestLateNodeLearnsLinksAndConfig(t *testing.T) {
	h := start(t, Options{Version: "test"}, nil)
	ctx := t.Context()
	if _, err := h.client.ConfigPut(ctx, "app-route-api", map[string]string{"path": "/x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.ConfigPut(ctx, "app-oda", map[string]string{"oda.component": "c"}); err != nil {
		t.Fatal(err)
	}
	link := latticeadmin.Link{SourceID: "app-http_ingress", Target: "app-c", WitNamespace: "wasi", WitPackage: "http", Interfaces: []string{"incoming-handler"}, SourceConfig: []string{"app-route-api"}}
	if _, err := h.client.LinkPut(ctx, link); err != nil {
		t.Fatal(err)
	}
	w := &recorder{}
	late, err := New(Options{Conn: testkit.Connect(t, h.url), Lattice: lat, Workload: w, Logger: testkit.Logger(t, -1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := late.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(late.Close)
	late.mu.Lock()
	links, route := slices.Clone(late.links), late.config["app-route-api"]["path"]
	late.mu.Unlock()
	if len(links) != 1 || links[0].Target != "app-c" || route != "/x" {
		t.Errorf("the late node knows links %+v and route config %q", links, route)
	}
	b, _ := latticeadmin.Marshal(latticeadmin.ScaleComponentCommand{ComponentRef: "file:///c.wasm", ComponentID: "app-c", Count: 1, HostID: late.ID(), Config: []string{"app-oda"}})
	if _, err := h.nc.Request(subject.Ctl("", lat, subject.CtlComponentScale, late.ID()), b, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the scale fetches the component's config", func() bool {
		late.mu.Lock()
		defer late.mu.Unlock()
		return late.config["app-oda"]["oda.component"] == "c" && late.components["app-c"] != nil
	})
}
