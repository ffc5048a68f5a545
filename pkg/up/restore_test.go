package up

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/store"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

func storeComponent(t *testing.T, js jetstream.JetStream, name, path string) {
	t.Helper()
	c := oda.Component{
		APIVersion: "oda.tmforum.org/v1", Kind: "Component",
		Metadata: oda.ObjectMeta{Name: name, Namespace: oda.DefaultNamespace,
			Annotations: map[string]string{oda.AnnotationImplementations: `{"impl": "file:///nowhere/impl.wasm"}`}},
		Spec: oda.ComponentSpec{CoreFunction: &oda.CoreFunction{ExposedAPIs: []oda.ExposedAPI{{
			Name: "api", APIType: "openapi", Implementation: "impl", Path: path,
			Specification: []oda.APISpecification{{URL: "https://example.org/api.json"}},
		}}}},
	}
	st, err := store.New[oda.Component](context.Background(), js, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(context.Background(), c.Metadata.Namespace, name, c); err != nil {
		t.Fatal(err)
	}
}

// TestStoredRoutesAnswer503UntilRestored: after a restart, a path a stored
// Component claims answers 503 with Retry-After and problem JSON (never
// 404) until the deployer serves it; the readiness check holds until then.
func TestStoredRoutesAnswer503UntilRestored(t *testing.T) {
	t.Parallel()
	js := daemontest.StartNATS(t).JetStream(t)
	storeComponent(t, js, "shop", "/shop/api")
	storeComponent(t, js, "thief", "/shop/api") // conflicts: Failed before, not restored
	gw := gateway.New(gateway.Options{})
	apps, err := claimStoredRoutes(context.Background(), js, gw, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || apps[0] != "components-shop" {
		t.Fatalf("restored apps %v, want [components-shop]", apps)
	}
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, httptest.NewRequest("GET", "/shop/api/x", nil))
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != http.StatusServiceUnavailable || p.Status != 503 ||
		rec.Header().Get("Retry-After") == "" || rec.Header().Get("Content-Type") != "application/problem+json" || !strings.Contains(p.Detail, restoreReason) {
		t.Fatalf("claimed path before the restore: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}

	fake := &fakeStatus{types: map[string]wadm.StatusType{}}
	r := newRestore(apps, fake, zap.NewNop())
	if err := r.check(context.Background()); err == nil || !strings.Contains(err.Error(), "components-shop") {
		t.Fatalf("check before the restore = %v, want it to name components-shop", err)
	}
	fake.types["components-shop"] = wadm.StatusFailed
	if err := r.check(context.Background()); err != nil {
		t.Fatalf("check once the app failed = %v, want ready", err)
	}

	r = newRestore(apps, &fakeStatus{types: map[string]wadm.StatusType{}}, zap.NewNop())
	r.deadline = time.Now().Add(-time.Second)
	if err := r.check(context.Background()); err != nil {
		t.Fatalf("check past the deadline = %v, want ready (the app keeps loading)", err)
	}
}

// fakeStatus reports fixed application status types. The readiness check
// only reads Status, so this stands in for the deployer rather than a
// lattice service.
type fakeStatus struct {
	deploy.Deployer
	types map[string]wadm.StatusType
}

func (f *fakeStatus) Status(_ context.Context, name string) (deploy.AppStatus, error) {
	st, ok := f.types[name]
	if !ok {
		st = wadm.StatusReconciling
	}
	return deploy.AppStatus{Type: st, Exists: true}, nil
}
