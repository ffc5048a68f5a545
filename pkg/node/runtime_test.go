package node

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime"
)

// servingNode is a node whose workload is the real runtime and gateway.
type servingNode struct {
	*harness
	base string // the gateway's URL
	rt   *Runtime
	rec  *recordingLoader
}

// recordingLoader is the real runtime, noting the config each component
// was last loaded with.
type recordingLoader struct {
	*runtime.Host
	mu    sync.Mutex
	last  map[string]runtime.ComponentConfig
	comps map[string]*runtime.Component
}

func (r *recordingLoader) Load(ctx context.Context, name string, wasm []byte, cc runtime.ComponentConfig) (*runtime.Component, error) {
	c, err := r.Host.Load(ctx, name, wasm, cc)
	if err == nil {
		r.mu.Lock()
		r.last[name] = cc
		r.comps[name] = c
		r.mu.Unlock()
	}
	return c, err
}

// component is what component id was last loaded as, nil if never.
func (s *servingNode) component(id string) *runtime.Component {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return s.rec.comps[id]
}

// loaded is the config component id was last loaded with, nil if never.
func (s *servingNode) loaded(id string) map[string]string {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	cc, ok := s.rec.last[id]
	if !ok {
		return nil
	}
	return cc.Config
}

func startServing(t testing.TB, artefactRoots []string, oci *OCI) *servingNode {
	t.Helper()
	return startServingWith(t, artefactRoots, oci, nil)
}

