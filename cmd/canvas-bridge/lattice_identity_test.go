package main

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge/identityrpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc"
)

// TestIdentityOnALatticeWithEmbeddedIssuer: canvasd with its embedded
// issuer on a real nats-server (wadm a double) puts the system
// application naming the issuer in canvas-bridge's config; the real
// canvas-bridge binary, given that config and a component's identity
// link as a host would, gets the component access tokens from canvasd's
// token service (its Component's client, its roles on the audience) and
// verifies the embedded issuer's tokens for its Component with their
// roles. A Component without a client, a bad audience and a malformed
// request are refused.
func TestIdentityOnALatticeWithEmbeddedIssuer(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	const lat = "idlattice"
	srv := testkit.NATS(t, embedded.Config{})
	nc := testkit.Connect(t, srv.ClientURL())
	var (
		mu     sync.Mutex
		system *wadm.Manifest
	)
	wadmtest.Run(t, nc, lat, wadmtest.WithPutHook(func(m *wadm.Manifest) error {
		if m.Metadata.Name == translate.DefaultSystemApp {
			mu.Lock()
			system = m
			mu.Unlock()
		}
		return nil
	}))
	d, err := daemon.New(daemon.Options{NATS: lattice.Config{URLs: srv.ClientURL()}, Lattice: lat, StateDir: t.TempDir(),
		Listen: "127.0.0.1:0", KubeListen: daemon.KubeListenOff, Logger: testkit.Logger(t, zapcore.InfoLevel)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Shutdown(ctx) })

	// The bridge config canvasd deploys names the embedded issuer.
	var cfg map[string]string
	testkit.WaitForErr(t, 10*time.Second, "the system application put with the bridge's issuer", func() error {
		mu.Lock()
		defer mu.Unlock()
		if system == nil {
			return errors.New("not put")
		}
		for _, c := range system.Spec.Components {
			for _, p := range c.Properties.Config {
				if p.Properties[translate.BridgeConfigIssuer] != "" {
					cfg = p.Properties
				}
			}
		}
		if cfg == nil {
			return errors.New("no " + translate.BridgeConfigIssuer + " in the system application")
		}
		return nil
	})
	if iss := cfg[translate.BridgeConfigIssuer]; iss != d.APIURL()+daemon.IssuerPath || iss != d.Issuer().URL() {
		t.Fatalf("bridge config issuer %q, want the embedded issuer %s", iss, d.Issuer().URL())
	}

	// productcatalog (client registered, reader on orders' API), orders
	// (an API), lonely (a Component with no client).
	pc, orders := identity.ClientID("shop", "productcatalog"), identity.ClientID("shop", "orders")
	is := d.Issuer()
	for _, spec := range []identity.ClientSpec{
		{ID: pc, Roles: []string{"pcadmin"}},
		{ID: orders, Roles: []string{"reader"}},
		{ID: "buyer", Grants: map[string][]string{pc: {"pcadmin"}}},
	} {
		if _, err := is.RegisterClient(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	if err := is.Grant(ctx, pc, orders, "reader"); err != nil {
		t.Fatal(err)
	}

	self := translate.BridgeID
	link := func(source, name string) map[string]any {
		return map[string]any{"source_id": source, "target": self, "name": "default", "wit_namespace": "wasmcanvas",
			"wit_package": "identity", "interfaces": []string{"tokens"}, "source_config": map[string]string{},
			"target_config": map[string]string{translate.IdentityConfigNamespace: "shop", translate.IdentityConfigComponent: name}}
	}
	p := start(t, bin, hostDataLine(t, map[string]any{
		"host_id": "NHOSTIDENTITY", "lattice_rpc_prefix": lat, "link_name": "default", "lattice_rpc_url": srv.ClientURL(),
		"provider_key": self, "instance_id": "1d", "config": cfg,
		"link_definitions": []any{link("pc-api", "productcatalog"), link("lonely-api", "lonely")},
		"otel_config":      map[string]any{"enable_observability": false},
	}))
	testkit.WaitForErr(t, 20*time.Second, "canvas-bridge healthy", func() error {
		if !p.running() {
			return errors.New("canvas-bridge exited: " + p.stderr.String())
		}
		_, err := nc.Request(subject.ProviderHealth(lat, self), []byte("{}"), 250*time.Millisecond)
		return err
	})
	rpc, err := wrpc.NewClient(nc, subject.WRPCPrefix(lat, self))
	if err != nil {
		t.Fatal(err)
	}
	defer rpc.Close()
	pcc := &identityrpc.Client{RPC: rpc, SourceID: "pc-api"}

	t.Run("access-token as its Component's client", func(t *testing.T) {
		tok, err := pcc.AccessToken(ctx, orders)
		if err != nil {
			t.Fatal(err)
		}
		c, err := is.Verifier().ForAudience(orders).Verify(ctx, tok)
		if err != nil || c.Subject != pc || !slices.Equal(c.Roles, []string{"reader"}) {
			t.Fatalf("the token: %+v, %v; want subject %s with role reader", c, err, pc)
		}
		if strings.Contains(p.stderr.String(), tok) {
			t.Error("the token is in the bridge's log")
		}
	})
	t.Run("verify a token of the embedded issuer with its roles", func(t *testing.T) {
		tok, err := is.TokenSource("buyer").AccessToken(ctx, pc)
		if err != nil {
			t.Fatal(err)
		}
		c, err := pcc.Verify(ctx, tok)
		if err != nil || c.Subject != "buyer" || c.Issuer != is.URL() || !slices.Equal(c.Roles, []string{"pcadmin"}) {
			t.Fatalf("verify: %+v, %v; want buyer with pcadmin", c, err)
		}
		// A token for orders' audience is not productcatalog's.
		other, err := is.TokenSource(pc).AccessToken(ctx, orders)
		if err != nil {
			t.Fatal(err)
		}
		wantKind(t, "verify of another Component's token", errOnly(pcc.Verify(ctx, other)), auth.TokensInvalid, "")
	})
	t.Run("refusals", func(t *testing.T) {
		wantKind(t, "unknown audience", errOnly(pcc.AccessToken(ctx, "shop.nothing")), auth.TokensInvalid, "no such API")
		wantKind(t, "empty audience", errOnly(pcc.AccessToken(ctx, "")), auth.TokensInvalid, "audience")
		lonely := &identityrpc.Client{RPC: rpc, SourceID: "lonely-api"}
		wantKind(t, "a Component without a client", errOnly(lonely.AccessToken(ctx, orders)), auth.TokensUnavailable, "")
		if !strings.Contains(p.stderr.String(), "securityFunction") {
			t.Errorf("the bridge's log does not say the Component has no client:\n%s", p.stderr)
		}
	})
	t.Run("canvasd's token service refuses bad requests", func(t *testing.T) {
		for _, tc := range []struct{ name, body, want string }{
			{"garbage", "{", "want JSON"},
			{"unknown field", `{"namespace":"shop","name":"productcatalog","audience":"x","secret":"y"}`, "unknown field"},
			{"no component", `{"audience":"x"}`, "namespace and name"},
			{"audience too long", `{"namespace":"shop","name":"productcatalog","audience":"` + strings.Repeat("a", 3000) + `"}`, "audience must be"},
		} {
			m, err := nc.Request(subject.BridgeTokens(lat), []byte(tc.body), 5*time.Second)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			var rep identityrpc.TokenReply
			if err := json.Unmarshal(m.Data, &rep); err != nil || rep.Token != "" || rep.Kind != auth.TokensInvalid || !strings.Contains(rep.Error, tc.want) {
				t.Errorf("%s: reply %s, want invalid naming %q", tc.name, m.Data, tc.want)
			}
		}
	})
}

func errOnly[T any](_ T, err error) error { return err }

func wantKind(t *testing.T, what string, err error, kind, contains string) {
	t.Helper()
	var we *identityrpc.Error
	if !errors.As(err, &we) || we.Kind != kind || !strings.Contains(we.Message, contains) {
		t.Errorf("%s: %v, want the WIT error %s containing %q", what, err, kind, contains)
	}
}
