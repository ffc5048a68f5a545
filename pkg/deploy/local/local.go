package local

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/artefact"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// HostName is the one host this deployer reports.
const HostName = "embedded"

// Loader loads a component's bytes into the runtime; *runtime.Host is one.
type Loader interface {
	Load(ctx context.Context, name string, wasm []byte, cc runtime.ComponentConfig) (*runtime.Component, error)
}

// Router is the part of the gateway the deployer drives: an app that
// serves nothing yet is unavailable (503) while it loads, its routes are
// set and made ready once it loads, and removed when it is undeployed.
type Router interface {
	SetRoutes(app string, routes []gateway.Route) error
	SetUnavailable(app, reason string)
	SetReady(app string)
	RemoveApp(app string)
}

// Options configure a Deployer.
type Options struct {
	Runtime Loader
	Gateway Router
	Logger  *zap.Logger
	// Limits apply to every component loaded.
	Limits runtime.Limits
	// KeyValue backs wasi:keyvalue with the bucket the manifest links a
	// component to; nil leaves components without a store (open answers
	// no-such-store).
	KeyValue func(bucket string) runtime.KeyValue
	// IngressAuthority is the gateway's host:port. A component the manifest
	// links to the shared http-client (it has dependent APIs, which the
	// canvas serves at its ingress) may call it through
	// wasi:http/outgoing-handler; components without that link may call
	// nothing.
	IngressAuthority string
	// AllowOutbound adds authorities ("host", "host:port", "*.domain")
	// that linked components may call too, such as dependencies served
	// outside the canvas.
	AllowOutbound []string
	// InfoURL is the canvas info service (dependent-API discovery,
	// api.Server.InfoHandler) as components reach it; components that may
	// call out get it as CANVAS_INFO_URL.
	InfoURL string
	// ArtefactRoots are the directories file:// artefacts are read from
	// (artefact.Roots); none means no file is read.
	ArtefactRoots []string
	// Observer serves wasmcanvas:observe, in-process, to the components
	// the manifest links to canvas-bridge's observability (those of a
	// Component with a managementFunction), as the bridge would on a
	// lattice: each records as its ODA Component (the namespace and name
	// translate writes in its "oda" config), so its series join the
	// Component's registry. Nil, or a component with no such link, answers
	// every call not-linked (observe.Unlinked), as canvas-bridge does.
	Observer *observe.Observer
	// Identity serves wasmcanvas:identity/tokens, in-process, to the
	// components the manifest links to canvas-bridge's identity (those of
	// a Component with a securityFunction), as the bridge would on a
	// lattice: it gives the auth.Tokens (the canvas's Verifier, the
	// Component's client credentials) of the ODA Component namespace/name
	// that translate writes in the component's "oda" config. Nil, or a
	// component with no such link, answers every call unavailable (not
	// linked), as canvas-bridge answers a caller with no link.
	Identity func(namespace, component string) auth.Tokens
}

// EnvConfigName names the component config whose properties become the
// component's wasi:cli/environment (and not wasi:config entries).
const EnvConfigName = "env"

// Environment variables the deployer gives every component, as the
// reference canvas does, so it can ask the info service for its dependent
// APIs: ?componentName=$COMPONENT_NAME&namespace=$COMPONENT_NAMESPACE.
// An "env" config in the manifest may override them.
const (
	EnvComponentName      = "COMPONENT_NAME"
	EnvComponentNamespace = "COMPONENT_NAMESPACE"
	EnvCanvasInfoURL      = "CANVAS_INFO_URL"
)

// Deployer runs manifests on the embedded runtime.
//
// # Notes
//
//   - Safe for concurrent use. Deploy returns at once; loading (which may
//     compile for seconds) runs in a goroutine the Deployer owns, and
//     Close cancels and waits for it.
//   - A failed deploy keeps serving the version that served before, as
//     wadm keeps running what it had while the new one cannot start.
type Deployer struct {
	opts  Options
	log   *zap.Logger
	roots *artefact.Roots

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	apps     map[string]*app
	watchers map[chan deploy.StatusEvent]struct{}
}

type app struct {
	versions []string // in put order
	models   map[string]*wadm.Manifest
	deployed string // requested version
	status   deploy.AppStatus
	serving  []*runtime.Component // components of the version that serves
	gen      int                  // bumps on every deploy/undeploy to drop stale loads
}

