package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
)

// Limits of verification.
const (
	// MaxTokenSize: a longer token is refused before it is parsed.
	MaxTokenSize = 16 << 10
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway bounds VerifierOptions.Leeway.
	MaxLeeway = 5 * time.Minute
	// DefaultRefreshInterval is the least time between two JWKS fetches
	// caused by an unknown kid.
	DefaultRefreshInterval = 30 * time.Second
	// DefaultKeysMaxAge: a key set older than this is fetched again at the
	// next verification (a failure keeps the old one).
	DefaultKeysMaxAge = time.Hour
	// maxRSABits bounds an issuer's RSA key: checking a signature costs
	// the square of the modulus and more (a 98,304-bit key, as large as a
	// 16 KiB token's signature allows, with a large exponent takes over
	// half a second, paid for every forged token); issuers use 2048 to
	// 4096 bits.
	maxRSABits = 8192
	// maxSignatureChecks bounds the keys one token's signature is checked
	// against (a token with no kid, or a kid the issuer gives many keys):
	// each check costs the canvas a verification and the sender nothing.
	maxSignatureChecks = 8
)

// Algorithms are the only signature algorithms accepted: asymmetric, so a
// public key can never sign (no "none", no HMAC).
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// KeySetFunc returns the issuer's current public keys.
type KeySetFunc func(ctx context.Context) (jose.JSONWebKeySet, error)

