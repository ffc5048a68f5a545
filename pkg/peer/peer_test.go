package peer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/peer"
)

const spec = "https://example.org/TMF620-ProductCatalog-v4.0.0.swagger.json"

func service(id, state, url string) wire.Service {
	chars := []wire.Characteristic{wire.StringCharacteristic(wire.CharOASSpecification, spec), wire.StringCharacteristic(wire.CharCanvas, "http://a")}
	if url != "" {
		chars = append(chars, wire.StringCharacteristic(wire.CharURL, url))
	}
	return wire.Service{ID: id, Name: id, State: state, ServiceCharacteristic: chars}
}

// A registration resolves while active; invalid ones are refused with the
// field named; changes and expiry report the specification URL.
func TestRegistry(t *testing.T) {
	t.Parallel()
	var changed [][]string
	r := peer.NewRegistry(50*time.Millisecond, func(specs []string) { changed = append(changed, specs) })
	res := peer.Resolver{Registry: r}
	if _, ok, why := res.Resolve([]string{spec}); ok || !strings.Contains(why, "no API with specification URL "+spec) {
		t.Errorf("empty registry: %v %q", ok, why)
	}
	for _, bad := range []wire.Service{{}, service("x", wire.ServiceActive, "")} {
		if _, err := r.Put(bad); err == nil {
			t.Errorf("Put(%+v) accepted", bad)
		}
	}
	if created, err := r.Put(service("a-1", wire.ServiceInactive, "")); err != nil || !created {
		t.Fatalf("Put: %v %v", created, err)
	}
	if _, ok, why := res.Resolve([]string{spec}); ok || !strings.Contains(why, "API a-1 registered by canvas http://a is not ready") {
		t.Errorf("inactive: %v %q", ok, why)
	}
	if created, err := r.Put(service("a-1", wire.ServiceActive, "http://a/x")); err != nil || created {
		t.Fatalf("renew: %v %v", created, err)
	}
	if u, ok, _ := res.Resolve([]string{"https://other", spec}); !ok || u != "http://a/x" {
		t.Errorf("active: %q %v", u, ok)
	}
	if len(changed) != 2 || !slices.Equal(changed[1], []string{spec}) {
		t.Errorf("changes reported: %q", changed)
	}
	time.Sleep(60 * time.Millisecond)
	r.Expire()
	if _, ok, _ := res.Resolve([]string{spec}); ok || len(r.List()) != 0 || len(changed) != 3 {
		t.Errorf("after expiry: resolved %v, %d listed, %d changes", ok, len(r.List()), len(changed))
	}
	if r.Delete("a-1") {
		t.Error("Delete of an expired registration reported one")
	}
}

