package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmclient"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

// implementations names a Wasm artefact for every implementation in the
// reference examples; translate only names artefacts, it never reads them.
var implementations = map[string]string{
	"ctk-prodcatapi":                  "file:///opt/wasm/prodcatapi.wasm",
	"ctk-productcatalogmanagement-sm": "file:///opt/wasm/metrics.wasm",
	"ctk-permissionspecapi":           "file:///opt/wasm/permissionspecapi.wasm",
}

// manifest translates the reference productcatalog-v1 Component, renamed,
// with componentMetadata.version set to tag (which changes its content hash).
func manifest(t *testing.T, name, tag string) *wadm.Manifest {
	t.Helper()
	file := filepath.Join(testref.Path(t, "oda", "examples"), "productcatalog-v1.component.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := oda.Parse(file, data)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	c.Metadata.Name = name
	c.Spec.ComponentMetadata.Version = tag
	m, err := translate.Component(c, translate.Options{Implementations: implementations})
	if err != nil {
		t.Fatalf("translate: %v", err)
	}
	return m
}

func newWadm(t *testing.T, opts ...wadmtest.Option) (deploy.Deployer, *wadmtest.Server) {
	t.Helper()
	nc := testkit.Connect(t, testkit.NATS(t, embedded.Config{}).ClientURL())
	srv := wadmtest.Run(t, nc, "default", opts...)
	client, err := wadmclient.New(nc, "default", wadmclient.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return deploy.NewWadm(client), srv
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitStatus polls Status until it has typ and returns it.
func waitStatus(t *testing.T, d deploy.Deployer, app string, typ wadm.StatusType) deploy.AppStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var st deploy.AppStatus
	for time.Now().Before(deadline) {
		var err error
		st, err = d.Status(ctxT(t), app)
		if err != nil {
			t.Fatalf("Status(%s): %v", app, err)
		}
		if st.Type == typ {
			return st
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("Status(%s) = %+v after 10s, want type %s", app, st, typ)
	return st
}

func TestWadmLifecycle(t *testing.T) {
	t.Parallel()
	d, srv := newWadm(t, wadmtest.WithDelay(20*time.Millisecond))
	ctx := ctxT(t)
	m1 := manifest(t, "lifecycle", "1.0.0")
	app := m1.Metadata.Name

	st, err := d.Status(ctx, app)
	if err != nil {
		t.Fatalf("Status of an absent app: %v", err)
	}
	if st.Exists || st.Type != wadm.StatusUndeployed || st.DeployedVersion != "" {
		t.Fatalf("absent app status = %+v, want not existing, undeployed", st)
	}

	events, err := d.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}

	for i, wantCreated := range []bool{true, false} {
		pr, err := d.Put(ctx, m1)
		if err != nil {
			t.Fatalf("Put #%d: %v", i+1, err)
		}
		if pr.Created != wantCreated || pr.Version != m1.Version() {
			t.Fatalf("Put #%d = %+v, want {Version:%s Created:%t}", i+1, pr, m1.Version(), wantCreated)
		}
	}
	if err := d.Deploy(ctx, app, m1.Version()); err != nil {
		t.Fatal(err)
	}
	st = waitStatus(t, d, app, wadm.StatusDeployed)
	if !st.Exists || st.DeployedVersion != m1.Version() || len(st.Scalers) == 0 {
		t.Fatalf("deployed status = %+v, want version %s with scalers", st, m1.Version())
	}
	select {
	case ev := <-events:
		if ev.App != app {
			t.Fatalf("watch event for %q, want %q", ev.App, app)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no status event within 10s of a deploy")
	}

	// A new version replaces the deployed one.
	m2 := manifest(t, "lifecycle", "2.0.0")
	if m2.Version() == m1.Version() {
		t.Fatal("changed spec kept its version")
	}
	if pr, err := d.Put(ctx, m2); err != nil || !pr.Created {
		t.Fatalf("Put v2 = %+v, %v", pr, err)
	}
	if err := d.Deploy(ctx, app, m2.Version()); err != nil {
		t.Fatal(err)
	}
	if v, _ := srv.Deployed(app); v != m2.Version() {
		t.Fatalf("deployed version %q, want %q", v, m2.Version())
	}

	if err := d.Deploy(ctx, app, "v-nonexistent"); err == nil {
		t.Fatal("Deploy of a version never put succeeded")
	}

	for i := range 2 {
		if err := d.Undeploy(ctx, app); err != nil {
			t.Fatalf("Undeploy #%d: %v", i+1, err)
		}
		if err := d.Delete(ctx, app); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if models := srv.Models(); len(models) != 0 {
		t.Fatalf("models after Delete = %v, want none", models)
	}
	if st, err := d.Status(ctx, app); err != nil || st.Exists {
		t.Fatalf("status after Delete = %+v, %v; want absent", st, err)
	}
}

func TestWadmErrors(t *testing.T) {
	t.Parallel()
	d, srv := newWadm(t)
	ctx := ctxT(t)
	m := manifest(t, "refused", "1.0.0")

	unversioned := *m
	unversioned.Metadata.Annotations = map[string]string{}
	if _, err := d.Put(ctx, &unversioned); err == nil {
		t.Fatal("Put of a manifest without version succeeded; wadm would invent one per put")
	}

	srv.SetPutHook(func(*wadm.Manifest) error { return errRefused })
	if _, err := d.Put(ctx, m); err == nil {
		t.Fatal("Put refused by wadm returned no error")
	}
}

var errRefused = refusedError("manifest refused by policy")

type refusedError string

func (e refusedError) Error() string { return string(e) }

func TestWadmNoWadm(t *testing.T) {
	t.Parallel()
	nc := testkit.Connect(t, testkit.NATS(t, embedded.Config{}).ClientURL())
	client, err := wadmclient.New(nc, "default", wadmclient.WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	d := deploy.NewWadm(client)
	if _, err := d.Status(ctxT(t), "anything"); err == nil {
		t.Fatal("Status with no wadm on the lattice returned no error")
	}
}
