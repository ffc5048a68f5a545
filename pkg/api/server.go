package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/peer"
)

// Check is one readiness condition of /readyz; Check returns nil when met.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options configure a Server. Desired and Statuses are required.
type Options struct {
	Desired  Desired
	Statuses Statuses
	// Events may be nil: the events route then answers an empty list.
	Events Events
	// Admit checks a parsed Component further before it is stored (e.g.
	// that it translates into a wadm manifest); an oda.ErrorList it returns
	// is answered as 422 like a parse error.
	Admit func(*oda.Component) error
	// Checks are the readiness conditions /readyz reports.
	Checks []Check
	// Registerer receives the API's metrics; nil means a private registry.
	Registerer prometheus.Registerer
	// Gatherer serves /metrics; nil means the registry of Registerer when
	// that is a *prometheus.Registry, else prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	Logger   *zap.Logger
	// RequestTimeout bounds each store call made for one request (default 10s).
	RequestTimeout time.Duration
	// Now is the clock for creationTimestamp (default time.Now).
	Now func() time.Time
	// Registry holds the APIs peer canvases register with this one's
	// canvas-info service (POST/DELETE on its TMF638 service route); nil
	// accepts no registrations.
	Registry *peer.Registry
	// APIKeys keeps the keys of Components' APIs; nil: the apikeys
	// routes answer 501.
	APIKeys APIKeys
}

// Server serves the API. Create it with New, run its watch fan-out with
// Run, and mount Handler on an http.Server.
type Server struct {
	opts    Options
	log     *zap.Logger
	hub     *hub
	metrics *metrics
	handler http.Handler
}

// New checks opts and builds a Server.
func New(opts Options) (*Server, error) {
	var errs []error
	if opts.Desired == nil {
		errs = append(errs, errors.New("Options.Desired is nil: pass the desired-state store"))
	}
	if opts.Statuses == nil {
		errs = append(errs, errors.New("Options.Statuses is nil: pass the status store"))
	}
	for i, c := range opts.Checks {
		if c.Name == "" || c.Check == nil {
			errs = append(errs, fmt.Errorf("Options.Checks[%d]: needs a Name and a Check func", i))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Registerer == nil {
		reg := prometheus.NewRegistry()
		opts.Registerer = reg
		if opts.Gatherer == nil {
			opts.Gatherer = reg
		}
	}
	if opts.Gatherer == nil {
		if g, ok := opts.Registerer.(prometheus.Gatherer); ok {
			opts.Gatherer = g
		} else {
			opts.Gatherer = prometheus.DefaultGatherer
		}
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("api: registering metrics: %w", err)
	}
	s := &Server{opts: opts, log: opts.Logger, metrics: m}
	s.hub = newHub(opts.Desired, opts.Statuses, opts.Logger, m)
	s.handler = s.routes()
	return s, nil
}

// Run feeds the watch fan-out from the stores until ctx ends. Watches are
// answered only while Run runs; it returns ctx's error, or the error that
// stopped a store watch.
func (s *Server) Run(ctx context.Context) error { return s.hub.run(ctx) }

// Synced reports whether the watch fan-out has the stores' current state;
// the daemon uses it as a readiness check.
func (s *Server) Synced() error { return s.hub.syncedErr() }

// Rewatch restarts the store watches behind the watch fan-out and cuts
// off every watcher (who re-watch and get the whole state again). Call it
// when the NATS connection came back: a JetStream watch notices a server
// restart only after missed heartbeats, and changes made meanwhile would
// reach watchers late.
func (s *Server) Rewatch() { s.hub.rewatch() }

// CloseWatches ends every open watch and refuses new ones; register it with
// http.Server.RegisterOnShutdown so Shutdown does not wait on event streams.
func (s *Server) CloseWatches() { s.hub.closeWatches() }

// Handler is the HTTP API.
func (s *Server) Handler() http.Handler { return s.handler }

// problem builds a Problem with the standard title of status.
func problem(status int, typ, detail string) *wire.Problem {
	return &wire.Problem{Type: typ, Title: http.StatusText(status), Status: status, Detail: detail}
}

// storeProblem maps a backend error onto a Problem, naming what failed.
func (s *Server) storeProblem(op, what string, err error) *wire.Problem {
	switch {
	case errors.Is(err, ErrNotFound):
		return problem(http.StatusNotFound, wire.ProblemNotFound, fmt.Sprintf("component %s not found", what))
	case errors.Is(err, context.DeadlineExceeded):
		return problem(http.StatusServiceUnavailable, wire.ProblemUnavailable, fmt.Sprintf("%s %s: the store did not answer in time: check that NATS JetStream is reachable (/readyz)", op, what))
	}
	s.log.Error("store call failed", zap.String("op", op), zap.String("component", what), zap.Error(err))
	return problem(http.StatusInternalServerError, wire.ProblemInternal, fmt.Sprintf("%s %s: %v", op, what, err))
}

// requestKey checks the namespace and name a request gave; where says where
// they came from, for the problem.
func requestKey(namespace, name, where string) (oda.Key, *wire.Problem) {
	k, err := oda.NewKey(namespace, name)
	if err != nil {
		return k, problem(http.StatusBadRequest, wire.ProblemBadInput, fmt.Sprintf("%s %s", where, err))
	}
	return k, nil
}

// get returns the Component under key with its status merged in.
func (s *Server) get(ctx context.Context, key oda.Key) (*oda.Component, *wire.Problem) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	c, err := s.opts.Desired.Get(ctx, key)
	if err != nil {
		return nil, s.storeProblem("get", key.Display(), err)
	}
	return s.withStatus(ctx, c), nil
}

// withStatus returns a copy of c with the reconciler's status, or c without
// status when there is none yet (or it cannot be read: the desired state
// is still worth answering).
func (s *Server) withStatus(ctx context.Context, c *oda.Component) *oda.Component {
	out := c.DeepCopy()
	out.Status = nil
	st, err := s.opts.Statuses.Get(ctx, c.Key())
	switch {
	case err == nil:
		out.Status = st
	case !errors.Is(err, ErrNotFound):
		s.log.Warn("reading status failed; answering without it", zap.Stringer("key", c.Key()), zap.Error(err))
	}
	return out
}

// list returns every Component (in namespace, or all when empty), sorted by
// namespace then name, with status.
func (s *Server) list(ctx context.Context, namespace string) ([]*oda.Component, *wire.Problem) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	all, err := s.opts.Desired.List(ctx)
	if err != nil {
		return nil, s.storeProblem("list", "namespace "+namespace, err)
	}
	// One read of every status, not one per Component: a list of hundreds
	// stays one round trip per store.
	stats, err := s.opts.Statuses.List(ctx)
	if err != nil {
		s.log.Warn("listing status failed; answering without it", zap.Error(err))
	}
	out := make([]*oda.Component, 0, len(all))
	for _, c := range all {
		if namespace != "" && c.Metadata.Namespace != namespace {
			continue
		}
		cp := c.DeepCopy()
		cp.Status = stats[c.Key()]
		out = append(out, cp)
	}
	sortComponents(out)
	return out, nil
}

