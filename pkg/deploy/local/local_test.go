package local_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy/local"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/enforce"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// echoWasm is the runtime's hand-written wasi:http echo component, as the
// binary a file:// artefact must be.
var echoWasm, _ = filepath.Abs("../../runtime/testdata/echo-http.wasm")

type env struct {
	d    *local.Deployer
	base string
	// dir is an artefact root of the test's own, beside the echo
	// component's directory.
	dir string
}

func newEnv(t *testing.T) *env { return newEnvWith(t, nil) }

// newEnvWith is newEnv with extra authorities AllowOutbound and artefact
// roots.
func newEnvWith(t *testing.T, allow []string, roots ...string) *env {
	t.Helper()
	return newEnvOpts(t, func(o *local.Options) {
		o.AllowOutbound = allow
		o.ArtefactRoots = append(o.ArtefactRoots, roots...)
	})
}

// anyBearer lets every bearer token past the gateway's guard of a
// Component with a securityFunction, holding its role, so what these
// tests see is the component's own check through wasmcanvas:identity.
var anyBearer = auth.AuthenticatorFunc(func(r *http.Request) (auth.Principal, error) {
	if _, err := auth.BearerToken(r); err != nil {
		return auth.Principal{}, err
	}
	return auth.Principal{Subject: "gateway-test", Roles: []string{"pcadmin"}}, nil
})

// newEnvOpts is newEnv with its Options changed by set.
func newEnvOpts(t *testing.T, set func(*local.Options)) *env {
	t.Helper()
	dir := t.TempDir()
	host, err := runtime.NewHost(runtime.Config{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(gateway.Options{Policy: enforce.Options{Authenticator: anyBearer}})
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := gw.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := local.Options{Runtime: host, Gateway: gw, IngressAuthority: addr,
		InfoURL: "http://" + addr + "/canvas-info", ArtefactRoots: []string{filepath.Dir(echoWasm), dir}}
	set(&opts)
	d, err := local.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Close()
		cancel()
		host.Close()
	})
	return &env{d: d, base: "http://" + addr, dir: dir}
}

// manifest translates a one-API Component served by image at path.
func manifest(t *testing.T, name, path, image string) *wadm.Manifest {
	return manifestWith(t, name, path, image, nil)
}

