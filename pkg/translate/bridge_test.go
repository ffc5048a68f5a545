package translate_test

import (
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/version"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// The system application's canvas-bridge is the provider archive under
// BridgeID, and it is what every Component's observe and identity links
// reach: the shared component they name.
func TestSystemBridge(t *testing.T) {
	t.Parallel()
	b, err := translate.SystemBridge("")
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != translate.BridgeName || !b.IsCapability() || b.Properties.ID != translate.BridgeID ||
		b.Properties.Image != translate.BridgeRepository+":"+version.Version {
		t.Errorf("system bridge %+v: want capability %s, id %s, image %s:%s", b, translate.BridgeName, translate.BridgeID, translate.BridgeRepository, version.Version)
	}
	if b, err := translate.SystemBridge("file:///opt/wasmcanvas/bin/canvas-bridge.par.gz"); err != nil || b.Properties.Image != "file:///opt/wasmcanvas/bin/canvas-bridge.par.gz" {
		t.Errorf("a local archive: %+v, %v", b, err)
	}
	if _, err := translate.SystemBridge("canvas-bridge.par.gz"); err == nil || !strings.Contains(err.Error(), "canvas-bridge archive") {
		t.Errorf("a bare file name: %v, want an error naming the archive", err)
	}

	c := parseFile(t, testref.Path(t, "oda", "examples", "productcatalog-v1.component.yaml"))
	m, err := translate.Component(c, translate.Options{Implementations: testImplementations(t)})
	if err != nil {
		t.Fatal(err)
	}
	var shared *wadm.Component
	for i := range m.Spec.Components {
		if m.Spec.Components[i].Name == b.Name {
			shared = &m.Spec.Components[i]
		}
	}
	if shared == nil || shared.Properties.Application == nil || shared.Properties.Application.Component != b.Name ||
		shared.Properties.Application.Name != translate.DefaultSystemApp {
		t.Fatalf("the Component's manifest refers to the bridge as %+v, want the shared %s of %s", shared, b.Name, translate.DefaultSystemApp)
	}
}
