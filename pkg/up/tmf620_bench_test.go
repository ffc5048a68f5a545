package up_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

const (
	tmf620Root  = "/productcatalog/tmf-api/productCatalogManagement/v4"
	tmf620Impl  = "productcatalog-api"
	tmf620Items = 20
	// Each side gets benchRounds slices of benchSlice per endpoint,
	// alternating with the other side's, so background load on a shared
	// machine weighs on both alike: 3 s per side per endpoint.
	benchRounds = 6
	benchSlice  = 500 * time.Millisecond
)

// BenchmarkTMF620Get measures TMF620 GET throughput of the productcatalog
// example (JavaScript compiled to a WASI 0.2 component, a fresh instance
// per request, state in JetStream KV) through the embedded canvas's
// gateway (which verifies the bearer token the example's securityFunction
// asks for), against nativeCatalog: the same GET semantics in plain Go over
// the same KV bucket read the same way (the runtime's JetStream KV with its
// in-memory replica), served by net/http. GET by id and a list of 10, each
// with 1 and with 8 clients; both sides get the same client, workers and
// window in the same run; before timing, both must answer the same
// requests with the same status, counts and bodies.
//
// Run: go test -run '^$' -bench TMF620 -benchtime 1x ./pkg/up/
func BenchmarkTMF620Get(b *testing.B) {
	yamlPath, err := filepath.Abs("../../examples/productcatalog/component.yaml")
	if err != nil {
		b.Fatal(err)
	}
	dir := filepath.Dir(yamlPath)
	wasm := filepath.Join(dir, "build", "productcatalog.wasm")
	if _, err := os.Stat(wasm); err != nil {
		b.Skipf("%s is absent (%v): run `make examples` to build it", wasm, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	c, err := up.Start(ctx, up.Options{StateDir: b.TempDir(), Listen: "127.0.0.1:0", Ingress: "127.0.0.1:0", NATSPort: -1, ArtefactRoots: testRoots})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
		defer scancel()
		if err := c.Shutdown(sctx); err != nil {
			b.Error(err)
		}
	})
	comp := applyProductCatalog(ctx, b, c.Info(), yamlPath, dir)

	const maxClients = 8
	hc := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &bearer{token: catalogToken(ctx, b, c.Info()), next: &http.Transport{MaxIdleConns: 2 * maxClients, MaxIdleConnsPerHost: 2 * maxClients, IdleConnTimeout: time.Minute}},
	}
	b.Cleanup(hc.CloseIdleConnections)
	wasmBase := c.Info().Ingress + tmf620Root
	// The first load compiles the 14 MB component: bounded generously.
	serveWait(b, hc, wasmBase+"/productOffering?limit=1", 5*time.Minute)
	seedOfferings(b, hc, wasmBase)

	nativeBase := serveNative(ctx, b, c.Info().NATS, translate.Bucket(comp, tmf620Impl)) + tmf620Root
	checkEquivalent(b, hc, wasmBase, nativeBase)

	list := "/productOffering?limit=10"
	byID := func(i int) string { return "/productOffering/" + strconv.Itoa(1+i%tmf620Items) }
	for i := 0; i < b.N; i++ {
		for _, m := range []struct {
			name string
			path func(int) string
		}{
			{"get", byID},
			{"list", func(int) string { return list }},
		} {
			for _, clients := range []int{1, maxClients} {
				var w, n loadResult
				for r := 0; r < benchRounds; r++ {
					w.add(load(b, hc, wasmBase, m.path, clients, benchSlice))
					n.add(load(b, hc, nativeBase, m.path, clients, benchSlice))
				}
				name := fmt.Sprintf("%s-%dc-", m.name, clients)
				b.ReportMetric(w.rate(), name+"wasm-req/s")
				b.ReportMetric(n.rate(), name+"native-req/s")
				b.ReportMetric(w.rate()/n.rate(), name+"wasm/native")
				b.ReportMetric(ms(percentile(w.lat, 0.50)), name+"wasm-p50-ms")
				b.ReportMetric(ms(percentile(w.lat, 0.99)), name+"wasm-p99-ms")
				b.ReportMetric(ms(percentile(n.lat, 0.50)), name+"native-p50-ms")
			}
		}
	}
}