// Of several registrations of one specification, the active one with the
// smallest id resolves; with none active, the why names the inactive one
// with the smallest id.
func TestRegistryLookupOrder(t *testing.T) {
	t.Parallel()
	r := peer.NewRegistry(0, nil)
	res := peer.Resolver{Registry: r}
	for _, s := range []wire.Service{service("z", wire.ServiceInactive, ""), service("y", wire.ServiceInactive, "")} {
		if _, err := r.Put(s); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, why := res.Resolve([]string{spec}); ok || !strings.Contains(why, "API y registered") {
		t.Errorf("inactive only: %v %q, want it to name y", ok, why)
	}
	for _, s := range []wire.Service{service("c", wire.ServiceActive, "http://c"), service("a", wire.ServiceInactive, ""), service("b", wire.ServiceActive, "http://b")} {
		if _, err := r.Put(s); err != nil {
			t.Fatal(err)
		}
	}
	if u, ok, _ := res.Resolve([]string{spec}); !ok || u != "http://b" {
		t.Errorf("resolved %q %v, want http://b (the smallest active id)", u, ok)
	}
}

// The registry holds at most MaxRegistrations: a new service past them is
// refused (ErrRegistryFull) until some expire, renewals still go through,
// and a Put that finds expired ones frees their places and reports them.
func TestRegistryFull(t *testing.T) {
	t.Parallel()
	var changed [][]string
	var mu sync.Mutex
	r := peer.NewRegistry(time.Minute, func(specs []string) { mu.Lock(); changed = append(changed, specs); mu.Unlock() })
	clock := time.Unix(1_000_000, 0)
	peer.SetClock(r, func() time.Time { return clock })
	for i := range peer.MaxRegistrations {
		if _, err := r.Put(service(fmt.Sprintf("s-%d", i), wire.ServiceInactive, "")); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	if _, err := r.Put(service("one-more", wire.ServiceInactive, "")); !errors.Is(err, peer.ErrRegistryFull) || !strings.Contains(err.Error(), "at most 10000") {
		t.Fatalf("Put past the limit: %v, want ErrRegistryFull naming it", err)
	}
	clock = clock.Add(time.Second)
	if created, err := r.Put(service("s-7", wire.ServiceActive, "http://a/7")); err != nil || created {
		t.Fatalf("renewing when full: %v %v", created, err)
	}
	clock = clock.Add(59 * time.Second) // all expire but s-7, renewed a second later
	mu.Lock()
	before := len(changed)
	mu.Unlock()
	if created, err := r.Put(service("one-more", wire.ServiceInactive, "")); err != nil || !created {
		t.Fatalf("Put once the others expired: %v %v", created, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(r.List()) != 2 || len(changed) != before+1 || !slices.Equal(changed[len(changed)-1], []string{spec}) {
		t.Errorf("after expiry made room: %d listed, changes %d -> %d", len(r.List()), before, len(changed))
	}
}

// Peers reads a peer's inventory, registers this canvas's APIs there,
// withdraws one that went, and says an API is gone once the peer stops
// listing it, or that the peer is unreachable.
func TestPeersSync(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	listed := []wire.Resource{{ID: "p-api-v4", Name: "p-api-v4", Category: wire.CategoryAPI, ResourceStatus: wire.ResourceAvailable,
		ResourceCharacteristic: []wire.Characteristic{wire.StringCharacteristic(wire.CharSpecification, spec), wire.StringCharacteristic(wire.CharURL, "http://p/api/v4")}}}
	registered := map[string]wire.Service{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodGet && r.URL.Path == wire.PathResourceInventory:
			_ = json.NewEncoder(w).Encode(listed)
		case r.Method == http.MethodPost && r.URL.Path == wire.PathCanvasInfo:
			var s wire.Service
			_ = json.NewDecoder(r.Body).Decode(&s)
			registered[s.ID] = s
			w.WriteHeader(http.StatusCreated)
		case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, wire.PathCanvasInfo+"/"):
			delete(registered, strings.TrimPrefix(r.URL.Path, wire.PathCanvasInfo+"/"))
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	self := []wire.Resource{{ID: "mine-v4", Name: "mine-v4", Category: wire.CategoryAPI, ResourceStatus: wire.ResourceAvailable,
		ResourceCharacteristic: []wire.Characteristic{wire.StringCharacteristic(wire.CharSpecification, "https://example.org/TMF622.json"), wire.StringCharacteristic(wire.CharURL, "http://me/x")}}}
	var changed []string
	p, err := peer.New(peer.Options{URLs: []string{srv.URL}, Canvas: "http://me", Timeout: time.Second,
		Self:     func(context.Context) ([]wire.Resource, error) { return self, nil },
		OnChange: func(s []string) { changed = append(changed, s...) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res := peer.Resolver{Peers: p}
	p.Sync(ctx)
	if u, ok, _ := res.Resolve([]string{spec}); !ok || u != "http://p/api/v4" || !slices.Contains(changed, spec) {
		t.Errorf("listed API: %q %v, changes %q", u, ok, changed)
	}
	mu.Lock()
	if len(registered) != 1 {
		t.Errorf("registered with the peer: %v", registered)
	}
	for _, s := range registered {
		if s.State != wire.ServiceActive || wire.CharacteristicValue(s.ServiceCharacteristic, wire.CharURL) != "http://me/x" || wire.CharacteristicValue(s.ServiceCharacteristic, wire.CharCanvas) != "http://me" {
			t.Errorf("registration %+v", s)
		}
	}
	listed = nil
	mu.Unlock()
	self = nil
	p.Sync(ctx)
	if _, ok, why := res.Resolve([]string{spec}); ok || !strings.Contains(why, "API p-api-v4 on peer "+srv.URL+" is gone") {
		t.Errorf("after the peer stopped listing it: %v %q", ok, why)
	}
	mu.Lock()
	if len(registered) != 0 {
		t.Errorf("withdrawn API still registered: %v", registered)
	}
	mu.Unlock()
	srv.Close()
	p.Sync(ctx)
	if _, ok, why := res.Resolve([]string{spec}); ok || !strings.Contains(why, "unreachable") {
		t.Errorf("peer down: %v %q", ok, why)
	}
	if _, err := peer.New(peer.Options{URLs: []string{"canvas-b:7443"}}); err == nil || !strings.Contains(err.Error(), "--peer-canvas") {
		t.Errorf("bad options: %v", err)
	}
}

// A peer's refusal is quoted in a few hundred bytes, whatever its body
// (it becomes the reason in every dependent API's status), and an answer
// over wire.MaxBodySize says so rather than failing to decode.
func TestPeerAnswersBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"long refusal", http.StatusBadGateway, "<html>" + strings.Repeat("x", 1<<20), "502 Bad Gateway: <html>xxx"},
		{"short refusal", http.StatusForbidden, "no\n  peers\there", "403 Forbidden: no peers here"},
		{"huge list", http.StatusOK, "[" + strings.Repeat(" ", wire.MaxBodySize) + "]", fmt.Sprintf("the answer is over %d bytes", wire.MaxBodySize)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			p, err := peer.New(peer.Options{URLs: []string{srv.URL}, Canvas: "http://me", Timeout: 10 * time.Second,
				Self: func(context.Context) ([]wire.Resource, error) { return nil, nil }})
			if err != nil {
				t.Fatal(err)
			}
			p.Sync(context.Background())
			_, ok, why := peer.Resolver{Peers: p}.Resolve([]string{spec})
			if ok || !strings.Contains(why, tc.want) || len(why) > 1024 {
				t.Errorf("reason (%d bytes) %.300q, want it to contain %q in at most 1024 bytes", len(why), why, tc.want)
			}
		})
	}
}

// A peer that lists new APIs every round is remembered for at most
// MaxRegistrations of them, the latest: the one it stopped listing last
// round is still "gone".
func TestPeerSeenBounded(t *testing.T) {
	t.Parallel()
	const perRound, rounds = 4000, 4
	var mu sync.Mutex
	round := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusCreated)
			return
		}
		list := make([]wire.Resource, perRound)
		for i := range list {
			u := fmt.Sprintf("https://example.org/%d/%d.json", round, i)
			list[i] = wire.Resource{ID: u, Name: fmt.Sprintf("api-%d-%d", round, i), Category: wire.CategoryAPI, ResourceCharacteristic: []wire.Characteristic{wire.StringCharacteristic(wire.CharSpecification, u)}}
		}
		round++
		_ = json.NewEncoder(w).Encode(list)
	}))
	t.Cleanup(srv.Close)
	p, err := peer.New(peer.Options{URLs: []string{srv.URL}, Canvas: "http://me", Timeout: 10 * time.Second,
		Self: func(context.Context) ([]wire.Resource, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	for range rounds {
		p.Sync(context.Background())
	}
	if n := peer.Seen(p); n > peer.MaxRegistrations {
		t.Errorf("after %d rounds of %d new APIs, %d remembered, at most %d", rounds, perRound, n, peer.MaxRegistrations)
	}
	if _, _, why := (peer.Resolver{Peers: p}).Resolve([]string{fmt.Sprintf("https://example.org/%d/0.json", rounds-2)}); !strings.Contains(why, fmt.Sprintf("API api-%d-0 on peer %s is gone", rounds-2, srv.URL)) {
		t.Errorf("an API listed the round before: %q, want it gone", why)
	}
}
