package wadm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

func TestUpstreamExamplesValidate(t *testing.T) {
	t.Parallel()
	for _, ex := range upstreamExamples(t) {
		m, err := wadm.ParseManifest(ex.data)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", ex.name, err)
		}
	}
}

func TestValidateRefusesWhatWadmRefuses(t *testing.T) {
	t.Parallel()
	base := func() *wadm.Manifest {
		return &wadm.Manifest{
			APIVersion: wadm.APIVersion, Kind: wadm.Kind,
			Metadata: wadm.Metadata{Name: "app", Annotations: map[string]string{"version": "v1"}},
			Spec: wadm.Spec{Components: []wadm.Component{
				{Name: "a", Type: wadm.ComponentTypeComponent, Properties: wadm.Properties{Image: "i", ID: "x"}, Traits: []wadm.Trait{
					{Type: wadm.TraitLink, Link: &wadm.LinkProperties{Namespace: "wasi", Package: "keyvalue", Interfaces: []string{"store"}, Target: wadm.LinkTarget{Name: "b"}}},
				}},
				{Name: "b", Type: wadm.ComponentTypeCapability, Properties: wadm.Properties{Image: "j"}},
			}},
		}
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("base manifest: %v", err)
	}
	cases := []struct {
		name   string
		change func(*wadm.Manifest)
		path   string
		msg    string
	}{
		{"bad name", func(m *wadm.Manifest) { m.Metadata.Name = "a.b" }, "metadata.name", "manifest name [a.b] is not allowed"},
		{"latest", func(m *wadm.Manifest) { m.SetVersion("latest") }, "metadata.annotations.version", "latest is not allowed in wadm"},
		{"duplicate name", func(m *wadm.Manifest) { m.Spec.Components[1].Name = "a" }, "spec.components[1].name", "Duplicate component name in manifest: a"},
		{"duplicate id", func(m *wadm.Manifest) { m.Spec.Components[1].Properties.ID = "x" }, "spec.components[1].properties.id", "Duplicate component identifier in manifest: x"},
		{"missing target", func(m *wadm.Manifest) { m.Spec.Components[0].Traits[0].Link.Target.Name = "zz" }, "spec.components",
			`The following capability component(s) are missing from the manifest: ["zz"]`},
		{"no image", func(m *wadm.Manifest) { m.Spec.Components[1].Properties.Image = "" }, "spec.components[1].properties", "Component must have either 'image' or 'application' property"},
		{"image and application", func(m *wadm.Manifest) {
			m.Spec.Components[1].Properties.Application = &wadm.SharedApplication{Name: "s", Component: "c"}
		}, "spec.components[1].properties", "Component cannot have both 'image' and 'application' properties"},
		{"shared with scaler", func(m *wadm.Manifest) {
			c := &m.Spec.Components[1]
			c.Properties = wadm.Properties{Application: &wadm.SharedApplication{Name: "s", Component: "c"}}
			c.Traits = []wadm.Trait{{Type: wadm.TraitSpreadScaler, Scaler: &wadm.ScalerProperties{Instances: 1}}}
		}, "spec.components[1].traits", "Shared component 's' cannot include a scaler trait"},
		{"duplicate link", func(m *wadm.Manifest) {
			m.Spec.Components[0].Traits = append(m.Spec.Components[0].Traits, m.Spec.Components[0].Traits[0])
		}, "spec.components[0].traits[1].properties", "Duplicate link found inside component 'a': default (wasi:keyvalue/store)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := base()
			tc.change(m)
			var me *wadm.ManifestError
			if err := m.Validate(); !errors.As(err, &me) {
				t.Fatalf("Validate = %v", err)
			}
			for _, fe := range me.Errors {
				if fe.Path == tc.path && strings.HasPrefix(fe.Msg, tc.msg) {
					return
				}
			}
			t.Fatalf("no %q at %s in %v", tc.msg, tc.path, me)
		})
	}
}
