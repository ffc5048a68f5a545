package wadm_test

import (
	"bytes"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// FuzzParseManifest checks that ParseManifest never panics and that whatever
// it accepts marshals to JSON and YAML that parse back to the same manifest.
func FuzzParseManifest(f *testing.F) {
	for _, ex := range upstreamExamples(f) {
		f.Add(ex.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := wadm.ParseManifest(data)
		if err != nil {
			return
		}
		j, err := wadm.MarshalJSON(m)
		if err != nil {
			// Custom trait values such as YAML's .inf have no JSON form.
			return
		}
		m2, err := wadm.ParseManifest(j)
		if err != nil {
			t.Fatalf("own JSON output does not parse: %v\n%s", err, j)
		}
		j2, err := wadm.MarshalJSON(m2)
		if err != nil || !bytes.Equal(j, j2) {
			t.Fatalf("JSON round trip unstable (%v):\n%s\n%s", err, j, j2)
		}
		y, err := wadm.MarshalYAML(m2)
		if err != nil {
			t.Fatalf("MarshalYAML: %v", err)
		}
		m3, err := wadm.ParseManifest(y)
		if err != nil {
			t.Fatalf("own YAML output does not parse: %v\n%s", err, y)
		}
		j3, err := wadm.MarshalJSON(m3)
		if err != nil || !bytes.Equal(j, j3) {
			t.Fatalf("YAML round trip changed the manifest (%v):\n%s\n%s\n%s", err, j, y, j3)
		}
	})
}
