package kubeapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/wasmcanvas/wasmcanvas/pkg/api"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// Realm names the kube API in authentication challenges.
const Realm = "wasmcanvas kube API"

// Options configure a Server. API and Auth are required.
type Options struct {
	// API is canvasd's API server: the store, admission and watch fan-out
	// this front end serves.
	API *api.Server
	// Auth verifies callers; reads need auth.RoleRead, writes auth.RoleWrite.
	Auth   auth.Authenticator
	Logger *zap.Logger
	// RequestTimeout bounds each store call of one request (default 10s).
	RequestTimeout time.Duration
	// Now is the clock of the Age column (default time.Now).
	Now func() time.Time
	// Events are served as core v1 Events (nil: none are listed).
	Events EventSource
}

// Server is the Kubernetes-style API. Create it with New, feed its index
// with Run, and mount Handler on a TLS listener (kubectl sends bearer
// tokens only over TLS).
type Server struct {
	opts Options
	log  *zap.Logger
	idx  *index
}

// New checks opts and builds a Server.
func New(opts Options) (*Server, error) {
	var errs []error
	if opts.API == nil {
		errs = append(errs, errors.New("Options.API is nil: pass canvasd's api.Server"))
	}
	if opts.Auth == nil {
		errs = append(errs, errors.New("Options.Auth is nil: pass an auth.Authenticator (auth.LocalAdmin, auth.Bearer)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kubeapi: %w", err)
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
	return &Server{opts: opts, log: opts.Logger, idx: newIndex(opts.Logger)}, nil
}

// Run keeps the in-memory index fed from the API's watch fan-out until
// ctx ends; requests are answered 503 until it has synced.
func (s *Server) Run(ctx context.Context) error { return s.idx.run(ctx, s.opts.API) }

// Synced reports whether the index holds the stores' state.
func (s *Server) Synced() error {
	s.idx.mu.Lock()
	defer s.idx.mu.Unlock()
	if !s.idx.synced {
		return errNotSynced
	}
	return nil
}

// CloseWatches ends every watch and refuses new ones; register it with
// http.Server.RegisterOnShutdown.
func (s *Server) CloseWatches() { s.idx.closeWatches() }

// Handler serves the API.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p, err := s.opts.Auth.Authenticate(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", auth.Challenge(Realm, err))
		writeStatus(w, failure(http.StatusUnauthorized, nil, "", "Unauthorized: send the bearer token of your kubeconfig (`canvas kubeconfig` prints one)"))
		return
	}
	role := auth.RoleWrite
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		role = auth.RoleRead
	}
	if !p.Has(role) {
		writeStatus(w, failure(http.StatusForbidden, nil, "", fmt.Sprintf("%s lacks the role %q this request needs", p.Subject, role)))
		return
	}
	// Go drops a query pair it cannot parse (a bad escape, a ';'), so
	// `?dryRun=All;` would store: a query must parse whole.
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		writeStatus(w, failure(http.StatusBadRequest, nil, "", fmt.Sprintf("query string: %v: nothing was done; percent-encode %%, ; and & inside values", err)))
		return
	}
	if e := s.route(w, r); e != nil {
		writeStatus(w, e)
	}
}

var errNoRoute = "the server could not find the requested resource"

