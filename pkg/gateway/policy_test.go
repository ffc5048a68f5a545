package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/enforce"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policykv"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime"
)

// catalog is the ODA Component the policy tests' routes belong to.
var catalog = observe.Source{Namespace: "shop", Component: "catalog"}

const catalogPath = "/shop/catalog"

// echoComponent loads the runtime's echo component (testdata/echo-http.wat:
// 200, the request body streamed back, x-method and x-path headers).
func echoComponent(t testing.TB) http.Handler {
	t.Helper()
	wasm, err := os.ReadFile("../runtime/testdata/echo-http.wasm")
	if err != nil {
		t.Fatal(err)
	}
	host, err := runtime.NewHost(runtime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	c, err := host.Load(context.Background(), "echo", wasm, runtime.ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// probe records the X-Wasmcanvas-* headers each request reaches the
// component with, and counts the requests.
type probe struct {
	mu      sync.Mutex
	n       int
	headers []http.Header
	next    http.Handler
}

func (p *probe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := http.Header{}
	for k, v := range r.Header {
		if strings.HasPrefix(k, enforce.HeaderPrefix) {
			h[k] = v
		}
	}
	p.mu.Lock()
	p.n++
	p.headers = append(p.headers, h)
	p.mu.Unlock()
	p.next.ServeHTTP(w, r)
}

func (p *probe) last() (int, http.Header) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == 0 {
		return 0, nil
	}
	return p.n, p.headers[p.n-1]
}

type call struct {
	method, path, body string
	header             map[string]string
}

func (c call) do(t *testing.T, base string) response {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// policyGateway serves the echo component behind spec at catalogPath.
func policyGateway(t *testing.T, opts enforce.Options, spec policy.Spec, component http.Handler) (string, *probe) {
	t.Helper()
	p := &probe{next: component}
	g := New(Options{Logger: testkit.Logger(t, 0), Policy: opts})
	if err := g.SetRoutes("shop-catalog", []Route{{API: "catalog", Path: catalogPath, Handler: p, Source: catalog, Policy: spec}}); err != nil {
		t.Fatal(err)
	}
	return serve(t, g), p
}

func wantProblem(t *testing.T, res response, status int, detail string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("status %d, want %d (body %s)", res.status, status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want an RFC 9457 problem", ct)
	}
	var pd struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal([]byte(res.body), &pd); err != nil || pd.Status != status {
		t.Fatalf("body %q is not a problem with status %d: %v", res.body, status, err)
	}
	if !strings.Contains(pd.Detail, detail) {
		t.Errorf("detail %q does not say %q", pd.Detail, detail)
	}
}

func TestGuard(t *testing.T) {
	iss := newTestIssuer(t)
	comp := echoComponent(t)
	guarded := policy.Spec{Guard: &policy.Guard{Roles: []string{"catalog-admin", "Admin"}}}
	base, p := policyGateway(t, enforce.Options{Authenticator: auth.Bearer(iss)}, guarded, comp)
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	t.Run("no token", func(t *testing.T) {
		res := call{method: "GET", path: catalogPath + "/items"}.do(t, base)
		wantProblem(t, res, http.StatusUnauthorized, "authentication required")
		if c := res.header.Get("WWW-Authenticate"); !strings.HasPrefix(c, `Bearer realm="shop.catalog"`) {
			t.Errorf("WWW-Authenticate %q", c)
		}
	})
	t.Run("refused token", func(t *testing.T) {
		res := call{method: "GET", path: catalogPath, header: bearer(newTestIssuer(t).token(t, "mallory", "Admin"))}.do(t, base)
		wantProblem(t, res, http.StatusUnauthorized, "credentials refused")
		if c := res.header.Get("WWW-Authenticate"); !strings.Contains(c, `error="invalid_token"`) {
			t.Errorf("WWW-Authenticate %q", c)
		}
	})
	t.Run("token without a role", func(t *testing.T) {
		res := call{method: "GET", path: catalogPath, header: bearer(iss.token(t, "bob", "reader"))}.do(t, base)
		wantProblem(t, res, http.StatusForbidden, "bob holds none of the roles of shop.catalog (catalog-admin or Admin)")
		if c := res.header.Get("WWW-Authenticate"); !strings.Contains(c, `error="insufficient_scope"`) {
			t.Errorf("WWW-Authenticate %q", c)
		}
	})
	t.Run("token with a role, forged headers replaced", func(t *testing.T) {
		h := bearer(iss.token(t, "alice", "reader", "Admin"))
		h["X-Wasmcanvas-Subject"] = "root"
		h["x-wasmcanvas-roles"] = "everything"
		h["X-Wasmcanvas-Consumer"] = "forged"
		res := call{method: "GET", path: catalogPath + "/items", header: h}.do(t, base)
		if res.status != http.StatusOK || res.header.Get("X-Path") != catalogPath+"/items" {
			t.Fatalf("status %d, x-path %q: the component did not answer", res.status, res.header.Get("X-Path"))
		}
		_, got := p.last()
		want := http.Header{"X-Wasmcanvas-Subject": {"alice"}, "X-Wasmcanvas-Client": {"test-client"}, "X-Wasmcanvas-Issuer": {testIssuerURL}, "X-Wasmcanvas-Roles": {"reader,Admin"}}
		if !equalHeaders(got, want) {
			t.Errorf("the component saw %v, want %v", got, want)
		}
	})

	t.Run("no identity provider: 503, never open", func(t *testing.T) {
		base, p := policyGateway(t, enforce.Options{}, guarded, comp)
		res := call{method: "GET", path: catalogPath, header: bearer(iss.token(t, "alice", "Admin"))}.do(t, base)
		wantProblem(t, res, http.StatusServiceUnavailable, "no identity provider configured")
		if n, _ := p.last(); n != 0 {
			t.Errorf("the component served %d requests", n)
		}
	})
	t.Run("unguarded route: forged headers stripped", func(t *testing.T) {
		base, p := policyGateway(t, enforce.Options{}, policy.Spec{}, comp)
		res := call{method: "GET", path: catalogPath, header: map[string]string{"X-Wasmcanvas-Subject": "root", "X-WASMCANVAS-ROLES": "Admin"}}.do(t, base)
		if res.status != http.StatusOK {
			t.Fatalf("status %d", res.status)
		}
		if _, got := p.last(); len(got) != 0 {
			t.Errorf("the component saw forged headers %v", got)
		}
	})
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if strings.Join(a[k], "\n") != strings.Join(v, "\n") {
			return false
		}
	}
	return true
}

func TestRateLimit(t *testing.T) {
	comp := echoComponent(t)
	// A clock fixed 300 ms into a second: the 11 requests share a window
	// whatever the machine's speed.
	now := func() time.Time { return time.Unix(1_800_000_000, 300_000_000) }
	spec := policy.Spec{RateLimit: &policy.RateLimit{By: policy.Identifier{Kind: policy.ByIP}, Limit: 10, Interval: time.Second}}

	check := func(t *testing.T, bases []string) {
		t.Helper()
		for i := 1; i <= 11; i++ {
			res := call{method: "GET", path: catalogPath}.do(t, bases[i%len(bases)])
			if i <= 10 {
				if res.status != http.StatusOK {
					t.Fatalf("request %d: status %d, want 200 (%s)", i, res.status, res.body)
				}
				if got, want := res.header.Get("RateLimit-Remaining"), itoa(10-i); got != want {
					t.Errorf("request %d: RateLimit-Remaining %q, want %q", i, got, want)
				}
				continue
			}
			wantProblem(t, res, http.StatusTooManyRequests, "rate limit of 10 requests per second exceeded")
			for h, want := range map[string]string{"Retry-After": "1", "RateLimit-Limit": "10", "RateLimit-Remaining": "0", "RateLimit-Reset": "1"} {
				if got := res.header.Get(h); got != want {
					t.Errorf("11th request: %s %q, want %q", h, got, want)
				}
			}
		}
	}
	t.Run("in memory", func(t *testing.T) {
		base, _ := policyGateway(t, enforce.Options{Now: now}, spec, comp)
		check(t, []string{base})
	})
	t.Run("shared by two gateways through JetStream KV", func(t *testing.T) {
		js := jetStream(t, testkit.NATS(t, embedded.Config{}))
		var bases []string
		for range 2 {
			rc, err := policykv.RateCounter(context.Background(), js)
			if err != nil {
				t.Fatal(err)
			}
			base, _ := policyGateway(t, enforce.Options{Now: now, RateCounter: rc}, spec, comp)
			bases = append(bases, base)
		}
		check(t, bases)
	})
	t.Run("a new window allows again", func(t *testing.T) {
		var mu sync.Mutex
		clock := now()
		base, _ := policyGateway(t, enforce.Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }},
			policy.Spec{RateLimit: &policy.RateLimit{By: policy.Identifier{Kind: policy.ByHeader, Header: "X-Tenant"}, Limit: 1, Interval: time.Minute}}, comp)
		a := call{method: "GET", path: catalogPath, header: map[string]string{"X-Tenant": "a"}}
		b := call{method: "GET", path: catalogPath, header: map[string]string{"X-Tenant": "b"}}
		if a.do(t, base).status != 200 || a.do(t, base).status != 429 || b.do(t, base).status != 200 {
			t.Fatal("tenant a's second request was not refused, or tenant b was counted with a")
		}
		if got := a.do(t, base).header.Get("Retry-After"); got != "60" {
			t.Errorf("Retry-After %q 300 ms into a minute window, want 60", got)
		}
		mu.Lock()
		clock = clock.Add(time.Minute)
		mu.Unlock()
		if res := a.do(t, base); res.status != 200 {
			t.Errorf("next window: status %d", res.status)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

func jetStream(t testing.TB, s *embedded.Server) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(testkit.Connect(t, s.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestQuotaSurvivesRestart(t *testing.T) {
	comp := echoComponent(t)
	store := t.TempDir()
	spec := policy.Spec{Quota: &policy.Quota{By: policy.Identifier{Kind: policy.ByIP}, Limit: 3}}
	// start runs a NATS server on store and a gateway counting quotas in
	// it; stop ends both, as a restart of the canvas would.
	start := func(t *testing.T) (string, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := embedded.Start(embedded.Config{StoreDir: store, Port: -1, Logger: testkit.Logger(t, 1)})
		if err != nil {
			t.Fatal(err)
		}
		nc := testkit.Connect(t, s.ClientURL())
		js, _ := jetstream.New(nc)
		qc, err := policykv.QuotaCounter(ctx, js)
		if err != nil {
			t.Fatal(err)
		}
		g := New(Options{Policy: enforce.Options{QuotaCounter: qc}})
		if err := g.SetRoutes("shop-catalog", []Route{{API: "catalog", Path: catalogPath, Handler: comp, Source: catalog, Policy: spec}}); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Serve(ctx, "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		return g.BaseURL(), func() {
			cancel()
			_ = g.Wait(context.Background())
			nc.Close()
			s.Shutdown()
			s.WaitForShutdown()
		}
	}
	base, stop := start(t)
	for i := 1; i <= 3; i++ {
		if res := (call{method: "GET", path: catalogPath}).do(t, base); res.status != http.StatusOK {
			stop()
			t.Fatalf("request %d: status %d", i, res.status)
		}
	}
	wantProblem(t, call{method: "GET", path: catalogPath}.do(t, base), http.StatusTooManyRequests, "quota of 3 requests used up")
	stop()

	base, stop = start(t)
	defer stop()
	wantProblem(t, call{method: "GET", path: catalogPath}.do(t, base), http.StatusTooManyRequests, "quota of 3 requests used up")
}

func TestAPIKey(t *testing.T) {
	comp := echoComponent(t)
	js := jetStream(t, testkit.NATS(t, embedded.Config{}))
	ctx := context.Background()
	keys, err := policykv.OpenKeys(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	mine := oda.Key{Namespace: "shop", Name: "catalog"}
	valid, rec, err := keys.Create(ctx, mine, "partner-a")
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedRec, _ := keys.Create(ctx, mine, "partner-b")
	if _, err := keys.Revoke(ctx, mine, revokedRec.ID); err != nil {
		t.Fatal(err)
	}
	other, _, _ := keys.Create(ctx, oda.Key{Namespace: "shop", Name: "orders"}, "partner-a")
	if list, err := keys.List(ctx, mine); err != nil || len(list) != 1 || list[0].ID != rec.ID {
		t.Fatalf("List = %+v, %v: want the one key not revoked", list, err)
	}

	for _, loc := range []*policy.APIKey{{Name: "X-API-Key", In: policy.InHeader}, {Name: "apikey", In: policy.InQuery}, {Name: "apikey"}} {
		base, p := policyGateway(t, enforce.Options{APIKeys: keys}, policy.Spec{APIKey: loc}, comp)
		present := func(key string) call {
			if loc.In == policy.InQuery {
				return call{method: "GET", path: catalogPath + "?" + loc.Name + "=" + key}
			}
			return call{method: "GET", path: catalogPath, header: map[string]string{loc.Name: key}}
		}
		for _, tt := range []struct {
			name   string
			c      call
			status int
			detail string
		}{
			{"missing", call{method: "GET", path: catalogPath}, 401, "an API key is required in"},
			{"wrong", present("wck_not-a-key"), 401, "not valid for this API"},
			{"revoked", present(revoked), 401, "not valid for this API"},
			{"another Component's", present(other), 401, "not valid for this API"},
			{"valid", present(valid), 200, ""},
		} {
			t.Run(loc.In+":"+loc.Name+"/"+tt.name, func(t *testing.T) {
				res := tt.c.do(t, base)
				if tt.status == 200 {
					if res.status != 200 {
						t.Fatalf("status %d: %s", res.status, res.body)
					}
					if _, h := p.last(); h.Get(enforce.HeaderConsumer) != "partner-a" {
						t.Errorf("the component saw consumer %q", h.Get(enforce.HeaderConsumer))
					}
					return
				}
				wantProblem(t, res, tt.status, tt.detail)
				if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "APIKey ") {
					t.Errorf("WWW-Authenticate %q", res.header.Get("WWW-Authenticate"))
				}
			})
		}
	}
}

// jsonEcho is the echo component answering as JSON: it sends the body
// back, so a request's body is the response the OAS sees.
func jsonEcho(comp http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Content-Type", "application/json")
		}
		comp.ServeHTTP(w, r)
	})
}

func TestOASValidation(t *testing.T) {
	comp := jsonEcho(echoComponent(t))
	doc, err := filepath.Abs("testdata/catalog-openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	strict := policy.Spec{OAS: &policy.OAS{Document: "file://" + doc, Request: true, Response: true}}
	base, _ := policyGateway(t, enforce.Options{}, strict, comp)
	lenient := policy.Spec{OAS: &policy.OAS{Document: doc, Request: true, AllowUnspecifiedHeaders: true, AllowUnspecifiedQueryParams: true, AllowUnspecifiedCookies: true}}
	lbase, _ := policyGateway(t, enforce.Options{}, lenient, comp)
	jsonBody := map[string]string{"Content-Type": "application/json"}
	items := catalogPath + "/items"
	for _, tt := range []struct {
		name    string
		base    string
		c       call
		status  int
		contain string
	}{
		{"valid request and response", base, call{"POST", items, `{"name":"pen","id":"1"}`, jsonBody}, 200, `"id":"1"`},
		{"required field missing", base, call{"POST", items, `{"id":"1"}`, jsonBody}, 400, `property "name" is missing`},
		{"wrong type", base, call{"POST", items, `{"name":7}`, jsonBody}, 400, "request body at /name"},
		{"response breaks the schema", base, call{"POST", items, `{"name":"pen"}`, jsonBody}, 502, "does not match the API's OpenAPI document"},
		{"query parameter of the wrong type", base, call{"GET", items + "?limit=ten", "", nil}, 400, `query parameter "limit"`},
		{"declared query and header", base, call{"GET", items + "?limit=3", "", map[string]string{"X-Tenant": "a"}}, 200, ""},
		{"unspecified query parameter", base, call{"GET", items + "?debug=1", "", nil}, 400, `query parameter "debug" is not in`},
		{"unspecified header", base, call{"GET", items, "", map[string]string{"X-Debug": "1"}}, 400, `header "X-Debug" is not in`},
		{"unspecified cookie", base, call{"GET", items, "", map[string]string{"Cookie": "session=1"}}, 400, `cookie "session" is not in`},
		{"allowed unspecified", lbase, call{"GET", items + "?debug=1", "", map[string]string{"X-Debug": "1", "Cookie": "session=1"}}, 200, ""},
		{"no such operation", base, call{"DELETE", items, "", nil}, 405, ""},
		{"no such path", base, call{"GET", catalogPath + "/nothing", "", nil}, 404, "is not an operation"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.c.do(t, tt.base)
			if res.status != tt.status || !strings.Contains(strings.ReplaceAll(res.body, `\"`, `"`), tt.contain) {
				t.Fatalf("status %d, body %s: want %d containing %q", res.status, res.body, tt.status, tt.contain)
			}
		})
	}

	t.Run("the API key's variable is never unspecified", func(t *testing.T) {
		key, hash := policy.NewAPIKey()
		keys := keyMap{hash: {ID: policy.APIKeyID(hash), Component: "shop.catalog", Consumer: "a"}}
		for _, in := range []string{policy.InQuery, policy.InHeader} {
			spec := policy.Spec{APIKey: &policy.APIKey{Name: "apikey", In: in}, OAS: strict.OAS}
			base, _ := policyGateway(t, enforce.Options{APIKeys: keys}, spec, comp)
			c := call{method: "GET", path: items + "?apikey=" + key}
			if in == policy.InHeader {
				c = call{method: "GET", path: items, header: map[string]string{"apikey": key}}
			}
			if res := c.do(t, base); res.status != http.StatusOK {
				t.Errorf("key in %s: status %d: %s", in, res.status, res.body)
			}
		}
	})
	t.Run("a missing document refuses the route", func(t *testing.T) {
		g := New(Options{})
		err := g.SetRoutes("x", []Route{{API: "catalog", Path: catalogPath, Handler: comp, Source: catalog,
			Policy: policy.Spec{OAS: &policy.OAS{Document: "file:///nonexistent/openapi.json", Request: true}}}})
		if err == nil || !strings.Contains(err.Error(), "OASValidation") {
			t.Fatalf("SetRoutes = %v, want an error naming OASValidation", err)
		}
	})
}

func TestCORS(t *testing.T) {
	comp := echoComponent(t)
	spec := policy.Spec{
		CORS: &policy.CORS{AllowOrigins: []string{"https://shop.example"}, AllowCredentials: true,
			Preflight: &policy.Preflight{AllowHeaders: []string{"Content-Type", "Authorization"}, AllowMethods: []string{"GET", "POST"}, MaxAge: 600}},
		Guard: &policy.Guard{Roles: []string{"Admin"}},
	}
	iss := newTestIssuer(t)
	base, p := policyGateway(t, enforce.Options{Authenticator: auth.Bearer(iss)}, spec, comp)
	preflight := func(origin string) call {
		return call{method: "OPTIONS", path: catalogPath + "/items", header: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}}
	}
	t.Run("preflight from an allowed origin, without a token", func(t *testing.T) {
		res := preflight("https://shop.example").do(t, base)
		if res.status != http.StatusNoContent {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
		for h, want := range map[string]string{
			"Access-Control-Allow-Origin": "https://shop.example", "Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "Content-Type, Authorization",
			"Access-Control-Max-Age": "600",
		} {
			if got := res.header.Get(h); got != want {
				t.Errorf("%s %q, want %q", h, got, want)
			}
		}
		if n, _ := p.last(); n != 0 {
			t.Errorf("a preflight reached the component")
		}
	})
	t.Run("preflight from another origin", func(t *testing.T) {
		res := preflight("https://evil.example").do(t, base)
		if res.status != http.StatusNoContent || res.header.Get("Access-Control-Allow-Origin") != "" || res.header.Get("Access-Control-Allow-Methods") != "" {
			t.Fatalf("status %d, headers %v: want 204 without Access-Control-Allow-*", res.status, res.header)
		}
	})
	t.Run("simple request", func(t *testing.T) {
		res := call{method: "GET", path: catalogPath, header: map[string]string{"Origin": "https://shop.example", "Authorization": "Bearer " + iss.token(t, "a", "Admin")}}.do(t, base)
		if res.status != 200 || res.header.Get("Access-Control-Allow-Origin") != "https://shop.example" || res.header.Get("Vary") != "Origin" ||
			!strings.Contains(res.header.Get("Access-Control-Expose-Headers"), "RateLimit-Remaining") {
			t.Fatalf("status %d, headers %v", res.status, res.header)
		}
	})
	t.Run("a refusal carries CORS headers too", func(t *testing.T) {
		res := call{method: "GET", path: catalogPath, header: map[string]string{"Origin": "https://shop.example"}}.do(t, base)
		if res.status != 401 || res.header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
			t.Fatalf("status %d, headers %v", res.status, res.header)
		}
	})
	t.Run("simple request from another origin", func(t *testing.T) {
		res := call{method: "GET", path: catalogPath, header: map[string]string{"Origin": "https://evil.example"}}.do(t, base)
		if res.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("headers %v", res.header)
		}
	})
}

// TestGuardCachesCallers: a verified caller is reused for the same
// Authorization header for AuthCacheTTL, then verified again; refusals
// are never cached.
func TestGuardCachesCallers(t *testing.T) {
	var mu sync.Mutex
	clock := time.Unix(1_800_000_000, 0)
	calls, accept := 0, true
	a := auth.AuthenticatorFunc(func(r *http.Request) (auth.Principal, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if tok, _ := auth.BearerToken(r); !accept || tok != "good" {
			return auth.Principal{}, auth.Invalid("refused")
		}
		return auth.Principal{Subject: "alice", Roles: []string{"Admin"}}, nil
	})
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	base, _ := policyGateway(t, enforce.Options{Authenticator: a, AuthCacheTTL: 5 * time.Second, Now: now},
		policy.Spec{Guard: &policy.Guard{Roles: []string{"Admin"}}}, echoComponent(t))
	status := func(tok string) int {
		return call{method: "GET", path: catalogPath, header: map[string]string{"Authorization": "Bearer " + tok}}.do(t, base).status
	}
	step := func(tok string, want, wantCalls int, what string) {
		t.Helper()
		if got := status(tok); got != want {
			t.Fatalf("%s: status %d, want %d", what, got, want)
		}
		mu.Lock()
		defer mu.Unlock()
		if calls != wantCalls {
			t.Fatalf("%s: %d verifications, want %d", what, calls, wantCalls)
		}
	}
	step("good", 200, 1, "first request")
	step("good", 200, 1, "same header within the TTL")
	step("bad", 401, 2, "a refused token")
	step("bad", 401, 3, "the refused token again: not cached")
	mu.Lock()
	accept = false // the token is revoked
	mu.Unlock()
	step("good", 200, 3, "revoked, still within the TTL")
	mu.Lock()
	clock = clock.Add(5 * time.Second)
	mu.Unlock()
	step("good", 401, 4, "revoked, past the TTL")
}

// TestGuardAudiencePerComponent: AuthenticatorFor picks each Component's
// authenticator, and a caller verified at one Component is not reused
// from the cache at another whose authenticator refuses the same token.
func TestGuardAudiencePerComponent(t *testing.T) {
	t.Parallel()
	accepts := func(want string) auth.Authenticator {
		return auth.AuthenticatorFunc(func(r *http.Request) (auth.Principal, error) {
			if tok, _ := auth.BearerToken(r); tok != want {
				return auth.Principal{}, auth.Invalid("audience: not for this Component")
			}
			return auth.Principal{Subject: "alice", Roles: []string{"Admin"}}, nil
		})
	}
	byComponent := map[string]auth.Authenticator{"shop.catalog": accepts("for-catalog"), "shop.orders": accepts("for-orders")}
	g := New(Options{Logger: testkit.Logger(t, 0), Policy: enforce.Options{
		AuthenticatorFor: func(c string) auth.Authenticator { return byComponent[c] },
		AuthCacheTTL:     time.Minute,
	}})
	guard := policy.Spec{Guard: &policy.Guard{Roles: []string{"Admin"}}}
	echo := echoComponent(t)
	for _, name := range []string{"catalog", "orders"} {
		src := observe.Source{Namespace: "shop", Component: name}
		if err := g.SetRoutes("shop-"+name, []Route{{API: name, Path: "/shop/" + name, Handler: echo, Source: src, Policy: guard}}); err != nil {
			t.Fatal(err)
		}
	}
	base := serve(t, g)
	tests := []struct {
		path, token string
		want        int
	}{
		{"/shop/catalog", "for-catalog", 200},
		{"/shop/orders", "for-catalog", 401}, // cached at catalog, refused here
		{"/shop/orders", "for-orders", 200},
		{"/shop/catalog", "for-orders", 401},
	}
	for _, tt := range tests {
		res := call{method: "GET", path: tt.path, header: map[string]string{"Authorization": "Bearer " + tt.token}}.do(t, base)
		if res.status != tt.want {
			t.Errorf("%s with %s: status %d, want %d", tt.path, tt.token, res.status, tt.want)
		}
	}
}

// keyMap is a KeyLookup over a map of hashes.
type keyMap map[string]enforce.APIKey

func (m keyMap) LookupAPIKey(_ context.Context, hash string) (enforce.APIKey, error) {
	k, ok := m[hash]
	if !ok {
		return enforce.APIKey{}, enforce.ErrUnknownAPIKey
	}
	return k, nil
}