// catalogToken waits for productcatalog to be deployed, creates a client granted the example's pcadmin role and
// returns an access token for productcatalog's audience, which its guarded
// API asks for.
func catalogToken(ctx context.Context, b *testing.B, info up.Info) string {
	b.Helper()
	cl, err := client.NewHTTP(info.API, admin(b, info.StateDir))
	if err != nil {
		b.Fatal(err)
	}
	// The Component's audience exists once it is deployed; the first
	// deploy compiles the 14 MB component: bounded generously. The
	// benchmark measures its optimised code, which takes over from the
	// baseline code some seconds later.
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		st, err := cl.Status(ctx, oda.DefaultNamespace, "productcatalog")
		if err == nil && st.IdentityConfig != nil && st.Summary != nil && st.Summary.DeploymentStatus == oda.DeploymentComplete &&
			st.WasmCloud != nil && len(st.WasmCloud.Code) == 1 && st.WasmCloud.Code[0].Tier == "optimized" {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("productcatalog not Complete with an identityConfig and optimised code in 5 min: %v", err)
		}
	}
	created, err := cl.CreateClient(ctx, wire.ClientRequest{ID: "tmf620-bench", Grants: map[string][]string{"productcatalog": {"pcadmin"}}})
	if err != nil {
		b.Fatal(err)
	}
	md, err := identity.Discover(ctx, nil, info.API+daemon.IssuerPath)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := identity.ClientCredentials{TokenURL: md.TokenEndpoint, ClientID: created.ID, Secret: created.Secret}.AccessToken(ctx, "productcatalog")
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// bearer sends its token with every request (the native baseline ignores
// it).
type bearer struct {
	token string
	next  http.RoundTripper
}

