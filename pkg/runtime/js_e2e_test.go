//go:build e2e

package runtime_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	wruntime "github.com/wasmcanvas/wasmcanvas/pkg/runtime"
)

// jsComponent is built by `make components` (examples/components/hello-js).
func jsComponent(t *testing.T) []byte {
	path := os.Getenv("WASMCANVAS_JS_COMPONENT")
	if path == "" {
		path = filepath.Join("..", "..", "examples", "components", "hello-js", "dist", "hello-js.wasm")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the JS component: %v (run `make components` first, or set WASMCANVAS_JS_COMPONENT)", err)
	}
	return b
}

// TestJSComponent serves a componentize-js (StarlingMonkey) component:
// it imports most of WASI and refuses a second request on one instance, so
// it checks both the Go WASI host and instance-per-request.
func TestJSComponent(t *testing.T) {
	wasm := jsComponent(t)
	cache := t.TempDir()
	// The first host compiles (seconds for ~14 MB; optimised code first,
	// so the cache has it when Load returns); the second loads the cached
	// native code.
	var c *wruntime.Component
	for i, wantHit := range []bool{false, true} {
		h := newHost(t, wruntime.Config{CacheDir: cache, Log: zaptest.NewLogger(t), NoBaseline: true})
		start := time.Now()
		var err error
		c, err = h.Load(context.Background(), "hello-js", wasm, wruntime.ComponentConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Info().CacheHit != wantHit {
			t.Fatalf("load %d: cache hit %v, want %v", i, c.Info().CacheHit, wantHit)
		}
		t.Logf("load %d: %d bytes in %v (cache hit %v)", i, len(wasm), time.Since(start), wantHit)
	}
	url := serve(t, c)
	for i := 0; i < 3; i++ {
		start := time.Now()
		resp, err := client.Post(url+"/greet?x=1", "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(got), "POST /greet body") || resp.Header.Get("X-Js") != "yes" {
			t.Fatalf("request %d: status %d, body %q, headers %v", i, resp.StatusCode, got, resp.Header)
		}
		t.Logf("request %d answered in %v", i, time.Since(start))
	}
}
