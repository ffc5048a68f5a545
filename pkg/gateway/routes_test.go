package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// segmentPrefix is the matching rule written plainly: route serves p when
// p equals it or continues it after a '/'.
func segmentPrefix(route, p string) bool {
	if route == "/" {
		return true
	}
	return p == route || strings.HasPrefix(p, route+"/")
}

// FuzzRoutes checks the table against the plain rule: a route path that
// normalizes is served for itself, and a request matches the longest
// route that is a segment prefix of it, or none.
func FuzzRoutes(f *testing.F) {
	for _, s := range [][2]string{
		{"/a/b", "/a/b/c"},
		{"/a/b", "/a/bc"},
		{"/a/b/", "/a/b/"},
		{"/", "/x"},
		{"/pc/tmf-api/productCatalogManagement/v4", "/pc/tmf-api/productCatalogManagement/v4/productOffering?x=1"},
		{"a", ""},
		{"/a/../b", "/b"},
		{"/a//b", "/a//b/c"},
	} {
		f.Add(s[0], s[1])
	}
	h := http.NotFoundHandler()
	f.Fuzz(func(t *testing.T, routePath, reqPath string) {
		fixed := []string{"/a", "/a/b", "/pc/tmf-api/productCatalogManagement/v4"}
		routes := []Route{{API: "fuzz", Path: routePath, Handler: h}}
		tbl, err := emptyTable().withRoutes("fuzz", routes, nil, nil)
		if err != nil {
			return
		}
		norm := tbl.byApp["fuzz"][0].path
		if again, err := normalizePath(norm); err != nil || again != norm {
			t.Fatalf("normalizing %q gave %q, which normalizes to %q, %v", routePath, norm, again, err)
		}
		if e := tbl.match(norm); e == nil || e.path != norm {
			t.Fatalf("route %q does not match its own path", norm)
		}
		for _, p := range fixed {
			if p == norm {
				continue
			}
			tbl, err = tbl.withRoutes("fixed"+p, []Route{{API: p, Path: p, Handler: h}}, nil, nil)
			if err != nil {
				t.Fatalf("adding %q: %v", p, err)
			}
		}
		if !canonicalRequestPath(reqPath) {
			return
		}
		p := reqPath
		if len(p) > 1 {
			p = strings.TrimRight(p, "/")
		}
		want := ""
		for route := range tbl.byPath {
			if segmentPrefix(route, p) && len(route) > len(want) {
				want = route
			}
		}
		got := ""
		if e := tbl.match(reqPath); e != nil {
			got = e.path
		}
		if got != want {
			t.Fatalf("match(%q) = %q, want %q (routes %v)", reqPath, got, want, tbl.infos())
		}
	})
}

// A request path of a megabyte of segments matches as a short one does,
// looking up no prefix longer than the longest route (every prefix was
// hashed: quadratic in the path).
func TestMatchLongPath(t *testing.T) {
	h := http.NotFoundHandler()
	tbl := emptyTable()
	var err error
	for i := range 100 {
		p := fmt.Sprintf("/app%d/api", i)
		if tbl, err = tbl.withRoutes(p, []Route{{API: "a", Path: p, Handler: h}}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	long := strings.Repeat("/a", 500_000)
	for _, tc := range []struct{ path, want string }{
		{"/app7/api" + long, "/app7/api"},
		{"/app7/api", "/app7/api"},
		{"/app7/apix" + long, ""},
		{"/app7" + long, ""},
		{"/" + strings.Repeat("x", 1<<20), ""},
		{long, ""},
	} {
		got := ""
		if e := tbl.match(tc.path); e != nil {
			got = e.path
		}
		if got != tc.want {
			t.Errorf("match(%.40q… %d bytes) = %q, want %q", tc.path, len(tc.path), got, tc.want)
		}
	}
	if tbl.maxLen != len("/app99/api") {
		t.Errorf("maxLen %d, want %d", tbl.maxLen, len("/app99/api"))
	}
}
