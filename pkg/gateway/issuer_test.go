package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
)

// testIssuer signs ES256 tokens and verifies them: a real signer and
// verifier, small enough for tests (pkg/identity holds the canvas's own).
type testIssuer struct {
	key    *ecdsa.PrivateKey
	signer jose.Signer
}

const testIssuerURL, testAudience = "https://issuer.test", "wasmcanvas"

func newTestIssuer(t testing.TB) *testIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	return &testIssuer{key: key, signer: s}
}

type roleClaims struct {
	Roles    []string `json:"roles,omitempty"`
	ClientID string   `json:"client_id,omitempty"`
}

func (i *testIssuer) token(t testing.TB, sub string, roles ...string) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.Signed(i.signer).Claims(jwt.Claims{
		Issuer: testIssuerURL, Subject: sub, Audience: jwt.Audience{testAudience},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)),
	}).Claims(roleClaims{Roles: roles, ClientID: "test-client"}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Verify implements auth.Verifier.
func (i *testIssuer) Verify(_ context.Context, token string) (auth.Claims, error) {
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return auth.Claims{}, auth.Invalid("malformed token")
	}
	var std jwt.Claims
	var rc roleClaims
	if err := tok.Claims(&i.key.PublicKey, &std, &rc); err != nil {
		return auth.Claims{}, auth.Invalid("bad signature")
	}
	if err := std.Validate(jwt.Expected{Issuer: testIssuerURL, AnyAudience: jwt.Audience{testAudience}, Time: time.Now()}); err != nil {
		return auth.Claims{}, auth.Invalid("%v", err)
	}
	return auth.Claims{Subject: std.Subject, Issuer: std.Issuer, Client: rc.ClientID, Audience: std.Audience, Roles: rc.Roles, ExpiresAt: std.Expiry.Time()}, nil
}
