package wadmtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmclient"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

func manifest(name, version string) *wadm.Manifest {
	return &wadm.Manifest{
		APIVersion: wadm.APIVersion, Kind: wadm.Kind,
		Metadata: wadm.Metadata{Name: name, Annotations: map[string]string{wadm.AnnotationVersion: version}},
		Spec: wadm.Spec{Components: []wadm.Component{{
			Name: "c", Type: wadm.ComponentTypeComponent, Properties: wadm.Properties{Image: "file:///c.wasm"},
			Traits: []wadm.Trait{{Type: wadm.TraitSpreadScaler, Scaler: &wadm.ScalerProperties{Instances: 1}}},
		}}},
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func waitDeployed(t *testing.T, c *wadmclient.Client, name string) wadm.Status {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		r, err := c.Status(testCtx(t), name)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status.Info.Type == wadm.StatusDeployed {
			return *r.Status
		}
	}
	t.Fatalf("%s never deployed", name)
	return wadm.Status{}
}

// A double restarted on the same NATS keeps models, versions, the deployed
// version and the last status, as wadm does through JetStream.
func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	nc := testkit.Connect(t, testkit.NATS(t, embedded.Config{}).ClientURL())
	first, err := wadmtest.New(nc, "lat")
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	c, err := wadmclient.New(nc, "lat")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v1", "v2"} {
		if _, err := c.Put(testCtx(t), manifest("app", v)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Deploy(testCtx(t), "app", "v1"); err != nil {
		t.Fatal(err)
	}
	before := waitDeployed(t, c, "app")
	first.Close()
	if _, err := c.List(testCtx(t)); err == nil {
		t.Fatal("closed double still answers")
	}

	second := wadmtest.Run(t, nc, "lat")
	if v, ok := second.Deployed("app"); !ok || v != "v1" {
		t.Fatalf("Deployed after restart = %q %v", v, ok)
	}
	if vs := second.Versions("app"); len(vs) != 2 || vs[0] != "v1" || vs[1] != "v2" {
		t.Fatalf("Versions after restart = %v", vs)
	}
	after := waitDeployed(t, c, "app")
	if len(after.Scalers) != 1 || after.Scalers[0].ID != before.Scalers[0].ID {
		t.Fatalf("status after restart %+v, before %+v", after, before)
	}
	if second.Puts() != 0 || second.Deploys() != 0 {
		t.Fatalf("counters carried over: puts=%d deploys=%d", second.Puts(), second.Deploys())
	}
	second.Fail("app", "host gone")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r, err := c.Status(testCtx(t), "app")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status.Info.Type == wadm.StatusFailed && r.Status.Info.Message == "host gone" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted double cannot fail a deployed app: %+v", r.Status)
		}
	}
}

// Two doubles on one NATS share the queue group and the KV bucket, like
// wadm replicas: every put lands once and both see every model.
func TestReplicasShareState(t *testing.T) {
	t.Parallel()
	nc := testkit.Connect(t, testkit.NATS(t, embedded.Config{}).ClientURL())
	a := wadmtest.Run(t, nc, "lat")
	b := wadmtest.Run(t, nc, "lat")
	c, err := wadmclient.New(nc, "lat")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := c.Put(testCtx(t), manifest("app", "v"+string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	if a.Puts()+b.Puts() != 10 {
		t.Fatalf("puts a=%d b=%d", a.Puts(), b.Puts())
	}
	if len(a.Versions("app")) != 10 || len(b.Versions("app")) != 10 {
		t.Fatalf("versions a=%v b=%v", a.Versions("app"), b.Versions("app"))
	}
}

func TestMemoryStoreWithoutJetStream(t *testing.T) {
	t.Parallel()
	nc := testkit.Connect(t, testkit.NATS(t, embedded.Config{}).ClientURL())
	d := wadmtest.Run(t, nc, "mem", wadmtest.WithMemoryStore())
	c, err := wadmclient.New(nc, "mem")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(testCtx(t), manifest("app", "v1")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Deploy(testCtx(t), "app", ""); err != nil {
		t.Fatal(err)
	}
	waitDeployed(t, c, "app")
	if got := d.Models(); len(got) != 1 || got[0] != "app" {
		t.Fatalf("Models = %v", got)
	}
}

// A status publish the lattice loses (as when nats-server is killed
// mid-publish) is tried again, as wadm publishes an app's status again
// while it reconciles: the app's last status ends deployed, not stuck at
// the reconciling recorded before the loss. The loss here: the
// wadm_status stream refuses the app's next status for a while.
func TestLostStatusPublishIsRetried(t *testing.T) {
	t.Parallel()
	nc := testkit.Connect(t, testkit.NATS(t, embedded.Config{}).ClientURL())
	wadmtest.Run(t, nc, "lat", wadmtest.WithDelay(300*time.Millisecond))
	c, err := wadmclient.New(nc, "lat")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(testCtx(t), manifest("app", "v1")); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	str, err := js.Stream(testCtx(t), subject.WadmStatusStream)
	if err != nil {
		t.Fatal(err)
	}
	conf := str.CachedInfo().Config
	if _, err := c.Deploy(testCtx(t), "app", "v1"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		r, err := c.Status(testCtx(t), "app")
		if err == nil && r.Status.Info.Type == wadm.StatusReconciling {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("app never reconciling: %v", err)
		}
	}
	// The stream keeps the reconciling status and refuses the next.
	cut := conf
	cut.MaxMsgsPerSubject, cut.Discard, cut.DiscardNewPerSubject = 1, jetstream.DiscardNew, true
	if _, err := js.UpdateStream(testCtx(t), cut); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond) // past the delay: the deployed status is lost meanwhile
	if _, err := js.UpdateStream(testCtx(t), conf); err != nil {
		t.Fatal(err)
	}
	waitDeployed(t, c, "app")
}
