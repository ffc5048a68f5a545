package node

import (
	"context"
	"errors"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge/observerpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc"
)

// TestAgentServesAndSurvivesTheLattice runs `canvas node`'s parts against
// a lattice server: a scaled component serves on the ingress, keeps
// serving while the lattice server is down, and the node's inventory is
// back in a heartbeat once it returns; host.stop ends the agent.
func TestAgentServesAndSurvivesTheLattice(t *testing.T) {
	dir := t.TempDir()
	store := t.TempDir()
	srv := testkit.NATS(t, embedded.Config{StoreDir: store})
	url := srv.ClientURL()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	wasm, err := os.ReadFile(echoWasm(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "echo.wasm"), wasm, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := StartAgent(context.Background(), AgentOptions{
		NATS: lattice.Config{URLs: url, ReconnectWait: 50 * time.Millisecond, MaxReconnectWait: 100 * time.Millisecond}, Lattice: lat,
		Labels: map[string]string{"site": "a"}, ListenHTTP: "127.0.0.1:0", StateDir: dir, Heartbeat: time.Hour, Logger: testkit.Logger(t, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	nc := testkit.Connect(t, url)
	cl, err := latticeadmin.New(nc, lat)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hosts, err := cl.Hosts(ctx)
	if err != nil || len(hosts) != 1 || hosts[0].Host.Labels["site"] != "a" || hosts[0].Host.ID != a.Node().ID() {
		t.Fatalf("hosts %+v %v", hosts, err)
	}
	if _, err := cl.ConfigPut(ctx, "app-route-api", map[string]string{"path": "/echo"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.LinkPut(ctx, latticeadmin.Link{SourceID: "app-http_ingress", Target: "app-echo", WitNamespace: "wasi", WitPackage: "http", Interfaces: []string{"incoming-handler"}, SourceConfig: []string{"app-route-api"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.ScaleComponent(ctx, latticeadmin.ScaleComponentCommand{ComponentRef: "file://" + filepath.Join(dir, "echo.wasm"), ComponentID: "app-echo", Count: 1, HostID: a.Node().ID()}); err != nil {
		t.Fatal(err)
	}
	get := func() int {
		resp, err := http.Get(a.Ingress() + "/echo")
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	testkit.WaitFor(t, 30*time.Second, "the component serves on the ingress", func() bool { return get() == http.StatusOK })

	// canvas-bridge runs in-process: a component elsewhere on the lattice
	// linked to it calls wasmcanvas:observe over wRPC; an unlinked one is
	// refused; provider.stop stops it.
	bridgeID := "wasmcanvas_system-canvas_bridge"
	if _, err := nc.Request(subject.Ctl("", lat, subject.CtlProviderStart, a.Node().ID()),
		[]byte(`{"provider_id":"`+bridgeID+`","provider_ref":"ghcr.io/wasmcanvas/canvas-bridge:0.1.0","host_id":"`+a.Node().ID()+`","config":[]}`), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.LinkPut(ctx, latticeadmin.Link{SourceID: "elsewhere-impl", Target: bridgeID, WitNamespace: "wasmcanvas", WitPackage: "observe", Interfaces: []string{"metrics"}}); err != nil {
		t.Fatal(err)
	}
	rpc, err := wrpc.NewClient(nc, subject.WRPCPrefix(lat, bridgeID))
	if err != nil {
		t.Fatal(err)
	}
	call := func(source string) error {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return (&observerpc.Client{RPC: rpc, SourceID: source}).CounterAdd(cctx, "edge_calls_total", 1, nil)
	}
	testkit.WaitFor(t, 20*time.Second, "a linked component's call to the in-process canvas-bridge", func() bool { return call("elsewhere-impl") == nil })
	var werr *observe.Error
	if err := call("unlinked"); !errors.As(err, &werr) {
		t.Errorf("an unlinked component's call: %v, want the WIT error not-linked", err)
	}
	if _, err := nc.Request(subject.Ctl("", lat, subject.CtlProviderStop, a.Node().ID()), []byte(`{"host_id":"`+a.Node().ID()+`","provider_id":"`+bridgeID+`"}`), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 20*time.Second, "canvas-bridge stops with provider.stop", func() bool { return call("elsewhere-impl") != nil })

	// The lattice goes away: the node keeps serving.
	srv.Shutdown()
	srv.WaitForShutdown()
	time.Sleep(200 * time.Millisecond)
	if code := get(); code != http.StatusOK {
		t.Fatalf("with the lattice down the component answers %d", code)
	}
	// It comes back on the same port: the node publishes its inventory.
	srv2 := testkit.NATS(t, embedded.Config{StoreDir: store, Port: port})
	nc2 := testkit.Connect(t, srv2.ClientURL())
	beats, err := nc2.SubscribeSync(subject.HostEvent(lat, EventHostHeartbeat))
	if err != nil {
		t.Fatal(err)
	}
	_ = nc2.Flush()
	m, err := beats.NextMsg(20 * time.Second)
	if err != nil {
		t.Fatalf("no heartbeat after the lattice came back: %v", err)
	}
	if !containsAll(string(m.Data), `"id":"app-echo"`, `"site":"a"`) {
		t.Errorf("heartbeat after reconnect: %s", m.Data)
	}
	// host.stop ends the agent.
	if _, err := nc2.Request(subject.Ctl("", lat, subject.CtlHostStop, a.Node().ID()), []byte(`{"host_id":"`+a.Node().ID()+`"}`), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("host.stop did not stop the agent")
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