// startServingWith is startServing with the node's and runtime's logger
// (nil: the test's).
func startServingWith(t testing.TB, artefactRoots []string, oci *OCI, logger *zap.Logger) *servingNode {
	t.Helper()
	if logger == nil {
		logger = testkit.Logger(t, 0)
	}
	host, err := runtime.NewHost(runtime.Config{CacheDir: filepath.Join(t.TempDir(), "cache"), Log: testkit.Logger(t, 0), OnDemand: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Close() })
	gw := gateway.New(gateway.Options{Logger: testkit.Logger(t, 0)})
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := gw.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = gw.Wait(context.Background()) })
	arts, err := NewArtefacts(artefactRoots, oci)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingLoader{Host: host, last: map[string]runtime.ComponentConfig{}, comps: map[string]*runtime.Component{}}
	rt, err := NewRuntime(RuntimeOptions{Runtime: rec, Gateway: gw, Fetcher: arts, IngressAuthority: addr, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	h := start(t, Options{Version: "test", Workload: rt, Logger: logger}, nil)
	return &servingNode{harness: h, base: "http://" + addr, rt: rt, rec: rec}
}

func (s *servingNode) status(path string) int {
	resp, err := http.Get(s.base + path)
	if err != nil {
		s.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// route links the ingress to component id at path, as wadm puts
// translate's http-server link (config route-{api} holding the path).
func (s *servingNode) route(id, path string) {
	s.t.Helper()
	ctx := context.Background()
	if _, err := s.client.ConfigPut(ctx, id+"-route-api", map[string]string{"path": path}); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.client.LinkPut(ctx, latticeadmin.Link{SourceID: "app-http_ingress", Target: id, Name: id + "-api", WitNamespace: "wasi", WitPackage: "http",
		Interfaces: []string{"incoming-handler"}, SourceConfig: []string{id + "-route-api"}}); err != nil {
		s.t.Fatal(err)
	}
}

func (s *servingNode) scale(ref, id string, count uint32) {
	s.t.Helper()
	if _, err := s.client.ScaleComponent(context.Background(), latticeadmin.ScaleComponentCommand{ComponentRef: ref, ComponentID: id, Count: count, HostID: s.node.ID()}); err != nil {
		s.t.Fatal(err)
	}
}

// TestScaleServesAtTheLinkedPath: a component started by component.scale
// answers on the node's ingress at the path its link's config names; a
// moved path moves the route; scaling to 0 stops it.
func TestScaleServesAtTheLinkedPath(t *testing.T) {
	echo := echoWasm(t)
	s := startServing(t, []string{filepath.Dir(echo)}, nil)
	s.route("app-echo", "/echo")
	s.scale("file://"+echo, "app-echo", 1)
	testkit.WaitFor(t, 30*time.Second, "the component serves /echo", func() bool { return s.status("/echo/x") == http.StatusOK })

	s.route("app-echo", "/moved")
	testkit.WaitFor(t, 10*time.Second, "the route moves", func() bool { return s.status("/moved") == http.StatusOK && s.status("/echo") == http.StatusNotFound })

	s.scale("file://"+echo, "app-echo", 0)
	testkit.WaitFor(t, 10*time.Second, "the route goes", func() bool { return s.status("/moved") == http.StatusNotFound })

	// A file outside the artefact roots fails the scale with a clear event.
	s.scale("file:///etc/hostname", "app-other", 1)
	if d := string(s.event(EventComponentScaleFailed, 0)); !strings.Contains(d, "app-other") || !strings.Contains(d, "error") {
		t.Errorf("component_scale_failed %s", d)
	}
}

// TestOCIPullFromLocalRegistry pushes a component to a registry on
// 127.0.0.1 (go-containerregistry's in-process one) and scales it by tag:
// the node pulls it, checks the digest, caches it, and serves it again from
// the cache by digest with the registry gone.
func TestOCIPullFromLocalRegistry(t *testing.T) {
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	wasm, err := os.ReadFile(echoWasm(t))
	if err != nil {
		t.Fatal(err)
	}
	layer := static.NewLayer(wasm, MediaTypeWasm)
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), MediaTypeWasmConfig)
	ref := reg.Listener.Addr().String() + "/components/echo:0.1.0"
	tag, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	cache := t.TempDir()
	oci, err := NewOCI(cache, testkit.Logger(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	s := startServing(t, nil, oci)
	s.route("app-echo", "/echo")
	s.scale(ref, "app-echo", 1)
	testkit.WaitFor(t, 30*time.Second, "the pulled component serves", func() bool { return s.status("/echo") == http.StatusOK })
	ld, _ := layer.Digest()
	if _, err := os.Stat(filepath.Join(cache, "blobs", "sha256", ld.Hex)); err != nil {
		t.Errorf("the layer is not cached by digest: %v", err)
	}

	// By digest, while the registry is there.
	pinned := reg.Listener.Addr().String() + "/components/echo@" + digest.String()
	s.scale(pinned, "app-echo-2", 1)
	if ev := string(s.event(EventComponentScaled, 1)); !strings.Contains(ev, "app-echo-2") {
		t.Errorf("component_scaled %s", ev)
	}

	// The registry goes: the digest is served from the cache, the tag from
	// the digest it last resolved to; an unknown tag fails.
	reg.Close()
	s.scale(pinned, "app-echo-3", 1)
	s.scale(ref, "app-echo-4", 1)
	s.scale(reg.Listener.Addr().String()+"/components/echo:9.9.9", "app-echo-5", 1)
	for i, id := range []string{"app-echo-3", "app-echo-4"} {
		if ev := string(s.event(EventComponentScaled, 2+i)); !strings.Contains(ev, id) {
			t.Errorf("with the registry gone, %s did not start from the cache: %s", id, ev)
		}
	}
	if ev := string(s.event(EventComponentScaleFailed, 0)); !strings.Contains(ev, "app-echo-5") {
		t.Errorf("component_scale_failed %s", ev)
	}
}

func echoWasm(t *testing.T) string {
	t.Helper()
	root, err := testref.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "pkg", "runtime", "testdata", "echo-http.wasm")
}

// TestSecretReferencesAreNotConfig: a SECRET_ config holds a reference a
// host resolves through its secrets backend (TestSecretsResolvedThroughTheBackend);
// the reference itself is never config, of a component or a provider's link.
func TestSecretReferencesAreNotConfig(t *testing.T) {
	r := &Runtime{}
	data := LatticeData{Config: map[string]map[string]string{
		"app-oda":          {"oda.component": "c"},
		"SECRET_app-token": {"backend": "nats-kv", "key": "token"},
	}}
	cc, _ := r.componentConfig(Component{ID: "app-c", Config: []string{"app-oda", "SECRET_app-token"}}, data)
	if cc.Config["oda.component"] != "c" || cc.Config["backend"] != "" || cc.Config["key"] != "" {
		t.Errorf("config %v", cc.Config)
	}
	def := linkDefinition(latticeadmin.Link{SourceID: "app-c", Target: "p", TargetConfig: []string{"SECRET_app-token", "app-oda"}}, data)
	if def.TargetConfig["key"] != "" || def.TargetConfig["oda.component"] != "c" {
		t.Errorf("link target config %v", def.TargetConfig)
	}
}

// TestKeyValueLinkReachesTheComponent: a component linked to a keyvalue
// bucket (translate's link, its target config naming the bucket) is loaded
// with that bucket as its wasi:keyvalue, with or without secret
// references; without it every open answers no-such-store, as it did when
// the secrets were resolved into a copy of the config made before the
// bucket was set.
func TestKeyValueLinkReachesTheComponent(t *testing.T) {
	srv := testkit.NATS(t, embedded.Config{})
	js, err := jetstream.New(testkit.Connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	host, err := runtime.NewHost(runtime.Config{CacheDir: filepath.Join(t.TempDir(), "cache"), Log: testkit.Logger(t, 0), OnDemand: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Close() })
	echo := echoWasm(t)
	arts, err := NewArtefacts([]string{filepath.Dir(echo)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingLoader{Host: host, last: map[string]runtime.ComponentConfig{}, comps: map[string]*runtime.Component{}}
	rt, err := NewRuntime(RuntimeOptions{Runtime: rec, Gateway: gateway.New(gateway.Options{Logger: testkit.Logger(t, 0)}), Fetcher: arts, Logger: testkit.Logger(t, 0),
		KeyValue: func(bucket string) runtime.KeyValue { return runtime.NewJetStreamKV(js, bucket) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	data := LatticeData{
		Links: []latticeadmin.Link{{SourceID: "app-c", Target: "sys-keyvalue", Name: "default", WitNamespace: "wasi", WitPackage: "keyvalue",
			Interfaces: []string{"store", "atomics"}, TargetConfig: []string{"app-bucket-c"}}},
		Config: map[string]map[string]string{"app-oda": {"oda.component": "c"}, "app-bucket-c": {"bucket": "kv_app_c"}},
	}
	ctx := context.Background()
	if err := rt.Start(ctx, Component{ID: "app-c", ImageRef: "file://" + echo, Config: []string{"app-oda"}}, data); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	kv := rec.last["app-c"].KeyValue
	rec.mu.Unlock()
	if kv == nil {
		t.Fatal("the component was loaded without its keyvalue bucket: its opens answer no-such-store")
	}
	b, err := kv.Open(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := js.KeyValue(ctx, "kv_app_c"); err != nil {
		t.Errorf("the link's bucket kv_app_c: %v", err)
	}
}

// TestGuardedRouteOnANodeWithoutIssuer: a route whose config carries a
// guard (translate's policy for a Component with a securityFunction) is
// never served open by a node that checks no tokens: 503 "no identity
// provider configured"; its open sibling answers; a policy that does not
// decode fails the start instead of serving the API unguarded.
func TestGuardedRouteOnANodeWithoutIssuer(t *testing.T) {
	echo := echoWasm(t)
	s := startServing(t, []string{filepath.Dir(echo)}, nil)
	ctx := context.Background()
	put := func(id, api string, props map[string]string) {
		t.Helper()
		if _, err := s.client.ConfigPut(ctx, id+"-route-"+api, props); err != nil {
			t.Fatal(err)
		}
		if _, err := s.client.LinkPut(ctx, latticeadmin.Link{SourceID: "app-http_ingress", Target: id, Name: id + "-" + api, WitNamespace: "wasi", WitPackage: "http",
			Interfaces: []string{"incoming-handler"}, SourceConfig: []string{id + "-route-" + api}}); err != nil {
			t.Fatal(err)
		}
	}
	put("app-echo", "guarded", map[string]string{"path": "/guarded", "policy": `{"guard":{"roles":["admin"]}}`})
	put("app-echo", "open", map[string]string{"path": "/open"})
	s.scale("file://"+echo, "app-echo", 1)
	testkit.WaitFor(t, 30*time.Second, "the component serves /open", func() bool { return s.status("/open/x") == http.StatusOK })
	resp, err := http.Get(s.base + "/guarded/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "no identity provider configured") {
		t.Errorf("guarded route: %d %s", resp.StatusCode, body)
	}

	put("app-bad", "api", map[string]string{"path": "/bad", "policy": `{"guard":{"roles":"admin"}}`})
	s.scale("file://"+echo, "app-bad", 1)
	if d := string(s.event(EventComponentScaleFailed, 0)); !strings.Contains(d, "app-bad") || !strings.Contains(d, "policy") {
		t.Errorf("component_scale_failed %s", d)
	}
	if c := s.status("/bad"); c != http.StatusNotFound {
		t.Errorf("a route whose policy does not decode answers %d", c)
	}
}

// TestObserveLinkToTheSharedBridge: a component linked to the shared
// canvas-bridge's wasmcanvas:observe (canvasd's wasmcanvas-system one,
// which does not run on this node) records into the node's Observer as
// its ODA Component, as under `canvas up`; without the link it does not.
func TestObserveLinkToTheSharedBridge(t *testing.T) {
	r := &Runtime{opts: RuntimeOptions{Observer: observe.New(observe.Options{})}}
	data := LatticeData{
		Links: []latticeadmin.Link{{SourceID: "app-c", Target: "wasmcanvas_system-canvas_bridge", Name: "default", WitNamespace: "wasmcanvas", WitPackage: "observe",
			Interfaces: []string{"metrics", "tracing", "logging"}}},
		Config: map[string]map[string]string{"app-oda": {"oda.component": "c", "oda.namespace": "ns"}},
	}
	cc, _ := r.componentConfig(Component{ID: "app-c", Config: []string{"app-oda"}}, data)
	if cc.Observe == nil || cc.Source != (observe.Source{Namespace: "ns", Component: "c"}) {
		t.Errorf("linked: observe %v as %+v", cc.Observe != nil, cc.Source)
	}
	cc, _ = r.componentConfig(Component{ID: "app-other", Config: []string{"app-oda"}}, data)
	if cc.Observe != nil {
		t.Error("a component without the link records into the node's Observer")
	}
}
