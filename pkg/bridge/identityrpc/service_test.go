package identityrpc

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/internal/tokentest"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

const (
	lat      = "components"
	provider = translate.BridgeID
	issuer   = "https://issuer.test"
	audience = "productcatalog"
	// The callers: one whose identity link names its ODA Component, one
	// whose kept link is its observe link (no config), one not linked.
	shop     = "shop-api"
	observed = "billing-api"
	stranger = "rogue-api"
)

func identityLink(source string, cfg map[string]string) bridge.LinkDefinition {
	return bridge.LinkDefinition{SourceID: source, Target: provider, Name: "default", WitNamespace: "wasmcanvas", WitPackage: "identity",
		Interfaces: []string{"tokens"}, TargetConfig: cfg}
}

type fixture struct {
	iss  *tokentest.Issuer
	rpc  *wrpc.Client
	logs *observer.ObservedLogs

	mu    sync.Mutex
	asked []Component // what Options.Tokens was asked for
}

// newFixture runs the Service in a real bridge (host data, links) on a
// real nats-server, the issuer serving every Component but "unserved".
func newFixture(t *testing.T) *fixture {
	t.Helper()
	url := testkit.NATS(t, embedded.Config{}).ClientURL()
	f := &fixture{iss: tokentest.New(t, issuer, audience)}
	core, logs := observer.New(zap.DebugLevel)
	f.logs = logs
	svc := New(Options{Tokens: func(c Component) auth.Tokens {
		f.mu.Lock()
		f.asked = append(f.asked, c)
		f.mu.Unlock()
		if c.Name == "unserved" {
			return auth.Tokens{}
		}
		return auth.Tokens{Verifier: f.iss, Source: f.iss.Source(c.Namespace + "-" + c.Name)}
	}})
	b, err := bridge.New(bridge.HostData{HostID: "NHOST", LatticeRPCPrefix: lat, ProviderKey: provider, LatticeRPCURL: url,
		LinkDefinitions: []bridge.LinkDefinition{
			identityLink(shop, map[string]string{translate.IdentityConfigNamespace: "shop", translate.IdentityConfigComponent: "productcatalog", "componentRoles": "pcadmin"}),
			{SourceID: observed, Target: provider, Name: "default", WitNamespace: "wasmcanvas", WitPackage: "observe", Interfaces: []string{"metrics"}},
			identityLink("unserved-api", map[string]string{translate.IdentityConfigNamespace: "shop", translate.IdentityConfigComponent: "unserved"}),
		}}, bridge.Options{Logger: zap.New(core), Services: []bridge.Service{svc}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown(context.Background()) })
	f.rpc, err = wrpc.NewClient(testkit.Connect(t, url), subject.WRPCPrefix(lat, provider))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.rpc.Close() })
	return f
}

func (f *fixture) client(source string) *Client { return &Client{RPC: f.rpc, SourceID: source} }

// logged is every log entry, fields included, as one string.
func (f *fixture) logged() string {
	var b strings.Builder
	for _, e := range f.logs.All() {
		fmt.Fprintln(&b, e.Message, e.ContextMap())
	}
	return b.String()
}

func wantError(t *testing.T, what string, err error, kind, contains string) {
	t.Helper()
	var we *Error
	if !errors.As(err, &we) || we.Kind != kind || !strings.Contains(we.Message, contains) {
		t.Errorf("%s: %v, want the WIT error %s(...%s...)", what, err, kind, contains)
	}
}

