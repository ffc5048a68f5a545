package gateway

import (
	"fmt"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/enforce"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
)

// Route is one exposed API of an app: requests whose path is Path or lies
// below it (on a segment boundary) go to Handler with the path unchanged.
type Route struct {
	// API names the exposed API (the ODA exposedAPIs[].name); it labels
	// logs and metrics.
	API string
	// Path is the prefix served, e.g. /productcatalog/tmf-api/productCatalogManagement/v4.
	// A trailing slash is ignored.
	Path    string
	Handler http.Handler
	// Source is the ODA Component serving the route (its API defaults to
	// API). With Options.Observer set, requests get a server span and
	// count in that Component's request series; the zero Source gets the
	// span only.
	Source observe.Source
	// Metrics makes the route serve Source's Prometheus series from
	// Options.Observer instead of Handler: a managementFunction API of
	// apiType prometheus. Its requests are not counted in those series.
	// Without an Observer, Handler serves it like any route.
	Metrics bool
	// Policy is enforced in front of the route's handler (pkg/gateway/enforce,
	// with Options.Policy): guard, API key, rate limit, quota, OpenAPI
	// validation, CORS. API keys and the guard's realm are Source's
	// Component's.
	Policy policy.Spec
}

// RouteInfo describes one route for status and debugging.
type RouteInfo struct {
	App   string `json:"app"`
	API   string `json:"api"`
	Path  string `json:"path"`
	Ready bool   `json:"ready"`
	// Reason says why the app is not ready; empty when it is.
	Reason string `json:"reason,omitempty"`
	// Policy is what the gateway enforces on the route.
	Policy policy.Spec `json:"policy,omitzero"`
}

// ConflictError reports a path that another app (or another API of the
// same app) already claims.
type ConflictError struct {
	Path string
	// App and API hold the path already.
	App, API string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("path %q is already served by app %q (API %q)", e.Path, e.App, e.API)
}

// entry is one route in the table; entries are never mutated once
// published, so readers need no lock.
type entry struct {
	app, api, path string
	handler        http.Handler
	state          *appState
	source         observe.Source
	// sourceRef is source for the request's context (observe.WithSource),
	// made once per route.
	sourceRef *observe.Source
	// spans opens the requests' server spans (nil without an Observer).
	spans *observe.ServerSpans
	// metrics is source's registry (nil without an Observer or Source);
	// scrape marks a route that serves it.
	metrics *observe.Metrics
	scrape  bool
	// policy is what the handler enforces (RouteInfo shows it).
	policy policy.Spec
}

// appState is shared by all entries of an app so that a readiness change
// swaps one pointer, not every entry.
type appState struct {
	ready  bool
	reason string
}

// table is an immutable snapshot of all routes.
type table struct {
	byPath map[string]*entry
	byApp  map[string][]*entry
	// states holds readiness per app, also for apps without routes yet, so
	// that an app marked unavailable before its routes exist starts so.
	states map[string]*appState
	// maxLen is at least the length of the longest path in byPath: match
	// looks up no longer prefix of a request's path.
	maxLen int
}

func emptyTable() *table {
	return &table{byPath: map[string]*entry{}, byApp: map[string][]*entry{}, states: map[string]*appState{}}
}

// clone copies the maps (not the entries) for a copy-on-write update.
func (t *table) clone() *table {
	n := &table{
		byPath: make(map[string]*entry, len(t.byPath)),
		byApp:  make(map[string][]*entry, len(t.byApp)),
		states: make(map[string]*appState, len(t.states)),
		maxLen: t.maxLen,
	}
	for k, v := range t.byPath {
		n.byPath[k] = v
	}
	for k, v := range t.byApp {
		n.byApp[k] = v
	}
	for k, v := range t.states {
		n.states[k] = v
	}
	return n
}

