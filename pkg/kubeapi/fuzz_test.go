package kubeapi

import (
	"encoding/json"
	"os"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
)

// FuzzApplyPatchBody: a patch of any content type and body, applied to
// any object, answers an error or a JSON document whose size its inputs
// bound (no copy bomb, whatever the body), and never panics.
func FuzzApplyPatchBody(f *testing.F) {
	data, err := os.ReadFile(testref.Path(f, "oda", "examples", "productcatalog-v1.component.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	component, err := yaml.YAMLToJSON(data)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct {
		ct   uint8
		body string
	}{
		{0, `{"metadata":{"labels":{"tier":"gold"}}}`},
		{0, `{"spec":null}`},
		{1, `[{"op":"replace","path":"/spec/coreFunction/exposedAPIs/0/port","value":8081}]`},
		{1, `[{"op":"copy","from":"/spec","path":"/spec/a"},{"op":"copy","from":"/spec","path":"/spec/b"},{"op":"copy","from":"/spec","path":"/spec/c"}]`},
		{1, `[{"op":"move","from":"/spec","path":"/metadata/spec"},{"op":"remove","path":"/kind"}]`},
		{1, `[{"op":"add","path":"/spec/coreFunction/exposedAPIs/-1","value":{}}]`},
		{2, `{"metadata":{"labels":{"tier":null,"$patch":"merge"}},"$setElementOrder/x":[1]}`},
		{1, `not json`},
	} {
		f.Add(seed.ct, component, []byte(seed.body))
	}
	types := []string{mergePatch, jsonPatch, strategicPatch}
	f.Fuzz(func(t *testing.T, ct uint8, cur, body []byte) {
		if len(cur) > 1<<20 || len(body) > 1<<20 {
			return
		}
		out, e := applyPatchBody(types[int(ct)%len(types)], cur, body, request{res: components, name: "a"})
		if e != nil {
			if e.st.Code < 400 || e.st.Message == "" {
				t.Fatalf("an error without a 4xx/5xx code and a message: %+v", e.st)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("patched document is not JSON: %q", out)
		}
		// HTML escaping may write a byte as six; copies add at most
		// maxJSONPatchCopyBytes, themselves escaped.
		if limit := 6 * (len(cur) + len(body) + maxJSONPatchCopyBytes); len(out) > limit {
			t.Fatalf("patched document of %d bytes from %d + %d", len(out), len(cur), len(body))
		}
	})
}
