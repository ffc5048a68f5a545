package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/enforce"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
)

// Options configure a Gateway. The zero value works: no logs, metrics
// kept but not registered anywhere.
type Options struct {
	Logger *zap.Logger
	// Registerer receives the canvas_gateway_* metrics.
	Registerer prometheus.Registerer
	// BaseURL is the URL clients reach the gateway at, when it differs
	// from the bound address (a proxy in front); BaseURL() returns it.
	BaseURL string
	// ShutdownTimeout bounds the graceful shutdown once Serve's context
	// ends; requests still running then are cut off. Default 10s.
	ShutdownTimeout time.Duration
	// Observer, when set, gets a server span per routed request (a child
	// of the client's traceparent; the handler's context carries it and
	// the request's traceparent names it), counts the request, its
	// duration and the in-flight gauge in its route's Component's series,
	// and serves those series at Route.Metrics routes. nil: none of it.
	Observer *observe.Observer
	// Policy configures how routes' policies (Route.Policy) are enforced:
	// the Authenticator of guarded APIs (none: they answer 503, never
	// open), the API key store and the rate-limit and quota counters
	// (none: in memory).
	Policy enforce.Options
}

// Gateway is the HTTP ingress. It is safe for concurrent use.
type Gateway struct {
	log      *zap.Logger
	metrics  *metrics
	opts     Options
	enforcer *enforce.Enforcer

	routes atomic.Pointer[table]
	// mu serialises writers of routes; readers never take it.
	mu sync.Mutex

	serveMu sync.Mutex
	baseURL string
	started bool
	done    chan struct{}
	err     error
}

// New returns a gateway with an empty route table.
func New(opts Options) *Gateway {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	g := &Gateway{
		log:     opts.Logger,
		metrics: newMetrics(opts.Registerer),
		opts:    opts,
		baseURL: strings.TrimSuffix(opts.BaseURL, "/"),
		done:    make(chan struct{}),
	}
	if opts.Policy.Logger == nil {
		opts.Policy.Logger = opts.Logger
	}
	g.enforcer = enforce.New(opts.Policy)
	g.routes.Store(emptyTable())
	return g
}