func (t *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return t.next.RoundTrip(r)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// applyProductCatalog applies the example Component with its relative
// file:// artefact resolved against dir, as `canvas apply -f` does, and
// returns the Component as stored.
func applyProductCatalog(ctx context.Context, b *testing.B, info up.Info, yamlPath, dir string) *oda.Component {
	b.Helper()
	data, err := os.ReadFile(yamlPath)
	if err != nil {
		b.Fatal(err)
	}
	comp, err := oda.Parse(yamlPath, data)
	if err != nil {
		b.Fatal(err)
	}
	impls, err := translate.AnnotationImplementations(comp, dir)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := json.Marshal(impls)
	if err != nil {
		b.Fatal(err)
	}
	comp.Metadata.Annotations[oda.AnnotationImplementations] = string(raw)
	body, err := oda.Marshal(comp, "json")
	if err != nil {
		b.Fatal(err)
	}
	cl, err := client.NewHTTP(info.API, admin(b, info.StateDir))
	if err != nil {
		b.Fatal(err)
	}
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	stored, _, err := cl.Apply(actx, "component.json", body)
	if err != nil {
		b.Fatal(err)
	}
	return stored
}

// seedOfferings creates tmf620Items productOfferings through the
// component, so ids 1..tmf620Items exist in its bucket.
func seedOfferings(b *testing.B, hc *http.Client, base string) {
	b.Helper()
	status := []string{"Active", "Retired", "Launched"}
	for i := 1; i <= tmf620Items; i++ {
		body := fmt.Sprintf(`{"name":"Offer %d","description":"bench offering %d","lifecycleStatus":%q,"isBundle":%t,"category":[{"id":"%d","name":"Category %d"}]}`,
			i, i, status[i%len(status)], i%2 == 0, i%4, i%4)
		resp, err := hc.Post(base+"/productOffering", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("POST productOffering %d: %d %s", i, resp.StatusCode, out)
		}
		var created struct{ ID string }
		if err := json.Unmarshal(out, &created); err != nil || created.ID != strconv.Itoa(i) {
			b.Fatalf("POST productOffering %d: id %q (%v) in %s; the bucket must start empty", i, created.ID, err, out)
		}
	}
}

// serveNative serves nativeCatalog over bucket of the canvas's NATS on
// 127.0.0.1:0, read through the runtime's JetStream KV with a replica as
// the component reads it, and returns its base URL; the test's cleanup
// stops it.
func serveNative(ctx context.Context, b *testing.B, natsURL, bucket string) string {
	b.Helper()
	nc, err := nats.Connect(natsURL, nats.Name("tmf620-native-baseline"), nats.Timeout(5*time.Second))
	if err != nil {
		b.Fatalf("connect to the canvas's NATS %s: %v", natsURL, err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	replicas := runtime.NewKVReplicas(js, 0, nil)
	b.Cleanup(replicas.Close)
	kv, err := runtime.NewJetStreamKV(js, bucket, runtime.WithKVReplica(replicas)).Open(kctx, "default")
	if err != nil {
		b.Fatalf("open the component's bucket %q: %v", bucket, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: &nativeCatalog{kv: kv}, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	b.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			b.Error(err)
		}
	})
	return "http://" + ln.Addr().String()
}

// checkEquivalent fails unless both bases answer each request alike:
// status, X-Total-Count, X-Result-Count and the JSON body (hrefs compared
// without their origin, which is each server's own).
func checkEquivalent(b *testing.B, hc *http.Client, wasmBase, nativeBase string) {
	b.Helper()
	for _, tc := range []struct {
		path   string
		status int
		total  string
		ids    int
	}{
		{"/productOffering?limit=10", 200, "20", 10},
		{"/productOffering?offset=15&limit=10", 200, "20", 5},
		{"/productOffering?fields=name,lifecycleStatus&limit=3", 200, "20", 3},
		{"/productOffering?lifecycleStatus=Active&fields=none", 200, "6", 6},
		{"/productOffering?limit=x", 400, "", 0},
		{"/productOffering/7", 200, "", 1},
		{"/productOffering/7?fields=name", 200, "", 1},
		{"/productOffering/999", 404, "", 0},
	} {
		w := fetchNormalized(b, hc, wasmBase, tc.path)
		n := fetchNormalized(b, hc, nativeBase, tc.path)
		if w.status != tc.status || w.total != tc.total || w.ids != tc.ids {
			b.Fatalf("wasm %s: status %d, X-Total-Count %q, %d items; want %d, %q, %d\n%v", tc.path, w.status, w.total, w.ids, tc.status, tc.total, tc.ids, w.body)
		}
		if w.status != n.status || w.total != n.total || w.count != n.count || !reflect.DeepEqual(w.body, n.body) {
			b.Fatalf("%s differs:\nwasm   %d total=%q count=%q %v\nnative %d total=%q count=%q %v", tc.path, w.status, w.total, w.count, w.body, n.status, n.total, n.count, n.body)
		}
	}
}

type normalized struct {
	status       int
	total, count string
	ids          int
	body         any
}

func fetchNormalized(b *testing.B, hc *http.Client, base, path string) normalized {
	b.Helper()
	resp, err := hc.Get(base + path)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	origin := base[:len(base)-len(tmf620Root)]
	var body any
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(data), origin, "ORIGIN")), &body); err != nil {
		b.Fatalf("GET %s%s: %d, not JSON: %v: %s", base, path, resp.StatusCode, err, data)
	}
	out := normalized{status: resp.StatusCode, total: resp.Header.Get("X-Total-Count"), count: resp.Header.Get("X-Result-Count"), body: body}
	switch v := body.(type) {
	case []any:
		out.ids = len(v)
	case map[string]any:
		if _, ok := v["id"]; ok {
			out.ids = 1
		}
	}
	return out
}

type loadResult struct {
	elapsed time.Duration
	lat     []time.Duration
}

func (r *loadResult) add(o loadResult) {
	r.elapsed += o.elapsed
	r.lat = append(r.lat, o.lat...)
}

