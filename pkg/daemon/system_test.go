package daemon_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmclient"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

// TestSystemApplication runs canvasd against the wadm double: the system
// application is put and deployed at start, before any Component's
// application; resyncs leave it alone while it is unchanged; a canvasd
// with another --bridge-image deploys its new version.
func TestSystemApplication(t *testing.T) {
	e := &env{t: t, dir: t.TempDir()}
	e.nats = daemontest.StartNATS(t)
	nc, err := nats.Connect(e.nats.URL(), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	e.nc = nc
	e.wadm = wadmtest.Run(t, nc, "default")
	e.impls = e.write("impls.yaml", impls)
	const sys = translate.DefaultSystemApp
	var (
		mu    sync.Mutex
		early []string // applications put while the system application was not deployed
	)
	e.wadm.SetPutHook(func(m *wadm.Manifest) error {
		if m.Metadata.Name != sys {
			if _, ok := e.wadm.Deployed(sys); !ok {
				mu.Lock()
				early = append(early, m.Metadata.Name)
				mu.Unlock()
			}
		}
		return nil
	})
	// canvas-bridge's config names the embedded issuer, at the API's URL.
	version := func(release string) string {
		m, err := translate.SystemApplication(translate.SystemOptions{BridgeImage: translate.BridgeImage(release), Issuer: e.canvasd.API + daemon.IssuerPath})
		if err != nil {
			t.Fatal(err)
		}
		return m.Version()
	}
	start := func(release string) {
		e.canvasd = daemontest.Start(t, daemontest.Options{NATS: e.nats.URL(), Args: []string{
			"--ingress-url", ingressURL, "--resync", "100ms", "--bridge-image", translate.BridgeImage(release),
		}})
		var err error
		if e.token, err = auth.ReadAdminToken(e.canvasd.StateDir); err != nil {
			t.Fatal(err)
		}
	}

	start("v1")
	// Ready means started, and the start ensured it (wadm answers).
	if v, ok := e.wadm.Deployed(sys); !ok || v != version("v1") {
		t.Fatalf("after start %s is deployed at %q (%v), want %s", sys, v, ok, version("v1"))
	}
	e.mustCanvas("apply", "-f", e.component("sys", "pc"), "--implementations", e.impls, "--wait", "--timeout", "30s")
	if _, ok := e.wadm.Deployed("sys-pc"); !ok {
		t.Fatal("the Component's application is not deployed")
	}
	mu.Lock()
	if len(early) > 0 {
		t.Errorf("put before the system application was deployed: %v", early)
	}
	mu.Unlock()

	puts, deploys := e.wadm.Puts(), e.wadm.Deploys()
	time.Sleep(time.Second) // ten resyncs
	if p, d := e.wadm.Puts()-puts, e.wadm.Deploys()-deploys; p != 0 || d != 0 {
		t.Errorf("resyncs of an unchanged canvas made %d puts and %d deploys, want none", p, d)
	}
	if vs := e.wadm.Versions(sys); len(vs) != 1 {
		t.Errorf("%s versions %v, want one", sys, vs)
	}

	e.canvasd.Stop()
	start("v2")
	if v, ok := e.wadm.Deployed(sys); !ok || v != version("v2") || len(e.wadm.Versions(sys)) != 2 {
		t.Errorf("with another bridge image %s is deployed at %q (%v), versions %v; want %s of two", sys, v, ok, e.wadm.Versions(sys), version("v2"))
	}
	if _, ok := e.wadm.Deployed("sys-pc"); !ok {
		t.Error("the Component's application is no longer deployed")
	}
}

// With a Deployer of its own (canvas up's local backend) canvasd leaves
// the system application alone: that deployer serves its parts in-process.
func TestNoSystemApplicationWithOwnDeployer(t *testing.T) {
	t.Parallel()
	n := daemontest.StartNATS(t)
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	w := wadmtest.Run(t, nc, "default")
	cl, err := wadmclient.New(nc, "default")
	if err != nil {
		t.Fatal(err)
	}
	ctx := daemontest.Context(t, 30*time.Second)
	d := startDaemon(ctx, t, daemon.Options{
		NATS: lattice.Config{URLs: n.URL()}, StateDir: t.TempDir(), Listen: "127.0.0.1:0", Resync: 50 * time.Millisecond,
		Deployer: deploy.NewWadm(cl), Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	})
	if err := d.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a few resyncs
	if models := w.Models(); slices.Contains(models, translate.DefaultSystemApp) {
		t.Errorf("canvasd put the system application with a Deployer of the caller's: %v", models)
	}
}
