package daemon_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/client/natsclient"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/reconcile"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		opts daemon.Options
		want []string // substrings of the error; none means valid
	}{
		{"defaults", daemon.Options{StateDir: dir}, nil},
		{"embedded", daemon.Options{StateDir: dir, EmbeddedNATS: true, EmbeddedNATSPort: -1}, nil},
		{"embedded and a URL", daemon.Options{StateDir: dir, EmbeddedNATS: true, NATS: lattice.Config{URLs: "nats://x:4222"}},
			[]string{"--embedded-nats and --nats-url exclude each other"}},
		{"bad listen", daemon.Options{StateDir: dir, Listen: "7443"}, []string{"--listen \"7443\": want HOST:PORT"}},
		{"bad lattice and ingress", daemon.Options{StateDir: dir, Lattice: "a.b", IngressURL: "components.example.org"},
			[]string{"--lattice: lattice name \"a.b\"", "--ingress-url \"components.example.org\""}},
		{"bad NATS URL", daemon.Options{StateDir: dir, NATS: lattice.Config{URLs: "http://x"}}, []string{"--nats-url", "scheme \"http\""}},
		{"bad ingress address and bridge archive", daemon.Options{StateDir: dir, IngressAddress: "8080", BridgeImage: "bridge.par.gz"},
			[]string{"--ingress-address", `ingress address "8080"`, "canvas-bridge archive"}},
		{"not a lattice directory", daemon.Options{StateDir: dir, LatticeDir: dir},
			[]string{"--lattice-dir: " + dir + " is not a lattice directory", "canvas lattice init --out"}},
		{"bad peer canvas", daemon.Options{StateDir: dir, PeerCanvases: []string{"http://ok:7443", "canvas-b:7443"}},
			[]string{`--peer-canvas "canvas-b:7443"`}},
		{"issuer URL", daemon.Options{StateDir: dir, IssuerURL: "https://canvas.example.org" + daemon.IssuerPath}, nil},
		{"issuer URL on another path", daemon.Options{StateDir: dir, IssuerURL: "https://canvas.example.org/auth"},
			[]string{`--issuer-url "https://canvas.example.org/auth": want http(s)://HOST[:PORT]/oidc`}},
		{"issuer URL with an external issuer", daemon.Options{StateDir: dir, IssuerURL: "https://canvas.example.org/oidc", OIDCIssuer: "https://kc.example.org/realms/c"},
			[]string{"--issuer-url", "drop it with --oidc-issuer or --no-auth"}},
		{"bad port and workers", daemon.Options{StateDir: dir, EmbeddedNATSPort: 70000, Workers: -1},
			[]string{"--nats-port 70000", "--workers -1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := daemon.New(tc.opts)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New accepted %+v", tc.opts)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestDaemonInProcess runs the daemon as `canvas up` embeds it: embedded
// nats-server, API on a free port; Ready, one apply to Complete, Shutdown.
func TestDaemonInProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d, err := daemon.New(daemon.Options{
		EmbeddedNATS: true, EmbeddedNATSPort: -1, StateDir: dir, Listen: "127.0.0.1:0",
		IngressURL: ingressURL, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := daemontest.Context(t, 30*time.Second)
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = d.Shutdown(context.Background())
		}
	})
	if err := d.Start(ctx); err == nil {
		t.Error("a second Start succeeded")
	}
	ri, err := daemon.ReadRuntimeInfo(dir)
	if err != nil || ri.API != d.APIURL() || ri.PID != os.Getpid() || ri.NATS != d.NATSURL() || ri.Kube != d.KubeURL() || !strings.HasPrefix(ri.Kube, "https://127.0.0.1:") {
		t.Fatalf("runtime file %+v (%v), daemon at %s / %s", ri, err, d.APIURL(), d.NATSURL())
	}
	nc, err := nats.Connect(d.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	w := wadmtest.Run(t, nc, subject.DefaultLattice)
	if err := d.Ready(ctx); err != nil {
		t.Fatal(err)
	}

	body := productCatalog(t)
	for _, cl := range []client.Client{mustHTTP(t, d.APIURL(), dir), natsclient.New(nc, false)} {
		c, _, err := cl.Apply(ctx, "inproc.yaml", []byte(body))
		if err != nil {
			t.Fatalf("%T apply: %v", cl, err)
		}
		err = daemontest.WaitFor(20*time.Second, func() error {
			got, err := cl.Get(ctx, c.Metadata.Namespace, c.Metadata.Name)
			if err != nil {
				return err
			}
			if deploymentStatus(got) != oda.DeploymentComplete {
				return daemontest.ErrNotYet
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%T: not Complete: %v", cl, err)
		}
	}
	if _, ok := w.Deployed("components-ctk-productcatalogmanagement"); !ok {
		t.Error("wadm has no deployed app")
	}
	checkIdentityConfig(ctx, t, d, mustHTTP(t, d.APIURL(), dir), "components", "ctk-productcatalogmanagement")

	if err := d.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	rec := httptest.NewRecorder()
	d.InfoHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, wire.PathCanvasInfo+"?componentName=x", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("info service after Shutdown: %d %s, want 503", rec.Code, rec.Body)
	}
	if err := d.Wait(); err != nil {
		t.Errorf("Wait after Shutdown: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, daemon.RuntimeFile)); !os.IsNotExist(err) {
		t.Errorf("runtime file after Shutdown: %v", err)
	}
	if err := d.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// TestStartFailureNamesTheStep: a taken --listen address fails Start with
// the flag named, and leaves nothing running.
func TestStartFailureNamesTheStep(t *testing.T) {
	t.Parallel()
	ctx := daemontest.Context(t, 30*time.Second)
	first := startDaemon(ctx, t, daemon.Options{EmbeddedNATS: true, EmbeddedNATSPort: -1, StateDir: t.TempDir(), Listen: "127.0.0.1:0"})
	taken := strings.TrimPrefix(first.APIURL(), "http://")
	second, err := daemon.New(daemon.Options{EmbeddedNATS: true, EmbeddedNATSPort: -1, StateDir: t.TempDir(), Listen: taken})
	if err != nil {
		t.Fatal(err)
	}
	err = second.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "--listen") {
		t.Fatalf("Start on a taken port: %v", err)
	}
	select {
	case <-second.Done():
	default:
		t.Error("a failed Start left the daemon running")
	}
}

// TestLatticeDirWarnsUnknownSite: canvasd --lattice-dir reads the sites of
// a lattice directory from edge.Init and Bootstrap; a Component placed on
// another site is deployed and `canvas describe`'s events carry the
// warning.
func TestLatticeDirWarnsUnknownSite(t *testing.T) {
	t.Parallel()
	l, err := edge.Init(edge.InitOptions{Dir: filepath.Join(t.TempDir(), "lattice")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Bootstrap(edge.SiteOptions{Name: "north-1", Hub: "nats://hub.example:7422"}); err != nil {
		t.Fatal(err)
	}
	ctx := daemontest.Context(t, 30*time.Second)
	stateDir := t.TempDir()
	d := startDaemon(ctx, t, daemon.Options{
		EmbeddedNATS: true, EmbeddedNATSPort: -1, StateDir: stateDir, Listen: "127.0.0.1:0",
		LatticeDir: l.Dir(), Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
	})
	nc, err := nats.Connect(d.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	w := wadmtest.Run(t, nc, subject.DefaultLattice)

	data, err := os.ReadFile(testref.Path(t, "oda", "examples", "productcatalog-v1.component.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(data), "metadata:\n", "metadata:\n  annotations:\n    "+oda.AnnotationImplementations+": '"+
		`{"ctk-prodcatapi":"ghcr.io/a/b:1","ctk-productcatalogmanagement-sm":"ghcr.io/a/c:1","ctk-permissionspecapi":"ghcr.io/a/d:1"}`+"'\n    "+
		oda.AnnotationPlacement+`: '{"sites": {"north-1": 1, "far-9": 1}}'`+"\n", 1)
	cl := mustHTTP(t, d.APIURL(), stateDir)
	c, _, err := cl.Apply(ctx, "placed.yaml", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var warning string
	err = daemontest.WaitFor(20*time.Second, func() error {
		evs, err := cl.Events(ctx, c.Metadata.Namespace, c.Metadata.Name)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if ev.Reason == reconcile.ReasonUnknownSite && ev.Type == reconcile.EventWarning {
				warning = ev.Message
				return nil
			}
		}
		return daemontest.ErrNotYet
	})
	if err != nil {
		t.Fatalf("no %s warning: %v", reconcile.ReasonUnknownSite, err)
	}
	if !strings.Contains(warning, oda.PlacementPath) || !strings.Contains(warning, `"far-9"`) || strings.Contains(warning, `"north-1"`) {
		t.Errorf("warning %q: want the placement path and far-9 only", warning)
	}
	err = daemontest.WaitFor(20*time.Second, func() error {
		if _, ok := w.Deployed("components-ctk-productcatalogmanagement"); !ok {
			return daemontest.ErrNotYet
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the Component with an unknown site was not deployed: %v", err)
	}
}

// startDaemon starts a daemon from opts and shuts it down when the test
// ends.
func startDaemon(ctx context.Context, t *testing.T, opts daemon.Options) *daemon.Daemon {
	t.Helper()
	d, err := daemon.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Shutdown(context.Background()) })
	return d
}

// productCatalog is the reference productcatalog example with Wasm
// artefacts for its implementations.
func productCatalog(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(testref.Path(t, "oda", "examples", "productcatalog-v1.component.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(string(data), "metadata:\n", "metadata:\n  annotations:\n    "+oda.AnnotationImplementations+": '"+
		`{"ctk-prodcatapi":"ghcr.io/a/b:1","ctk-productcatalogmanagement-sm":"ghcr.io/a/c:1","ctk-permissionspecapi":"ghcr.io/a/d:1"}`+"'\n", 1)
}

// mustHTTP is a client of the daemon's API with the local admin
// credential of stateDir.
func mustHTTP(t *testing.T, api, stateDir string) *client.HTTP {
	t.Helper()
	tok, err := auth.ReadAdminToken(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewHTTP(api, client.WithToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
