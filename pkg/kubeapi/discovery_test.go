package kubeapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
)

// TestChildCRDsAreUpstreams: the embedded ExposedAPI and DependentAPI
// CRDs are the reference canvas's, byte for byte.
func TestChildCRDsAreUpstreams(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"oda-exposedapi-crd.yaml", "oda-dependentapi-crd.yaml"} {
		ours, err := os.ReadFile(filepath.Join("crds", f))
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := os.ReadFile(testref.Path(t, "oda", "crds", f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, theirs) {
			t.Errorf("crds/%s differs from the reference data: copy it again", f)
		}
	}
}

// TestChildSchemasAndItemPost: the OpenAPI schemas of ExposedAPI and
// DependentAPI are their upstream CRDs' (what kubectl explain shows);
// POST to an object's URL is 405, as in Kubernetes.
func TestChildSchemasAndItemPost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	code, _, body := e.do(http.MethodGet, "/openapi/v3/apis/oda.tmforum.org/v1", "application/json", nil)
	if code != http.StatusOK {
		t.Fatalf("openapi: %d %s", code, body)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Properties map[string]json.RawMessage `json:"properties"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	for kind, fields := range map[string][]string{"ExposedAPI": {"name", "specification", "apiType", "rateLimit"}, "DependentAPI": {"name", "specification"}} {
		spec := doc.Components.Schemas["org.tmforum.oda.v1."+kind].Properties["spec"].Properties
		for _, f := range fields {
			if _, ok := spec[f]; !ok {
				t.Errorf("%s schema: spec.%s missing (have %d fields)", kind, f, len(spec))
			}
		}
	}

	obj := example(t, "productcatalog-v1.component.yaml", renamed("posted"))
	raw, _ := json.Marshal(obj.Object)
	code, _, body = e.do(http.MethodPost, "/apis/oda.tmforum.org/v1/namespaces/components/components/posted", "application/json", raw)
	if code != http.StatusMethodNotAllowed || !bytes.Contains(body, []byte(`"reason":"MethodNotAllowed"`)) {
		t.Errorf("POST to an item URL: %d %s, want 405 MethodNotAllowed", code, body)
	}
	if _, err := e.components("v1", "components").Get(e.ctx, "posted", metav1.GetOptions{}); err == nil {
		t.Error("the POST to an item URL stored the object")
	}
}
