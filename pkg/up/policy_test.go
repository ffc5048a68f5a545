package up_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// TestAPIKeysThroughCanvasd makes, uses and revokes an API key as `canvas
// apikey` does, through canvasd's API, across a restart of the canvas.
func TestAPIKeysThroughCanvasd(t *testing.T) {
	dir := t.TempDir()
	c := start(t, dir)
	cl, err := client.NewHTTP(c.Info().API, admin(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	comp := append(testref.EchoComponent("keyed", "/keyed/api"), []byte(`      gatewayConfiguration:
        apiKeyVerification:
          enabled: true
          location: header:X-API-Key
`)...)
	if _, _, err := cl.Apply(ctx, "keyed.yaml", comp); err != nil {
		t.Fatal(err)
	}
	st := waitComplete(t, cl, "keyed", c.Info().Ingress)
	url := st.CoreAPIs[0].URL
	withKey := func(key string) int {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("X-API-Key", key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if _, err := cl.CreateAPIKey(ctx, oda.DefaultNamespace, "nothere", "a"); client.StatusCode(err) != http.StatusNotFound {
		t.Errorf("a key for a Component that does not exist: %v, want 404", err)
	}
	if _, err := cl.CreateAPIKey(ctx, oda.DefaultNamespace, "keyed", " "); client.StatusCode(err) != http.StatusBadRequest {
		t.Errorf("a key without consumer: %v, want 400", err)
	}
	k, err := cl.CreateAPIKey(ctx, oda.DefaultNamespace, "keyed", "partner-a")
	if err != nil || k.Key == "" || k.ID == "" {
		t.Fatalf("CreateAPIKey = %+v, %v", k, err)
	}
	if code, _ := get(t, url); code != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", code)
	}
	if code := withKey(k.Key); code != http.StatusOK {
		t.Errorf("the new key: %d, want 200", code)
	}

	stop(t, c)
	c = start(t, dir)
	cl, _ = client.NewHTTP(c.Info().API, admin(t, dir))
	st = waitComplete(t, cl, "keyed", c.Info().Ingress)
	url = st.CoreAPIs[0].URL
	if code := withKey(k.Key); code != http.StatusOK {
		t.Errorf("the key after a restart: %d, want 200", code)
	}
	list, err := cl.APIKeys(ctx, oda.DefaultNamespace, "keyed")
	if err != nil || len(list) != 1 || list[0].ID != k.ID || list[0].Consumer != "partner-a" || list[0].Key != "" {
		t.Fatalf("APIKeys = %+v, %v: want the one key, without its plaintext", list, err)
	}
	if r, err := cl.RevokeAPIKey(ctx, oda.DefaultNamespace, "keyed", k.ID); err != nil || r.Namespace != oda.DefaultNamespace || r.Component != "keyed" || r.ID != k.ID {
		t.Fatalf("RevokeAPIKey = %+v, %v", r, err)
	}
	if code := withKey(k.Key); code != http.StatusUnauthorized {
		t.Errorf("the revoked key: %d, want 401", code)
	}
	if _, err := cl.RevokeAPIKey(ctx, oda.DefaultNamespace, "keyed", k.ID); client.StatusCode(err) != http.StatusNotFound {
		t.Errorf("revoking twice: %v, want 404", err)
	}
}
