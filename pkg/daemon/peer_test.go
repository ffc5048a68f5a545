package daemon_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

// TestPeerCanvasDependentAPI runs two canvases, each with its own NATS and
// wadm: provider serves productcatalog-v1 (TMF620), and the dependent
// canvas, started with provider as --peer-canvas, a Component depending on
// TMF620. The dependency resolves to the provider's URL and the Component
// becomes Complete; the dependent canvas's APIs are registered with the
// provider; once the provider's Component is deleted the dependency turns
// not ready and its status entry says why.
func TestPeerCanvasDependentAPI(t *testing.T) {
	t.Parallel()
	ctx := daemontest.Context(t, 60*time.Second)
	const providerIngress, dependentIngress = "http://127.0.0.1:9001", "http://127.0.0.1:9002"
	provider := startCanvas(ctx, t, providerIngress)
	dependent := startCanvas(ctx, t, dependentIngress, provider.APIURL())

	// apply applies an upstream example, with edits (old, new pairs) to
	// its text.
	apply := func(d *daemon.Daemon, file string, edits ...string) *oda.Component {
		t.Helper()
		data, err := os.ReadFile(testref.Path(t, "oda", "examples", file))
		if err != nil {
			t.Fatal(err)
		}
		body := strings.Replace(strings.NewReplacer(edits...).Replace(string(data)), "metadata:\n", "metadata:\n  annotations:\n    "+oda.AnnotationImplementations+": '"+
			`{"ctk-prodcatapi":"ghcr.io/a/b:1","ctk-productcatalogmanagement-sm":"ghcr.io/a/c:1","ctk-permissionspecapi":"ghcr.io/a/d:1"}`+"'\n", 1)
		c, _, err := mustHTTP(t, d.APIURL(), d.StateDir()).Apply(ctx, file, []byte(body))
		if err != nil {
			t.Fatalf("apply %s: %v", file, err)
		}
		return c
	}
	waitFor := func(d *daemon.Daemon, c *oda.Component, ok func(*oda.Component) bool) *oda.Component {
		t.Helper()
		var got *oda.Component
		err := daemontest.WaitFor(30*time.Second, func() error {
			var err error
			if got, err = mustHTTP(t, d.APIURL(), d.StateDir()).Get(ctx, c.Metadata.Namespace, c.Metadata.Name); err != nil {
				return err
			}
			if !ok(got) {
				return daemontest.ErrNotYet
			}
			return nil
		})
		if err != nil {
			b, _ := json.MarshalIndent(got, "", "  ")
			t.Fatalf("%s: %v\n%s", c.Metadata.Name, err, b)
		}
		return got
	}

	pc := apply(provider, "productcatalog-v1.component.yaml")
	waitFor(provider, pc, func(c *oda.Component) bool { return deploymentStatus(c) == oda.DeploymentComplete })
	// The example exposes the TMF620 it depends on, which would provide it
	// to itself (as on the reference canvas): expose another version.
	const tmf620 = "TMF620_ProductCatalog/master/TMF620-ProductCatalog-v4.0.0.swagger.json\""
	dc := apply(dependent, "productcatalog-dependent-api-v1.component.yaml", tmf620, "TMF620_ProductCatalog/master/TMF620-ProductCatalog-v5.0.0.oas.yaml\"")
	want := providerIngress + "/ctk-productcatalogmanagement/tmf-api/productCatalogManagement/v4"
	got := waitFor(dependent, dc, func(c *oda.Component) bool { return deploymentStatus(c) == oda.DeploymentComplete })
	if deps := got.Status.CoreDependentAPIs; len(deps) != 1 || !deps[0].Ready || deps[0].URL != want || deps[0].Message != "" {
		t.Fatalf("coreDependentAPIs %+v, want ready at %s", deps, want)
	}

	// The dependent canvas registered its APIs with the provider's info service.
	err := daemontest.WaitFor(10*time.Second, func() error {
		resp, err := http.Get(provider.APIURL() + wire.PathCanvasInfo + "?state=active")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var svcs []wire.Service
		if err := json.NewDecoder(resp.Body).Decode(&svcs); err != nil {
			return err
		}
		for _, s := range svcs {
			if wire.CharacteristicValue(s.ServiceCharacteristic, wire.CharCanvas) == dependentIngress &&
				wire.CharacteristicValue(s.ServiceCharacteristic, wire.CharURL) == dependentIngress+"/ctk-productcatalogmanagement/tmf-api/productCatalogManagement/v4" {
				return nil
			}
		}
		return daemontest.ErrNotYet
	})
	if err != nil {
		t.Errorf("dependent canvas's APIs not registered with the provider: %v", err)
	}

	if _, err := mustHTTP(t, provider.APIURL(), provider.StateDir()).Delete(ctx, pc.Metadata.Namespace, pc.Metadata.Name, ""); err != nil {
		t.Fatal(err)
	}
	got = waitFor(dependent, dc, func(c *oda.Component) bool { return deploymentStatus(c) == oda.DeploymentInProgressDepAPI })
	if deps := got.Status.CoreDependentAPIs; len(deps) != 1 || deps[0].Ready || deps[0].URL != "" ||
		!strings.Contains(deps[0].Message, "ctk-productcatalogmanagement-productcatalogmanagement-v4") || !strings.Contains(deps[0].Message, "gone") {
		t.Errorf("after the provider went away: coreDependentAPIs %+v, want not ready, the reason naming the API that went", deps)
	}
}

// startCanvas starts canvasd in this process on a nats-server of its own
// with the wadm double, and waits until it is ready.
func startCanvas(ctx context.Context, t *testing.T, ingress string, peers ...string) *daemon.Daemon {
	t.Helper()
	n := daemontest.StartNATS(t)
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	wadmtest.Run(t, nc, subject.DefaultLattice)
	d := startDaemon(ctx, t, daemon.Options{
		NATS: lattice.Config{URLs: n.URL()}, StateDir: t.TempDir(), Listen: "127.0.0.1:0", IngressURL: ingress,
		Resync: 2 * time.Second, PeerCanvases: peers, PeerInterval: 100 * time.Millisecond,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	})
	if err := d.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}