// manifestWith is manifest for a Component with dependent APIs.
func manifestWith(t *testing.T, name, path, image string, deps []oda.DependentAPI) *wadm.Manifest {
	t.Helper()
	port := 8080
	c := &oda.Component{
		APIVersion: oda.APIVersionV1, Kind: oda.Kind,
		Metadata: oda.ObjectMeta{Name: name, Namespace: "test"},
		Spec: oda.ComponentSpec{CoreFunction: &oda.CoreFunction{ExposedAPIs: []oda.ExposedAPI{{
			Name: "echo", APIType: "openapi", Implementation: "echo-impl", Path: path, Port: &port,
			Specification: []oda.APISpecification{{URL: "https://example.org/echo.json"}},
		}}, DependentAPIs: deps}},
	}
	m, err := translate.Component(c, translate.Options{Implementations: map[string]string{"echo-impl": image}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) apply(t *testing.T, m *wadm.Manifest) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.d.Put(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Deploy(ctx, m.Metadata.Name, m.Version()); err != nil {
		t.Fatal(err)
	}
}

// waitStatus polls until the app's status type is want (bounded).
func (e *env) waitStatus(t *testing.T, app string, want wadm.StatusType) deploy.AppStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := e.d.Status(context.Background(), app)
		if err != nil {
			t.Fatal(err)
		}
		if st.Type == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %s (%s), want %s", app, st.Type, st.Message, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) get(t *testing.T, path string) (int, http.Header) {
	t.Helper()
	resp, err := http.Get(e.base + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

func TestDeployServesUpdatesAndUndeploys(t *testing.T) {
	e := newEnv(t)
	events, err := e.d.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m1 := manifest(t, "shop", "/shop/v1", "file://"+echoWasm)
	e.apply(t, m1)
	st := e.waitStatus(t, m1.Metadata.Name, wadm.StatusDeployed)
	if st.DeployedVersion != m1.Version() || len(st.Hosts) != 1 || len(st.Scalers) != 1 || !st.IgnoresPlacement {
		t.Errorf("status %+v", st)
	}
	seen := map[wadm.StatusType]bool{}
	for len(events) > 0 {
		ev := <-events
		seen[ev.Status.Type] = true
	}
	if !seen[wadm.StatusReconciling] || !seen[wadm.StatusDeployed] {
		t.Errorf("watch saw %v, want reconciling then deployed", seen)
	}
	code, h := e.get(t, "/shop/v1/items?x=1")
	if code != 200 || h.Get("x-path") != "/shop/v1/items?x=1" {
		t.Fatalf("GET through gateway: %d %v", code, h)
	}

	m2 := manifest(t, "shop", "/shop/v2", "file://"+echoWasm)
	e.apply(t, m2)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, _ := e.get(t, "/shop/v2"); c == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("new version never served")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := e.get(t, "/shop/v1"); code != 404 {
		t.Errorf("old route answers %d after update, want 404", code)
	}

	if err := e.d.Undeploy(context.Background(), m2.Metadata.Name); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, m2.Metadata.Name, wadm.StatusUndeployed)
	if code, _ := e.get(t, "/shop/v2"); code != 404 {
		t.Errorf("after undeploy: %d, want 404", code)
	}
	if err := e.d.Delete(context.Background(), m2.Metadata.Name); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.d.Status(context.Background(), m2.Metadata.Name); st.Exists {
		t.Errorf("deleted app still exists: %+v", st)
	}
}

func TestFailuresExplainAndKeepServing(t *testing.T) {
	e := newEnv(t)
	good := manifest(t, "keep", "/keep", "file://"+echoWasm)
	e.apply(t, good)
	e.waitStatus(t, good.Metadata.Name, wadm.StatusDeployed)

	garbage := filepath.Join(e.dir, "garbage.wasm")
	if err := os.WriteFile(garbage, []byte("\x00asm\x0d\x00\x01\x00 not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, image, want string
	}{
		{"missing file", "file://" + e.dir + "/no/such/component.wasm", e.dir + "/no/such/component.wasm does not exist"},
		{"oci image", "ghcr.io/acme/echo:1.0", "does not fetch OCI images"},
		{"not a component", "file://" + garbage, "is not a valid Wasm component (19 bytes, sha256:"},
	}
	for _, tc := range tests {
		bad := manifest(t, "keep", "/keep", tc.image)
		e.apply(t, bad)
		st := e.waitStatus(t, bad.Metadata.Name, wadm.StatusFailed)
		if !strings.Contains(st.Message, tc.want) || !strings.Contains(st.Message, "echo-impl") {
			t.Errorf("%s: message %q lacks %q and the component name", tc.name, st.Message, tc.want)
		}
		if code, _ := e.get(t, "/keep"); code != 200 {
			t.Errorf("%s: the previous version stopped serving (%d)", tc.name, code)
		}
	}
}

func TestRouteConflictBetweenApps(t *testing.T) {
	e := newEnv(t)
	a := manifest(t, "first", "/same", "file://"+echoWasm)
	e.apply(t, a)
	e.waitStatus(t, a.Metadata.Name, wadm.StatusDeployed)
	b := manifest(t, "second", "/same", "file://"+echoWasm)
	e.apply(t, b)
	st := e.waitStatus(t, b.Metadata.Name, wadm.StatusFailed)
	if want := fmt.Sprintf("already served by app %q", a.Metadata.Name); !strings.Contains(st.Message, want) {
		t.Errorf("message %q lacks %q", st.Message, want)
	}
}

func TestDeployUnknown(t *testing.T) {
	e := newEnv(t)
	if err := e.d.Deploy(context.Background(), "nope", "v1"); err == nil || !strings.Contains(err.Error(), "put it first") {
		t.Errorf("deploy of unknown app: %v", err)
	}
	m := manifest(t, "x", "/x", "file://"+echoWasm)
	if _, err := e.d.Put(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Deploy(context.Background(), m.Metadata.Name, "v-nope"); err == nil || !strings.Contains(err.Error(), m.Version()) {
		t.Errorf("deploy of unknown version: %v", err)
	}
	if r, err := e.d.Put(context.Background(), m); err != nil || r.Created {
		t.Errorf("second put of the same version: %+v %v", r, err)
	}
}

// fetch asks the echo component at /fetch to GET http://{authority}/upstream
// through wasi:http/outgoing-handler and returns its status (502 when the
// call is refused).
func (e *env) fetch(t *testing.T, authority string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", e.base+"/fetch", nil)
	req.Header.Set("X-Upstream", authority)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A component with dependent APIs may call the canvas's ingress (where
// its dependencies are served) and the authorities AllowOutbound adds;
// one without may call nothing.
func TestOutboundAllowListFromDependentAPIs(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(upstream.Close)
	external := strings.TrimPrefix(upstream.URL, "http://")
	deps := []oda.DependentAPI{{Name: "upstream", Specification: []oda.DependentAPISpecification{{URL: "https://example.org/upstream.json"}}}}

	for _, tc := range []struct {
		name          string
		deps          []oda.DependentAPI
		allow         []string
		canvas, other int
	}{
		{"dependent APIs", deps, nil, 200, 502},
		{"dependent APIs and AllowOutbound", deps, []string{external}, 200, 200},
		{"no dependent APIs", nil, []string{external}, 502, 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, tc.allow)
			provider := manifest(t, "provider", "/upstream", "file://"+echoWasm)
			caller := manifestWith(t, "caller", "/fetch", "file://"+echoWasm, tc.deps)
			for _, m := range []*wadm.Manifest{provider, caller} {
				e.apply(t, m)
				e.waitStatus(t, m.Metadata.Name, wadm.StatusDeployed)
			}
			if got := e.fetch(t, strings.TrimPrefix(e.base, "http://")); got != tc.canvas {
				t.Errorf("call to the canvas ingress: %d, want %d", got, tc.canvas)
			}
			if got := e.fetch(t, external); got != tc.other {
				t.Errorf("call to %s: %d, want %d", external, got, tc.other)
			}
		})
	}
}

// The properties of a component config named "env" are its wasi:cli
// environment, not wasi:config entries; they join (and may override) the
// COMPONENT_NAME and COMPONENT_NAMESPACE every component gets. One that
// may not call out gets no CANVAS_INFO_URL.
func TestEnvConfigBecomesEnvironment(t *testing.T) {
	e := newEnv(t)
	m := manifest(t, "envapp", "/env", "file://"+echoWasm)
	c := &m.Spec.Components[0]
	if c.Properties.Application != nil {
		t.Fatalf("first manifest component is %s, want the Wasm component", c.Name)
	}
	c.Properties.Config = append(c.Properties.Config, wadm.ConfigProperty{Name: local.EnvConfigName, Properties: map[string]string{"SITE": "edge-1", "LOG": "debug", "COMPONENT_NAMESPACE": "override"}})
	e.apply(t, m)
	e.waitStatus(t, m.Metadata.Name, wadm.StatusDeployed)
	resp, err := http.Get(e.base + "/env")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "COMPONENT_NAME=envapp\nCOMPONENT_NAMESPACE=override\nLOG=debug\nSITE=edge-1\n" {
		t.Errorf("environment %q", body)
	}
}

// TestStatusReportsTheCode: the app's status names the code each
// component serves from; a never-seen artefact starts on baseline code and
// the status follows it to the optimised code; a second app of the same
// artefact serves the optimised code at once.
func TestStatusReportsTheCode(t *testing.T) {
	e := newEnv(t)
	m := manifest(t, "coded", "/coded", "file://"+echoWasm)
	e.apply(t, m)
	var st deploy.AppStatus
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		var err error
		if st, err = e.d.Status(context.Background(), m.Metadata.Name); err != nil {
			t.Fatal(err)
		}
		if len(st.Code) == 1 && st.Code[0].Tier == runtime.TierOptimized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status code %+v: never optimised", st.Code)
		}
	}
	c := st.Code[0]
	if c.Component != "echo-impl" || c.BaselineCompile <= 0 || c.BaselineCompiler == "" || c.OptimizedCompile <= 0 || c.CacheHit || c.Error != "" || !c.StreamAdapter || !c.StreamsRetyped {
		t.Errorf("code %+v: want echo-impl compiled baseline then optimised here, with the stream adapter", c)
	}
	m2 := manifest(t, "coded-again", "/coded-again", "file://"+echoWasm)
	e.apply(t, m2)
	st = e.waitStatus(t, m2.Metadata.Name, wadm.StatusDeployed)
	if len(st.Code) != 1 || st.Code[0].Tier != runtime.TierOptimized || !st.Code[0].CacheHit || st.Code[0].BaselineCompile != 0 {
		t.Errorf("second app's code %+v: want the optimised code already compiled", st.Code)
	}
}
