package reconcile

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/store"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmclient"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

const (
	testNamespace = "components"
	testBaseURL   = "http://127.0.0.1:8080"
	waitTimeout   = 30 * time.Second
)

// testImplementations names a Wasm artefact for each implementation of the
// reference examples and of claimant; translate names artefacts and never
// reads them (the local backend does: see withLocalBackend).
var testImplementations = map[string]string{
	"ctk-prodcatapi":                  "file:///opt/wasm/prodcatapi.wasm",
	"ctk-productcatalogmanagement-sm": "file:///opt/wasm/metrics.wasm",
	"ctk-permissionspecapi":           "file:///opt/wasm/permissionspecapi.wasm",
	"ctk-promgmtapi":                  "file:///opt/wasm/promgmtapi.wasm", // productcatalog-enhanced-v1's
	"echo-impl":                       "file:///opt/wasm/echo.wasm",       // claimant's
}

// env is one test's canvas: an embedded nats-server with JetStream, the
// wadm double on it, real stores, the event recorder and a running
// Controller.
type env struct {
	t        testing.TB
	dir      string
	port     int
	relaxed  bool // nats-server's default fsync policy instead of SyncAlways
	nats     natsServer
	nc       *nats.Conn
	js       jetstream.JetStream
	wadm     *wadmtest.Server
	desired  *store.Store[oda.Component]
	status   *store.Store[oda.ComponentStatus]
	events   *Recorder
	deployer deploy.Deployer
	ctrl     *Controller
	ctx      context.Context
}

type envOption func(*Options)

// natsServer is the embedded server either way it was started.
type natsServer interface {
	ClientURL() string
	Shutdown()
	WaitForShutdown()
}

func newEnv(t testing.TB, wadmOpts []wadmtest.Option, opts ...envOption) *env {
	t.Helper()
	return newEnvWith(t, false, 0, wadmOpts, opts...)
}

// newEnvWith can relax fsync (benchmarks) and spread applications over
// shards extra lattices, each served by its own double (see
// shardedDeployer).
func newEnvWith(t testing.TB, relaxed bool, shards int, wadmOpts []wadmtest.Option, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), port: -1, relaxed: relaxed}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e.ctx = ctx
	e.startNATS()
	t.Cleanup(func() {
		e.nats.Shutdown()
		e.nats.WaitForShutdown()
	})
	nc, err := nats.Connect(e.nats.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	e.nc = nc
	if e.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	e.wadm = wadmtest.Run(t, nc, "default", wadmOpts...)
	client, err := wadmclient.New(nc, "default")
	if err != nil {
		t.Fatal(err)
	}
	e.deployer = deploy.NewWadm(client)
	if shards > 0 {
		e.deployer = e.shards("shard", shards, wadmOpts...)
	}
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if e.desired, err = store.New[oda.Component](sctx, e.js, store.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.status, err = store.New[oda.ComponentStatus](sctx, e.js, store.Options{Bucket: DefaultStatusBucket, History: 1}); err != nil {
		t.Fatal(err)
	}
	if e.events, err = NewRecorder(sctx, e.js, RecorderOptions{}); err != nil {
		t.Fatal(err)
	}
	o := Options{
		Desired: e.desired, Status: e.status, Deployer: e.deployer, Events: e.events,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), BaseURL: testBaseURL,
		Implementations: testImplementations,
		Resync:          5 * time.Second, PollInterval: time.Second, RetryMax: 2 * time.Second,
	}
	for _, f := range opts {
		f(&o)
	}
	if e.ctrl, err = New(o); err != nil {
		t.Fatal(err)
	}
	return e
}

// shards starts n doubles on lattices {prefix}-0…{prefix}-{n-1} and
// returns a Deployer spreading applications over them.
func (e *env) shards(prefix string, n int, opts ...wadmtest.Option) shardedDeployer {
	e.t.Helper()
	sd := shardedDeployer{}
	for i := range n {
		lat := fmt.Sprintf("%s-%d", prefix, i)
		wadmtest.Run(e.t, e.nc, lat, opts...)
		cl, err := wadmclient.New(e.nc, lat)
		if err != nil {
			e.t.Fatal(err)
		}
		sd = append(sd, deploy.NewWadm(cl))
	}
	return sd
}