// New returns a Deployer; Close stops it.
func New(opts Options) (*Deployer, error) {
	if opts.Runtime == nil || opts.Gateway == nil {
		return nil, errors.New("local deployer: Runtime and Gateway are required")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	roots, err := artefact.NewRoots(opts.ArtefactRoots...)
	if err != nil {
		return nil, fmt.Errorf("local deployer: %w", err)
	}
	// Status messages do not list the roots (API clients read them); the
	// log does.
	opts.Logger.Info("file:// artefacts are read from these roots only", zap.Strings("roots", roots.Dirs()))
	ctx, cancel := context.WithCancel(context.Background())
	return &Deployer{
		opts: opts, log: opts.Logger, roots: roots, ctx: ctx, cancel: cancel,
		apps: map[string]*app{}, watchers: map[chan deploy.StatusEvent]struct{}{},
	}, nil
}

// Put stores a manifest version.
func (d *Deployer) Put(_ context.Context, m *wadm.Manifest) (deploy.PutResult, error) {
	name, version := m.Metadata.Name, m.Version()
	if name == "" || version == "" {
		return deploy.PutResult{}, fmt.Errorf("local deployer: put: manifest needs metadata.name and a version annotation (got %q, %q)", name, version)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.apps[name]
	if a == nil {
		a = &app{models: map[string]*wadm.Manifest{}, status: deploy.AppStatus{Type: wadm.StatusUndeployed}}
		d.apps[name] = a
	}
	if _, ok := a.models[version]; ok {
		return deploy.PutResult{Version: version}, nil
	}
	a.models[version] = m
	a.versions = append(a.versions, version)
	return deploy.PutResult{Version: version, Created: true}, nil
}

// Deploy loads version's components and routes its APIs; the outcome shows
// in Status and Watch.
func (d *Deployer) Deploy(_ context.Context, name, version string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.apps[name]
	if a == nil {
		return fmt.Errorf("local deployer: deploy %s: no such application (put it first)", name)
	}
	if version == "" || version == wadm.LatestVersion {
		version = a.versions[len(a.versions)-1]
	}
	m, ok := a.models[version]
	if !ok {
		return fmt.Errorf("local deployer: deploy %s: no version %q (stored: %s)", name, version, strings.Join(a.versions, ", "))
	}
	if a.deployed == version && a.status.Type != wadm.StatusUndeployed {
		return nil
	}
	a.deployed = version
	a.gen++
	if a.serving == nil {
		// Routes the app already has (those canvas up restores after a
		// restart) answer 503 until it serves; a serving version keeps
		// serving while the new one loads.
		d.opts.Gateway.SetUnavailable(name, "loading components")
	}
	d.setStatus(name, a, deploy.AppStatus{Type: wadm.StatusReconciling, Message: "loading components"})
	gen := a.gen
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.load(name, m, gen)
	}()
	return nil
}

// load compiles and links every component of m, then swaps the routes.
func (d *Deployer) load(name string, m *wadm.Manifest, gen int) {
	comps, routes, scalers, err := d.start(m)
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.apps[name]
	if a == nil || a.gen != gen {
		closeAll(comps) // superseded while loading
		return
	}
	if err == nil {
		err = d.opts.Gateway.SetRoutes(name, routes)
	}
	if err != nil {
		closeAll(comps)
		d.log.Warn("deploy failed", zap.String("app", name), zap.String("version", m.Version()), zap.Error(err))
		if a.serving == nil {
			d.opts.Gateway.SetUnavailable(name, "deploy failed: "+err.Error())
		}
		d.setStatus(name, a, deploy.AppStatus{Type: wadm.StatusFailed, Message: err.Error(), Scalers: scalers})
		return
	}
	d.opts.Gateway.SetReady(name)
	old := a.serving
	a.serving = comps
	closeAllAsync(&d.wg, old)
	d.log.Info("deployed", zap.String("app", name), zap.String("version", m.Version()), zap.Int("routes", len(routes)))
	d.setStatus(name, a, deploy.AppStatus{Type: wadm.StatusDeployed, Scalers: scalers, Code: codeStatus(name, comps)})
}

// codeStatus is what code each of the app's components serves from.
func codeStatus(app string, comps []*runtime.Component) []deploy.CodeStatus {
	out := make([]deploy.CodeStatus, 0, len(comps))
	for _, c := range comps {
		i := c.Info()
		out = append(out, deploy.CodeStatus{
			Component: strings.TrimPrefix(i.Name, app+"/"), Tier: i.Tier, CacheHit: i.CacheHit,
			BaselineCompile: i.BaselineCompileTime, BaselineCompiler: i.BaselineCompiler, OptimizedCompile: i.CompileTime, Error: i.OptimizeError,
			StreamAdapter: i.StreamAdapter, StreamsRetyped: i.StreamsRetyped,
		})
	}
	return out
}

// codeChanged reports a serving component's new code tier in the app's
// status (runtime.ComponentConfig.OnTier).
func (d *Deployer) codeChanged(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.apps[name]
	if a == nil || a.serving == nil || a.status.Type != wadm.StatusDeployed {
		return // not serving yet: load reports the code when it is
	}
	st := a.status
	st.Code = codeStatus(name, a.serving)
	d.setStatus(name, a, st)
}

// start loads the manifest's Wasm components and builds its routes. The
// scaler statuses name each component, as wadm's do.
func (d *Deployer) start(m *wadm.Manifest) ([]*runtime.Component, []gateway.Route, []wadm.ScalerStatus, error) {
	var (
		loaded  = map[string]*runtime.Component{}
		comps   []*runtime.Component
		scalers []wadm.ScalerStatus
		errs    []error
	)
	links := componentLinks{
		buckets:  translate.KeyValueBuckets(m),
		callers:  translate.OutgoingHTTPCallers(m),
		observed: translate.ObservedComponents(m),
		secured:  translate.SecuredComponents(m),
	}
	for _, c := range m.Spec.Components {
		if c.Properties.Application != nil {
			continue // shared parts of the system application: not run here (see the package doc)
		}
		st := wadm.ScalerStatus{ID: m.Metadata.Name + "/" + c.Name, Kind: wadm.ScalerKindSpread, Name: c.Name, Info: wadm.StatusInfo{Type: wadm.StatusDeployed}}
		rc, err := d.startComponent(m.Metadata.Name, c, links)
		if err != nil {
			st.Info = wadm.StatusInfo{Type: wadm.StatusFailed, Message: err.Error()}
			errs = append(errs, fmt.Errorf("component %s: %w", c.Name, err))
		} else {
			loaded[c.Name] = rc
			comps = append(comps, rc)
		}
		scalers = append(scalers, st)
	}
	if len(errs) > 0 {
		closeAll(comps)
		return nil, nil, scalers, errors.Join(errs...)
	}
	var routes []gateway.Route
	for _, r := range translate.IngressRoutes(m) {
		h, ok := loaded[r.Target]
		if !ok {
			closeAll(comps)
			return nil, nil, scalers, fmt.Errorf("route %s (%s) targets %q, which is not a Wasm component of this application", r.API, r.Path, r.Target)
		}
		spec, err := r.PolicySpec()
		if err != nil {
			closeAll(comps)
			return nil, nil, scalers, fmt.Errorf("route %s (%s): %w", r.API, r.Path, err)
		}
		// A metrics API (apiType prometheus) is served by the gateway's
		// Observer; the gateway enforces the policy in front of either.
		routes = append(routes, gateway.Route{API: r.API, Path: r.Path, Handler: h, Source: observe.Source{Namespace: r.Namespace, Component: r.Component, API: r.API}, Metrics: r.Prometheus(), Policy: spec})
	}
	return comps, routes, scalers, nil
}

// componentLinks is what a manifest's links give its components, by
// component name.
type componentLinks struct {
	buckets  map[string]string // the keyvalue bucket
	callers  map[string]bool   // linked to the shared http-client
	observed map[string]bool   // linked to canvas-bridge's wasmcanvas:observe
	secured  map[string]bool   // linked to canvas-bridge's wasmcanvas:identity
}

func (d *Deployer) startComponent(appName string, c wadm.Component, links componentLinks) (*runtime.Component, error) {
	bucket, callsOut := links.buckets[c.Name], links.callers[c.Name]
	if c.IsCapability() {
		return nil, fmt.Errorf("capability provider %q (image %s) needs a wasmCloud host: the embedded canvas runs Wasm components only", c.Name, c.Properties.Image)
	}
	path, ok := strings.CutPrefix(c.Properties.Image, "file://")
	if !ok {
		return nil, fmt.Errorf("image %q is not a file:// artefact: the embedded canvas does not fetch OCI images; build or pull it and name it as file:///path/to.wasm, or deploy to a wasmCloud lattice", c.Properties.Image)
	}
	wasm, err := d.roots.ReadFile(path)
	if errors.Is(err, artefact.ErrNotExist) {
		return nil, fmt.Errorf("%w; %s", err, translate.MissingArtefactFix(path))
	}
	if err != nil {
		return nil, err
	}
	cfg, envCfg := map[string]string{}, map[string]string{}
	for _, p := range c.Properties.Config {
		if p.Name == EnvConfigName {
			maps.Copy(envCfg, p.Properties)
		} else {
			maps.Copy(cfg, p.Properties)
		}
	}
	// translate names the ODA Component in every implementation's config
	// (a hand-written manifest may not).
	env := map[string]string{}
	for k, from := range map[string]string{EnvComponentName: translate.ConfigComponent, EnvComponentNamespace: translate.ConfigNamespace} {
		if v := cfg[from]; v != "" {
			env[k] = v
		}
	}
	if callsOut && d.opts.InfoURL != "" {
		env[EnvCanvasInfoURL] = d.opts.InfoURL
	}
	maps.Copy(env, envCfg)
	cc := runtime.ComponentConfig{Config: cfg, Env: env, Limits: d.opts.Limits, OnTier: func(runtime.Info) { d.codeChanged(appName) }}
	if links.observed[c.Name] && d.opts.Observer != nil {
		cc.Observe = d.opts.Observer
		cc.Source = observe.Source{Namespace: cfg[translate.ConfigNamespace], Component: cfg[translate.ConfigComponent]}
	}
	if links.secured[c.Name] && d.opts.Identity != nil {
		cc.Identity = d.opts.Identity(cfg[translate.ConfigNamespace], cfg[translate.ConfigComponent])
	}
	if callsOut {
		if d.opts.IngressAuthority != "" {
			cc.AllowedOutbound = append(cc.AllowedOutbound, d.opts.IngressAuthority)
		}
		cc.AllowedOutbound = append(cc.AllowedOutbound, d.opts.AllowOutbound...)
	}
	if bucket != "" && d.opts.KeyValue != nil {
		cc.KeyValue = d.opts.KeyValue(bucket)
		// Open the bucket now (creating it if new), so the first request
		// does not pay for that within its deadline.
		ctx, cancel := context.WithTimeout(d.ctx, 30*time.Second)
		_, err := cc.KeyValue.Open(ctx, "default")
		cancel()
		if err != nil {
			return nil, fmt.Errorf("keyvalue bucket %s: %w", bucket, err)
		}
	}
	rc, err := d.opts.Runtime.Load(d.ctx, appName+"/"+c.Name, wasm.Bytes, cc)
	if errors.Is(err, runtime.ErrCompile) {
		return nil, wasm.CompileFailure(err) // wasmtime's text may quote the bytes
	}
	return rc, err
}

// Undeploy removes the application's routes and unloads its components.
func (d *Deployer) Undeploy(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.apps[name]
	if a == nil {
		return nil
	}
	d.stop(name, a)
	return nil
}

// stop unloads a; d.mu is held.
func (d *Deployer) stop(name string, a *app) {
	a.gen++
	a.deployed = ""
	d.opts.Gateway.RemoveApp(name)
	closeAllAsync(&d.wg, a.serving)
	a.serving = nil
	d.setStatus(name, a, deploy.AppStatus{Type: wadm.StatusUndeployed})
}

// Delete undeploys the application and forgets every version.
func (d *Deployer) Delete(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.apps[name]
	if a == nil {
		return nil
	}
	d.stop(name, a)
	delete(d.apps, name)
	return nil
}

// Status reports the application's status.
func (d *Deployer) Status(_ context.Context, name string) (deploy.AppStatus, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.apps[name]
	if a == nil {
		return deploy.AppStatus{Type: wadm.StatusUndeployed}, nil
	}
	st := a.status
	st.Scalers = slices.Clone(st.Scalers)
	st.Exists = true
	st.DeployedVersion = a.deployed
	st.IgnoresPlacement = true
	if a.serving != nil {
		st.Hosts = []string{HostName}
	}
	return st, nil
}

// Watch delivers status changes until ctx ends. A slow reader misses
// events rather than blocking deploys: they are hints (level triggering).
func (d *Deployer) Watch(ctx context.Context) (<-chan deploy.StatusEvent, error) {
	ch := make(chan deploy.StatusEvent, 64)
	d.mu.Lock()
	d.watchers[ch] = struct{}{}
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		select {
		case <-ctx.Done():
		case <-d.ctx.Done():
		}
		d.mu.Lock()
		delete(d.watchers, ch)
		close(ch)
		d.mu.Unlock()
	}()
	return ch, nil
}

