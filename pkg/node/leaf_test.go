package node

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge/edgetest"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge/hubclient"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
)

// hubSite is a hub from `canvas lattice init` and site a bootstrapped with
// --node.
type hubSite struct {
	lattice  *edge.Lattice
	dir      string // the lattice's directory
	srv      *server.Server
	leafAddr string
	site     edge.BootstrapResult
}

func startHub(t *testing.T) hubSite {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lattice")
	hubAddr, leafAddr := edgetest.FreeAddr(t), edgetest.FreeAddr(t)
	l, err := edge.Init(edge.InitOptions{Dir: dir, Listen: hubAddr, LeafListen: leafAddr})
	if err != nil {
		t.Fatal(err)
	}
	hub := edgetest.StartServer(t, filepath.Join(dir, "hub", "nats.conf"))
	res, err := l.Bootstrap(edge.SiteOptions{Name: "a", Hub: "nats://" + leafAddr, Node: true})
	if err != nil {
		t.Fatal(err)
	}
	return hubSite{lattice: l, dir: dir, srv: hub, leafAddr: leafAddr, site: res}
}

// TestHubLinkWithSiteCredentials: a node joins a secured lattice through
// its own leaf-node connection with a site's credentials (from `canvas
// edge bootstrap`), answers pings from the hub, and once the site is
// revoked it gets none and its log says the hub refused the credential.
func TestHubLinkWithSiteCredentials(t *testing.T) {
	h := startHub(t)
	l, dir, hub, leafAddr, res := h.lattice, h.dir, h.srv, h.leafAddr, h.site
	core, logs := observer.New(zap.InfoLevel)
	var ups atomic.Int32
	lf, err := startLeaf("nats://"+leafAddr, filepath.Join(res.Site.Dir, edge.SiteCredsFile), leafServerName("t"), zap.New(core), func() { ups.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lf.shutdown)
	nc, err := nats.Connect("", nats.InProcessServer(lf.srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	n, err := New(Options{Conn: nc, Lattice: lat, Labels: map[string]string{"site": "a"}, Logger: testkit.Logger(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)

	client, err := nats.Connect(hub.ClientURL(), nats.UserCredentials(filepath.Join(dir, "creds", "client.creds")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	cl, err := latticeadmin.New(client, lat, latticeadmin.WithTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	pinged := func() bool {
		replies, _ := cl.Ping(context.Background())
		return len(replies) == 1 && replies[0].Host.ID == n.ID() && replies[0].Host.Labels["site"] == "a"
	}
	testkit.WaitFor(t, 20*time.Second, "the hub pings the node through its leaf link", pinged)
	testkit.WaitFor(t, 5*time.Second, "the hub link's up callback", func() bool { return ups.Load() >= 1 })

	if _, err := l.Revoke("a"); err != nil {
		t.Fatal(err)
	}
	admin, err := nats.Connect(hub.ClientURL(), nats.UserCredentials(l.AdminCredsFile()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hubclient.PushAccount(ctx, admin, l.AccountJWT()); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 20*time.Second, "the node logs why", func() bool {
		for _, e := range logs.All() {
			if strings.Contains(e.Message, "the hub refuses this site's credential (") {
				return true
			}
		}
		return false
	})
	if pinged() {
		t.Error("the revoked node still answers the hub")
	}
	refusals := 0
	for _, e := range logs.All() {
		if strings.Contains(e.Message, "refuses this site's credential") {
			refusals++
		}
	}
	if refusals > 2 { // revoked, then the retries' authorization violation
		t.Errorf("the refusal is logged %d times, want it once per reason", refusals)
	}
}