// VerifierOptions configure a Verifier.
type VerifierOptions struct {
	// Issuer is the exact iss a token must carry (required).
	Issuer string
	// Audience is the aud a token must include (required); Keycloak's
	// resource_access[Audience].roles are read as roles.
	Audience string
	// Keys fetches the key set; nil means OpenID discovery at Issuer and
	// its jwks_uri (RemoteKeys).
	Keys KeySetFunc
	// Leeway is the clock skew allowed (default DefaultLeeway, at most
	// MaxLeeway).
	Leeway time.Duration
	// RefreshInterval is the least time between key set fetches caused
	// by an unknown kid (default DefaultRefreshInterval).
	RefreshInterval time.Duration
	// Revoked, when set, reports whether a token id (jti) was revoked.
	Revoked func(jti string) bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Verifier checks bearer tokens (auth.Verifier). It is safe for
// concurrent use; ForAudience shares its key cache.
type Verifier struct {
	opts  VerifierOptions
	cache *keyCache
}

var _ auth.Verifier = (*Verifier)(nil)

// NewVerifier checks opts and returns a Verifier; it fetches nothing yet.
func NewVerifier(opts VerifierOptions) (*Verifier, error) {
	var errs []error
	if opts.Issuer == "" {
		errs = append(errs, errors.New("issuer is empty: name the OpenID Provider's issuer URL"))
	}
	if opts.Audience == "" {
		errs = append(errs, errors.New("audience is empty: name the API the tokens are for"))
	}
	if opts.Leeway < 0 || opts.Leeway > MaxLeeway {
		errs = append(errs, fmt.Errorf("leeway %s: use 0 to %s", opts.Leeway, MaxLeeway))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("token verifier: %w", err)
	}
	if opts.Leeway == 0 {
		opts.Leeway = DefaultLeeway
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = DefaultRefreshInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Keys == nil {
		opts.Keys = RemoteKeys(opts.Issuer, nil)
	}
	return &Verifier{opts: opts, cache: &keyCache{fetch: opts.Keys, minGap: opts.RefreshInterval, maxAge: DefaultKeysMaxAge, now: opts.Now}}, nil
}

// ForAudience is a Verifier of the same issuer and key cache for tokens
// meant for audience (the gateway's one per exposed API).
func (v *Verifier) ForAudience(audience string) *Verifier {
	o := v.opts
	o.Audience = audience
	return &Verifier{opts: o, cache: v.cache}
}

// Issuer is the iss this Verifier accepts.
func (v *Verifier) Issuer() string { return v.opts.Issuer }

// Audience is the aud this Verifier requires.
func (v *Verifier) Audience() string { return v.opts.Audience }

// tokenClaims are the claims read beyond the registered ones.
type tokenClaims struct {
	jwt.Claims
	AuthorizedParty string          `json:"azp,omitempty"`
	ClientID        string          `json:"client_id,omitempty"`
	Roles           json.RawMessage `json:"roles,omitempty"`
	RealmAccess     struct {
		Roles []string `json:"roles"`
	} `json:"realm_access"`
	ResourceAccess map[string]struct {
		Roles []string `json:"roles"`
	} `json:"resource_access"`
}

// Verify checks token and returns its claims. A token it refuses yields an
// *auth.Error (invalid_token); failing to get the issuer's keys yields
// another error.
func (v *Verifier) Verify(ctx context.Context, token string) (auth.Claims, error) {
	c, err := v.verify(ctx, token, true)
	if err != nil {
		return auth.Claims{}, err
	}
	return v.claims(c), nil
}

// verify checks everything but the audience when checkAudience is false
// (introspection by the issuer itself).
func (v *Verifier) verify(ctx context.Context, token string, checkAudience bool) (*tokenClaims, error) {
	if len(token) > MaxTokenSize {
		return nil, auth.Invalid("token is %d bytes, over the limit of %d", len(token), MaxTokenSize)
	}
	tok, err := jwt.ParseSigned(token, Algorithms)
	if err != nil {
		return nil, auth.Invalid("not a JWS signed with %s: %s", algNames(), short(parseReason(err)))
	}
	if len(tok.Headers) != 1 {
		return nil, auth.Invalid("want exactly one signature")
	}
	h := tok.Headers[0]
	keys, err := v.cache.candidates(ctx, h.KeyID)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, auth.Invalid("unknown key id %q: not in the issuer's key set", short(h.KeyID))
	}
	var c tokenClaims
	verified, checked := false, 0
	for _, k := range keys {
		if !keyFits(k, h.Algorithm) {
			continue
		}
		if checked == maxSignatureChecks {
			return nil, auth.Invalid("more than %d of the issuer's keys fit %s and kid %q: sign the token with a kid that names one key", maxSignatureChecks, short(h.Algorithm), short(h.KeyID))
		}
		checked++
		if err := tok.Claims(k.Key, &c); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, auth.Invalid("signature does not verify with the issuer's key %q", short(h.KeyID))
	}
	if c.Issuer != v.opts.Issuer {
		return nil, auth.Invalid("issuer %q is not the trusted issuer %q", short(c.Issuer), v.opts.Issuer)
	}
	if checkAudience && !slices.Contains(c.Audience, v.opts.Audience) {
		return nil, auth.Invalid("audience %q does not include %q", short(strings.Join(c.Audience, " ")), v.opts.Audience)
	}
	now, leeway := v.opts.Now(), v.opts.Leeway
	switch {
	case c.Expiry == nil:
		return nil, auth.Invalid("no exp: tokens must expire")
	case now.After(c.Expiry.Time().Add(leeway)):
		return nil, auth.Invalid("expired at %s", c.Expiry.Time().UTC().Format(time.RFC3339))
	case c.NotBefore != nil && now.Add(leeway).Before(c.NotBefore.Time()):
		return nil, auth.Invalid("not valid before %s (nbf)", c.NotBefore.Time().UTC().Format(time.RFC3339))
	case c.IssuedAt != nil && now.Add(leeway).Before(c.IssuedAt.Time()):
		return nil, auth.Invalid("issued in the future (iat %s)", c.IssuedAt.Time().UTC().Format(time.RFC3339))
	}
	if v.opts.Revoked != nil && c.ID != "" && v.opts.Revoked(c.ID) {
		return nil, auth.Invalid("token was revoked")
	}
	return &c, nil
}

// claims maps a verified token to auth.Claims: roles from "roles" (a list
// or a space-separated string), Keycloak's realm_access.roles and
// resource_access[audience].roles, as one flat list.
func (v *Verifier) claims(c *tokenClaims) auth.Claims {
	var roles []string
	var list []string
	var str string
	if json.Unmarshal(c.Roles, &list) == nil {
		roles = append(roles, list...)
	} else if json.Unmarshal(c.Roles, &str) == nil {
		roles = append(roles, strings.Fields(str)...)
	}
	roles = append(roles, c.RealmAccess.Roles...)
	roles = append(roles, c.ResourceAccess[v.opts.Audience].Roles...)
	slices.Sort(roles)
	roles = slices.Compact(roles)
	client := c.AuthorizedParty
	if client == "" {
		client = c.ClientID
	}
	out := auth.Claims{Subject: c.Subject, Issuer: c.Issuer, Client: client, Audience: c.Audience, Roles: roles}
	if out.Subject == "" {
		out.Subject = client
	}
	if c.Expiry != nil {
		out.ExpiresAt = c.Expiry.Time()
	}
	return out
}

// keyFits reports whether k may verify a signature of alg: a public
// signing key of the algorithm's type (never a symmetric key) whose own
// alg, if stated, is alg.
func keyFits(k jose.JSONWebKey, alg string) bool {
	if (k.Algorithm != "" && k.Algorithm != alg) || (k.Use != "" && k.Use != "sig") {
		return false
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		return alg == string(jose.RS256) && key.N.BitLen() >= 2048 && key.N.BitLen() <= maxRSABits
	case *ecdsa.PublicKey:
		return alg == string(jose.ES256) && key.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA)
	}
	return false
}