func (e *env) startNATS() {
	e.t.Helper()
	var srv natsServer
	if e.relaxed {
		// Benchmarks measure the loop, not the disk: the production
		// embedded server fsyncs every write (pkg/lattice).
		ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: e.port, JetStream: true, StoreDir: e.dir, NoLog: true, NoSigs: true})
		if err != nil {
			e.t.Fatal(err)
		}
		ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			e.t.Fatal("nats-server not ready within 10s")
		}
		srv = ns
	} else {
		ls, err := embedded.Start(embedded.Config{StoreDir: e.dir, Port: e.port})
		if err != nil {
			e.t.Fatal(err)
		}
		srv = ls
	}
	e.nats = srv
	u, err := url.Parse(srv.ClientURL())
	if err != nil {
		e.t.Fatal(err)
	}
	if e.port, err = strconv.Atoi(u.Port()); err != nil {
		e.t.Fatal(err)
	}
}

// restartNATS stops the server and starts it again on the same port and
// store directory, as after a crash or an upgrade.
func (e *env) restartNATS() {
	e.t.Helper()
	e.nats.Shutdown()
	e.nats.WaitForShutdown()
	e.startNATS()
}

// run starts the controller and stops it (waiting for Run to return) when
// the test ends.
func (e *env) run() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- e.ctrl.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				e.t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			e.t.Errorf("Run did not return within 10s of cancel")
		}
	})
}

func (e *env) opCtx() context.Context {
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

func (e *env) apply(c *oda.Component) {
	e.t.Helper()
	if _, err := e.desired.Put(e.opCtx(), c.Metadata.Namespace, c.Metadata.Name, *c); err != nil {
		e.t.Fatalf("apply %s: %v", c.Key(), err)
	}
}

// statusOf returns the written status of key, nil when there is none.
func (e *env) statusOf(key string) *oda.ComponentStatus {
	e.t.Helper()
	k, err := oda.ParseKey(key)
	if err != nil {
		e.t.Fatal(err)
	}
	st, err := e.status.Get(e.opCtx(), k.Namespace, k.Name)
	if err != nil {
		return nil
	}
	return &st.Value
}

// waitState waits until key's deployment_status is state and returns the
// status.
func (e *env) waitState(key, state string) *oda.ComponentStatus {
	e.t.Helper()
	var st *oda.ComponentStatus
	waitFor(e.t, key+" "+state, func() (bool, string) {
		st = e.statusOf(key)
		if st == nil || st.Summary == nil {
			return false, "no status"
		}
		return st.Summary.DeploymentStatus == state, fmt.Sprintf("deployment_status %s, wasmCloud %+v", st.Summary.DeploymentStatus, st.WasmCloud)
	})
	return st
}

// waitFor is testkit.WaitForErr bounded by waitTimeout, for conditions that
// say what they saw last.
func waitFor(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	testkit.WaitForErr(t, waitTimeout, what, func() error {
		if ok, seen := cond(); !ok {
			return fmt.Errorf("last seen: %s", seen)
		}
		return nil
	})
}

var (
	exampleOnce sync.Once
	exampleData map[string][]byte
	exampleErr  error
)

// example parses a reference example Component and renames it.
func example(t testing.TB, file, name string) *oda.Component {
	t.Helper()
	dir := testref.Path(t, "oda", "examples")
	exampleOnce.Do(func() {
		exampleData = map[string][]byte{}
		entries, err := os.ReadDir(dir)
		if err != nil {
			exampleErr = err
			return
		}
		for _, ent := range entries {
			b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
			if err != nil {
				exampleErr = err
				return
			}
			exampleData[ent.Name()] = b
		}
	})
	if exampleErr != nil {
		t.Fatal(exampleErr)
	}
	c, err := oda.Parse(file, exampleData[file])
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	c.Metadata.Name = name
	c.Metadata.Namespace = testNamespace
	servedUnder(c, "/"+name)
	return c
}

// servedUnder moves the example's exposed APIs from its own prefix
// (/ctk-productcatalogmanagement) to prefix, as the reference Helm charts
// put each release under its name: two Components may not serve one path.
func servedUnder(c *oda.Component, prefix string) {
	const own = "/ctk-productcatalogmanagement"
	for _, apis := range c.Spec.ExposedAPIsByFunction() {
		for i := range apis {
			a := &apis[i]
			if rest, ok := strings.CutPrefix(a.Path, own); ok {
				a.Path = prefix + rest
			}
			for j := range a.Specification {
				if rest, ok := strings.CutPrefix(a.Specification[j].Path, own); ok {
					a.Specification[j].Path = prefix + rest
				}
			}
		}
	}
}

func appOf(c *oda.Component) string { return c.Metadata.Namespace + "-" + c.Metadata.Name }