// SetRoutes makes routes the complete set of routes of app, replacing the
// ones it had, in one step: a request sees either the old set or the new
// one. If a path is invalid or claimed by another app (or twice in
// routes), nothing changes and the error says which. An empty routes
// removes the app's routes but keeps its readiness state.
func (g *Gateway) SetRoutes(app string, routes []Route) error {
	if app == "" {
		return errors.New("gateway: set routes: the app name is empty")
	}
	// Policies read their OpenAPI documents here, before the lock: no
	// writer waits on another's file or fetch.
	chains := make([]*enforce.Chain, len(routes))
	for i, r := range routes {
		if r.Policy.Empty() {
			continue
		}
		var err error
		er := enforce.Route{App: app, API: r.API, Path: r.Path, Component: r.Source.Namespace + "." + r.Source.Component}
		if chains[i], err = g.enforcer.Compile(context.Background(), er, r.Policy); err != nil {
			return fmt.Errorf("gateway: set routes of app %q: route %d: %w", app, i, err)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	n, err := g.routes.Load().withRoutes(app, routes, chains, g.opts.Observer)
	if err != nil {
		return fmt.Errorf("gateway: set routes of app %q: %w", app, err)
	}
	g.routes.Store(n)
	return nil
}

// RemoveApp drops the routes and readiness state of app; requests to its
// paths then answer 404. Removing an unknown app does nothing.
func (g *Gateway) RemoveApp(app string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.routes.Load()
	if _, ok := t.states[app]; !ok {
		return
	}
	n := t.clone()
	for _, e := range n.byApp[app] {
		delete(n.byPath, e.path)
		if k, err := e.source.Key(); err == nil && e.metrics != nil {
			// Its Component is undeployed or deleted: churn must not grow
			// memory, and a later deploy starts its series afresh.
			g.opts.Observer.Forget(k)
		}
	}
	delete(n.byApp, app)
	delete(n.states, app)
	g.routes.Store(n)
}

// SetUnavailable makes requests to app's routes answer 503 with reason
// (e.g. "loading component") until SetReady. It may be called before the
// app has routes, so that they start unavailable.
func (g *Gateway) SetUnavailable(app, reason string) {
	if reason == "" {
		reason = "not ready"
	}
	g.setState(app, &appState{ready: false, reason: reason})
}

// SetReady lets requests reach app's handlers again.
func (g *Gateway) SetReady(app string) {
	g.setState(app, &appState{ready: true})
}

func (g *Gateway) setState(app string, st *appState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.routes.Store(g.routes.Load().withState(app, st))
}

// Routes lists every route, sorted by path.
func (g *Gateway) Routes() []RouteInfo {
	return g.routes.Load().infos()
}

// ServeHTTP routes r to the handler of the longest matching route.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	g.metrics.inFlight.Inc()
	rec := &recorder{ResponseWriter: w, req: r}
	var (
		e    *entry
		span observe.ServerSpan // the zero one unless observed
	)
	defer func() {
		g.metrics.inFlight.Dec()
		v := recover()
		if v == nil {
			g.finish(r, rec, e, span, start)
			return
		}
		if v == http.ErrAbortHandler {
			g.finish(r, rec, e, span, start)
			panic(v)
		}
		g.log.Error("gateway: handler panicked",
			routeField(e), zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.Any("panic", v), zap.Stack("stack"))
		if rec.wroteHeader {
			// The client already has a status line; cutting the connection
			// is the only way left to tell it the response is incomplete.
			g.finish(r, rec, e, span, start)
			panic(http.ErrAbortHandler)
		}
		rec.fail(errHandlerPanicked)
		g.finish(r, rec, e, span, start)
	}()

	// Only the gateway's policies may name the caller to a component.
	enforce.StripHeaders(r.Header)
	if p := r.URL.Path; !canonicalRequestPath(p) {
		writeProblem(rec, r, http.StatusBadRequest, fmt.Sprintf("the path %q is not canonical: it has empty, \".\" or \"..\" segments", p))
		return
	}
	e = g.routes.Load().match(r.URL.Path)
	if e == nil {
		writeProblem(rec, r, http.StatusNotFound, fmt.Sprintf("no API is served at %q", r.URL.Path))
		return
	}
	if !e.state.ready {
		rec.Header().Set("Retry-After", "1")
		writeProblem(rec, r, http.StatusServiceUnavailable, fmt.Sprintf("the API %q of %q is not ready: %s", e.api, e.app, e.state.reason))
		return
	}
	if o := g.opts.Observer; o != nil && !e.scrape {
		ctx := observe.WithSource(r.Context(), e.sourceRef)
		ctx, span = e.spans.Start(ctx, r)
		// The component continues the trace from the header or the context.
		observe.Inject(ctx, r.Header)
		r = r.WithContext(ctx)
		if e.metrics != nil {
			e.metrics.AddInFlight(1)
			defer e.metrics.AddInFlight(-1)
		}
	}
	e.handler.ServeHTTP(rec, r)
}

// errHandlerPanicked is the failure logged with the request; the panic
// value itself is logged once, with its stack, where it is recovered.
var errHandlerPanicked = errors.New("handler panicked")

func routeField(e *entry) zap.Field {
	if e == nil {
		return zap.Skip()
	}
	return zap.Dict("route", zap.String("app", e.app), zap.String("api", e.api), zap.String("path", e.path))
}

// canonicalRequestPath rejects paths whose prefix match would disagree
// with how a handler resolves them ("/a/../b" matches route /a).
func canonicalRequestPath(p string) bool {
	if p == "" || p == "/" {
		return true
	}
	trimmed := strings.TrimSuffix(p, "/")
	return path.Clean(trimmed) == trimmed
}

func (g *Gateway) finish(r *http.Request, rec *recorder, e *entry, span observe.ServerSpan, start time.Time) {
	d := time.Since(start)
	status := rec.status
	if status == 0 {
		// The handler returned without writing: net/http sends 200.
		status = http.StatusOK
	}
	app, api := "", ""
	if e != nil {
		app, api = e.app, e.api
	}
	g.metrics.requests.WithLabelValues(app, api, strconv.Itoa(status)).Inc()
	g.metrics.duration.WithLabelValues(app, api).Observe(d.Seconds())
	if e != nil && e.metrics != nil && !e.scrape {
		e.metrics.ObserveRequest(api, status, d)
	}
	span.End(status)

	level, msg := zap.InfoLevel, "gateway: request"
	if rec.failure != nil {
		level, msg = zap.WarnLevel, "gateway: request failed"
	}
	// Check first: building the fields costs more than the rest of the
	// gateway when the level is off.
	ce := g.log.Check(level, msg)
	if ce == nil {
		return
	}
	fields := []zap.Field{
		zap.String("method", r.Method), zap.String("path", r.URL.Path),
		zap.String("app", app), zap.String("api", api),
		zap.Int("status", status), zap.Duration("duration", d), zap.Int64("bytes", rec.bytes),
	}
	if rec.failure != nil {
		fields = append(fields, zap.Error(rec.failure))
	}
	if sc := span.SpanContext(); sc.IsValid() {
		fields = append(fields, zap.Stringer("trace_id", sc.TraceID()))
	}
	ce.Write(fields...)
}