func algNames() string {
	s := make([]string, len(Algorithms))
	for i, a := range Algorithms {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// short bounds a value from the token echoed in a refusal (which reaches
// the client's WWW-Authenticate header).
func short(s string) string {
	const limit = 80
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}

// parseReason is go-jose's parse error without its package prefix (it
// names the refused algorithm, never key material).
func parseReason(err error) string {
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "go-jose/go-jose: "), "go-jose/go-jose/jwt: ")
}

// keyCache holds an issuer's public keys. A kid it lacks causes one
// fetch, at most one per minGap; concurrent callers share it. No lock is
// held while fetching.
type keyCache struct {
	fetch  KeySetFunc
	minGap time.Duration
	maxAge time.Duration
	now    func() time.Time

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetched   time.Time // last success
	tried     time.Time // last attempt
	refreshed time.Time // last attempt once loaded (unknown kid, stale set)
	lastErr   error     // of the last attempt
	inflight  *fetchCall
}

type fetchCall struct {
	done chan struct{}
	err  error
}

// candidates returns the keys that may have signed a token with kid (all
// keys when kid is empty), fetching the key set when there is none yet,
// when it is stale, or (rate-limited) when kid is unknown.
func (c *keyCache) candidates(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	keys, loaded, stale := c.lookup(kid)
	if len(keys) > 0 && !stale {
		return keys, nil
	}
	err := c.refresh(ctx, loaded)
	keys, _, _ = c.lookup(kid)
	switch {
	case len(keys) > 0, err == nil:
		return keys, nil // a stale key set serves while the issuer is away
	case errors.Is(err, errThrottled) && loaded:
		return nil, nil // unknown kid, and the key set is fresh enough
	}
	return nil, err
}

func (c *keyCache) lookup(kid string) (keys []jose.JSONWebKey, loaded, stale bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.keys {
		if kid == "" || k.KeyID == kid {
			keys = append(keys, k)
		}
	}
	loaded = !c.fetched.IsZero()
	return keys, loaded, loaded && c.now().Sub(c.fetched) > c.maxAge
}

var errThrottled = errors.New("key set fetched recently")

// keyFetchTimeout bounds one key set fetch: discovery and the JWKS, each
// within fetchTimeout.
const keyFetchTimeout = 2 * fetchTimeout

// refresh fetches the key set unless one was tried less than minGap ago
// (a second when none was ever loaded, so an unreachable issuer is not
// asked at every request).
func (c *keyCache) refresh(ctx context.Context, loaded bool) error {
	c.mu.Lock()
	if call := c.inflight; call != nil {
		c.mu.Unlock()
		select {
		case <-call.done:
			return call.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// The first load is not counted against the refresh budget, so a
	// key rotated in just after it is found at once.
	last, gap := c.refreshed, c.minGap
	if !loaded {
		last, gap = c.tried, min(gap, time.Second)
	}
	if !last.IsZero() && c.now().Sub(last) < gap {
		err := c.lastErr
		c.mu.Unlock()
		if !loaded && err != nil {
			return err
		}
		return errThrottled
	}
	if loaded {
		c.refreshed = c.now()
	}
	call := &fetchCall{done: make(chan struct{})}
	c.inflight = call
	c.tried = c.now()
	c.mu.Unlock()

	// The fetch serves every caller waiting on it, so the one that started
	// it going away must not end it (nor be remembered as the issuer's
	// failure): it gets its own bound instead.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keyFetchTimeout)
	set, err := c.fetch(fctx)
	cancel()
	c.mu.Lock()
	if err == nil {
		c.keys = publicKeys(set)
		c.fetched = c.now()
	} else {
		err = fmt.Errorf("fetching the issuer's keys: %w", err)
	}
	call.err, c.lastErr = err, err
	c.inflight = nil
	c.mu.Unlock()
	close(call.done)
	return err
}

// publicKeys keeps the public signing keys of set: a private or symmetric
// key published by mistake is never used.
func publicKeys(set jose.JSONWebKeySet) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, k := range set.Keys {
		if k.IsPublic() && k.Valid() {
			out = append(out, k)
		}
	}
	return out
}