// maxApplyAttempts bounds the read-modify-write retries of an apply racing
// other writers; each retry re-reads, so only a write storm exhausts it.
const maxApplyAttempts = 8

// apply stores c. With rv (metadata.resourceVersion as given) the write is a
// compare-and-set against it; without, it is an apply: create, or update
// the current value whatever its revision. Generation starts at 1 and grows
// when spec, labels or annotations change; an apply that changes none of
// them stores nothing and answers the current value. created says whether
// the Component is new.
func (s *Server) apply(ctx context.Context, c *oda.Component, rv string, dry bool) (out *oda.Component, created bool, p *wire.Problem) {
	return s.write(ctx, c, rv, WriteApply, dry)
}

// write is apply restricted by mode (see WriteMode). dry runs every check
// a write makes (against the current value, its revision and the mode)
// and answers what would be stored, storing nothing: a new Component
// without resourceVersion and status, an update at the current
// resourceVersion with the current status.
func (s *Server) write(ctx context.Context, c *oda.Component, rv string, mode WriteMode, dry bool) (out *oda.Component, created bool, p *wire.Problem) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	key := c.Key()
	var given uint64
	if rv != "" {
		n, err := strconv.ParseUint(rv, 10, 64)
		if err != nil || n == 0 {
			return nil, false, &wire.Problem{Type: wire.ProblemInvalid, Title: http.StatusText(http.StatusUnprocessableEntity), Status: http.StatusUnprocessableEntity,
				Detail: "metadata.resourceVersion must be the resourceVersion the canvas returned",
				Errors: oda.ErrorList{{Path: "metadata.resourceVersion", Msg: fmt.Sprintf("%q is not a resourceVersion", rv), Fix: "leave it out to apply regardless of the current version, or copy it from `canvas get -o yaml`"}}}
		}
		given = n
	}
	for range maxApplyAttempts {
		cur, err := s.opts.Desired.Get(ctx, key)
		switch {
		case errors.Is(err, ErrNotFound):
			if mode == WriteUpdate {
				return nil, false, s.storeProblem("update", key.Display(), err)
			}
			if given != 0 {
				return nil, false, &wire.Problem{Type: wire.ProblemConflict, Title: http.StatusText(http.StatusConflict), Status: http.StatusConflict,
					Detail:               fmt.Sprintf("component %s: resourceVersion %s was given but the component does not exist (deleted meanwhile?): drop metadata.resourceVersion to create it", key.Display(), rv),
					GivenResourceVersion: rv}
			}
			next := s.prepare(c)
			next.Metadata.Generation = 1
			next.Metadata.UID = newUID()
			next.Metadata.CreationTimestamp = s.opts.Now().UTC().Format(time.RFC3339)
			if dry {
				return next, true, nil
			}
			stored, err := s.opts.Desired.Put(ctx, next, 0)
			if errors.Is(err, ErrConflict) {
				if mode == WriteCreate {
					return nil, false, &wire.Problem{Type: wire.ProblemConflict, Title: http.StatusText(http.StatusConflict), Status: http.StatusConflict,
						Detail: fmt.Sprintf("component %s was created meanwhile: replace or patch it instead", key.Display())}
				}
				continue // created by someone else meanwhile: apply over it
			}
			if err != nil {
				return nil, false, s.storeProblem("create", key.Display(), err)
			}
			return s.withStatus(ctx, stored), true, nil
		case err != nil:
			return nil, false, s.storeProblem("read", key.Display(), err)
		case mode == WriteCreate:
			return nil, false, &wire.Problem{Type: wire.ProblemConflict, Title: http.StatusText(http.StatusConflict), Status: http.StatusConflict,
				Detail: fmt.Sprintf("component %s already exists: replace or patch it instead, or delete it first", key.Display())}
		}
		curRev, _ := strconv.ParseUint(cur.Metadata.ResourceVersion, 10, 64)
		if given != 0 && given != curRev {
			return nil, false, conflict(key, cur.Metadata.ResourceVersion, rv)
		}
		if sameIntent(cur, c) {
			return s.withStatus(ctx, cur), false, nil
		}
		next := s.prepare(c)
		next.Metadata.UID = cur.Metadata.UID
		next.Metadata.CreationTimestamp = cur.Metadata.CreationTimestamp
		next.Metadata.Generation = cur.Metadata.Generation + 1
		if dry {
			next.Metadata.ResourceVersion = cur.Metadata.ResourceVersion
			return s.withStatus(ctx, next), false, nil
		}
		stored, err := s.opts.Desired.Put(ctx, next, curRev)
		if errors.Is(err, ErrConflict) {
			if given != 0 {
				latest, gerr := s.opts.Desired.Get(ctx, key)
				now := "(deleted)"
				if gerr == nil {
					now = latest.Metadata.ResourceVersion
				}
				return nil, false, conflict(key, now, rv)
			}
			continue
		}
		if err != nil {
			return nil, false, s.storeProblem("update", key.Display(), err)
		}
		return s.withStatus(ctx, stored), false, nil
	}
	return nil, false, problem(http.StatusConflict, wire.ProblemConflict,
		fmt.Sprintf("component %s changed %d times while being applied: retry", key.Display(), maxApplyAttempts))
}

