package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// productCatalogWasm is examples/productcatalog's build output (`make
// examples`); it is not committed.
var productCatalogWasm = filepath.Join("..", "..", "examples", "productcatalog", "build", "productcatalog.wasm")

// TestProductCatalogOnJetStreamKV serves the TMF620 example component, a
// componentize-js component that keeps its catalog in wasi:keyvalue, over
// real HTTP with a JetStream KV bucket behind it. It loads the component
// once: the cold compile of its ~14 MB takes tens of seconds.
func TestProductCatalogOnJetStreamKV(t *testing.T) {
	t.Parallel()
	wasm, err := os.ReadFile(productCatalogWasm)
	if errors.Is(err, fs.ErrNotExist) && os.Getenv("WASMCANVAS_REQUIRE_EXAMPLES") == "" {
		t.Skipf("%s is absent: build it with `make examples` (or examples/productcatalog/build.sh)", productCatalogWasm)
	}
	if err != nil {
		t.Fatal(err)
	}
	js := startJetStream(t)
	h, err := NewHost(Config{CacheDir: t.TempDir(), Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	comp, err := h.Load(ctx, "productcatalog", wasm, ComponentConfig{KeyValue: NewJetStreamKV(js, "productcatalog")})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded in %v", comp.Info().CompileTime)
	srv := httptest.NewServer(comp)
	t.Cleanup(srv.Close)
	base := srv.URL + "/productcatalog/tmf-api/productCatalogManagement/v4"
	client := &http.Client{Timeout: 30 * time.Second}
	do := func(method, url, body string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	var created []map[string]any
	for _, name := range []string{"Fibre 1G", "Fibre 500M"} {
		resp, body := do(http.MethodPost, base+"/productOffering", `{"name":"`+name+`","lifecycleStatus":"Active"}`)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST productOffering %q: %d %s", name, resp.StatusCode, body)
		}
		var po map[string]any
		if err := json.Unmarshal(body, &po); err != nil {
			t.Fatalf("POST productOffering: %v in %s", err, body)
		}
		if po["name"] != name || resp.Header.Get("Location") == "" {
			t.Fatalf("POST productOffering: Location %q, body %s", resp.Header.Get("Location"), body)
		}
		created = append(created, po)
	}
	if created[0]["id"] == created[1]["id"] {
		t.Fatalf("two offerings got the same id %v (the atomic counter did not advance)", created[0]["id"])
	}

	id := created[0]["id"].(string)
	resp, body := do(http.MethodGet, base+"/productOffering/"+id, "")
	var got map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil || got["name"] != "Fibre 1G" || got["lastUpdate"] != created[0]["lastUpdate"] {
		t.Fatalf("GET productOffering/%s: %d %s, want the created offering", id, resp.StatusCode, body)
	}

	resp, body = do(http.MethodGet, base+"/productOffering?fields=name", "")
	var list []map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list) != 2 || resp.Header.Get("X-Total-Count") != "2" {
		t.Fatalf("GET productOffering list: %d, X-Total-Count %q, %s; want 2 offerings", resp.StatusCode, resp.Header.Get("X-Total-Count"), body)
	}

	// The catalog lives in the component's JetStream bucket, where the
	// component's keys say it does.
	kv, err := js.KeyValue(ctx, "productcatalog")
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "productOffering."+id)
	if err != nil || !strings.Contains(string(e.Value()), `"Fibre 1G"`) {
		t.Fatalf("bucket key productOffering.%s: %v", id, err)
	}

	resp, body = do(http.MethodDelete, base+"/productOffering/"+id, "")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE productOffering/%s: %d %s", id, resp.StatusCode, body)
	}
	if resp, body = do(http.MethodGet, base+"/productOffering/"+id, ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET after DELETE: %d %s, want 404", resp.StatusCode, body)
	}

	// Without a KeyValue, open answers no-such-store and the component
	// says 503. The compile cache makes this second load cheap.
	bare, err := h.Load(ctx, "productcatalog-bare", wasm, ComponentConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if !bare.Info().CacheHit {
		t.Fatal("the second load of the same bytes missed the compile cache")
	}
	bareSrv := httptest.NewServer(bare)
	t.Cleanup(bareSrv.Close)
	resp, body = do(http.MethodGet, bareSrv.URL+"/productcatalog/tmf-api/productCatalogManagement/v4/productOffering", "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "storeUnavailable") {
		t.Fatalf("GET without a bucket: %d %s, want 503 storeUnavailable", resp.StatusCode, body)
	}
}