// setStatus records and broadcasts a status; d.mu is held.
func (d *Deployer) setStatus(name string, a *app, st deploy.AppStatus) {
	a.status = st
	for ch := range d.watchers {
		select {
		case ch <- deploy.StatusEvent{App: name, Status: st}:
		default:
		}
	}
}

// Close cancels loads in progress, unloads every component and closes the
// watch channels.
func (d *Deployer) Close() error {
	d.cancel()
	d.mu.Lock()
	for name, a := range d.apps {
		a.gen++
		d.opts.Gateway.RemoveApp(name)
		closeAllAsync(&d.wg, a.serving)
		a.serving = nil
	}
	d.mu.Unlock()
	d.wg.Wait()
	return nil
}

func closeAll(comps []*runtime.Component) {
	for _, c := range comps {
		c.Close()
	}
}

// closeAllAsync unloads components off the caller's lock: Close waits for
// their in-flight requests.
func closeAllAsync(wg *sync.WaitGroup, comps []*runtime.Component) {
	if len(comps) == 0 {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		closeAll(comps)
	}()
}

var (
	_ deploy.Deployer = (*Deployer)(nil)
	_ Loader          = (*runtime.Host)(nil)
	_ Router          = (*gateway.Gateway)(nil)
	_ http.Handler    = (*runtime.Component)(nil)
)
