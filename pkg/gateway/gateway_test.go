package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// serve starts g on 127.0.0.1:0 and stops it when the test ends.
func serve(t testing.TB, g *Gateway) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := g.Serve(ctx, "127.0.0.1:0"); err != nil {
		cancel()
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		wctx, wcancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer wcancel()
		if err := g.Wait(wctx); err != nil {
			t.Errorf("gateway stopped with: %v", err)
		}
	})
	return g.BaseURL()
}

var client = &http.Client{Timeout: 10 * time.Second}

// serveBare serves h without the gateway on 127.0.0.1:0.
func serveBare(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return "http://" + ln.Addr().String()
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// echo answers "app/api path?query" so tests see which route served a
// request and what path it received.
func echo(app, api string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s/%s %s", app, api, r.URL.RequestURI())
	})
}

func TestRouting(t *testing.T) {
	t.Parallel()
	g := New(Options{})
	base := serve(t, g)
	mustSet(t, g, "pc", []Route{
		{API: "tmf620", Path: "/pc/tmf-api/productCatalogManagement/v4", Handler: echo("pc", "tmf620")},
		{API: "metrics", Path: "/pc/metrics/", Handler: echo("pc", "metrics")},
	})
	mustSet(t, g, "outer", []Route{{API: "root", Path: "/pc", Handler: echo("outer", "root")}})
	mustSet(t, g, "ab", []Route{{API: "x", Path: "/a/b", Handler: echo("ab", "x")}})

	tests := []struct {
		path string
		want string // body, or "404"
	}{
		{"/a/b", "ab/x /a/b"},
		{"/a/b/", "ab/x /a/b/"},
		{"/a/b/c/d", "ab/x /a/b/c/d"},
		{"/a/b?x=1&y=%2F", "ab/x /a/b?x=1&y=%2F"},
		{"/a/bc", "404"},
		{"/a", "404"},
		{"/", "404"},
		{"/pc/tmf-api/productCatalogManagement/v4/productOffering/42", "pc/tmf620 /pc/tmf-api/productCatalogManagement/v4/productOffering/42"},
		{"/pc/tmf-api/productCatalogManagement/v4", "pc/tmf620 /pc/tmf-api/productCatalogManagement/v4"},
		{"/pc/tmf-api/productCatalogManagement/v5", "outer/root /pc/tmf-api/productCatalogManagement/v5"},
		{"/pc/metrics", "pc/metrics /pc/metrics"},
		{"/pc/metricsx", "outer/root /pc/metricsx"},
		{"/pc", "outer/root /pc"},
		{"/pcx", "404"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			res := do(t, http.MethodGet, base+tc.path)
			if tc.want == "404" {
				if res.status != http.StatusNotFound {
					t.Fatalf("status %d (%q), want 404", res.status, res.body)
				}
				return
			}
			if res.status != http.StatusOK || res.body != tc.want {
				t.Fatalf("got %d %q, want 200 %q", res.status, res.body, tc.want)
			}
		})
	}
}

func TestRootRouteCatchesAll(t *testing.T) {
	t.Parallel()
	g := New(Options{})
	base := serve(t, g)
	mustSet(t, g, "root", []Route{{API: "all", Path: "/", Handler: echo("root", "all")}})
	mustSet(t, g, "a", []Route{{API: "a", Path: "/a", Handler: echo("a", "a")}})
	for path, want := range map[string]string{"/": "root/all /", "/zz/y": "root/all /zz/y", "/a/q": "a/a /a/q"} {
		if res := do(t, http.MethodGet, base+path); res.body != want {
			t.Errorf("%s: got %d %q, want %q", path, res.status, res.body, want)
		}
	}
}

func TestNonCanonicalRequestPath(t *testing.T) {
	t.Parallel()
	g := New(Options{})
	base := serve(t, g)
	mustSet(t, g, "a", []Route{{API: "a", Path: "/a", Handler: echo("a", "a")}})
	for _, p := range []string{"/a/../b", "/a//b", "/a/./b"} {
		res := do(t, http.MethodGet, base+p)
		pb := decodeProblem(t, res)
		if pb.Status != http.StatusBadRequest || res.status != http.StatusBadRequest {
			t.Errorf("%s: got %d %+v, want 400 problem", p, res.status, pb)
		}
	}
}

func mustSet(t *testing.T, g *Gateway, app string, routes []Route) {
	t.Helper()
	if err := g.SetRoutes(app, routes); err != nil {
		t.Fatal(err)
	}
}