// TestCalls: verify and access-token over wRPC, as each caller's ODA
// Component, with every WIT error case a caller can meet.
func TestCalls(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	good := f.iss.Sign(t, tokentest.Token{Subject: "alice", Audience: []string{audience}, Roles: []string{"pcadmin"}})

	c, err := f.client(shop).Verify(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "alice" || c.Issuer != issuer || !reflect.DeepEqual(c.Roles, []string{"pcadmin"}) ||
		!reflect.DeepEqual(c.Audience, []string{audience}) || time.Until(c.ExpiresAt) < 50*time.Minute {
		t.Errorf("claims %+v", c)
	}
	tok, err := f.client(shop).AccessToken(ctx, "tmf620-billing")
	if err != nil || strings.Count(tok, ".") != 2 {
		t.Fatalf("access-token: %q %v", tok, err)
	}
	// The observe link kept for billing-api names no Component: the
	// lattice and the source id do.
	if _, err := f.client(observed).AccessToken(ctx, "tmf620-billing"); err != nil {
		t.Fatal(err)
	}
	if g := f.iss.Grants(); !reflect.DeepEqual(g, []string{"shop-productcatalog->tmf620-billing", lat + "-" + observed + "->tmf620-billing"}) {
		t.Errorf("grants %q: not one per caller's Component", g)
	}

	huge := "ey" + strings.Repeat("A", 20<<10)
	wantError(t, "verify expired", errOf(f.client(shop).Verify(ctx, f.iss.Sign(t, tokentest.Token{Subject: "bob", Audience: []string{audience}, TTL: -time.Minute}))), auth.TokensInvalid, "expired")
	wantError(t, "verify garbage", errOf(f.client(shop).Verify(ctx, "garbage")), auth.TokensInvalid, "malformed")
	wantError(t, "verify 20 KiB", errOf(f.client(shop).Verify(ctx, huge)), auth.TokensInvalid, "over the 16384-byte limit")
	wantError(t, "not linked", errOf(f.client(stranger).Verify(ctx, good)), auth.TokensUnavailable, "no link from \"rogue-api\"")
	wantError(t, "no issuer for the Component", errOf(f.client("unserved-api").Verify(ctx, good)), auth.TokensUnavailable, "no issuer configured")

	f.iss.FailWith(tokentest.ErrDown)
	wantError(t, "issuer down", errOf(f.client(shop).Verify(ctx, good)), auth.TokensUnavailable, "could not be reached")
	_, err = f.client(shop).AccessToken(ctx, "tmf620-billing")
	wantError(t, "issuer down", err, auth.TokensUnavailable, "could not be reached")
	if strings.Contains(err.Error(), "10.9.8.7") {
		t.Errorf("the issuer's failure reached the caller: %v", err)
	}
	logs := f.logged()
	if !strings.Contains(logs, "10.9.8.7") || !strings.Contains(logs, "productcatalog") {
		t.Errorf("the issuer's failure is not logged with the Component:\n%s", logs)
	}
	for _, secret := range []string{good, tok, huge} {
		if strings.Contains(logs, secret[:40]) {
			t.Errorf("a token reached the log:\n%s", logs)
		}
	}
}

func errOf(_ auth.Claims, err error) error { return err }

// TestGarbageFailsTheCall: params that are not the WIT's fail the call
// before the issuer is asked anything, and an unknown function has no
// responder.
func TestGarbageFailsTheCall(t *testing.T) {
	f := newFixture(t)
	h := nats.Header{wrpc.HeaderSourceID: {shop}}
	var two wire.Encoder
	two.Str("a")
	two.Str("b")
	for _, tc := range []struct {
		name, fn string
		params   []byte
		want     any
	}{
		{"truncated string", "verify", []byte{0xff, 0xff, 0x03}, new(*wrpc.RemoteError)},
		{"trailing bytes", "access-token", two.Bytes(), new(*wrpc.RemoteError)},
		{"unknown function", "refresh", nil, wrpc.ErrNoResponders},
	} {
		_, err := f.rpc.Invoke(t.Context(), Instance("tokens"), tc.fn, tc.params, h)
		if target, ok := tc.want.(error); ok && !errors.Is(err, target) || !ok && !errors.As(err, tc.want) {
			t.Errorf("%s: %v, want %T", tc.name, err, tc.want)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.asked) != 0 {
		t.Errorf("the issuer was asked for %v", f.asked)
	}
}

// TestTranslatedLinkNamesTheComponent: the identity link translate writes
// for a Component with a securityFunction makes the bridge serve its
// callers as that ODA Component, not as the lattice and source id.
func TestTranslatedLinkNamesTheComponent(t *testing.T) {
	t.Parallel()
	port := 8080
	c := &oda.Component{APIVersion: oda.APIVersionV1, Kind: oda.Kind,
		Metadata: oda.ObjectMeta{Name: "productcatalog", Namespace: "shop"},
		Spec: oda.ComponentSpec{
			CoreFunction: &oda.CoreFunction{ExposedAPIs: []oda.ExposedAPI{{Name: "tmf620", APIType: "openapi", Implementation: "pc-api",
				Path: "/pc", Port: &port, Specification: []oda.APISpecification{{URL: "https://example.org/tmf620.json"}}}}},
			SecurityFunction: &oda.SecurityFunction{ComponentRole: []oda.ComponentRole{{Name: "pcadmin"}}},
		}}
	m, err := translate.Component(c, translate.Options{Implementations: map[string]string{"pc-api": "file:///pc.wasm"}})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{lattice: lat}
	var found bool
	for _, l := range m.Links() {
		if l.Link.Namespace != "wasmcanvas" || l.Link.Package != "identity" {
			continue
		}
		found = true
		got := s.componentOf("pc-api", bridge.Link{Config: l.Link.Target.Config[0].Properties})
		if got != (Component{Namespace: "shop", Name: "productcatalog"}) {
			t.Errorf("the translated link serves its caller as %+v", got)
		}
	}
	if !found {
		t.Fatal("no identity link in the translated manifest")
	}
}