// rate is requests completed per second of wall time under load.
func (r *loadResult) rate() float64 { return float64(len(r.lat)) / r.elapsed.Seconds() }

// load drives base+path(i) from workers keep-alive clients for d; any
// answer other than 200 fails the benchmark.
func load(b *testing.B, hc *http.Client, base string, path func(int) string, workers int, d time.Duration) loadResult {
	b.Helper()
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs []error
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var mine []time.Duration
			for i := w; time.Now().Before(deadline); i += workers {
				t0 := time.Now()
				resp, err := hc.Get(base + path(i))
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("GET %s: %d", base+path(i), resp.StatusCode)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(errs) > 0 {
		b.Fatal(errors.Join(errs...))
	}
	if len(lat) == 0 {
		b.Fatalf("%s: no request completed in %s", base, d)
	}
	return loadResult{elapsed: elapsed, lat: lat}
}

// nativeCatalog is the baseline: the productcatalog example's GET
// semantics for productOffering (list with filters, offset, limit and
// fields, X-Total-Count/X-Result-Count; get by id; TMF630 errors) in Go,
// reading the component's JSON values from the same JetStream KV bucket
// the same way the runtime's wasi:keyvalue does (list keys, then one get
// per key, both from the replica). sort is not part of the baseline and
// answers 400.
type nativeCatalog struct {
	kv runtime.Bucket
}

const (
	offeringKind = "productOffering"
	offeringType = "ProductOffering"
	defaultLimit = 1000
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (h *nativeCatalog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, tmf620Root+"/"+offeringKind)
	if !ok || r.Method != http.MethodGet {
		tmfError(w, http.StatusNotFound, "notFound", "Not Found", "the baseline serves GET "+tmf620Root+"/"+offeringKind)
		return
	}
	origin := "http://" + r.Host
	q := r.URL.Query()
	switch {
	case rest == "":
		h.list(w, r, origin, q)
	case strings.HasPrefix(rest, "/") && !strings.Contains(rest[1:], "/"):
		h.get(w, r, origin, rest[1:], q.Get("fields"), q.Has("fields"))
	default:
		tmfError(w, http.StatusNotFound, "notFound", "Not Found", "no TMF620 resource at "+r.URL.Path)
	}
}

func (h *nativeCatalog) get(w http.ResponseWriter, r *http.Request, origin, id, fields string, hasFields bool) {
	item, err := h.load(r.Context(), id)
	if err != nil {
		tmfError(w, http.StatusInternalServerError, "internalError", "Internal Server Error", "the catalog could not complete the request")
		return
	}
	if item == nil {
		tmfError(w, http.StatusNotFound, "notFound", "Not Found", offeringKind+" "+id+" does not exist")
		return
	}
	writeJSON(w, http.StatusOK, selectFields(withIdentity(item, origin), fields, hasFields))
}

func (h *nativeCatalog) list(w http.ResponseWriter, r *http.Request, origin string, q url.Values) {
	if _, ok := q["sort"]; ok {
		tmfError(w, http.StatusBadRequest, "invalidQuery", "Bad Request", "sort is not implemented by the native baseline")
		return
	}
	offset, err := nonNegative(q, "offset", 0)
	if err == nil {
		var limit int
		if limit, err = nonNegative(q, "limit", defaultLimit); err == nil {
			h.page(w, r, origin, q, offset, limit)
			return
		}
	}
	tmfError(w, http.StatusBadRequest, "invalidQuery", "Bad Request", err.Error())
}

func (h *nativeCatalog) page(w http.ResponseWriter, r *http.Request, origin string, q url.Values, offset, limit int) {
	ids, err := h.ids(r.Context())
	if err != nil {
		tmfError(w, http.StatusInternalServerError, "internalError", "Internal Server Error", "the catalog could not complete the request")
		return
	}
	var matched []map[string]any
	for _, id := range ids {
		item, err := h.load(r.Context(), id)
		if err != nil {
			tmfError(w, http.StatusInternalServerError, "internalError", "Internal Server Error", "the catalog could not complete the request")
			return
		}
		if item == nil {
			continue // deleted between listing and reading
		}
		if item = withIdentity(item, origin); matches(item, q) {
			matched = append(matched, item)
		}
	}
	from, to := min(offset, len(matched)), min(offset+limit, len(matched))
	page := make([]map[string]any, 0, to-from)
	for _, item := range matched[from:to] {
		page = append(page, selectFields(item, q.Get("fields"), len(q["fields"]) > 0))
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(len(matched)))
	w.Header().Set("X-Result-Count", strconv.Itoa(len(page)))
	writeJSON(w, http.StatusOK, page)
}

// ids lists the productOffering ids in the bucket, numeric ids in
// creation order first, as the component orders them.
func (h *nativeCatalog) ids(ctx context.Context) ([]string, error) {
	var ids []string
	for cursor, more := uint64(0), true; more; {
		var keys []string
		var err error
		if keys, cursor, more, err = h.kv.ListKeys(ctx, cursor); err != nil {
			return nil, err
		}
		for _, k := range keys {
			if id, ok := strings.CutPrefix(k, offeringKind+"."); ok {
				ids = append(ids, id)
			}
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		x, errA := strconv.Atoi(a)
		y, errB := strconv.Atoi(b)
		if errA == nil && errB == nil && x != y {
			return x - y
		}
		return strings.Compare(a, b)
	})
	return ids, nil
}

func (h *nativeCatalog) load(ctx context.Context, id string) (map[string]any, error) {
	if !idPattern.MatchString(id) {
		return nil, nil
	}
	value, found, err := h.kv.Get(ctx, offeringKind+"."+id)
	if err != nil || !found {
		return nil, err
	}
	var item map[string]any
	if err := json.Unmarshal(value, &item); err != nil {
		return nil, err
	}
	return item, nil
}

func withIdentity(stored map[string]any, origin string) map[string]any {
	stored["href"] = fmt.Sprintf("%s%s/%s/%v", origin, tmf620Root, offeringKind, stored["id"])
	stored["@type"] = offeringType
	return stored
}

func selectFields(item map[string]any, fields string, has bool) map[string]any {
	if !has {
		return item
	}
	keep := map[string]bool{"id": true, "href": true, "@type": true}
	for _, f := range strings.Split(fields, ",") {
		if f = strings.TrimSpace(f); f != "" && f != "none" {
			keep[f] = true
		}
	}
	out := make(map[string]any, len(keep))
	for k, v := range item {
		if keep[k] {
			out[k] = v
		}
	}
	return out
}

// matches applies TMF630 attribute filters: every parameter other than
// fields, offset, limit and sort names an attribute whose text must be one
// of the comma-separated values.
func matches(item map[string]any, q url.Values) bool {
	for name, values := range q {
		if name == "fields" || name == "offset" || name == "limit" || name == "sort" {
			continue
		}
		var text string
		switch v := item[name].(type) {
		case string:
			text = v
		case bool:
			text = strconv.FormatBool(v)
		case float64:
			text = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			return false
		}
		for _, want := range values {
			if !slices.Contains(strings.Split(want, ","), text) {
				return false
			}
		}
	}
	return true
}

var digits = regexp.MustCompile(`^[0-9]+$`)

func nonNegative(q url.Values, name string, fallback int) (int, error) {
	raw := ""
	if v := q[name]; len(v) > 0 {
		raw = v[0]
	}
	if raw == "" {
		return fallback, nil
	}
	n, err := strconv.Atoi(raw)
	if !digits.MatchString(raw) || err != nil {
		return 0, fmt.Errorf("query parameter %s must be a non-negative integer, got %q", name, raw)
	}
	return n, nil
}

func tmfError(w http.ResponseWriter, status int, code, reason, message string) {
	writeJSON(w, status, map[string]string{"@type": "Error", "code": code, "reason": reason, "message": message, "status": strconv.Itoa(status)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"@type":"Error","code":"internalError","status":"500"}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	w.Write(data)
}