func conflict(key oda.Key, current, given string) *wire.Problem {
	return &wire.Problem{Type: wire.ProblemConflict, Title: http.StatusText(http.StatusConflict), Status: http.StatusConflict,
		Detail: fmt.Sprintf("component %s: resourceVersion %s is stale, the current one is %s: get the component again, reapply your change to it, and retry (or drop metadata.resourceVersion to overwrite)",
			key.Display(), given, current),
		CurrentResourceVersion: current, GivenResourceVersion: given}
}

// prepare is the value to store: c without status, server-owned metadata
// cleared and the namespace filled in.
func (s *Server) prepare(c *oda.Component) *oda.Component {
	next := c.DeepCopy()
	next.Status = nil
	next.Metadata.ResourceVersion = ""
	next.Metadata.UID = ""
	next.Metadata.CreationTimestamp = ""
	next.Metadata.DeletionTimestamp = ""
	if next.Metadata.Namespace == "" {
		next.Metadata.Namespace = oda.DefaultNamespace
	}
	return next
}

// sameIntent reports whether applying c over cur would change what the
// canvas deploys (spec, labels, annotations).
func sameIntent(cur, c *oda.Component) bool {
	a, b := cur.DeepCopy(), c.DeepCopy()
	return reflect.DeepEqual(a.Spec, b.Spec) &&
		reflect.DeepEqual(emptyNil(a.Metadata.Labels), emptyNil(b.Metadata.Labels)) &&
		reflect.DeepEqual(emptyNil(a.Metadata.Annotations), emptyNil(b.Metadata.Annotations))
}

