package local_test

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testref/examples"
	"github.com/wasmcanvas/wasmcanvas/internal/tokentest"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy/local"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// TestProductCatalogReadsItsCallerThroughIdentity deploys the example as
// `canvas up` does (translate, this deployer, the runtime, the gateway)
// with Options.Identity backed by a real ES256 issuer: GET .../whoami
// answers the roles of the caller's verified token, and the component's
// own client-credentials token for a dependent API's audience, issued to
// its ODA Component; refused tokens are 401, an issuer that is down 503
// without its details.
func TestProductCatalogReadsItsCallerThroughIdentity(t *testing.T) {
	// Its securityFunction links the component to canvas-bridge's
	// wasmcanvas:identity.
	c, productCatalogWasm := examples.ProductCatalog(t)
	m, err := translate.Component(c, translate.Options{Implementations: map[string]string{"productcatalog-api": "file://" + productCatalogWasm}})
	if err != nil {
		t.Fatal(err)
	}
	iss := tokentest.New(t, "https://issuer.test", "productcatalog")
	var mu sync.Mutex
	var asked []string
	e := newEnvOpts(t, func(o *local.Options) {
		o.ArtefactRoots = append(o.ArtefactRoots, filepath.Dir(productCatalogWasm))
		o.Identity = func(namespace, component string) auth.Tokens {
			mu.Lock()
			asked = append(asked, namespace+"/"+component)
			mu.Unlock()
			return auth.Tokens{Verifier: iss, Source: iss.Source(namespace + "-" + component)}
		}
	})
	e.apply(t, m)
	// A cold compile of the ~14 MB component takes tens of seconds.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		st, err := e.d.Status(t.Context(), m.Metadata.Name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Type == wadm.StatusDeployed {
			break
		}
		if st.Type == wadm.StatusFailed || time.Now().After(deadline) {
			t.Fatalf("status %s: %s", st.Type, st.Message)
		}
		time.Sleep(100 * time.Millisecond)
	}
	whoami := e.base + "/productcatalog/tmf-api/productCatalogManagement/v4/whoami"
	get := func(query, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, whoami+query, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	alice := iss.Sign(t, tokentest.Token{Subject: "alice", Audience: []string{"productcatalog"}, Roles: []string{"pcadmin"}})
	code, body := get("?audience=tmf669-partyrole", alice)
	if code != http.StatusOK {
		t.Fatalf("whoami: %d %s", code, body)
	}
	var me struct {
		Subject, Issuer string
		Roles           []string
		ExpiresAt       int64
		DependentToken  struct {
			Audience string
			Issued   bool
		}
	}
	if err := json.Unmarshal([]byte(body), &me); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if me.Subject != "alice" || me.Issuer != iss.URL || !reflect.DeepEqual(me.Roles, []string{"pcadmin"}) ||
		time.Until(time.Unix(me.ExpiresAt, 0)) < 50*time.Minute || me.DependentToken.Audience != "tmf669-partyrole" || !me.DependentToken.Issued {
		t.Errorf("whoami answered %s", body)
	}
	if g := iss.Grants(); !reflect.DeepEqual(g, []string{oda.DefaultNamespace + "-productcatalog->tmf669-partyrole"}) {
		t.Errorf("client-credentials grants %q, want one to the productcatalog Component for tmf669-partyrole", g)
	}
	mu.Lock()
	if !reflect.DeepEqual(asked, []string{oda.DefaultNamespace + "/productcatalog"}) {
		t.Errorf("Identity was asked for %q, want the ODA Component %s/productcatalog", asked, oda.DefaultNamespace)
	}
	mu.Unlock()

	for _, tc := range []struct{ name, token string }{
		{"no token", ""},
		{"expired", iss.Sign(t, tokentest.Token{Subject: "bob", Audience: []string{"productcatalog"}, TTL: -time.Minute})},
		{"another issuer", tokentest.New(t, iss.URL, "productcatalog").Sign(t, tokentest.Token{Subject: "eve", Audience: []string{"productcatalog"}})},
		{"20 KiB", "ey" + strings.Repeat("A", 20<<10)},
	} {
		if code, body := get("", tc.token); code != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", tc.name, code, body)
		}
	}
	iss.FailWith(tokentest.ErrDown)
	if code, body := get("", alice); code != http.StatusServiceUnavailable || strings.Contains(body, "10.9.8.7") {
		t.Errorf("issuer down: %d %s, want 503 without the failure's details", code, body)
	}
}
