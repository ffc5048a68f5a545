package kubeapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"

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

// TestNamespacesAndAggregatedDiscovery: core v1 serves the namespaces in
// use (and the default one) read-only; client-go's discovery, which asks
// for aggregated discovery first, finds them and the ODA resources.
func TestNamespacesAndAggregatedDiscovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := example(t, "productcatalog-v1.component.yaml", renamed("elsewhere"))
	other.SetNamespace("odacompns-1")
	if _, err := e.components("v1", "odacompns-1").Create(e.ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(e.config)
	if err != nil {
		t.Fatal(err)
	}
	l, err := cs.CoreV1().Namespaces().List(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range l.Items {
		names = append(names, n.Name+"/"+string(n.Status.Phase))
	}
	if strings.Join(names, ",") != "components/Active,odacompns-1/Active" {
		t.Errorf("namespaces %v, want components and odacompns-1, Active", names)
	}
	if n, err := cs.CoreV1().Namespaces().Get(e.ctx, "odacompns-1", metav1.GetOptions{}); err != nil || n.CreationTimestamp.IsZero() {
		t.Errorf("get namespace: %v %+v", err, n)
	}
	if _, err := cs.CoreV1().Namespaces().Get(e.ctx, "nope", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get an unused namespace: %v, want NotFound", err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(e.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "new"}}, metav1.CreateOptions{}); !apierrors.IsMethodNotSupported(err) {
		t.Errorf("create a namespace: %v, want 405", err)
	}
	if got := e.table("/api/v1/namespaces"); len(got.Rows) != 2 || got.ColumnDefinitions[1].Name != "Status" {
		t.Errorf("namespace table %+v", got)
	}

	code, hdr, body := e.do(http.MethodGet, "/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json", nil)
	if code != http.StatusOK || !strings.Contains(hdr.Get("Content-Type"), "as=APIGroupDiscoveryList") || !bytes.Contains(body, []byte(`"resource":"components"`)) {
		t.Errorf("aggregated discovery: %d %s %s", code, hdr.Get("Content-Type"), body)
	}
	groups, resources, err := discovery.NewDiscoveryClient(cs.RESTClient()).ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, rl := range resources {
		for _, r := range rl.APIResources {
			found[rl.GroupVersion+" "+r.Name] = true
		}
	}
	for _, want := range []string{"v1 namespaces", "oda.tmforum.org/v1 components", "oda.tmforum.org/v1 components/status", "oda.tmforum.org/v1 exposedapis", "oda.tmforum.org/v1beta3 components"} {
		if !found[want] {
			t.Errorf("discovery lacks %s (groups %d, found %v)", want, len(groups), found)
		}
	}
}