func emptyNil(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// remove deletes key (conditionally when rv is given) and returns the
// Component as it was.
func (s *Server) remove(ctx context.Context, key oda.Key, rv string) (*oda.Component, *wire.Problem) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	cur, err := s.opts.Desired.Get(ctx, key)
	if err != nil {
		return nil, s.storeProblem("delete", key.Display(), err)
	}
	var rev uint64
	if rv != "" {
		if rv != cur.Metadata.ResourceVersion {
			return nil, conflict(key, cur.Metadata.ResourceVersion, rv)
		}
		rev, _ = strconv.ParseUint(rv, 10, 64)
	}
	out := s.withStatus(ctx, cur)
	if err := s.opts.Desired.Delete(ctx, key, rev); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, conflict(key, "(changed)", rv)
		}
		return nil, s.storeProblem("delete", key.Display(), err)
	}
	return out, nil
}

// status returns the status the reconciler wrote for key. It outlives the
// desired Component until the reconciler has removed the application, so a
// client waits for its 404 to know a delete has finished.
func (s *Server) status(ctx context.Context, key oda.Key) (*oda.ComponentStatus, *wire.Problem) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	st, err := s.opts.Statuses.Get(ctx, key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, problem(http.StatusNotFound, wire.ProblemNotFound, fmt.Sprintf("component %s has no status (not reconciled yet, or deleted and cleaned up)", key.Display()))
		}
		return nil, s.storeProblem("status of", key.Display(), err)
	}
	return st, nil
}

// events lists the reconcile events of the Component at key as it is now
// (not those of an earlier one of that name); a missing Component is 404.
func (s *Server) events(ctx context.Context, key oda.Key) ([]wire.Event, *wire.Problem) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	cur, err := s.opts.Desired.Get(ctx, key)
	if err != nil {
		return nil, s.storeProblem("events of", key.Display(), err)
	}
	if s.opts.Events == nil {
		return []wire.Event{}, nil
	}
	evs, err := s.opts.Events.List(ctx, key, cur.Metadata.UID)
	if err != nil {
		return nil, s.storeProblem("events of", key.Display(), err)
	}
	if evs == nil {
		evs = []wire.Event{}
	}
	return evs, nil
}

// admit parses body (YAML or JSON) as a Component named file and runs the
// Admit hook; errors are a 422 Problem holding the field errors.
func (s *Server) admit(file string, body []byte) (*oda.Component, *wire.Problem) {
	c, err := oda.Parse(file, body)
	if err == nil {
		err = checkKey(file, c)
	}
	if err == nil && s.opts.Admit != nil {
		err = s.opts.Admit(c)
	}
	if err == nil {
		return c, nil
	}
	list := fieldErrors(file, err)
	return nil, &wire.Problem{Type: wire.ProblemInvalid, Title: http.StatusText(http.StatusUnprocessableEntity), Status: http.StatusUnprocessableEntity,
		Detail: fmt.Sprintf("%s: invalid Component (%d error(s)); nothing was stored", file, len(list)), Errors: list}
}

// checkKey makes sure namespace and name can form a store key.
func checkKey(file string, c *oda.Component) error {
	var errs oda.ErrorList
	if c.Metadata.Namespace != "" {
		if err := oda.CheckDNSLabel(c.Metadata.Namespace); err != nil {
			errs = append(errs, oda.FieldError{File: file, Path: "metadata.namespace", Msg: err.Error(), Fix: "use a DNS-1123 label such as components"})
		}
	}
	if err := oda.CheckDNSLabel(c.Metadata.Name); err != nil {
		errs = append(errs, oda.FieldError{File: file, Path: "metadata.name", Msg: err.Error(), Fix: "use a DNS-1123 label such as ctk-productcatalogmanagement"})
	}
	return errs.Err()
}

// fieldErrors turns an error from oda or the Admit hook into field errors,
// each naming file.
func fieldErrors(file string, err error) oda.ErrorList {
	var list oda.ErrorList
	if !errors.As(err, &list) {
		var fe *oda.FieldError
		if errors.As(err, &fe) {
			list = oda.ErrorList{*fe}
		} else {
			list = oda.ErrorList{{Msg: err.Error()}}
		}
	}
	out := make(oda.ErrorList, len(list))
	for i, fe := range list {
		if fe.File == "" {
			fe.File = file
		}
		out[i] = fe
	}
	return out
}

func newUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