// match finds the route with the longest path that equals p or is a
// prefix of p ending at a '/'. It allocates nothing, and looks up no
// prefix longer than the longest route: a request's path may be a
// megabyte of segments, and hashing every prefix of it was quadratic
// (0.67 s for 390 KB among 100 routes).
func (t *table) match(p string) *entry {
	if p == "" {
		p = "/"
	}
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
		if p == "" {
			p = "/"
		}
	}
	if len(p) > t.maxLen {
		// The longest prefix a route could be ends before a '/' at most
		// maxLen bytes in.
		if i := strings.LastIndexByte(p[:t.maxLen+1], '/'); i > 0 {
			p = p[:i]
		} else {
			p = "/"
		}
	}
	for {
		if e, ok := t.byPath[p]; ok {
			return e
		}
		if p == "/" {
			return nil
		}
		i := strings.LastIndexByte(p, '/')
		if i <= 0 {
			p = "/"
		} else {
			p = p[:i]
		}
	}
}

// normalizePath returns the canonical form of a route path, or an error
// saying how to fix it.
func normalizePath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("path %q must start with \"/\"", p)
	}
	if strings.ContainsAny(p, "?#") {
		return "", fmt.Errorf("path %q must not contain a query or fragment", p)
	}
	n := p
	if len(n) > 1 {
		n = strings.TrimSuffix(n, "/")
	}
	if c := path.Clean(n); c != n {
		return "", fmt.Errorf("path %q is not canonical: write %q", p, c)
	}
	return n, nil
}

// withRoutes returns a copy of t in which app serves exactly routes; obs
// (may be nil) holds the routes' Components' registries; chains[i] (nil:
// none) is route i's compiled policy.
func (t *table) withRoutes(app string, routes []Route, chains []*enforce.Chain, obs *observe.Observer) (*table, error) {
	n := t.clone()
	for _, old := range n.byApp[app] {
		delete(n.byPath, old.path)
	}
	delete(n.byApp, app)
	st := n.states[app]
	if st == nil {
		st = &appState{ready: true}
		n.states[app] = st
	}
	entries := make([]*entry, 0, len(routes))
	for i, r := range routes {
		p, err := normalizePath(r.Path)
		if err != nil {
			return nil, fmt.Errorf("route %d (API %q): %w", i, r.API, err)
		}
		e := &entry{app: app, api: r.API, path: p, handler: r.Handler, state: st, source: r.Source, scrape: r.Metrics && obs != nil}
		if e.source.API == "" {
			e.source.API = r.API
		}
		src := e.source
		e.sourceRef = &src
		if obs != nil {
			e.spans = obs.ServerSpans(e.source)
		}
		if obs != nil && r.Source != (observe.Source{}) {
			if e.metrics, err = obs.Metrics(e.source); err != nil {
				return nil, fmt.Errorf("route %d (API %q, path %q): %w", i, r.API, p, err)
			}
		}
		if r.Metrics && obs != nil {
			if e.metrics == nil {
				return nil, fmt.Errorf("route %d (API %q, path %q) serves a Component's metrics: it needs a Source", i, r.API, p)
			}
			e.handler = e.metrics.Handler()
		}
		if e.handler == nil {
			return nil, fmt.Errorf("route %d (API %q, path %q) has no handler", i, r.API, p)
		}
		if i < len(chains) && chains[i] != nil {
			e.handler = chains[i].Wrap(e.handler)
			e.policy = r.Policy
		}
		if held, ok := n.byPath[p]; ok {
			return nil, &ConflictError{Path: p, App: held.app, API: held.api}
		}
		n.byPath[p] = e
		entries = append(entries, e)
	}
	if len(entries) > 0 {
		n.byApp[app] = entries
	}
	n.maxLen = 0
	for p := range n.byPath {
		n.maxLen = max(n.maxLen, len(p))
	}
	return n, nil
}

// withState returns a copy of t with app's readiness replaced; entries of
// the app are re-created so they point at the new state.
func (t *table) withState(app string, st *appState) *table {
	n := t.clone()
	n.states[app] = st
	old := n.byApp[app]
	if len(old) == 0 {
		return n
	}
	entries := make([]*entry, len(old))
	for i, e := range old {
		c := *e
		c.state = st
		entries[i] = &c
		n.byPath[c.path] = &c
	}
	n.byApp[app] = entries
	return n
}

func (t *table) infos() []RouteInfo {
	out := make([]RouteInfo, 0, len(t.byPath))
	for _, e := range t.byPath {
		out = append(out, RouteInfo{App: e.app, API: e.api, Path: e.path, Ready: e.state.ready, Reason: e.state.reason, Policy: e.policy})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
