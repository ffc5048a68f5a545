package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// RS256, ES256 and EdDSA verify; other algorithms are refused even with a
// key the issuer publishes; a key is used only for its own algorithm.
func TestAlgorithms(t *testing.T) {
	t.Parallel()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	keys := map[string]jose.JSONWebKey{
		"rsa":  {Key: rsaKey, KeyID: "rsa"},
		"p256": {Key: p256, KeyID: "p256"},
		"p384": {Key: p384, KeyID: "p384"},
		"ed":   {Key: edKey, KeyID: "ed"},
	}
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, k.Public())
	}
	v, err := NewVerifier(VerifierOptions{Issuer: "https://issuer.test", Audience: "api",
		Keys: func(context.Context) (jose.JSONWebKeySet, error) { return set, nil }})
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.Claims{Issuer: "https://issuer.test", Audience: jwt.Audience{"api"}, Expiry: jwt.NewNumericDate(time.Now().Add(time.Minute))}
	for _, tc := range []struct {
		alg jose.SignatureAlgorithm
		key string
		ok  bool
	}{
		{jose.RS256, "rsa", true},
		{jose.ES256, "p256", true},
		{jose.EdDSA, "ed", true},
		{jose.PS256, "rsa", false},
		{jose.RS512, "rsa", false},
		{jose.ES384, "p384", false},
	} {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: tc.alg, Key: keys[tc.key]}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(s).Claims(claims).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), tok); (err == nil) != tc.ok {
			t.Errorf("%s with %s: %v, want accepted=%v", tc.alg, tc.key, err, tc.ok)
		}
	}
}

// An unknown kid causes one key-set fetch per RefreshInterval, no more.
func TestUnknownKidRefreshIsRateLimited(t *testing.T) {
	t.Parallel()
	known := newRSAJWK(t, "known")
	now := time.Now()
	var fetches int
	v, err := NewVerifier(VerifierOptions{Issuer: "https://issuer.test", Audience: "api", RefreshInterval: 30 * time.Second,
		Now: func() time.Time { return now },
		Keys: func(context.Context) (jose.JSONWebKeySet, error) {
			fetches++
			return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{known.Public()}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"iss": "https://issuer.test", "aud": "api", "exp": now.Add(time.Hour).Unix()}
	ctx := context.Background()
	if _, err := v.Verify(ctx, forge(t, known, claims)); err != nil || fetches != 1 {
		t.Fatalf("first: %v, %d fetches", err, fetches)
	}
	unknown := forge(t, newRSAJWK(t, "unknown"), claims)
	for _, step := range []struct {
		after time.Duration
		want  int
	}{{0, 2}, {time.Second, 2}, {28 * time.Second, 2}, {2 * time.Second, 3}, {time.Second, 3}} {
		now = now.Add(step.after)
		if _, err := v.Verify(ctx, unknown); err == nil {
			t.Fatal("unknown kid accepted")
		}
		if fetches != step.want {
			t.Fatalf("after +%s: %d fetches, want %d", step.after, fetches, step.want)
		}
	}
}
