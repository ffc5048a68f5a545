package observerpc

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/bridge"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/service"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// The provider config keys (and link target config keys) this service reads.
const (
	// ConfigMetricsListen is the provider config key of the Prometheus
	// listener's address, e.g. 127.0.0.1:9464; unset, no listener.
	ConfigMetricsListen = "metrics-listen"
	// ConfigNamespace, ConfigComponent and ConfigAPI, in a link's target
	// config, name the ODA Component the linked component belongs to.
	ConfigNamespace = "namespace"
	ConfigComponent = "component"
	ConfigAPI       = "api"
)

// ServiceName is the OTLP service.name of what the bridge exports when
// otel_config turns OTLP on (OTEL_SERVICE_NAME otherwise wins).
const ServiceName = "canvas-bridge"

// Options are the service's settings; the zero value is the production one.
type Options struct {
	Getenv func(string) string // OTEL_* lookups (default os.Getenv)
	Limits observe.Limits
}

// Service serves wasmcanvas:observe as a bridge.Service.
type Service struct {
	opts Options
}

// New returns the Service; nothing runs until the bridge starts it.
func New(opts Options) *Service {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	return &Service{opts: opts}
}

// Name is the WIT package served.
func (s *Service) Name() string { return Package }

// Serve runs the Observer, the Prometheus listener (when the provider
// config has ConfigMetricsListen) and the wRPC handlers until ctx ends.
// The listener's address is read once, here: a config update moves it at
// the provider's next start.
func (s *Service) Serve(ctx context.Context, nc *nats.Conn, env bridge.Env) error {
	log := env.Log
	if log == nil {
		log = zap.NewNop()
	}
	obs := observe.New(observe.Options{ServiceName: ServiceName, Logger: log, Getenv: s.opts.Getenv,
		Config: otlpConfig(env.Otel, log), Limits: s.opts.Limits})
	srv := newServer(obs, env, log)
	parts := []service.Service{obs.Service()}
	if addr := env.Config()[ConfigMetricsListen]; addr != "" {
		parts = append(parts, srv.metricsListener(addr))
	}
	var ws *wrpc.Server
	parts = append(parts, service.New("wRPC "+Package, service.Funcs{
		Start: func(context.Context) error {
			var err error
			ws, err = srv.serve(nc, subject.WRPCPrefix(env.Lattice, env.ProviderKey))
			return err
		},
		Stop: func(context.Context) error { return ws.Close() },
	}))
	r := service.NewRunner(parts...)
	if err := r.Start(ctx); err != nil {
		return err
	}
	if env.Ready != nil {
		env.Ready()
	}
	select {
	case <-ctx.Done():
	case <-r.Done():
		return r.Wait()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bridge.ShutdownTimeout)
	defer cancel()
	return r.Shutdown(sctx)
}

// otlpConfig is the Observer's OTLP settings from the host's otel_config:
// nil (the OTEL_* variables decide) when it turns no signal on. An enabled
// signal without an endpoint goes to the OTLP/HTTP default. pkg/observe
// exports OTLP over HTTP only: otel_config asking for gRPC is logged and
// left to OTEL_*.
func otlpConfig(o bridge.OtelConfig, log *zap.Logger) *observe.Config {
	signals := []struct {
		name string
		s    bridge.Signal
		to   func(*observe.Config) *observe.Endpoint
	}{
		{"traces", o.Traces(), func(c *observe.Config) *observe.Endpoint { return &c.Traces }},
		{"metrics", o.Metrics(), func(c *observe.Config) *observe.Endpoint { return &c.Metrics }},
		{"logs", o.Logs(), func(c *observe.Config) *observe.Endpoint { return &c.Logs }},
	}
	var c *observe.Config
	for _, sig := range signals {
		if !sig.s.Enabled {
			continue
		}
		if o.OTLPProtocol() == bridge.OTLPGRPC {
			log.Warn("otel_config asks for OTLP over gRPC; canvas-bridge exports OTLP over HTTP only, so OTEL_* decide: set otel_config protocol to http")
			return nil
		}
		if c == nil {
			c = &observe.Config{ServiceName: ServiceName}
		}
		url := sig.s.Endpoint
		if url == "" {
			url = defaultOTLP + "/v1/" + sig.name
		}
		*sig.to(c) = observe.Endpoint{URL: url}
	}
	return c
}

// defaultOTLP is the OTLP/HTTP collector address when none is given.
const defaultOTLP = "http://localhost:4318"

// server holds what every call needs.
type server struct {
	rec     observe.Recorder // obs, through the interface the runtime calls in-process too
	obs     *observe.Observer
	links   *bridge.Links
	lattice string
	log     *zap.Logger
	reg     *prometheus.Registry
	calls   *prometheus.CounterVec
}

