package translate_test

import (
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// goldenSystem are the options of the golden system application: a fixed
// bridge release, so the file does not move with this build's version.
var goldenSystem = translate.SystemOptions{BridgeImage: translate.BridgeImage("v0.1.0")}

// TestSystemApplicationGolden compares the system application with
// testdata/golden/system.wadm.yaml; it must satisfy the upstream
// oam.schema.json and wadm's own checks, and be marked shared.
func TestSystemApplicationGolden(t *testing.T) {
	t.Parallel()
	m, err := translate.SystemApplication(goldenSystem)
	if err != nil {
		t.Fatal(err)
	}
	validateManifestOAM(t, m)
	if err := m.Validate(); err != nil {
		t.Errorf("wadm would refuse the system application: %v", err)
	}
	if m.Metadata.Annotations[wadm.AnnotationShared] != "true" {
		t.Errorf("annotation %s = %q, want \"true\" (wadm resolves shared components only in shared applications)", wadm.AnnotationShared, m.Metadata.Annotations[wadm.AnnotationShared])
	}
	got, err := wadm.MarshalYAML(m)
	if err != nil {
		t.Fatal(err)
	}
	if !checkGolden(t, "system.wadm.yaml", got) {
		return
	}
	back, err := wadm.ParseManifest(got)
	if err != nil {
		t.Fatalf("rendered manifest does not parse back: %v", err)
	}
	if translate.Version(back) != m.Version() {
		t.Errorf("round trip changed the digest: %s, want %s", translate.Version(back), m.Version())
	}
}

// Every shared reference of every translated case names a capability of
// the system application of the same name: wadm refuses to deploy a
// Component's application otherwise.
func TestSystemApplicationHasEveryReference(t *testing.T) {
	t.Parallel()
	const name = "edge-system"
	sys, err := translate.SystemApplication(translate.SystemOptions{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	offered := map[string]bool{}
	for _, c := range sys.Spec.Components {
		if !c.IsCapability() || c.Properties.Image == "" {
			t.Errorf("system component %s: type %s image %q, want a capability with an image", c.Name, c.Type, c.Properties.Image)
		}
		offered[c.Name] = true
	}
	used := map[string]bool{}
	impls := testImplementations(t)
	for cname, path := range cases(t) {
		m, err := translate.Component(parseFile(t, path), translate.Options{Implementations: impls, SystemApp: name})
		if err != nil {
			t.Fatalf("%s: %v", cname, err)
		}
		for _, c := range m.Spec.Components {
			app := c.Properties.Application
			if app == nil {
				continue
			}
			used[app.Component] = true
			if app.Name != name || !offered[app.Component] {
				t.Errorf("%s: component %s references %s/%s, which the system application %s does not offer", cname, c.Name, app.Name, app.Component, name)
			}
		}
	}
	for n := range offered {
		if !used[n] {
			t.Errorf("system component %s is referenced by no case: a name the translation no longer uses, or a missing case", n)
		}
	}
}

// The version follows the content: the same options give the same
// version, another bridge image or ingress address another one.
func TestSystemApplicationVersion(t *testing.T) {
	t.Parallel()
	version := func(o translate.SystemOptions) string {
		t.Helper()
		m, err := translate.SystemApplication(o)
		if err != nil {
			t.Fatal(err)
		}
		return m.Version()
	}
	base := version(goldenSystem)
	if again := version(goldenSystem); again != base {
		t.Errorf("same options, versions %s and %s", base, again)
	}
	for name, o := range map[string]translate.SystemOptions{
		"bridge image":    {BridgeImage: translate.BridgeImage("v0.2.0")},
		"ingress address": {BridgeImage: goldenSystem.BridgeImage, IngressAddress: "0.0.0.0:9090"},
		"issuer":          {BridgeImage: goldenSystem.BridgeImage, Issuer: "https://kc.example.org/realms/canvas"},
	} {
		if v := version(o); v == base {
			t.Errorf("another %s kept version %s", name, v)
		}
	}
}

// TestSystemApplicationIssuer: the issuer reaches canvas-bridge's config,
// where it verifies wasmcanvas:identity tokens.
func TestSystemApplicationIssuer(t *testing.T) {
	t.Parallel()
	const iss = "https://kc.example.org/realms/canvas"
	m, err := translate.SystemApplication(translate.SystemOptions{BridgeImage: goldenSystem.BridgeImage, Issuer: iss})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Spec.Components {
		if c.Name != translate.BridgeName {
			continue
		}
		if len(c.Properties.Config) != 1 || c.Properties.Config[0].Properties[translate.BridgeConfigIssuer] != iss {
			t.Fatalf("canvas-bridge config %+v, want %s=%s", c.Properties.Config, translate.BridgeConfigIssuer, iss)
		}
		return
	}
	t.Fatal("no canvas-bridge in the system application")
}

func TestSystemApplicationErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts translate.SystemOptions
		want string
	}{
		{"address without port", translate.SystemOptions{IngressAddress: "0.0.0.0"}, `ingress address "0.0.0.0"`},
		{"bare archive name", translate.SystemOptions{BridgeImage: "canvas-bridge.par.gz"}, "canvas-bridge archive"},
		{"bad name", translate.SystemOptions{Name: "wasmcanvas system"}, "metadata.name"},
		{"issuer not a URL", translate.SystemOptions{Issuer: "kc.example.org"}, `issuer "kc.example.org"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := translate.SystemApplication(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