// request is a parsed resource path.
type request struct {
	version, namespace, name, sub string
	res                           *resource
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) *statusError {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	get := r.Method == http.MethodGet
	switch {
	case get && len(parts) == 1 && parts[0] == "version":
		writeJSON(w, http.StatusOK, serverVersion)
		return nil
	case get && len(parts) >= 1 && parts[0] == "openapi":
		return s.serveOpenAPI(w, r, parts[1:])
	case get && len(parts) == 1 && parts[0] == "api":
		if aggregatedDiscovery(r) {
			writeAggregated(w, coreDiscovery())
			return nil
		}
		// Core v1 holds only the (read-only) namespaces and events.
		writeJSON(w, http.StatusOK, metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}}})
		return nil
	case get && len(parts) == 2 && parts[0] == "api" && parts[1] == "v1":
		writeJSON(w, http.StatusOK, metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: "v1",
			APIResources: []metav1.APIResource{eventResource, namespaceResource}})
		return nil
	case len(parts) == 3 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "events":
		return s.serveEvents(w, r, "", "")
	case len(parts) >= 5 && len(parts) <= 6 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "namespaces" && parts[4] == "events":
		return s.serveNamespacedEvents(w, r, parts[3:])
	case len(parts) >= 3 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "namespaces":
		return s.serveNamespaces(w, r, parts[2:])
	case get && len(parts) == 1 && parts[0] == "apis":
		if aggregatedDiscovery(r) {
			writeAggregated(w, groupDiscovery())
			return nil
		}
		writeJSON(w, http.StatusOK, metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{apiGroup()}})
		return nil
	case get && len(parts) == 2 && parts[0] == "apis" && parts[1] == oda.Group:
		g := apiGroup()
		g.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
		writeJSON(w, http.StatusOK, g)
		return nil
	case get && len(parts) == 3 && parts[0] == "apis" && parts[1] == oda.Group && served(parts[2]):
		writeJSON(w, http.StatusOK, resourceList(parts[2]))
		return nil
	}
	if len(parts) < 4 || parts[0] != "apis" || parts[1] != oda.Group || !served(parts[2]) {
		return failure(http.StatusNotFound, nil, "", errNoRoute)
	}
	req := request{version: parts[2]}
	rest := parts[3:]
	if rest[0] == "namespaces" {
		if len(rest) < 3 {
			return failure(http.StatusNotFound, nil, "", errNoRoute+": namespaces are not served as objects, only as the scope of components")
		}
		req.namespace = rest[1]
		rest = rest[2:]
	}
	req.res = resourceNamed(rest[0])
	if req.res == nil || !req.res.servedAt(req.version) || len(rest) > 3 {
		return failure(http.StatusNotFound, nil, "", fmt.Sprintf("%s: no resource %q in %s/%s (served: components, exposedapis, dependentapis)", errNoRoute, rest[0], oda.Group, req.version))
	}
	if len(rest) > 1 {
		req.name = rest[1]
	}
	if len(rest) > 2 {
		req.sub = rest[2]
		if req.sub != "status" || req.res != components {
			return failure(http.StatusNotFound, req.res, req.name, errNoRoute+": the only subresource is components/status")
		}
	}
	if req.namespace == "" && req.name != "" {
		return failure(http.StatusNotFound, req.res, req.name, errNoRoute+": "+req.res.plural+" are namespaced: use /namespaces/NS/"+req.res.plural+"/NAME")
	}
	if (req.name == "" || req.sub != "") && r.Method != http.MethodGet && !(req.name == "" && r.Method == http.MethodPost) {
		if req.sub != "" {
			return failure(http.StatusMethodNotAllowed, req.res, req.name, "status is written by the canvas's reconciler, never by clients: change spec instead")
		}
		return failure(http.StatusMethodNotAllowed, req.res, "", r.Method+" is not supported on a collection of "+req.res.plural)
	}
	if r.Method != http.MethodGet && !req.res.writable {
		return failure(http.StatusMethodNotAllowed, req.res, req.name, req.res.plural+" are derived from their Component and its status: change the Component instead")
	}
	switch r.Method {
	case http.MethodGet:
		if req.name == "" {
			return s.list(w, r, req)
		}
		return s.get(w, r, req)
	case http.MethodPost:
		if req.name != "" {
			return failure(http.StatusMethodNotAllowed, req.res, req.name, "POST creates in a collection: POST to /namespaces/"+req.namespace+"/"+req.res.plural+", or PUT to this URL to replace "+req.name)
		}
		if req.namespace == "" {
			return failure(http.StatusMethodNotAllowed, req.res, "", "create in a namespace: POST to /namespaces/NS/"+req.res.plural)
		}
		return s.write(w, r, req, api.WriteCreate)
	case http.MethodPut:
		return s.write(w, r, req, api.WriteUpdate)
	case http.MethodPatch:
		return s.patch(w, r, req)
	case http.MethodDelete:
		return s.remove(w, r, req)
	}
	return failure(http.StatusMethodNotAllowed, req.res, req.name, r.Method+" is not supported")
}

// asTable reports whether the client asked for a meta.k8s.io Table.
func asTable(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == "application/json" && params["as"] == "Table" && params["g"] == "meta.k8s.io" {
			return true
		}
	}
	return false
}

