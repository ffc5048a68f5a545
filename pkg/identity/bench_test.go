package identity

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// BenchmarkVerifyCachedJWKS: verifications per second of an RS256 token
// with the key set cached (the steady state of every guarded request).
func BenchmarkVerifyCachedJWKS(b *testing.B) {
	key := newRSAJWK(b, "bench")
	v, err := NewVerifier(VerifierOptions{Issuer: "https://issuer.test", Audience: "api",
		Keys: func(context.Context) (jose.JSONWebKeySet, error) {
			return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.Public()}}, nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, nil)
	if err != nil {
		b.Fatal(err)
	}
	jws, err := s.Sign([]byte(`{"iss":"https://issuer.test","aud":"api","sub":"s","roles":["r"],"exp":` + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + `}`))
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := jws.CompactSerialize()
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "verifications/s")
}