func TestSetRoutesRejects(t *testing.T) {
	t.Parallel()
	h := echo("x", "x")
	tests := []struct {
		name    string
		app     string
		routes  []Route
		wantErr string
	}{
		{"same path as another app", "b", []Route{{API: "q", Path: "/x", Handler: h}},
			`gateway: set routes of app "b": path "/x" is already served by app "a" (API "api-x")`},
		{"same path after trailing slash", "b", []Route{{API: "q", Path: "/x/", Handler: h}},
			`path "/x" is already served by app "a" (API "api-x")`},
		{"same path twice in one app", "b", []Route{{API: "p", Path: "/p", Handler: h}, {API: "q", Path: "/p", Handler: h}},
			`path "/p" is already served by app "b" (API "p")`},
		{"relative path", "b", []Route{{API: "q", Path: "p", Handler: h}}, `must start with "/"`},
		{"dot dot", "b", []Route{{API: "q", Path: "/p/../x", Handler: h}}, `is not canonical: write "/x"`},
		{"double slash", "b", []Route{{API: "q", Path: "/p//x", Handler: h}}, `is not canonical: write "/p/x"`},
		{"query", "b", []Route{{API: "q", Path: "/p?x", Handler: h}}, `must not contain a query`},
		{"no handler", "b", []Route{{API: "q", Path: "/p"}}, `route 0 (API "q", path "/p") has no handler`},
		{"no app name", "", []Route{{API: "q", Path: "/p", Handler: h}}, `app name is empty`},
		{"later route bad", "b", []Route{{API: "ok", Path: "/ok", Handler: h}, {API: "q", Path: "", Handler: h}}, `route 1 (API "q")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := New(Options{})
			mustSet(t, g, "a", []Route{{API: "api-x", Path: "/x", Handler: h}})
			mustSet(t, g, "b", []Route{{API: "old", Path: "/old", Handler: h}})
			before := g.Routes()
			err := g.SetRoutes(tc.app, tc.routes)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
			if after := g.Routes(); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("routes changed on error:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestConflictErrorIsTyped(t *testing.T) {
	t.Parallel()
	g := New(Options{})
	mustSet(t, g, "a", []Route{{API: "b", Path: "/x", Handler: echo("a", "b")}})
	err := g.SetRoutes("c", []Route{{API: "d", Path: "/x", Handler: echo("c", "d")}})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.App != "a" || ce.API != "b" || ce.Path != "/x" {
		t.Fatalf("error %v, want a ConflictError naming app a API b", err)
	}
}

func TestReplaceRemoveAndRoutes(t *testing.T) {
	t.Parallel()
	g := New(Options{})
	base := serve(t, g)
	mustSet(t, g, "a", []Route{{API: "one", Path: "/a/one", Handler: echo("a", "one")}, {API: "two", Path: "/a/two", Handler: echo("a", "two")}})
	mustSet(t, g, "a", []Route{{API: "three", Path: "/a/three", Handler: echo("a", "three")}})
	want := []RouteInfo{{App: "a", API: "three", Path: "/a/three", Ready: true}}
	if got := g.Routes(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("routes %v, want %v", got, want)
	}
	if res := do(t, http.MethodGet, base+"/a/one"); res.status != http.StatusNotFound {
		t.Fatalf("replaced route still served: %d %q", res.status, res.body)
	}
	// The freed path can now go to another app.
	mustSet(t, g, "b", []Route{{API: "one", Path: "/a/one", Handler: echo("b", "one")}})
	if res := do(t, http.MethodGet, base+"/a/one"); res.body != "b/one /a/one" {
		t.Fatalf("got %q from the path taken over by b", res.body)
	}
	g.RemoveApp("a")
	g.RemoveApp("never-there")
	if res := do(t, http.MethodGet, base+"/a/three"); res.status != http.StatusNotFound {
		t.Fatalf("removed app still served: %d", res.status)
	}
	want = []RouteInfo{{App: "b", API: "one", Path: "/a/one", Ready: true}}
	if got := g.Routes(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("routes %v, want %v", got, want)
	}
}

// TestAtomicReplaceUnderLoad swaps an app between two route sets while
// clients hit paths both sets serve: no request may fall in the gap
// between the old set and the new one (a 404), and -race checks readers
// against the writer.
func TestAtomicReplaceUnderLoad(t *testing.T) {
	t.Parallel()
	g := New(Options{})
	base := serve(t, g)
	set := func(v string) []Route {
		return []Route{
			{API: "p", Path: "/app/p", Handler: echo("app", v)},
			{API: "q", Path: "/app/q", Handler: echo("app", v)},
		}
	}
	mustSet(t, g, "app", set("v1"))

	ctx, cancel := context.WithCancel(context.Background())
	var swaps atomic.Int64
	var swapper sync.WaitGroup
	swapper.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			v := "v1"
			if i%2 == 1 {
				v = "v2"
			}
			if err := g.SetRoutes("app", set(v)); err != nil {
				t.Errorf("swap: %v", err)
				return
			}
			swaps.Add(1)
		}
	})
	var clients sync.WaitGroup
	for c := range 4 {
		clients.Go(func() {
			for i := range 100 {
				p := []string{"/app/p", "/app/q/x"}[(c+i)%2]
				res := do(t, http.MethodGet, base+p)
				if res.status != http.StatusOK || (res.body != "app/v1 "+p && res.body != "app/v2 "+p) {
					t.Errorf("%s during swaps: %d %q", p, res.status, res.body)
				}
			}
		})
	}
	clients.Wait()
	cancel()
	swapper.Wait()
	if swaps.Load() < 2 {
		t.Fatalf("only %d swaps happened; the test did not exercise replacement", swaps.Load())
	}
}
