// Package examples gives tests the repository's built example
// components. It is apart from testref because pkg/oda's own tests use
// testref, and this package parses with pkg/oda.
package examples

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// SkipTB is testref.TB with Skipf.
type SkipTB interface {
	testref.TB
	Skipf(format string, args ...any)
}

// ProductCatalog returns the productcatalog example's ODA Component
// (examples/productcatalog/component.yaml, with its securityFunction) and
// the absolute path of its artefact, which `make examples` builds (it is
// not committed). Without the artefact the test is skipped, unless
// WASMCANVAS_REQUIRE_EXAMPLES is set: then it fails.
func ProductCatalog(t SkipTB) (*oda.Component, string) {
	t.Helper()
	root, err := testref.RepoRoot()
	if err != nil {
		t.Fatalf("%v", err)
	}
	dir := filepath.Join(root, "examples", "productcatalog")
	wasm := filepath.Join(dir, "build", "productcatalog.wasm")
	if _, err := os.Stat(wasm); errors.Is(err, fs.ErrNotExist) {
		if os.Getenv("WASMCANVAS_REQUIRE_EXAMPLES") == "" {
			t.Skipf("%s is absent: build it with `make examples`", wasm)
		}
		t.Fatalf("%s is absent and WASMCANVAS_REQUIRE_EXAMPLES is set: build it with `make examples`", wasm)
	}
	data, err := os.ReadFile(filepath.Join(dir, "component.yaml"))
	if err != nil {
		t.Fatalf("%v", err)
	}
	c, err := oda.Parse("component.yaml", data)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return c, wasm
}