func parseFilter(r *http.Request, req request) (filter, *statusError) {
	f := filter{res: req.res, namespace: req.namespace}
	q := r.URL.Query()
	if s := q.Get("labelSelector"); s != "" {
		sel, err := labels.Parse(s)
		if err != nil {
			return f, failure(http.StatusBadRequest, req.res, "", fmt.Sprintf("labelSelector %q: %v", s, err))
		}
		f.labels = sel
	}
	if s := q.Get("fieldSelector"); s != "" {
		sel, err := fields.ParseSelector(s)
		if err != nil {
			return f, failure(http.StatusBadRequest, req.res, "", fmt.Sprintf("fieldSelector %q: %v", s, err))
		}
		for _, rq := range sel.Requirements() {
			if rq.Field != "metadata.name" && rq.Field != "metadata.namespace" {
				return f, failure(http.StatusBadRequest, req.res, "", fmt.Sprintf("fieldSelector: field label %q not supported: use metadata.name or metadata.namespace", rq.Field))
			}
		}
		f.fields = sel
	}
	return f, nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, req request) *statusError {
	f, e := parseFilter(r, req)
	if e != nil {
		return e
	}
	if v := r.URL.Query().Get("watch"); v == "1" || v == "true" {
		return s.serveWatch(w, r, req, f)
	}
	objs, rv, err := s.idx.list(f)
	if err != nil {
		return failure(http.StatusServiceUnavailable, req.res, "", err.Error())
	}
	if asTable(r) {
		writeJSON(w, http.StatusOK, s.table(objs, req.res, rv, r.URL.Query().Get("includeObject"), req.version))
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, `{"apiVersion":%q,"kind":%q,"metadata":{"resourceVersion":"%d"},"items":[`, oda.Group+"/"+req.version, req.res.kind+"List", rv)
	for i, o := range objs {
		raw, err := o.render(req.version)
		if err != nil {
			return conversionFailure(req, o, err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(raw)
	}
	b.WriteString("]}")
	writeRaw(w, http.StatusOK, []byte(b.String()))
	return nil
}

func conversionFailure(req request, o *object, err error) *statusError {
	var list oda.ErrorList
	if errors.As(err, &list) {
		return invalid(req.res, o.name, fmt.Sprintf("%s %s/%s cannot be written as %s/%s: it uses fields that version lacks", req.res.kind, o.namespace, o.name, oda.Group, req.version), list)
	}
	return failure(http.StatusInternalServerError, req.res, o.name, err.Error())
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, req request) *statusError {
	o, err := s.idx.get(req.res, req.namespace, req.name)
	if err != nil {
		return failure(http.StatusServiceUnavailable, req.res, req.name, err.Error())
	}
	if o == nil {
		return notFound(req)
	}
	if asTable(r) {
		writeJSON(w, http.StatusOK, s.table([]*object{o}, req.res, o.rv, r.URL.Query().Get("includeObject"), req.version))
		return nil
	}
	raw, err := o.render(req.version)
	if err != nil {
		return conversionFailure(req, o, err)
	}
	writeRaw(w, http.StatusOK, raw)
	return nil
}

func notFound(req request) *statusError {
	return failure(http.StatusNotFound, req.res, req.name, fmt.Sprintf("%s.%s %q not found", req.res.plural, oda.Group, req.name))
}

// table is objs as a meta.k8s.io/v1 Table with the reference printer columns.
func (s *Server) table(objs []*object, res *resource, rv uint64, include, version string) metav1.Table {
	t := metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}, ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatUint(rv, 10)}}
	t.ColumnDefinitions = append(t.ColumnDefinitions, metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."})
	t.ColumnDefinitions = append(t.ColumnDefinitions, res.columns...)
	if !slices.Contains(res.columns, ageColumn) {
		t.ColumnDefinitions = append(t.ColumnDefinitions, ageColumn)
	}
	now := s.opts.Now()
	t.Rows = []metav1.TableRow{}
	for _, o := range objs {
		row := metav1.TableRow{Cells: []any{o.name}}
		rest := o.cells
		for _, c := range t.ColumnDefinitions[1:] {
			if c == ageColumn {
				row.Cells = append(row.Cells, age(o.created, now))
				continue
			}
			row.Cells = append(row.Cells, rest[0])
			rest = rest[1:]
		}
		switch include {
		case "None":
		case "Object":
			if raw, err := o.render(version); err == nil {
				row.Object = runtime.RawExtension{Raw: raw}
			}
		default:
			row.Object = runtime.RawExtension{Raw: partialMetadata(o)}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func partialMetadata(o *object) []byte {
	m := map[string]any{"name": o.name, "namespace": o.namespace, "uid": o.uid, "resourceVersion": strconv.FormatUint(o.rv, 10)}
	if o.created != "" {
		m["creationTimestamp"] = o.created
	}
	if len(o.labels) > 0 {
		m["labels"] = o.labels
	}
	b, _ := json.Marshal(map[string]any{"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": m})
	return b
}

func age(created string, now time.Time) string {
	t, err := time.Parse(time.RFC3339, created)
	if err != nil {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

// readDoc reads a JSON or YAML object body.
func readDoc(w http.ResponseWriter, r *http.Request, res *resource, name string) (map[string]any, *statusError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, wire.MaxBodySize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, failure(http.StatusRequestEntityTooLarge, res, name, fmt.Sprintf("request body is larger than %d bytes", wire.MaxBodySize))
		}
		return nil, failure(http.StatusBadRequest, res, name, "reading the request body: "+err.Error())
	}
	var doc map[string]any
	if err := yamlUnmarshal(body, &doc); err != nil || doc == nil {
		msg := "the body is not a JSON or YAML object"
		if err != nil {
			msg += ": " + err.Error()
		}
		return nil, failure(http.StatusBadRequest, res, name, msg)
	}
	return doc, nil
}

// serverOnly are metadata fields clients echo back that the canvas
// neither stores nor checks.
var serverOnly = []string{"managedFields", "selfLink"}

// admit checks doc against the request URL and admits it through pkg/api
// (schema, semantic and translation checks): field errors are 422 with
// one cause each and nothing is stored.
func (s *Server) admit(doc map[string]any, req request) (*oda.Component, *statusError) {
	var errs oda.ErrorList
	want := oda.Group + "/" + req.version
	if av, _ := doc["apiVersion"].(string); av != want {
		errs = append(errs, oda.FieldError{Path: "apiVersion", Msg: fmt.Sprintf("%q does not match %s of the request URL", av, want), Fix: "send apiVersion: " + want + " to this URL, or send the object to the URL of its version"})
	}
	if k, _ := doc["kind"].(string); k != oda.Kind {
		errs = append(errs, oda.FieldError{Path: "kind", Msg: fmt.Sprintf("%q is not served here", k), Fix: "send kind: Component; ExposedAPIs and DependentAPIs are derived and read-only"})
	}
	meta, _ := doc["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		doc["metadata"] = meta
	}
	for _, k := range serverOnly {
		delete(meta, k)
	}
	delete(doc, "status")
	if ns, _ := meta["namespace"].(string); ns == "" {
		meta["namespace"] = req.namespace
	} else if ns != req.namespace {
		errs = append(errs, oda.FieldError{Path: "metadata.namespace", Msg: fmt.Sprintf("%q differs from %q of the request URL", ns, req.namespace), Fix: "drop metadata.namespace or use --namespace " + ns})
	}
	name, _ := meta["name"].(string)
	switch {
	case req.name != "" && name == "":
		meta["name"] = req.name
	case req.name != "" && name != req.name:
		errs = append(errs, oda.FieldError{Path: "metadata.name", Msg: fmt.Sprintf("%q differs from %q of the request URL", name, req.name), Fix: "send the object to its own URL"})
	case name == "":
		if g, _ := meta["generateName"].(string); g != "" {
			meta["name"] = g + randomSuffix()
		}
	}
	if len(errs) > 0 {
		return nil, invalid(req.res, req.name, "the object does not fit the request; nothing was stored", errs)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, failure(http.StatusBadRequest, req.res, req.name, err.Error())
	}
	c, p := s.opts.API.Admit("request body", body)
	if p != nil {
		n, _ := meta["name"].(string)
		return nil, fromProblem(p, req.res, n)
	}
	return c, nil
}

// yamlUnmarshal reads YAML or JSON (a subset of YAML).
func yamlUnmarshal(b []byte, v *map[string]any) error { return yaml.Unmarshal(b, v) }

func randomSuffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func dryRun(r *http.Request) bool { return len(r.URL.Query()["dryRun"]) > 0 }

// write serves create (POST) and replace (PUT): the body, admitted, is
// stored as new or over the current object (at its resourceVersion when
// the body gives one).
func (s *Server) write(w http.ResponseWriter, r *http.Request, req request, mode api.WriteMode) *statusError {
	doc, e := readDoc(w, r, req.res, req.name)
	if e != nil {
		return e
	}
	c, e := s.admit(doc, req)
	if e != nil {
		return e
	}
	if e := s.trackUpdate(r, req, c); e != nil {
		return e
	}
	return s.store(w, r, c, c.Metadata.ResourceVersion, mode, req)
}

// store writes c and answers it as the index then serves it. A dry run
// makes the same checks against the stored value (it exists for an
// update, not for a create, rv is current) and answers what would be
// stored, at the resourceVersion served now.
func (s *Server) store(w http.ResponseWriter, r *http.Request, c *oda.Component, rv string, mode api.WriteMode, req request) *statusError {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	if rv != "" && mode != api.WriteCreate {
		desired, ok := s.idx.desiredOf(c.Key(), rv)
		if !ok {
			return conflict(req.res, c.Metadata.Name)
		}
		rv = desired
	}
	write := s.opts.API.Write
	if dryRun(r) {
		write = s.opts.API.DryWrite
	}
	out, created, p := write(ctx, c, rv, mode)
	if p != nil {
		e := fromProblem(p, req.res, c.Metadata.Name)
		switch {
		case mode == api.WriteCreate && p.Status == http.StatusConflict:
			e.st.Reason = metav1.StatusReasonAlreadyExists
			e.st.Message = fmt.Sprintf("%s.%s %q already exists", req.res.plural, oda.Group, c.Metadata.Name)
		case p.Status == http.StatusConflict:
			e = conflict(req.res, c.Metadata.Name) // its revisions are the desired store's, not the resourceVersions served
		}
		return e
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	if dryRun(r) {
		out.Metadata.ResourceVersion = ""
		if cur, _ := s.idx.component(out.Key(), 0); cur != nil && !created {
			out.Metadata.ResourceVersion = cur.Metadata.ResourceVersion
		}
		return s.answer(w, code, out, req)
	}
	desired := revision(out.Metadata.ResourceVersion)
	if err := s.idx.waitFor(ctx, out.Key(), desired); err != nil {
		s.log.Warn("write not visible in the index in time", zap.Error(err))
	}
	if kc, _ := s.idx.component(out.Key(), desired); kc != nil {
		out = kc // as served: with status and the combined resourceVersion
	}
	s.log.Info("component written", zap.Stringer("key", out.Key()), zap.Bool("created", created), zap.String("resourceVersion", out.Metadata.ResourceVersion))
	return s.answer(w, code, out, req)
}

// current reads key from the store and answers it as the index serves it
// (with status and the combined resourceVersion), once the index shows
// what the store holds; a write based on it is checked against that
// resourceVersion.
func (s *Server) current(ctx context.Context, key oda.Key) (*oda.Component, *wire.Problem) {
	c, p := s.opts.API.Get(ctx, key)
	if p != nil {
		return nil, p
	}
	desired := revision(c.Metadata.ResourceVersion)
	if err := s.idx.waitFor(ctx, key, desired); err != nil {
		s.log.Warn("stored object not visible in the index in time", zap.Error(err))
	}
	if kc, _ := s.idx.component(key, desired); kc != nil {
		return kc, nil
	}
	return c, nil
}

func (s *Server) answer(w http.ResponseWriter, code int, c *oda.Component, req request) *statusError {
	raw, err := renderComponent(c, req.version)
	if err != nil {
		return conversionFailure(req, componentObject(c), err)
	}
	writeRaw(w, code, raw)
	return nil
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request, req request) *statusError {
	var opts metav1.DeleteOptions
	if body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16)); err == nil && len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &opts); err != nil {
			return failure(http.StatusBadRequest, req.res, req.name, "DeleteOptions: "+err.Error())
		}
	}
	key, err := oda.NewKey(req.namespace, req.name)
	if err != nil {
		return failure(http.StatusNotFound, req.res, req.name, err.Error())
	}
	rv := ""
	if opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil {
		desired, ok := s.idx.desiredOf(key, *opts.Preconditions.ResourceVersion)
		if !ok {
			return conflict(req.res, req.name)
		}
		rv = desired
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	if dryRun(r) || len(opts.DryRun) > 0 {
		c, p := s.opts.API.Get(ctx, key)
		if p != nil {
			return s.problem(p, req)
		}
		if rv != "" && rv != c.Metadata.ResourceVersion {
			return conflict(req.res, req.name) // as the delete itself would be
		}
		return s.answer(w, http.StatusOK, c, req)
	}
	before, at := s.idx.component(key, 0)
	c, p := s.opts.API.Remove(ctx, key, rv)
	if p != nil {
		return s.problem(p, req)
	}
	if before != nil && at == revision(c.Metadata.ResourceVersion) {
		c = before // as served: the resourceVersion the client knew it by
	}
	if err := s.idx.waitFor(ctx, key, 0); err != nil {
		s.log.Warn("delete not visible in the index in time", zap.Error(err))
	}
	s.log.Info("component deleted", zap.Stringer("key", key))
	return s.answer(w, http.StatusOK, c, req)
}

func (s *Server) problem(p *wire.Problem, req request) *statusError {
	if p.Status == http.StatusNotFound {
		return notFound(req)
	}
	return fromProblem(p, req.res, req.name)
}
