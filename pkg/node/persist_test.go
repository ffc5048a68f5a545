package node

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
)

// TestRestartDuringHubOutageServesWhatItRan: a site's node (its own leaf
// link to a hub, with the site's credentials) runs a component wadm-like
// commands put there; the hub goes away and the node is restarted (a new
// Agent on the same state directory): it serves the component again from
// its saved running set, with no lattice to ask.
func TestRestartDuringHubOutageServesWhatItRan(t *testing.T) {
	h := startHub(t)
	dir, hub, leafAddr, res := h.dir, h.srv, h.leafAddr, h.site
	state := t.TempDir()
	wasm, err := os.ReadFile(echoWasm(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "echo.wasm"), wasm, 0o600); err != nil {
		t.Fatal(err)
	}
	startAgent := func() *Agent {
		a, err := StartAgent(context.Background(), AgentOptions{
			Hub: "nats://" + leafAddr, NATS: lattice.Config{CredsFile: filepath.Join(res.Site.Dir, edge.SiteCredsFile)}, Lattice: lat,
			Labels: map[string]string{"site": "a"}, ListenHTTP: "127.0.0.1:0", StateDir: state, Heartbeat: time.Hour, Logger: testkit.Logger(t, 0),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
		return a
	}
	get := func(a *Agent) int {
		resp, err := http.Get(a.Ingress() + "/echo/x")
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	a := startAgent()
	client, err := nats.Connect(hub.ClientURL(), nats.UserCredentials(filepath.Join(dir, "creds", "client.creds")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	cl, err := latticeadmin.New(client, lat, latticeadmin.WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	testkit.WaitFor(t, 20*time.Second, "the hub sees the node", func() bool {
		hosts, _ := cl.Hosts(ctx)
		return len(hosts) == 1 && hosts[0].Host.ID == a.Node().ID()
	})
	if _, err := cl.ConfigPut(ctx, "app-route-api", map[string]string{"path": "/echo"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.LinkPut(ctx, latticeadmin.Link{SourceID: "app-http_ingress", Target: "app-echo", WitNamespace: "wasi", WitPackage: "http", Interfaces: []string{"incoming-handler"}, SourceConfig: []string{"app-route-api"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.ScaleComponent(ctx, latticeadmin.ScaleComponentCommand{ComponentRef: "file://" + filepath.Join(state, "echo.wasm"), ComponentID: "app-echo", Count: 2, HostID: a.Node().ID()}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "the component serves", func() bool { return get(a) == http.StatusOK })
	// The route is ingress config: the running set was written after it.
	testkit.WaitFor(t, 5*time.Second, "the running set on disk", func() bool {
		b, err := os.ReadFile(filepath.Join(state, RunningFile))
		return err == nil && strings.Contains(string(b), `"app-echo"`) && strings.Contains(string(b), `"/echo"`)
	})

	hub.Shutdown()
	hub.WaitForShutdown()
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := startAgent()
	testkit.WaitFor(t, 30*time.Second, "the restarted node serves what it ran, with the hub down", func() bool { return get(b) == http.StatusOK })
	inv := b.Node().Inventory()
	if len(inv.Components) != 1 || inv.Components[0].ID != "app-echo" || inv.Components[0].MaxInstances != 2 {
		t.Errorf("inventory after the restart %+v", inv.Components)
	}
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(state) // no write in flight now
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), RunningFile+".") {
			t.Errorf("a temporary file is left: %s", e.Name())
		}
		if e.Name() == RunningFile {
			if fi, _ := e.Info(); fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v, want 0600", RunningFile, fi.Mode().Perm())
			}
		}
	}
}
