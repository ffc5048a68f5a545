package node

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
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy/local"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
)

// Fetcher gets a component's bytes from its reference (file:// or an OCI
// reference).
type Fetcher interface {
	Fetch(ctx context.Context, ref string) (*artefact.Wasm, error)
}

// RuntimeOptions configure the Runtime workload.
type RuntimeOptions struct {
	Runtime  local.Loader
	Gateway  local.Router
	Fetcher  Fetcher
	Observer *observe.Observer
	// KeyValue backs wasi:keyvalue with the bucket a component's link to
	// a keyvalue provider names (target config "bucket"), served
	// in-process; nil leaves components without a store.
	KeyValue func(bucket string) runtime.KeyValue
	// IngressAuthority is the node's ingress host:port: components linked
	// to wasi:http/outgoing-handler may call it (and AllowOutbound).
	IngressAuthority string
	AllowOutbound    []string
	Limits           runtime.Limits
	Logger           *zap.Logger
	// Bridge, when set, runs canvas-bridge in-process for the lattice;
	// without it the bridge serves this node's components only.
	Bridge *BridgeOptions
	// Secrets resolves a component's SECRET_ config references; nil
	// refuses a component that names one, as a host without
	// --secrets-topic does.
	Secrets *Secrets
}

// Runtime runs the components a Node is asked to on the wasm runtime and
// serves them on the gateway: a component gets a route for every
// wasi:http/incoming-handler link that targets it and whose source config
// has a "path" (the config translate writes for the http-server provider,
// named route-{api}); its config is the merge of its named configs; its
// links to wasi:keyvalue, wasi:http/outgoing-handler and canvas-bridge's
// wasmcanvas:observe are served in-process, as `canvas up` serves them.
type Runtime struct {
	opts RuntimeOptions
	log  *zap.Logger

	mu      sync.Mutex
	comps   map[string]*loaded
	bridges map[string]*bridge.Bridge
}

type loaded struct {
	c      Component
	wasm   *artefact.Wasm
	inst   *runtime.Component
	limit  *limiter                // its max_instances, in front of inst
	cc     runtime.ComponentConfig // without its secrets
	refs   map[string]map[string]string
	bucket string
	routes []gateway.Route
}

// NewRuntime returns the workload of `canvas node`.
func NewRuntime(opts RuntimeOptions) (*Runtime, error) {
	if opts.Runtime == nil || opts.Gateway == nil || opts.Fetcher == nil {
		return nil, errors.New("node runtime: Runtime, Gateway and Fetcher are required")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	return &Runtime{opts: opts, log: opts.Logger, comps: map[string]*loaded{}, bridges: map[string]*bridge.Bridge{}}, nil
}

// IsBuiltinProvider reports whether ref is canvas-bridge's, which the
// node serves in-process.
func (r *Runtime) IsBuiltinProvider(ref string) bool {
	repo, _, _ := strings.Cut(ref, "@")
	if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		repo = repo[:i]
	}
	return repo == translate.BridgeRepository
}

// Start fetches c's bytes, loads them and routes the component's paths; a
// running version serves until the new one is loaded.
func (r *Runtime) Start(ctx context.Context, c Component, data LatticeData) error {
	wasm, err := r.opts.Fetcher.Fetch(ctx, c.ImageRef)
	if err != nil {
		return err
	}
	return r.load(ctx, c, wasm, data)
}

func (r *Runtime) load(ctx context.Context, c Component, wasm *artefact.Wasm, data LatticeData) error {
	cc, bucket := r.componentConfig(c, data)
	if bucket != "" && r.opts.KeyValue != nil {
		cc.KeyValue = r.opts.KeyValue(bucket)
		// Opened now (created if new) so the first request does not pay for it.
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := cc.KeyValue.Open(octx, "default")
		cancel()
		if err != nil {
			return fmt.Errorf("keyvalue bucket %s: %w", bucket, err)
		}
	}
	// The secrets' values go into a copy of cc, made after every link is
	// resolved into cc (keyvalue above): what the component is loaded with
	// is cc plus its secrets, and cc alone is kept to compare with.
	refs := secretRefs(c, data)
	withSecrets, err := r.withSecrets(ctx, c, wasm, cc, refs)
	if err != nil {
		return err
	}
	inst, err := r.opts.Runtime.Load(ctx, c.ID, wasm.Bytes, withSecrets)
	if errors.Is(err, runtime.ErrCompile) {
		return wasm.CompileFailure(err)
	}
	if err != nil {
		return err
	}
	limit := newLimiter(inst, c.MaxInstances)
	routes, err := r.routes(c, limit, data)
	if err == nil {
		err = r.opts.Gateway.SetRoutes(c.ID, routes)
	}
	if err != nil {
		_ = inst.Close()
		return fmt.Errorf("routes of %s: %w", c.ID, err)
	}
	r.opts.Gateway.SetReady(c.ID)
	r.mu.Lock()
	old := r.comps[c.ID]
	r.comps[c.ID] = &loaded{c: c, wasm: wasm, inst: inst, limit: limit, cc: cc, refs: refs, bucket: bucket, routes: routes}
	r.mu.Unlock()
	if old != nil {
		go old.inst.Close() // waits for its requests in flight
	}
	r.log.Info("component serving", zap.String("component_id", c.ID), zap.String("digest", wasm.Digest()), zap.Strings("paths", paths(routes)))
	return nil
}

