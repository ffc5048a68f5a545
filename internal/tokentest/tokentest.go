// Package tokentest is a small real token issuer for tests of what serves
// wasmcanvas:identity: ES256 keys made per test, JWTs signed and verified
// with go-jose, an auth.Verifier and an auth.TokenSource. It is not the
// canvas's verification (pkg/identity owns those rules); it checks
// signature, algorithm, issuer, audience and expiry so tests see real
// refusals as *auth.Error.
package tokentest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
)

// Issuer signs tokens with its own ES256 key and verifies them.
type Issuer struct {
	// URL is the iss of its tokens.
	URL string
	// Audience is what Verify requires in aud.
	Audience string
	key      *ecdsa.PrivateKey
	signer   jose.Signer

	mu     sync.Mutex
	grants []string // the audiences AccessToken was asked for
	down   error    // when set, Verify and AccessToken fail with it
}

// New makes an issuer with a fresh key; its tokens are for audience.
func New(t testing.TB, url, audience string) *Issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	return &Issuer{URL: url, Audience: audience, key: key, signer: s}
}

// Token is what a signed token says.
type Token struct {
	Subject, Client string
	Audience        []string
	Roles           []string
	TTL             time.Duration // default one hour; negative: expired
}

type claims struct {
	jwt.Claims
	Client string   `json:"azp,omitempty"`
	Roles  []string `json:"roles,omitempty"`
}

// Sign returns a compact JWS of tok.
func (i *Issuer) Sign(t testing.TB, tok Token) string {
	t.Helper()
	s, err := i.sign(tok)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (i *Issuer) sign(tok Token) (string, error) {
	ttl := tok.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	now := time.Now()
	c := claims{Claims: jwt.Claims{Issuer: i.URL, Subject: tok.Subject, Audience: jwt.Audience(tok.Audience),
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(ttl))}, Client: tok.Client, Roles: tok.Roles}
	return jwt.Signed(i.signer).Claims(c).Serialize()
}

// FailWith makes every later call fail with err (nil: work again), as an
// unreachable issuer would.
func (i *Issuer) FailWith(err error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.down = err
}

func (i *Issuer) failure() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.down
}

// Verify implements auth.Verifier.
func (i *Issuer) Verify(_ context.Context, token string) (auth.Claims, error) {
	if err := i.failure(); err != nil {
		return auth.Claims{}, err
	}
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return auth.Claims{}, auth.Invalid("malformed token")
	}
	var c claims
	if err := parsed.Claims(&i.key.PublicKey, &c); err != nil {
		return auth.Claims{}, auth.Invalid("bad signature")
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: i.URL, AnyAudience: jwt.Audience{i.Audience}, Time: time.Now()}, 0); err != nil {
		return auth.Claims{}, auth.Invalid("%v", err)
	}
	return auth.Claims{Subject: c.Subject, Issuer: c.Issuer, Client: c.Client, Audience: []string(c.Audience),
		Roles: c.Roles, ExpiresAt: c.Expiry.Time()}, nil
}

// Source is the TokenSource of client: client-credentials tokens whose
// subject and azp are client, holding roles.
func (i *Issuer) Source(client string, roles ...string) auth.TokenSource {
	return source{i: i, client: client, roles: roles}
}

type source struct {
	i      *Issuer
	client string
	roles  []string
}

func (s source) AccessToken(_ context.Context, audience string) (string, error) {
	if err := s.i.failure(); err != nil {
		return "", err
	}
	s.i.mu.Lock()
	s.i.grants = append(s.i.grants, s.client+"->"+audience)
	s.i.mu.Unlock()
	return s.i.sign(Token{Subject: s.client, Client: s.client, Audience: []string{audience}, Roles: s.roles})
}

// Grants are the client->audience pairs tokens were issued for, in order.
func (i *Issuer) Grants() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.grants)
}

// ErrDown is a failure whose details (an address) are for the host's log,
// not for a component.
var ErrDown = errors.New("dial tcp 10.9.8.7:443: connection refused")
