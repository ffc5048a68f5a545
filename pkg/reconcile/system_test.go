package reconcile

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmclient"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

func systemManifest(t *testing.T, bridgeImage string) *wadm.Manifest {
	t.Helper()
	m, err := translate.SystemApplication(translate.SystemOptions{BridgeImage: bridgeImage})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newSystem(t *testing.T, d deploy.Deployer, m *wadm.Manifest, o SystemOptions) *System {
	t.Helper()
	o.Manifest, o.Deployer, o.Logger = m, d, testkit.Logger(t, zap.WarnLevel)
	s, err := NewSystem(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Ensure puts and deploys the system application once, does nothing while
// its version is deployed, and puts and deploys the new version when the
// bridge image changes.
func TestSystemEnsure(t *testing.T) {
	t.Parallel()
	nc := testkit.Connect(t, testkit.NATS(t, embedded.Config{}).ClientURL())
	w := wadmtest.Run(t, nc, "default")
	cl, err := wadmclient.New(nc, "default")
	if err != nil {
		t.Fatal(err)
	}
	d := deploy.NewWadm(cl)
	ctx := t.Context()

	first := systemManifest(t, translate.BridgeImage("v1"))
	s := newSystem(t, d, first, SystemOptions{})
	for i, want := range []bool{true, false, false} {
		changed, err := s.Ensure(ctx)
		if err != nil || changed != want {
			t.Fatalf("Ensure #%d: changed %v, %v; want %v", i+1, changed, err, want)
		}
	}
	if v, ok := w.Deployed(translate.DefaultSystemApp); !ok || v != first.Version() || w.Puts() != 1 || w.Deploys() != 1 {
		t.Fatalf("wadm: deployed %q (%v), %d puts, %d deploys; want %s once", v, ok, w.Puts(), w.Deploys(), first.Version())
	}

	second := systemManifest(t, translate.BridgeImage("v2"))
	if changed, err := newSystem(t, d, second, SystemOptions{}).Ensure(ctx); err != nil || !changed {
		t.Fatalf("Ensure with another bridge image: changed %v, %v", changed, err)
	}
	if v, _ := w.Deployed(translate.DefaultSystemApp); v != second.Version() || len(w.Versions(translate.DefaultSystemApp)) != 2 {
		t.Errorf("after the bridge image changed: deployed %q, versions %v; want %s of 2", v, w.Versions(translate.DefaultSystemApp), second.Version())
	}

	// No wadm on the lattice: an error naming the system application.
	other, err := wadmclient.New(nc, "nowadm", wadmclient.WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newSystem(t, deploy.NewWadm(other), first, SystemOptions{}).Ensure(ctx); err == nil || !strings.Contains(err.Error(), "system application") {
		t.Errorf("Ensure without wadm: %v, want an error naming the system application", err)
	}
}

// Run keeps trying while wadm is absent, deploys once it answers, and
// deploys again on a resync after someone undeployed it.
func TestSystemRun(t *testing.T) {
	t.Parallel()
	nc := testkit.Connect(t, testkit.NATS(t, embedded.Config{}).ClientURL())
	cl, err := wadmclient.New(nc, "late", wadmclient.WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	d := deploy.NewWadm(cl)
	m := systemManifest(t, "")
	s := newSystem(t, d, m, SystemOptions{Resync: 100 * time.Millisecond, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	time.Sleep(100 * time.Millisecond) // a few failed attempts first
	w := wadmtest.Run(t, nc, "late")
	deployed := func() bool { v, ok := w.Deployed(m.Metadata.Name); return ok && v == m.Version() }
	testkit.WaitFor(t, 10*time.Second, "the system application deployed once wadm answers", deployed)
	if err := d.Undeploy(t.Context(), m.Metadata.Name); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the system application deployed again on resync", deployed)
	if n := len(w.Versions(m.Metadata.Name)); n != 1 {
		t.Errorf("%d versions stored, want 1 (the same version deployed again)", n)
	}
}

func TestNewSystemRefusesMissingParts(t *testing.T) {
	t.Parallel()
	_, err := NewSystem(SystemOptions{Resync: -time.Second})
	for _, want := range []string{"Manifest", "Deployer", "negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewSystem error %v lacks %q", err, want)
		}
	}
}
