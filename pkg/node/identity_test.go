package node

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/enforce"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
)

// TestOIDCIssuerGuardsPerComponent: with --oidc-issuer (the embedded
// issuer, found by discovery over HTTP on 127.0.0.1) a guarded API of
// Component shop/pc admits a token for pc's client holding its role; a
// token of the same issuer for another Component's audience, one without
// the role, and no token are refused.
func TestOIDCIssuerGuardsPerComponent(t *testing.T) {
	ns := testkit.NATS(t, embedded.Config{})
	js, err := jetstream.New(testkit.Connect(t, ns.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	var h atomic.Pointer[http.Handler]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*h.Load()).ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	is, err := identity.NewIssuer(ctx, js, identity.IssuerOptions{URL: srv.URL + "/oidc"})
	if err != nil {
		t.Fatal(err)
	}
	handler := is.Handler()
	h.Store(&handler)
	pc, other := identity.ClientID("shop", "pc"), identity.ClientID("shop", "other")
	for _, c := range []identity.ClientSpec{
		{ID: pc, Roles: []string{"pcadmin"}, Owner: "shop.pc"},
		{ID: other, Roles: []string{"pcadmin"}, Owner: "shop.other"},
		{ID: "admin", Grants: map[string][]string{pc: {"pcadmin"}, other: {"pcadmin"}}},
		{ID: "reader", Grants: map[string][]string{pc: {}}},
	} {
		if _, err := is.RegisterClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	token := func(client, aud string) string {
		t.Helper()
		tok, err := is.TokenSource(client).AccessToken(ctx, aud)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	authFor, err := IssuerAuthenticators(is.URL())
	if err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(gateway.Options{Logger: testkit.Logger(t, 0), Policy: enforce.Options{AuthenticatorFor: authFor}})
	if err := gw.SetRoutes("app-pc", []gateway.Route{{API: "api", Path: "/pc", Source: observe.Source{Namespace: "shop", Component: "pc"},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }),
		Policy:  policy.Spec{Guard: &policy.Guard{Roles: []string{"pcadmin"}}}}}); err != nil {
		t.Fatal(err)
	}
	gw.SetReady("app-pc")
	gctx, gstop := context.WithCancel(context.Background())
	addr, err := gw.Serve(gctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gstop(); _ = gw.Wait(context.Background()) })
	call := func(tok string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/pc/x", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		name string
		tok  string
		want int
	}{
		{"pc's token with pcadmin", token("admin", pc), http.StatusNoContent},
		{"another Component's token", token("admin", other), http.StatusUnauthorized},
		{"pc's token without the role", token("reader", pc), http.StatusForbidden},
		{"no token", "", http.StatusUnauthorized},
	} {
		if got := call(c.tok); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if _, err := IssuerAuthenticators("not a url"); err == nil {
		t.Error("--oidc-issuer accepts a value that is no URL")
	}
}
