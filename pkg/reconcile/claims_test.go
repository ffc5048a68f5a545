package reconcile

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy/local"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

// echoWasm is the runtime's hand-written wasi:http echo component (the
// binary kept beside its WAT text: the canvas reads no text artefacts).
var echoWasm, _ = filepath.Abs("../runtime/testdata/echo-http.wasm")

// claimant is a one-API Component served by the echo component at path.
func claimant(name, path string) *oda.Component {
	port := 8080
	return &oda.Component{
		APIVersion: oda.APIVersionV1, Kind: oda.Kind,
		Metadata: oda.ObjectMeta{Name: name, Namespace: testNamespace},
		Spec: oda.ComponentSpec{CoreFunction: &oda.CoreFunction{ExposedAPIs: []oda.ExposedAPI{{
			Name: "echo", APIType: "openapi", Implementation: "echo-impl", Path: path, Port: &port,
			Specification: []oda.APISpecification{{URL: "https://example.org/echo.json"}},
		}}}},
	}
}

// withLocalBackend drives the embedded runtime and gateway, as `canvas up`
// does, instead of the wadm double; the gateway's address is written to
// addr.
func withLocalBackend(t *testing.T, addr *string) envOption {
	host, err := runtime.NewHost(runtime.Config{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(gateway.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	if *addr, err = gw.Serve(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	d, err := local.New(local.Options{Runtime: host, Gateway: gw, ArtefactRoots: []string{filepath.Dir(echoWasm)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Close()
		cancel()
		host.Close()
	})
	return func(o *Options) {
		o.Deployer = d
		o.Implementations = map[string]string{"echo-impl": "file://" + echoWasm}
	}
}

// contest runs a canvas on backend ("wadm" or "local"), applies first and
// then second, claiming firstPath and secondPath, and waits until first is
// Complete and second Failed; addr is the local gateway's address.
func contest(t *testing.T, backend, firstPath, secondPath string) (e *env, addr string, first, second *oda.Component, refused *oda.ComponentStatus) {
	t.Helper()
	var opts []envOption
	if backend == "local" {
		opts = append(opts, withLocalBackend(t, &addr))
	}
	e = newEnv(t, []wadmtest.Option{wadmtest.WithDelay(5 * time.Millisecond)}, opts...)
	e.run()
	first, second = claimant("first", firstPath), claimant("second", secondPath)
	e.apply(first)
	e.waitState(first.Key().String(), oda.DeploymentComplete)
	e.apply(second)
	refused = e.waitState(second.Key().String(), oda.DeploymentFailed)
	return e, addr, first, second, refused
}

// Two Components claiming one path end the same way whichever backend
// runs them: the first keeps it, the second is Failed with one reason
// naming the path and the owner, and takes the path over once the owner is
// deleted.
func TestPathClaimFailsAlikeInBothBackends(t *testing.T) {
	t.Parallel()
	type outcome struct{ status, reason, part string }
	got := map[string]outcome{}
	for _, backend := range []string{"wadm", "local"} {
		t.Run(backend, func(t *testing.T) {
			e, addr, first, second, st := contest(t, backend, "/shared/api", "/shared/api/")
			sum := st.Summary
			got[backend] = outcome{sum.DeploymentStatus, sum.FailureReason, sum.FailedPart}
			for _, want := range []string{`path "/shared/api"`, "Component components/first"} {
				if !strings.Contains(sum.FailureReason, want) {
					t.Errorf("failureReason %q does not name %s", sum.FailureReason, want)
				}
			}
			if sum.FailedPart != "spec.coreFunction.exposedAPIs[0].path" {
				t.Errorf("failedPart %q, want the exposed API's path field", sum.FailedPart)
			}
			if d := st.CoreAPIs; len(d) != 1 || d[0].Ready {
				t.Errorf("coreAPIs of the refused Component = %+v, want one entry not ready", d)
			}
			if st := e.statusOf(first.Key().String()); st.Summary.DeploymentStatus != oda.DeploymentComplete {
				t.Errorf("the owner went %s", st.Summary.DeploymentStatus)
			}
			if backend == "local" {
				if code := httpGet(t, "http://"+addr+"/shared/api"); code != http.StatusOK {
					t.Errorf("GET /shared/api = %d while first owns it, want 200", code)
				}
			}

			if err := e.desired.Delete(e.opCtx(), testNamespace, first.Metadata.Name, 0); err != nil {
				t.Fatal(err)
			}
			e.waitState(second.Key().String(), oda.DeploymentComplete)
			if backend == "local" {
				if code := httpGet(t, "http://"+addr+"/shared/api"); code != http.StatusOK {
					t.Errorf("GET /shared/api = %d after second took it over, want 200", code)
				}
			}
		})
	}
	if t.Failed() {
		return
	}
	if got["wadm"] != got["local"] {
		t.Errorf("the backends disagree:\nwadm:  %+v\nlocal: %+v", got["wadm"], got["local"])
	}
}

// An owner moving off a path hands it to the next claimant once its new
// version is deployed (not before: its old version still serves it).
func TestPathClaimHandedOverWhenOwnerMoves(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"wadm", "local"} {
		t.Run(backend, func(t *testing.T) {
			e, addr, first, second, _ := contest(t, backend, "/x", "/x")
			first.Spec.CoreFunction.ExposedAPIs[0].Path = "/y"
			e.apply(first)
			e.waitState(second.Key().String(), oda.DeploymentComplete)
			st := e.waitState(first.Key().String(), oda.DeploymentComplete)
			if got := st.CoreAPIs[0].URL; got != testBaseURL+"/y" {
				t.Errorf("first serves at %s, want %s/y", got, testBaseURL)
			}
			if backend == "local" {
				for _, p := range []string{"/x", "/y"} {
					if code := httpGet(t, "http://"+addr+p); code != http.StatusOK {
						t.Errorf("GET %s = %d, want 200", p, code)
					}
				}
			}
		})
	}
}

// A pass of the owner that read its old version before the move landed
// must not hand the old path over: the old version still serves it. (The
// race that once left a claimant Failed for good in the local backend: the
// stale pass saw the old version deployed, freed the path, and the
// claimant's routes collided with the owner's old ones at the gateway.)
func TestPathClaimKeptFromAStalePass(t *testing.T) {
	t.Parallel()
	g := &gatedStatus{app: "components-first", hold: make(chan chan struct{}, 2), entered: make(chan struct{}, 2)}
	e := newEnv(t, nil, func(o *Options) { g.Deployer = o.Deployer; o.Deployer = g })
	e.run()
	first, second := claimant("first", "/x"), claimant("second", "/x")
	e.apply(first)
	e.waitState(first.Key().String(), oda.DeploymentComplete)
	e.apply(second)
	e.waitState(second.Key().String(), oda.DeploymentFailed)

	// A pass of first reads version 1, then waits in Status while first
	// moves to /y and the index learns it.
	release1, release2 := make(chan struct{}), make(chan struct{})
	g.hold <- release1
	e.ctrl.Enqueue(first.Key().String())
	g.wait(t)
	g.hold <- release2
	first.Spec.CoreFunction.ExposedAPIs[0].Path = "/y"
	e.apply(first)
	waitFor(t, "the index to see first at /y", func() (bool, string) {
		return e.ctrl.idx.holds(first.Key().String(), "/x"), "first does not hold /x"
	})
	close(release1)
	// The next pass of first (the move's) starts once the stale one ended.
	g.wait(t)
	if !e.ctrl.idx.holds(first.Key().String(), "/x") {
		t.Errorf("a pass that saw first's old version deployed freed /x, which that version still serves")
	}
	close(release2)
	e.waitState(first.Key().String(), oda.DeploymentComplete)
	e.waitState(second.Key().String(), oda.DeploymentComplete)
}

// gatedStatus holds the Status calls of one application: each takes the
// next channel from hold (if any), says so on entered and waits until that
// channel is closed.
type gatedStatus struct {
	deploy.Deployer
	app     string
	hold    chan chan struct{}
	entered chan struct{}
}

func (g *gatedStatus) Status(ctx context.Context, name string) (deploy.AppStatus, error) {
	if name == g.app {
		select {
		case release := <-g.hold:
			g.entered <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return deploy.AppStatus{}, ctx.Err()
			}
		default:
		}
	}
	return g.Deployer.Status(ctx, name)
}

// holds says whether the index has key holding path from an earlier
// version.
func (x *index) holds(key, path string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	ent := x.entries[key]
	return ent != nil && slices.ContainsFunc(ent.held, func(c pathClaim) bool { return c.path == claimPath(path) })
}

func (g *gatedStatus) wait(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(waitTimeout):
		t.Fatalf("no Status call of %s within %s", g.app, waitTimeout)
	}
}

func httpGet(t *testing.T, url string) int {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Twenty Components applying one path (what canvasd --nats deployed
// without a word): the first applied deploys and every other is Failed
// naming it, with no manifest put; deleting the owner hands the path to
// the next in line only.
func TestPathClaimOneOwnerAmongMany(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []wadmtest.Option{wadmtest.WithDelay(5 * time.Millisecond)})
	e.run()
	const n = 20
	keys := make([]string, n)
	for i := range n {
		c := claimant(fmt.Sprintf("claim-%02d", i), "/same")
		keys[i] = c.Key().String()
		e.apply(c)
	}
	expect := func(owner int) {
		t.Helper()
		e.waitState(keys[owner], oda.DeploymentComplete)
		ownerName := fmt.Sprintf("components/claim-%02d", owner)
		for i := owner + 1; i < n; i++ {
			waitFor(t, keys[i]+" refused naming "+ownerName, func() (bool, string) {
				st := e.statusOf(keys[i])
				if st == nil || st.Summary == nil {
					return false, "no status"
				}
				return st.Summary.DeploymentStatus == oda.DeploymentFailed && strings.Contains(st.Summary.FailureReason, ownerName+" "), st.Summary.DeploymentStatus + ": " + st.Summary.FailureReason
			})
		}
	}
	expect(0)
	if puts := e.wadm.Puts(); puts != 1 {
		t.Errorf("%d wadm puts, want 1 (only the owner's)", puts)
	}
	if err := e.desired.Delete(e.opCtx(), testNamespace, "claim-00", 0); err != nil {
		t.Fatal(err)
	}
	expect(1)
	if puts := e.wadm.Puts(); puts != 2 {
		t.Errorf("%d wadm puts, want 2 (the first and the second owner's)", puts)
	}
}

// The owner keeps its path across a controller restart even when it was
// updated after the claimant was created: order is by creation, from
// metadata.creationTimestamp (as the API server sets it) or, without one or
// within one second, the revision each was created at.
func TestPathClaimSurvivesRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, firstCreated, secondCreated string }{
		{"creation timestamps", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"},
		{"same second", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"},
		{"store revisions", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, []wadmtest.Option{wadmtest.WithDelay(5 * time.Millisecond)})
			first, second := claimant("first", "/same"), claimant("second", "/same")
			first.Metadata.CreationTimestamp, second.Metadata.CreationTimestamp = tc.firstCreated, tc.secondCreated
			e.apply(first)
			e.apply(second)
			first.Spec.CoreFunction.ExposedAPIs[0].Name = "echo2" // a later revision than second's
			e.apply(first)

			ctx, cancel := context.WithCancel(e.ctx)
			done := make(chan error, 1)
			go func() { done <- e.ctrl.Run(ctx) }()
			e.waitState(first.Key().String(), oda.DeploymentComplete)
			e.waitState(second.Key().String(), oda.DeploymentFailed)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}

			ctrl, err := New(e.ctrl.opts)
			if err != nil {
				t.Fatal(err)
			}
			e.ctrl = ctrl
			e.run()
			waitFor(t, "the new controller's passes", func() (bool, string) {
				s := e.ctrl.Stats()
				return s.Reconciles >= 2 && s.QueueDepth == 0, fmt.Sprintf("%+v", s)
			})
			if st := e.statusOf(second.Key().String()); st.Summary.DeploymentStatus != oda.DeploymentFailed || !strings.Contains(st.Summary.FailureReason, "components/first ") {
				t.Errorf("after restart second is %s (%s), want Failed naming first", st.Summary.DeploymentStatus, st.Summary.FailureReason)
			}
			if st := e.statusOf(first.Key().String()); st.Summary.DeploymentStatus != oda.DeploymentComplete {
				t.Errorf("after restart first is %s", st.Summary.DeploymentStatus)
			}
		})
	}
}
