package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// routes builds the HTTP API:
//
//	GET    /v1/components[?namespace=NS]          list (ComponentList)
//	GET    /v1/components?watch=1[&namespace=NS][&name=N]  server-sent events
//	POST   /v1/components                          apply (create or update)
//	GET    /v1/components/{namespace}/{name}       one Component with status
//	PUT    /v1/components/{namespace}/{name}       apply; compare-and-set with metadata.resourceVersion
//	DELETE /v1/components/{namespace}/{name}[?resourceVersion=RV]
//	GET    /v1/components/{namespace}/{name}/events
//	GET    /v1/components/{namespace}/{name}/status  status alone; outlives a deleted Component until cleaned up
//	POST   /v1/components/{namespace}/{name}/apikeys  create an API key ({"consumer": N}); the answer alone holds its plaintext
//	GET    /v1/components/{namespace}/{name}/apikeys  list them (never the plaintext)
//	DELETE /v1/components/{namespace}/{name}/apikeys/{id}  revoke one (apikeys.go)
//	GET    /canvas-info/tmf-api/serviceInventoryManagement/v5/service?componentName=N  dependent-API discovery (info.go)
//	GET    /canvas-info/tmf-api/resourceInventoryManagement/v5/resource[/{id}]  TMF639 inventory (inventory.go)
//	GET    /healthz, /readyz, /metrics
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern, route string, h http.HandlerFunc) {
		mux.Handle(pattern, s.metrics.instrument(route, checkedQuery(h)))
	}
	handle("GET "+wire.PathComponents, "list", s.handleList)
	handle("POST "+wire.PathComponents, "apply", s.handleApply)
	handle("GET "+wire.PathComponents+"/{namespace}/{name}", "get", s.handleGet)
	handle("PUT "+wire.PathComponents+"/{namespace}/{name}", "put", s.handleApply)
	handle("DELETE "+wire.PathComponents+"/{namespace}/{name}", "delete", s.handleDelete)
	handle("GET "+wire.PathComponents+"/{namespace}/{name}/events", "events", s.handleEvents)
	handle("GET "+wire.PathComponents+"/{namespace}/{name}/status", "status", s.handleStatus)
	handle("POST "+wire.PathComponents+"/{namespace}/{name}"+wire.PathAPIKeys, "apikey-create", s.handleAPIKeyCreate)
	handle("GET "+wire.PathComponents+"/{namespace}/{name}"+wire.PathAPIKeys, "apikey-list", s.handleAPIKeyList)
	handle("DELETE "+wire.PathComponents+"/{namespace}/{name}"+wire.PathAPIKeys+"/{id}", "apikey-revoke", s.handleAPIKeyRevoke)
	mux.Handle(wire.PathCanvasInfoRoot+"/", s.InfoHandler())
	mux.HandleFunc("GET "+wire.PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET "+wire.PathReadyz, s.handleReady)
	mux.Handle("GET "+wire.PathMetrics, promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, problem(http.StatusNotFound, wire.ProblemNotFound,
			fmt.Sprintf("no route %s %s: the API serves %s and %s/{namespace}/{name}", r.Method, r.URL.Path, wire.PathComponents, wire.PathComponents)))
	})
	return mux
}

// checkedQuery refuses a request whose query string does not parse (a
// bad %-escape, a ';' separator, more than 10,000 parameters): Go's
// url.URL.Query drops those parts silently, and a dropped dryRun or
// resourceVersion would turn a dry run into a write and a compare-and-set
// delete into an unconditional one.
func checkedQuery(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			writeProblem(w, problem(http.StatusBadRequest, wire.ProblemBadInput,
				fmt.Sprintf("query string: %v: nothing was done; percent-encode %%, ; and & inside values (url.QueryEscape) and send at most 10000 parameters", err)))
			return
		}
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", wire.ContentTypeJSON)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away: nothing left to tell it
}

func writeProblem(w http.ResponseWriter, p *wire.Problem) {
	w.Header().Set("Content-Type", wire.ContentTypeProblem)
	w.WriteHeader(p.Status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p)
}

// pathKey reads and checks {namespace} and {name}.
func pathKey(r *http.Request) (oda.Key, *wire.Problem) {
	return requestKey(r.PathValue("namespace"), r.PathValue("name"), "in the path")
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	key, p := pathKey(r)
	if p == nil {
		var c *oda.Component
		if c, p = s.get(r.Context(), key); p == nil {
			writeJSON(w, http.StatusOK, c)
			return
		}
	}
	writeProblem(w, p)
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ns := q.Get("namespace")
	if ns != "" {
		if err := oda.CheckDNSLabel(ns); err != nil {
			writeProblem(w, problem(http.StatusBadRequest, wire.ProblemBadInput, fmt.Sprintf("namespace %q: %v", ns, err)))
			return
		}
	}
	if watch := q.Get("watch"); watch == "1" || watch == "true" {
		name := q.Get("name")
		if name != "" {
			// A name no Component can have would watch nothing, silently.
			if err := oda.CheckDNSLabel(name); err != nil {
				writeProblem(w, problem(http.StatusBadRequest, wire.ProblemBadInput, fmt.Sprintf("name %q: %v", name, err)))
				return
			}
		}
		s.serveWatch(w, r, ns, name)
		return
	}
	items, p := s.list(r.Context(), ns)
	if p != nil {
		writeProblem(w, p)
		return
	}
	writeJSON(w, http.StatusOK, wire.ComponentList{APIVersion: oda.APIVersionV1, Kind: wire.KindComponentList, Items: items})
}

