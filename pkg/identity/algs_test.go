package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"strings"
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

// An RSA key is used only from 2048 to maxRSABits bits: a signature check
// costs the square of the modulus and more, and a token may carry a
// signature as long as any key the issuer publishes.
func TestRSAKeySizes(t *testing.T) {
	t.Parallel()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	// Verification needs no primes: a huge odd modulus is key enough.
	huge := func(bits int) *rsa.PublicKey {
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits)))
		if err != nil {
			t.Fatal(err)
		}
		n.SetBit(n, bits-1, 1).SetBit(n, 0, 1)
		return &rsa.PublicKey{N: n, E: 1<<31 - 1}
	}
	for _, tc := range []struct {
		name string
		key  any
		ok   bool
	}{
		{"1024 bits", &small.PublicKey, false},
		{"2048 bits", &newRSAJWK(t, "k").Key.(*rsa.PrivateKey).PublicKey, true},
		{"8192 bits", huge(8192), true},
		{"8194 bits", huge(8194), false},
		{"98304 bits", huge(98304), false},
	} {
		if got := keyFits(jose.JSONWebKey{Key: tc.key}, string(jose.RS256)); got != tc.ok {
			t.Errorf("RS256 with a key of %s: used=%v, want %v", tc.name, got, tc.ok)
		}
	}
}

// One token's signature is checked against at most maxSignatureChecks of
// the issuer's keys, whatever its kid (here none) and however many keys
// the issuer publishes.
func TestSignatureChecksPerTokenAreBounded(t *testing.T) {
	t.Parallel()
	signer, other := newRSAJWK(t, ""), newRSAJWK(t, "")
	claims := map[string]any{"iss": "https://issuer.test", "aud": "api", "exp": time.Now().Add(time.Hour).Unix()}
	tok := forge(t, signer, claims)
	for _, tc := range []struct {
		others int
		ok     bool
	}{{0, true}, {maxSignatureChecks - 1, true}, {maxSignatureChecks, false}, {1000, false}} {
		var set jose.JSONWebKeySet
		for range tc.others {
			set.Keys = append(set.Keys, other.Public())
		}
		set.Keys = append(set.Keys, signer.Public())
		v, err := NewVerifier(VerifierOptions{Issuer: "https://issuer.test", Audience: "api",
			Keys: func(context.Context) (jose.JSONWebKeySet, error) { return set, nil }})
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), tok)
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "sign the token with a kid")) {
			t.Errorf("no kid, the signer after %d other keys: %v, want accepted=%v", tc.others, err, tc.ok)
		}
	}
}