func paths(routes []gateway.Route) []string {
	out := make([]string, len(routes))
	for i, rt := range routes {
		out[i] = rt.Path
	}
	return out
}

// Stop removes the component's routes and unloads it.
func (r *Runtime) Stop(id string) {
	r.mu.Lock()
	l := r.comps[id]
	delete(r.comps, id)
	r.mu.Unlock()
	r.opts.Gateway.RemoveApp(id)
	if l != nil {
		_ = l.inst.Close()
	}
}

// Reconcile reloads a component whose config or links changed, re-routes
// one whose incoming links changed, and applies a changed instance count.
func (r *Runtime) Reconcile(ctx context.Context, running []Component, data LatticeData) {
	for _, c := range running {
		r.mu.Lock()
		l := r.comps[c.ID]
		r.mu.Unlock()
		if l == nil {
			continue
		}
		l.limit.resize(c.MaxInstances)
		cc, bucket := r.componentConfig(c, data)
		if !sameConfig(cc, l.cc) || bucket != l.bucket || !sameRefs(secretRefs(c, data), l.refs) {
			if err := r.load(ctx, c, l.wasm, data); err != nil {
				r.log.Warn("component not reloaded with its new config or links: the old one serves", zap.String("component_id", c.ID), zap.Error(err))
			}
			continue
		}
		routes, err := r.routes(c, l.limit, data)
		if err == nil && sameRoutes(routes, l.routes) {
			continue
		}
		if err == nil {
			err = r.opts.Gateway.SetRoutes(c.ID, routes)
		}
		if err != nil {
			r.log.Warn("component routes not changed", zap.String("component_id", c.ID), zap.Error(err))
			continue
		}
		r.opts.Gateway.SetReady(c.ID)
		r.mu.Lock()
		l.routes = routes
		r.mu.Unlock()
		r.log.Info("component routes changed", zap.String("component_id", c.ID), zap.Strings("paths", paths(routes)))
	}
}

// sameConfig compares what a reload would change (not KeyValue, a new
// value per call, nor Observe, a pointer compared by the flag it stands for).
func sameConfig(a, b runtime.ComponentConfig) bool {
	return maps.Equal(a.Config, b.Config) && maps.Equal(a.Env, b.Env) && slices.Equal(a.AllowedOutbound, b.AllowedOutbound) &&
		(a.Observe == nil) == (b.Observe == nil) && a.Source == b.Source
}

func sameRoutes(a, b []gateway.Route) bool {
	return slices.EqualFunc(a, b, func(x, y gateway.Route) bool {
		return x.API == y.API && x.Path == y.Path && x.Source == y.Source && x.Metrics == y.Metrics && x.Policy == y.Policy
	})
}

// Link interfaces the node resolves.
const (
	witHTTP       = "http"
	witWASI       = "wasi"
	ifaceIncoming = "incoming-handler"
	ifaceOutgoing = "outgoing-handler"
	witKeyValue   = "keyvalue"
	witObserveNS  = "wasmcanvas"
	witObserve    = "observe"
	// configPath is the http-server provider's path-mode link config
	// property (and what translate writes).
	configPath    = "path"
	configAPIType = "api-type"
	configPolicy  = "policy"
	configBucket  = "bucket"
	routePrefix   = "route-"
)

// componentConfig resolves c's config, environment and outgoing links as
// a host does; it returns the keyvalue bucket a link names.
func (r *Runtime) componentConfig(c Component, data LatticeData) (runtime.ComponentConfig, string) {
	cfg, env := map[string]string{}, map[string]string{}
	for _, name := range c.Config {
		if IsSecretReference(name) {
			continue // a reference to a secret, not its value: see IsSecretReference
		}
		if name == local.EnvConfigName || strings.HasSuffix(name, "-"+local.EnvConfigName) {
			maps.Copy(env, data.Config[name])
			continue
		}
		maps.Copy(cfg, data.Config[name])
	}
	for k, from := range map[string]string{local.EnvComponentName: translate.ConfigComponent, local.EnvComponentNamespace: translate.ConfigNamespace} {
		if v := cfg[from]; v != "" && env[k] == "" {
			env[k] = v
		}
	}
	cc := runtime.ComponentConfig{Config: cfg, Env: env, Limits: r.opts.Limits}
	var bucket string
	for _, l := range data.Links {
		if l.SourceID != c.ID {
			continue
		}
		switch {
		case l.WitNamespace == witWASI && l.WitPackage == witKeyValue:
			for _, name := range l.TargetConfig {
				if b := data.Config[name][configBucket]; b != "" {
					bucket = b
				}
			}
		case l.WitNamespace == witWASI && l.WitPackage == witHTTP && slices.Contains(l.Interfaces, ifaceOutgoing):
			if r.opts.IngressAuthority != "" {
				cc.AllowedOutbound = append(cc.AllowedOutbound, r.opts.IngressAuthority)
			}
			cc.AllowedOutbound = append(cc.AllowedOutbound, r.opts.AllowOutbound...)
		// Only canvas-bridge serves wasmcanvas:observe: the link is served
		// into the node's Observer whether the bridge it names runs here or
		// on another host (canvasd's shared one), as `canvas up` serves it;
		// the node's metrics routes serve that Observer's series.
		case l.WitNamespace == witObserveNS && l.WitPackage == witObserve && r.opts.Observer != nil:
			cc.Observe = r.opts.Observer
			cc.Source = observe.Source{Namespace: cfg[translate.ConfigNamespace], Component: cfg[translate.ConfigComponent]}
		}
	}
	return cc, bucket
}