func (s *Server) handleApply(w http.ResponseWriter, r *http.Request) {
	file := r.Header.Get(wire.HeaderFileName)
	if file == "" {
		file = wire.BodyFileName
	}
	dry, p := dryRunOf(r.URL.Query()[wire.QueryDryRun], "query parameter "+wire.QueryDryRun)
	if p != nil {
		writeProblem(w, p)
		return
	}
	body, p := readBody(w, r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	c, p := s.admit(file, body)
	if p != nil {
		writeProblem(w, p)
		return
	}
	if r.Method == http.MethodPut {
		ns, name := r.PathValue("namespace"), r.PathValue("name")
		if c.Metadata.Namespace == "" {
			c.Metadata.Namespace = ns
		}
		var errs oda.ErrorList
		if c.Metadata.Namespace != ns {
			errs = append(errs, oda.FieldError{File: file, Path: "metadata.namespace", Msg: fmt.Sprintf("%q differs from %q in the URL", c.Metadata.Namespace, ns), Fix: "PUT to the URL of the namespace in the body, or change the body"})
		}
		if c.Metadata.Name != name {
			errs = append(errs, oda.FieldError{File: file, Path: "metadata.name", Msg: fmt.Sprintf("%q differs from %q in the URL", c.Metadata.Name, name), Fix: "PUT to the URL of the name in the body, or change the body"})
		}
		if len(errs) > 0 {
			writeProblem(w, &wire.Problem{Type: wire.ProblemInvalid, Title: http.StatusText(http.StatusUnprocessableEntity), Status: http.StatusUnprocessableEntity,
				Detail: fmt.Sprintf("%s: the body names another component than the URL; nothing was stored", file), Errors: errs})
			return
		}
	}
	out, created, p := s.apply(r.Context(), c, c.Metadata.ResourceVersion, dry)
	if p != nil {
		writeProblem(w, p)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	if dry {
		writeJSON(w, status, out)
		return
	}
	if created {
		w.Header().Set("Location", wire.PathComponents+"/"+out.Metadata.Namespace+"/"+out.Metadata.Name)
	}
	s.log.Info("component applied", zap.Stringer("key", out.Key()), zap.Bool("created", created),
		zap.Int64("generation", out.Metadata.Generation), zap.String("resourceVersion", out.Metadata.ResourceVersion))
	writeJSON(w, status, out)
}

// dryRunOf reads a dry-run request: none, or DryRunAll once.
func dryRunOf(values []string, where string) (bool, *wire.Problem) {
	switch {
	case len(values) == 0:
		return false, nil
	case len(values) == 1 && values[0] == wire.DryRunAll:
		return true, nil
	}
	return false, problem(http.StatusBadRequest, wire.ProblemBadInput,
		fmt.Sprintf("%s %q: the only value is %q (check everything, store nothing); leave it out to store", where, values, wire.DryRunAll))
}

// readBody reads at most wire.MaxBodySize bytes; a larger body is a 413.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *wire.Problem) {
	tooLarge := problem(http.StatusRequestEntityTooLarge, wire.ProblemTooLarge,
		fmt.Sprintf("request body is larger than %d bytes: a Component is a few KiB; check that the right file was sent", wire.MaxBodySize))
	if r.ContentLength > wire.MaxBodySize {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wire.MaxBodySize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, problem(http.StatusBadRequest, wire.ProblemBadInput, fmt.Sprintf("reading the request body: %v", err))
	}
	if len(body) == 0 {
		return nil, problem(http.StatusBadRequest, wire.ProblemBadInput, "empty request body: send a Component as YAML or JSON")
	}
	return body, nil
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	key, p := pathKey(r)
	if p == nil {
		var c *oda.Component
		if c, p = s.remove(r.Context(), key, r.URL.Query().Get("resourceVersion")); p == nil {
			s.log.Info("component deleted", zap.Stringer("key", key))
			writeJSON(w, http.StatusOK, c)
			return
		}
	}
	writeProblem(w, p)
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	key, p := pathKey(r)
	if p == nil {
		var evs []wire.Event
		if evs, p = s.events(r.Context(), key); p == nil {
			writeJSON(w, http.StatusOK, wire.EventList{Items: evs})
			return
		}
	}
	writeProblem(w, p)
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	key, p := pathKey(r)
	if p == nil {
		var st *oda.ComponentStatus
		if st, p = s.status(r.Context(), key); p == nil {
			writeJSON(w, http.StatusOK, st)
			return
		}
	}
	writeProblem(w, p)
}

// readyTimeout bounds all readiness checks of one /readyz request.
const readyTimeout = 3 * time.Second

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	rd := s.Readiness(r.Context())
	status := http.StatusOK
	if !rd.Ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, rd)
}

// Readiness runs every check (in parallel, bounded by readyTimeout) and
// reports each one's error.
func (s *Server) Readiness(ctx context.Context) wire.Readiness {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	checks := append(slices.Clone(s.opts.Checks), Check{Name: "watch", Check: func(context.Context) error { return s.Synced() }})
	results := make(chan result, len(checks))
	for _, c := range checks {
		go func() { results <- result{c.Name, c.Check(ctx)} }()
	}
	rd := wire.Readiness{Ready: true, Checks: map[string]string{}}
	for range checks {
		res := <-results
		if res.err != nil {
			rd.Ready = false
			rd.Checks[res.name] = res.err.Error()
		} else {
			rd.Checks[res.name] = "ok"
		}
	}
	return rd
}
