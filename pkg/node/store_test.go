package node

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
)

// storeNode starts a node on the server at url, with the lattice's
// buckets when buckets.
func storeNode(t *testing.T, url string, buckets bool) *Node {
	t.Helper()
	nc := testkit.Connect(t, url)
	var js jetstream.JetStream
	if buckets {
		var err error
		if js, err = jetstream.New(nc); err != nil {
			t.Fatal(err)
		}
	}
	n, err := New(Options{Conn: nc, Lattice: lat, Version: "test", JetStream: js, Logger: testkit.Logger(t, -1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

func (n *Node) snapshot() LatticeData {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.latticeData()
}

// TestLinksAndConfigInTheLatticeBuckets: with JetStream, links and named
// config live in LATTICEDATA_/CONFIGDATA_ as upstream writes them
// (COMPONENT_{source} = {"url","links"}; the config's name = its map); a
// put is handled by one host, so the lattice sees one event per put
// however many nodes there are; every node learns the change from the
// buckets, and a node started later learns what was put before it.
// Without the buckets (memory) every node applies the change and still
// one answers it and publishes its event; the late node asks the others.
func TestLinksAndConfigInTheLatticeBuckets(t *testing.T) {
	t.Run("buckets", func(t *testing.T) { testLatticeData(t, true) })
	t.Run("memory", func(t *testing.T) { testLatticeData(t, false) })
}

func testLatticeData(t *testing.T, buckets bool) {
	srv := testkit.NATS(t, embedded.Config{})
	a, b := storeNode(t, srv.ClientURL(), buckets), storeNode(t, srv.ClientURL(), buckets)
	nc := testkit.Connect(t, srv.ClientURL())
	var (
		mu     sync.Mutex
		events = map[string][]string{} // event type: sources
	)
	sub, err := nc.Subscribe(subject.HostEventsAll(lat), func(m *nats.Msg) {
		var ev latticeadmin.CloudEvent
		if json.Unmarshal(m.Data, &ev) == nil {
			mu.Lock()
			events[ev.Type] = append(events[ev.Type], ev.Source)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	client, err := latticeadmin.New(nc, lat, latticeadmin.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := client.ConfigPut(ctx, "app-route", map[string]string{"path": "/x"}); err != nil {
		t.Fatal(err)
	}
	link := latticeadmin.Link{SourceID: "app-in", Target: "app-c", Name: "default", WitNamespace: "wasi", WitPackage: "http",
		Interfaces: []string{"incoming-handler"}, SourceConfig: []string{"app-route"}, TargetConfig: []string{}}
	if _, err := client.LinkPut(ctx, link); err != nil {
		t.Fatal(err)
	}
	has := func(n *Node) bool {
		d := n.snapshot()
		return len(d.Links) == 1 && d.Links[0].Target == "app-c" && d.Config["app-route"]["path"] == "/x"
	}
	testkit.WaitFor(t, 10*time.Second, "both nodes know the link and config", func() bool { return has(a) && has(b) })
	late := storeNode(t, srv.ClientURL(), buckets)
	if !has(late) {
		t.Errorf("a node started after the puts knows %+v", late.snapshot())
	}
	if buckets {
		checkBuckets(t, nc)
	}

	del, _ := json.Marshal(latticeadmin.DeleteLinkRequest{SourceID: "app-in", WitNamespace: "wasi", WitPackage: "http", Name: "default"})
	if _, err := nc.Request(subject.Ctl("", lat, subject.CtlLinkDel, ""), del, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "every node drops the link", func() bool {
		return len(a.snapshot().Links) == 0 && len(b.snapshot().Links) == 0 && len(late.snapshot().Links) == 0
	})
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a second event would be here by now
	mu.Lock()
	defer mu.Unlock()
	for _, typ := range []string{"com.wasmcloud.lattice.config_set", "com.wasmcloud.lattice.linkdef_set", "com.wasmcloud.lattice.linkdef_deleted"} {
		if len(events[typ]) != 1 {
			t.Errorf("%s published by %v: want one host", typ, events[typ])
		}
	}
	if n := len(events["com.wasmcloud.lattice.host_started"]); n != 1 || !slices.Contains(events["com.wasmcloud.lattice.host_started"], late.ID()) {
		t.Errorf("host_started %v", events["com.wasmcloud.lattice.host_started"])
	}
}

// checkBuckets checks the buckets hold the link and config as upstream
// writes them.
func checkBuckets(t *testing.T, nc *nats.Conn) {
	t.Helper()
	ctx := context.Background()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	data, err := js.KeyValue(ctx, "LATTICEDATA_"+lat)
	if err != nil {
		t.Fatal(err)
	}
	e, err := data.Get(ctx, "COMPONENT_app-in")
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]json.RawMessage
	if err := json.Unmarshal(e.Value(), &spec); err != nil || string(spec["url"]) != `""` || len(spec) != 2 {
		t.Errorf("COMPONENT_app-in = %s", e.Value())
	}
	cfg, err := js.KeyValue(ctx, "CONFIGDATA_"+lat)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := cfg.Get(ctx, "app-route"); err != nil || string(e.Value()) != `{"path":"/x"}` {
		t.Errorf("CONFIGDATA app-route = %v %v", e, err)
	}

}