// secretRefs are the secret references c names, as the lattice holds them.
func secretRefs(c Component, data LatticeData) map[string]map[string]string {
	var out map[string]map[string]string
	for _, name := range c.Config {
		if IsSecretReference(name) {
			if out == nil {
				out = map[string]map[string]string{}
			}
			out[name] = data.Config[name]
		}
	}
	return out
}

func sameRefs(a, b map[string]map[string]string) bool {
	return maps.EqualFunc(a, b, func(x, y map[string]string) bool { return maps.Equal(x, y) })
}

// withSecrets returns cc with the values of the secrets refs name, fetched
// from their backends for c (its embedded JWT, its application): each is
// the wasi:config value of the secret's name (a string, or a binary
// secret's bytes). A secret that cannot be fetched fails the start, as on
// a host; the error names the secret, never a value.
func (r *Runtime) withSecrets(ctx context.Context, c Component, wasm *artefact.Wasm, cc runtime.ComponentConfig, refs map[string]map[string]string) (runtime.ComponentConfig, error) {
	if len(refs) == 0 {
		return cc, nil
	}
	names := slices.Collect(maps.Keys(refs))
	vals, err := r.opts.Secrets.Fetch(ctx, names, refs, EmbeddedJWT(wasm.Bytes), c.Annotations[AppSpecAnnotation])
	if err != nil {
		return cc, fmt.Errorf("unable to fetch requested secrets: %w", err)
	}
	cfg := maps.Clone(cc.Config)
	for name, v := range vals {
		if v.String != nil {
			cfg[name] = *v.String
		} else {
			cfg[name] = string(v.Bytes)
		}
	}
	cc.Config = cfg
	return cc, nil
}

// routes are the paths the links into c name, each served by h behind
// the policy its config names (translate's JSON of policy.Spec). A policy
// that does not decode is an error: serving the API with less than it
// says would open it.
func (r *Runtime) routes(c Component, h http.Handler, data LatticeData) ([]gateway.Route, error) {
	var out []gateway.Route
	cc, _ := r.componentConfig(c, data)
	for _, l := range data.Links {
		if l.Target != c.ID || l.WitNamespace != witWASI || l.WitPackage != witHTTP || !slices.Contains(l.Interfaces, ifaceIncoming) {
			continue
		}
		for _, name := range l.SourceConfig {
			props := data.Config[name]
			p, ok := props[configPath]
			if !ok {
				continue
			}
			api := name
			if _, after, found := strings.Cut(name, routePrefix); found {
				api = after
			}
			rt := gateway.Route{API: api, Path: p, Handler: h, Metrics: strings.EqualFold(props[configAPIType], translate.APITypePrometheus)}
			if js := props[configPolicy]; js != "" {
				spec, err := policy.Decode(js)
				if err != nil {
					return nil, fmt.Errorf("the policy of route %s (config %s): %w", p, name, err)
				}
				rt.Policy = spec
			}
			// A component without the oda config translate writes is no
			// ODA Component: its requests get spans, no series.
			if ns, name := cc.Config[translate.ConfigNamespace], cc.Config[translate.ConfigComponent]; ns != "" && name != "" {
				rt.Source = observe.Source{Namespace: ns, Component: name, API: api}
			}
			out = append(out, rt)
		}
	}
	slices.SortFunc(out, func(a, b gateway.Route) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// Close stops the in-process providers and unloads every component.
func (r *Runtime) Close() {
	r.mu.Lock()
	ids := slices.Collect(maps.Keys(r.comps))
	providers := slices.Collect(maps.Keys(r.bridges))
	r.mu.Unlock()
	for _, id := range providers {
		r.StopProvider(id)
	}
	for _, id := range ids {
		r.Stop(id)
	}
}

var _ Workload = (*Runtime)(nil)

// SecretPrefix starts the name of a config that holds a secret reference
// (wadm's SECRET_{manifest}-{name}), which a host resolves through its
// secrets backend (Secrets). Such configs are never a component's config
// nor a provider's link config, so a reference never passes for a value.
const SecretPrefix = "SECRET_"

// IsSecretReference reports whether a config name holds a secret reference.
func IsSecretReference(name string) bool { return strings.HasPrefix(name, SecretPrefix) }
