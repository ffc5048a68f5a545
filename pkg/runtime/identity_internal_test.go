package runtime

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wasmcanvas/wasmcanvas/internal/tokentest"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/wasi"
)

// identityHarness instantiates testdata/identity.wat, whose exports are
// the wasmcanvas:identity/tokens host functions lowered and lifted
// through the canonical ABI; logs holds what the host logged.
type identityHarness struct {
	observeHarness
	logs *observer.ObservedLogs
}

func newIdentityHarness(t *testing.T, id auth.Tokens) *identityHarness {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	comp, inst := instantiateWAT(t, newEngine(t), "testdata/identity.wat",
		wasi.NewCtx(context.Background(), &wasi.Config{Name: "identity-probe", Log: zap.New(core), Identity: id}),
		wasi.Interfaces(), wasi.IdentityInterfaces())
	return &identityHarness{observeHarness: observeHarness{t: t, comp: comp, inst: inst}, logs: logs}
}

// logged is every log entry, fields included, as one string.
func (h *identityHarness) logged() string {
	var b strings.Builder
	for _, e := range h.logs.All() {
		fmt.Fprintln(&b, e.Message, e.ContextMap())
	}
	return b.String()
}

const (
	issuerURL = "https://issuer.test"
	audience  = "productcatalog"
)

// TestIdentityHostFunctions calls verify and access-token through the
// canonical ABI and checks the WIT values that come back: claims, the
// invalid case for tokens the verifier refuses (before any parsing for
// an oversized one), unavailable when the issuer fails, with no detail of
// the failure and no token in the component's view or the host's log.
func TestIdentityHostFunctions(t *testing.T) {
	iss := tokentest.New(t, issuerURL, audience)
	h := newIdentityHarness(t, auth.Tokens{Verifier: iss, Source: iss.Source("components-productcatalog", "reader")})
	good := iss.Sign(t, tokentest.Token{Subject: "alice", Audience: []string{audience}, Roles: []string{"pcadmin", "cat1owner"}})

	got := h.call("verify", good).(cm.Result)
	if got.Err {
		t.Fatalf("verify a good token: %v", got)
	}
	rec := got.Value.(cm.Record)
	var names []string
	for _, f := range rec {
		names = append(names, f.Name)
	}
	if want := []string{"subject", "issuer", "audience", "roles", "expires-at"}; !slices.Equal(names, want) {
		t.Fatalf("claims fields %q, want %q (wit/identity.wit order)", names, want)
	}
	if rec[0].Value != "alice" || rec[1].Value != issuerURL || !reflect.DeepEqual(rec[2].Value, cm.List{audience}) ||
		!reflect.DeepEqual(rec[3].Value, cm.List{"pcadmin", "cat1owner"}) {
		t.Errorf("claims %v", rec)
	}
	if exp := rec[4].Value.(uint64); exp < uint64(time.Now().Unix()) || exp > uint64(time.Now().Add(2*time.Hour).Unix()) {
		t.Errorf("expires-at %d is not about an hour from now", exp)
	}

	huge := "ey" + strings.Repeat("A", 20<<10)
	invalid := []struct{ name, token, reason string }{
		{"expired", iss.Sign(t, tokentest.Token{Subject: "bob", Audience: []string{audience}, TTL: -time.Minute}), "expired"},
		{"other audience", iss.Sign(t, tokentest.Token{Subject: "bob", Audience: []string{"billing"}}), "audience"},
		{"another issuer's key", tokentest.New(t, issuerURL, audience).Sign(t, tokentest.Token{Subject: "eve", Audience: []string{audience}}), "signature"},
		{"garbage", "not.a.jwt", "malformed"},
		{"20 KiB", huge, "over the 16384-byte limit"},
		{"empty", "", "empty token"},
	}
	for _, tc := range invalid {
		r := h.call("verify", tc.token).(cm.Result)
		v, _ := r.Value.(cm.Variant)
		if !r.Err || v.Case != auth.TokensInvalid || !strings.Contains(v.Value.(string), tc.reason) {
			t.Errorf("verify %s: %v, want invalid(...%s...)", tc.name, r, tc.reason)
		}
	}

	at := h.call("access-token", "tmf620-billing").(cm.Result)
	if at.Err {
		t.Fatalf("access-token: %v", at)
	}
	if g := iss.Grants(); !reflect.DeepEqual(g, []string{"components-productcatalog->tmf620-billing"}) {
		t.Errorf("grants %q", g)
	}
	if parts := strings.Split(at.Value.(string), "."); len(parts) != 3 {
		t.Errorf("access token %q is not a compact JWS", at.Value)
	}
	if r := h.call("access-token", "").(cm.Result); !r.Err || r.Value.(cm.Variant).Case != auth.TokensInvalid {
		t.Errorf("access-token for no audience: %v", r)
	}

	iss.FailWith(tokentest.ErrDown)
	for _, call := range [][2]string{{"verify", good}, {"access-token", "tmf620-billing"}} {
		r := h.call(call[0], call[1]).(cm.Result)
		v, _ := r.Value.(cm.Variant)
		if !r.Err || v.Case != auth.TokensUnavailable || strings.Contains(v.Value.(string), "10.9.8.7") {
			t.Errorf("%s with the issuer down: %v, want unavailable without the failure's details", call[0], r)
		}
	}
	logs := h.logged()
	if !strings.Contains(logs, "10.9.8.7") {
		t.Errorf("the issuer's failure is not in the host's log:\n%s", logs)
	}
	for _, secret := range []string{good, at.Value.(string), huge[:64]} {
		if strings.Contains(logs, secret[:40]) {
			t.Errorf("a token reached the host's log:\n%s", logs)
		}
	}
}

// TestIdentityNotLinked: a component with no identity (the zero
// auth.Tokens) gets unavailable from both functions, saying it is not
// linked and how to link it; one served verify only says what it lacks.
func TestIdentityNotLinked(t *testing.T) {
	h := newIdentityHarness(t, auth.Tokens{})
	for _, call := range [][2]string{{"verify", "x.y.z"}, {"access-token", "billing"}} {
		r := h.call(call[0], call[1]).(cm.Result)
		v, _ := r.Value.(cm.Variant)
		if !r.Err || v.Case != auth.TokensUnavailable || !strings.Contains(v.Value.(string), "securityFunction") {
			t.Errorf("%s not linked: %v", call[0], r)
		}
	}
	iss := tokentest.New(t, issuerURL, audience)
	h = newIdentityHarness(t, auth.Tokens{Verifier: iss})
	r := h.call("access-token", "billing").(cm.Result)
	if v, _ := r.Value.(cm.Variant); !r.Err || v.Case != auth.TokensUnavailable || !strings.Contains(v.Value.(string), "no issuer configured") {
		t.Errorf("access-token without a TokenSource: %v", r)
	}
}
