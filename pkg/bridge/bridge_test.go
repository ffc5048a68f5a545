package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
)

const (
	self    = translate.BridgeID
	lat     = "default"
	ownHost = "NOWNHOST"
)

// recorder is a served interface that only records how the bridge ran
// it: the seam's contract, not an implementation.
type recorder struct {
	env     atomic.Pointer[Env]
	stopped atomic.Bool
}

func (r *recorder) Name() string { return "test:iface/x@0.1.0" }

func (r *recorder) Serve(ctx context.Context, nc *nats.Conn, env Env) error {
	if nc == nil || !nc.IsConnected() {
		return errors.New("served without a connection")
	}
	r.env.Store(&env)
	env.Ready()
	<-ctx.Done()
	r.stopped.Store(true)
	return nil
}

type xkeys struct {
	host, provider   nkeys.KeyPair
	hostPub, provPub string
}

func newXKeys(t *testing.T) xkeys {
	t.Helper()
	h, err := nkeys.CreateCurveKeys()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := nkeys.CreateCurveKeys()
	hp, _ := h.PublicKey()
	pp, _ := p.PublicKey()
	return xkeys{h, p, hp, pp}
}

// seal seals secrets as a host does: with its xkey, for the provider's.
func (x xkeys) seal(t *testing.T, secrets map[string]SecretValue) []byte {
	t.Helper()
	b, _ := json.Marshal(secrets)
	sealed, err := x.host.Seal(b, x.provPub)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

func str(s string) *string { return &s }

func link(source, target string) LinkDefinition {
	return LinkDefinition{SourceID: source, Target: target, Name: "default", WitNamespace: "wasmcanvas", WitPackage: "observe",
		Interfaces: []string{"metrics"}, TargetConfig: map[string]string{"from": source}, SourceConfig: map[string]string{"to": target}}
}

func TestProviderProtocol(t *testing.T) {
	t.Parallel()
	srv := testkit.NATS(t, embedded.Config{})
	x := newXKeys(t)
	seed, _ := x.provider.Seed()
	early := link("early-api", self)
	early.TargetSecrets = x.seal(t, map[string]SecretValue{"k": {String: str("early")}})
	hd := HostData{HostID: ownHost, LatticeRPCPrefix: lat, ProviderKey: self, LatticeRPCURL: srv.ClientURL(),
		HostXKeyPublicKey: x.hostPub, ProviderXKeyPrivateKey: string(seed), LinkDefinitions: []LinkDefinition{early},
		Config: map[string]string{"a": "1"}}
	rec := &recorder{}
	b, err := New(hd, Options{Services: []Service{rec}, Logger: testkit.Logger(t, zap.WarnLevel)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if !rec.stopped.Load() {
			t.Error("the served interface was not stopped")
		}
	})
	nc := testkit.Connect(t, srv.ClientURL())

	t.Log("the served interface runs with the provider's names and links")
	if env := rec.env.Load(); env == nil || env.Lattice != lat || env.ProviderKey != self || env.Links != b.Links() {
		t.Fatalf("served interface env %+v: want lattice %s, provider %s and the bridge's links", env, lat, self)
	}

	t.Log("health")
	m, err := nc.Request(subject.ProviderHealth(lat, self), []byte("{}"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var health struct {
		Healthy bool   `json:"healthy"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(m.Data, &health); err != nil || !health.Healthy {
		t.Fatalf("health reply %s (%v): want {\"healthy\":true,...}", m.Data, err)
	}

	t.Log("a link from the host data, its secret opened")
	if l, err := b.Links().Target("early-api"); err != nil || *l.Secrets["k"].String != "early" {
		t.Fatalf("early-api link %+v, %v", l, err)
	}

	put := func(d LinkDefinition) {
		t.Helper()
		body, _ := json.Marshal(d)
		if _, err := nc.Request(subject.ProviderLinkPut(lat, x.provPub), body, 2*time.Second); err != nil {
			t.Fatalf("link put %s -> %s: %v", d.SourceID, d.Target, err)
		}
	}
	publish := func(subj string, body []byte) {
		t.Helper()
		if err := nc.Publish(subj, body); err != nil {
			t.Fatal(err)
		}
	}

	t.Log("link put on the provider's xkey subject, keyed by source id, secrets opened with xkeys")
	shop := link("shop-api", self)
	shop.TargetSecrets = x.seal(t, map[string]SecretValue{"token": {String: str("s3cret")}, "raw": {Bytes: []byte{0, 255}}})
	put(shop)
	l, err := b.Links().Target("shop-api")
	if err != nil {
		t.Fatal(err)
	}
	if l.Config["from"] != "shop-api" || *l.Secrets["token"].String != "s3cret" || string(l.Secrets["raw"].Bytes) != "\x00\xff" {
		t.Errorf("shop-api link config %v secrets %v", l.Config, l.Secrets)
	}

	t.Log("a link the provider is the source of is kept by target, with the source config")
	put(link(self, "comp-x"))
	if l, ok := b.Links().Source("comp-x"); !ok || l.Config["to"] != "comp-x" {
		t.Errorf("source link to comp-x: %+v, %v", l, ok)
	}

	t.Log("bad links are refused and change nothing")
	forged := link("forged-api", self)
	other := newXKeys(t)
	forged.TargetSecrets = other.seal(t, map[string]SecretValue{"token": {String: str("x")}})
	for _, body := range [][]byte{[]byte("{not json"), mustJSON(forged), mustJSON(link("a", "b")), mustJSON(LinkDefinition{Target: self})} {
		publish(subject.ProviderLinkPut(lat, x.provPub), body)
	}
	put(link("after-api", self)) // handled after the bad ones: same subscription
	if got := b.Links().Sources(); strings.Join(got, ",") != "after-api,early-api,shop-api" {
		t.Errorf("components with a link %v: want after-api, early-api, shop-api only", got)
	}

	t.Log("link del for an unknown link is ignored; del removes the link and calls are refused")
	del := func(d LinkDefinition) {
		t.Helper()
		if _, err := nc.Request(subject.ProviderLinkDel(lat, self), mustJSON(d), 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	del(link("never-linked", self))
	del(shop)
	_, err = b.Links().Target("shop-api")
	if !errors.Is(err, ErrNoLink) || !strings.Contains(err.Error(), `"shop-api"`) || !strings.Contains(err.Error(), "link trait") {
		t.Errorf("call from an unlinked source: %v, want ErrNoLink naming the source and the fix", err)
	}
	if b.Links().Len() != 3 { // early-api, after-api, and comp-x as source
		t.Errorf("%d links left, want 3", b.Links().Len())
	}

	t.Log("config update")
	if _, err := nc.Request(subject.ProviderConfigUpdate(lat, self), []byte(`{"a":"2","b":"3"}`), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if c := b.Config(); c["a"] != "2" || c["b"] != "3" {
		t.Errorf("config %v after update", c)
	}

	t.Log("a shutdown for another host is ignored")
	_, err = nc.Request(subject.ProviderShutdown(lat, self, ""), []byte(`{"host_id":"NOTHERHOST"}`), 300*time.Millisecond)
	if !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("shutdown for another host answered: %v", err)
	}
	select {
	case <-b.ShutdownRequested():
		t.Fatal("a shutdown for another host stopped the provider")
	default:
	}

	t.Log("its own host's shutdown is answered")
	m, err = nc.Request(subject.ProviderShutdown(lat, self, ""), []byte(`{"host_id":"`+ownHost+`"}`), 2*time.Second)
	if err != nil || string(m.Data) != ShuttingDown {
		t.Fatalf("shutdown reply %v, %v: want %q", m, err, ShuttingDown)
	}
	select {
	case <-b.ShutdownRequested():
	case <-time.After(2 * time.Second):
		t.Fatal("ShutdownRequested not closed after its own host's shutdown")
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Without xkeys (a host before 1.1) links arrive on the provider id's
// subject, and a link with sealed secrets is refused.
func TestLinksWithoutXKeys(t *testing.T) {
	t.Parallel()
	srv := testkit.NATS(t, embedded.Config{})
	b, err := New(HostData{HostID: ownHost, LatticeRPCPrefix: lat, ProviderKey: self, LatticeRPCURL: srv.ClientURL()},
		Options{Logger: testkit.Logger(t, zap.ErrorLevel)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown(context.Background()) })
	nc := testkit.Connect(t, srv.ClientURL())
	sealed := link("sealed-api", self)
	sealed.TargetSecrets = []byte{1, 2, 3}
	if err := nc.Publish(subject.ProviderLinkPut(lat, self), mustJSON(sealed)); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Request(subject.ProviderLinkPut(lat, self), mustJSON(link("plain-api", self)), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := b.Links().Sources(); len(got) != 1 || got[0] != "plain-api" {
		t.Errorf("links %v: want plain-api only", got)
	}
}

// A served interface that fails ends the bridge, and Wait says which.
func TestFailingServiceStopsBridge(t *testing.T) {
	t.Parallel()
	srv := testkit.NATS(t, embedded.Config{})
	b, err := New(HostData{HostID: ownHost, LatticeRPCPrefix: lat, ProviderKey: self, LatticeRPCURL: srv.ClientURL()},
		Options{Services: []Service{failing{}}, Logger: testkit.Logger(t, zap.ErrorLevel)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the bridge kept running after a served interface failed")
	}
	if err := b.Wait(); err == nil || !strings.Contains(err.Error(), "serve test:broken") {
		t.Errorf("Wait = %v, want the failing interface named", err)
	}
}

type failing struct{}

func (failing) Name() string { return "test:broken" }
func (failing) Serve(_ context.Context, _ *nats.Conn, env Env) error {
	env.Ready()
	return errors.New("listener gone")
}

// neverReady returns before it serves.
type neverReady struct{}

func (neverReady) Name() string { return "test:never-ready" }
func (neverReady) Serve(context.Context, *nats.Conn, Env) error {
	return errors.New("cannot subscribe")
}

// The bridge's start waits until every served interface serves: one that
// cannot fails the start, and nothing is left running.
func TestServiceNotReadyFailsStart(t *testing.T) {
	t.Parallel()
	srv := testkit.NATS(t, embedded.Config{})
	b, err := New(HostData{HostID: ownHost, LatticeRPCPrefix: lat, ProviderKey: self, LatticeRPCURL: srv.ClientURL()},
		Options{Services: []Service{neverReady{}}, Logger: testkit.Logger(t, zap.ErrorLevel)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "serve test:never-ready") || !strings.Contains(err.Error(), "cannot subscribe") {
		t.Fatalf("Start = %v, want the interface's error, named", err)
	}
	nc := testkit.Connect(t, srv.ClientURL())
	if _, err := nc.Request(subject.ProviderHealth(lat, self), []byte("{}"), 300*time.Millisecond); err == nil {
		t.Error("a bridge whose interface never served answers health")
	}
}