func newServer(obs *observe.Observer, env bridge.Env, log *zap.Logger) *server {
	s := &server{rec: obs, obs: obs, links: env.Links, lattice: env.Lattice, log: log, reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmcanvas_bridge_calls_total",
			Help: "wasmcanvas:observe calls canvas-bridge served, by calling component (empty when it had no link), function and result (ok, a WIT error case, or failed).",
		}, []string{"source_id", "interface", "function", "result"})}
	s.reg.MustRegister(s.calls)
	env.Links.OnTargetDeleted(s.forget)
	return s
}

// forget drops the Component's registry once the last link that recorded
// as it is deleted, so links that come and go do not grow the bridge.
func (s *server) forget(id string, l bridge.Link) {
	k, err := s.sourceOf(id, l).Key()
	if err != nil {
		return
	}
	for _, other := range s.links.Sources() {
		if ol, err := s.links.Target(other); err == nil {
			if ok, err := s.sourceOf(other, ol).Key(); err == nil && ok == k {
				return // another caller still records as this Component
			}
		}
	}
	s.obs.Forget(k)
}

// serve registers one handler per WIT function under prefix.
func (s *server) serve(nc *nats.Conn, prefix string) (*wrpc.Server, error) {
	ws, err := wrpc.NewServer(nc, prefix, s.log)
	if err != nil {
		return nil, err
	}
	for _, fn := range functions {
		if err := ws.Handle(Instance(fn.iface), fn.name, s.handler(fn)); err != nil {
			return nil, errors.Join(err, ws.Close())
		}
	}
	return ws, nil
}

// Results of a call besides the WIT error cases, as the calls counter
// labels them.
const (
	resultOK     = "ok"
	resultFailed = "failed"
)

// handler serves fn with the invocation's headers.
func (s *server) handler(fn function) wrpc.Handler {
	return func(ctx context.Context, d *wire.Decoder, r *wire.Encoder) error {
		h := wrpc.Header(ctx)
		return s.call(ctx, fn, h.Get(wrpc.HeaderSourceID), observe.TraceContext{
			Traceparent: h.Get(wrpc.HeaderTraceparent), Tracestate: h.Get(wrpc.HeaderTracestate)}, d, r)
	}
}

// call serves one call of fn from component id: params first (all of
// them, so garbage fails the call before anything is recorded), then the
// link, then the Recorder, in the trace context tc when it is valid.
func (s *server) call(ctx context.Context, fn function, id string, tc observe.TraceContext, d *wire.Decoder, r *wire.Encoder) error {
	c := fn.decode(d)
	if err := d.Finish(); err != nil {
		s.count("", fn, resultFailed)
		return fmt.Errorf("%s.%s: params do not match wit/observe.wit: %w", Instance(fn.iface), fn.name, err)
	}
	src, err := s.source(id)
	if err != nil {
		s.count("", fn, observe.NotLinked.String())
		return fn.fail(r, err)
	}
	if tc.Traceparent != "" {
		if tctx, err := observe.ContextWithTraceContext(ctx, tc); err == nil {
			ctx = tctx
		}
	}
	if err := c(ctx, s.rec, src, r); err != nil {
		var oe *observe.Error
		if errors.As(err, &oe) {
			s.count(id, fn, oe.Kind.String())
			return fn.fail(r, oe)
		}
		s.count(id, fn, resultFailed)
		return fn.fail(r, err)
	}
	s.count(id, fn, resultOK)
	return nil
}

func (s *server) count(sourceID string, fn function, result string) {
	s.calls.WithLabelValues(sourceID, fn.iface, fn.name, result).Inc()
}

// sourceOf is the Component that link l of caller id records as.
func (s *server) sourceOf(id string, l bridge.Link) observe.Source {
	if ns, c := l.Config[ConfigNamespace], l.Config[ConfigComponent]; ns != "" && c != "" {
		return observe.Source{Namespace: ns, Component: c, API: l.Config[ConfigAPI]}
	}
	return observe.Source{Namespace: s.lattice, Component: id}
}

// source is the Component of the component id calls from: its link's
// target config names it when it has both ConfigNamespace and
// ConfigComponent (and maybe ConfigAPI); otherwise the lattice is the
// namespace and the id the name. Both are needed because the bridge keeps
// one link per caller, as wasmCloud providers do: a component's identity
// link, whose config has a component key of its own, may be the one kept.
// The error, a not-linked *observe.Error, says what to fix.
func (s *server) source(id string) (observe.Source, error) {
	l, err := s.links.Target(id)
	if err != nil {
		return observe.Source{}, &observe.Error{Kind: observe.NotLinked, Message: err.Error()}
	}
	src := s.sourceOf(id, l)
	if _, err := src.Key(); err != nil {
		return observe.Source{}, &observe.Error{Kind: observe.NotLinked, Message: fmt.Sprintf(
			"the link from %.80q names no ODA Component (%v): set target config %s and %s on it", id, err, ConfigNamespace, ConfigComponent)}
	}
	return src, nil
}
