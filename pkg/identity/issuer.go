package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
)

// Defaults of IssuerOptions.
const (
	DefaultTokenTTL    = 15 * time.Minute
	DefaultRotateEvery = 7 * 24 * time.Hour
	// CanvasAudience is the audience of canvasd's own API: tokens for it
	// carry auth.RoleRead or auth.RoleWrite.
	CanvasAudience = "canvas"
	// AdminClient is the client whose secret is the local admin
	// credential (auth.EnsureAdminToken): `canvas token` with no client
	// gets a token for it, with auth.RoleWrite on CanvasAudience.
	AdminClient = "canvas-admin"
	// SystemClient is the canvas's system client: granted each
	// Component's securityFunction.canvasSystemRole on its audience.
	SystemClient = "canvas-system"
)

// IssuerOptions configure the embedded issuer.
type IssuerOptions struct {
	// URL is the issuer URL (iss), e.g. canvasd's API base + "/oidc".
	URL string
	// TokenTTL is how long an access token lives (default 15m).
	TokenTTL time.Duration
	// RotateEvery is the age at which the signing key is replaced
	// (default 7 days); Run checks it.
	RotateEvery time.Duration
	Now         func() time.Time
	Logger      *zap.Logger
}

// Issuer is the embedded OpenID Provider. Create it with NewIssuer,
// serve Handler under its URL's path and run Run.
type Issuer struct {
	opts  IssuerOptions
	path  string // URL's path, where Handler is mounted
	store *store
	log   *zap.Logger
	ver   *Verifier

	mu      sync.Mutex
	signing *signingKey   // current
	keys    []*signingKey // published, oldest first
	revoked map[string]time.Time
}

// NewIssuer opens (or creates) the issuer's KV buckets, loads its signing
// keys and makes the first one when there is none.
func NewIssuer(ctx context.Context, js jetstream.JetStream, opts IssuerOptions) (*Issuer, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("issuer URL %q: want http(s)://HOST[:PORT]/PATH with no query or fragment", opts.URL)
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.RotateEvery <= 0 {
		opts.RotateEvery = DefaultRotateEvery
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	opts.URL = strings.TrimRight(opts.URL, "/")
	st, err := openStore(ctx, js, opts.TokenTTL+MaxLeeway)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	is := &Issuer{opts: opts, path: strings.TrimRight(u.Path, "/"), store: st, log: opts.Logger, revoked: map[string]time.Time{}}
	is.ver, err = NewVerifier(VerifierOptions{Issuer: opts.URL, Audience: CanvasAudience, Keys: is.publicKeys, Now: opts.Now, Revoked: is.isRevoked})
	if err != nil {
		return nil, err
	}
	if err := is.load(ctx); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	// Revocations are known before the first token is verified; Run
	// follows the ones made later (by any replica).
	if is.revoked, err = st.revokedIDs(ctx); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if is.current() == nil {
		if err := is.Rotate(ctx); err != nil {
			return nil, fmt.Errorf("identity: first signing key: %w", err)
		}
	}
	return is, nil
}

// URL is the issuer URL.
func (is *Issuer) URL() string { return is.opts.URL }

// Verifier verifies this issuer's tokens for CanvasAudience; ForAudience
// gives one for another audience with the same key cache.
func (is *Issuer) Verifier() *Verifier { return is.ver }

func (is *Issuer) current() *signingKey {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.signing
}

// load reads the signing keys from KV: the newest unretired one signs.
func (is *Issuer) load(ctx context.Context) error {
	keys, err := is.store.signingKeys(ctx)
	if err != nil {
		return err
	}
	var signing *signingKey
	for _, k := range keys {
		if k.Retired.IsZero() {
			signing = k
		}
	}
	is.mu.Lock()
	is.keys, is.signing = keys, signing
	is.mu.Unlock()
	return nil
}

// publicKeys is the JWKS: every key not yet pruned (KV is read again, so a
// key another replica made is found on an unknown kid).
func (is *Issuer) publicKeys(ctx context.Context) (jose.JSONWebKeySet, error) {
	if err := is.load(ctx); err != nil {
		return jose.JSONWebKeySet{}, err
	}
	return is.jwks(), nil
}

func (is *Issuer) jwks() jose.JSONWebKeySet {
	is.mu.Lock()
	defer is.mu.Unlock()
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(is.keys))}
	for _, k := range is.keys {
		set.Keys = append(set.Keys, k.public())
	}
	return set
}

// keepFor is how long a retired key stays published: until the last token
// it signed has expired, plus the clock skew a verifier allows.
func (is *Issuer) keepFor() time.Duration { return is.opts.TokenTTL + MaxLeeway }

// Rotate makes a new signing key, retires the current one (still
// published until its tokens have expired) and removes keys retired
// longer ago than that.
func (is *Issuer) Rotate(ctx context.Context) error {
	now := is.opts.Now()
	k, err := newSigningKey(now)
	if err != nil {
		return err
	}
	if err := is.store.putKey(ctx, k, true); err != nil {
		return err
	}
	if err := is.load(ctx); err != nil {
		return err
	}
	is.mu.Lock()
	keys := slices.Clone(is.keys)
	is.mu.Unlock()
	var errs []error
	for _, old := range keys {
		switch {
		case old.ID == k.ID:
		case old.Retired.IsZero():
			old.Retired = now.UTC()
			errs = append(errs, is.store.putKey(ctx, old, false))
		case now.Sub(old.Retired) > is.keepFor():
			if err := is.store.keys.Delete(ctx, old.ID); err != nil {
				errs = append(errs, fmt.Errorf("removing %s: %w", old, err))
			}
		}
	}
	is.log.Info("new signing key", zap.String("kid", k.ID))
	return errors.Join(append(errs, is.load(ctx))...)
}

// Run rotates the signing key when it is older than RotateEvery and keeps
// the revoked token ids in step with KV, until ctx ends.
func (is *Issuer) Run(ctx context.Context) error {
	w, err := is.store.revoked.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watching revoked tokens: %w", err)
	}
	defer func() { _ = w.Stop() }()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("revoked tokens watch ended")
			}
			if e != nil && e.Operation() == jetstream.KeyValuePut {
				var until time.Time
				if json.Unmarshal(e.Value(), &until) == nil {
					is.mu.Lock()
					is.revoked[e.Key()] = until
					is.mu.Unlock()
				}
			}
		case <-tick.C:
			is.prune()
			if k := is.current(); k == nil || is.opts.Now().Sub(k.Created) > is.opts.RotateEvery {
				if err := is.Rotate(ctx); err != nil {
					is.log.Warn("signing key rotation failed; retrying in a minute", zap.Error(err))
				}
			}
		}
	}
}

func (is *Issuer) prune() {
	now := is.opts.Now()
	is.mu.Lock()
	defer is.mu.Unlock()
	for id, until := range is.revoked {
		if now.After(until) {
			delete(is.revoked, id)
		}
	}
}

func (is *Issuer) isRevoked(jti string) bool {
	is.mu.Lock()
	defer is.mu.Unlock()
	_, ok := is.revoked[jti]
	return ok
}

// revoke records jti as revoked until exp.
func (is *Issuer) revoke(ctx context.Context, jti string, exp time.Time) error {
	data, _ := json.Marshal(exp.UTC())
	if _, err := is.store.revoked.Put(ctx, jti, data); err != nil {
		return fmt.Errorf("recording the revocation: %w", err)
	}
	is.mu.Lock()
	is.revoked[jti] = exp
	is.mu.Unlock()
	return nil
}

// ClientSpec is what RegisterClient registers.
type ClientSpec struct {
	ID string
	// Secret, when set, is the client's secret (the admin client's is the
	// local admin credential); otherwise a new client gets a random one
	// and an existing one keeps its own.
	Secret string
	Grants map[string][]string
	Roles  []string
	// DynamicRoles are those of Roles that the Component's role API
	// defines (RoleListener).
	DynamicRoles []string
	// Owner is the Component the client is for; a client owned by another
	// Component is not taken over.
	Owner string
}

// RegisterClient creates or updates a client. It returns the secret when
// it set one (a new client, or spec.Secret), "" when the stored one stays.
func (is *Issuer) RegisterClient(ctx context.Context, spec ClientSpec) (string, error) {
	if err := checkClientID(spec.ID); err != nil {
		return "", err
	}
	for range 5 { // compare-and-set against concurrent registrations
		old, rev, err := is.store.client(ctx, spec.ID)
		if err != nil {
			return "", err
		}
		if old != nil && old.Owner != spec.Owner {
			return "", fmt.Errorf("client id %q is registered for %s: rename one of them", spec.ID, ownerName(old.Owner))
		}
		c := Client{ID: spec.ID, Grants: spec.Grants, Roles: spec.Roles, DynamicRoles: spec.DynamicRoles, Owner: spec.Owner, Created: is.opts.Now().UTC()}
		secret := spec.Secret
		if old != nil {
			c.Created = old.Created
			c.SecretHash = old.SecretHash
		}
		if secret == "" && old == nil {
			if secret, err = newSecret(); err != nil {
				return "", err
			}
		}
		if secret != "" {
			c.SecretHash = hashSecret(secret)
		}
		if old != nil && old.SecretHash == c.SecretHash && slices.Equal(old.Roles, c.Roles) && slices.Equal(old.DynamicRoles, c.DynamicRoles) && grantsEqual(old.Grants, c.Grants) {
			return "", nil
		}
		data, err := json.Marshal(c)
		if err != nil {
			return "", err
		}
		if old == nil {
			_, err = is.store.clients.Create(ctx, clientKey(c.ID), data)
		} else {
			_, err = is.store.clients.Update(ctx, clientKey(c.ID), data, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("storing client %q: %w", c.ID, err)
		}
		return secret, nil
	}
	return "", fmt.Errorf("client %q: changed concurrently too often; retry", spec.ID)
}

func ownerName(owner string) string {
	if owner == "" {
		return "the canvas itself"
	}
	return "Component " + owner
}

func grantsEqual(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// Client returns a registered client (nil when there is none).
func (is *Issuer) Client(ctx context.Context, id string) (*Client, error) {
	c, _, err := is.store.client(ctx, id)
	return c, err
}

// Clients lists the registered clients, sorted by id.
func (is *Issuer) Clients(ctx context.Context) ([]Client, error) {
	lister, err := is.store.clients.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing clients: %w", err)
	}
	var out []Client
	for k := range lister.Keys() {
		e, err := is.store.clients.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue // deleted while listing
		}
		if err != nil {
			return nil, fmt.Errorf("listing clients: %w", err)
		}
		var c Client
		if err := json.Unmarshal(e.Value(), &c); err != nil {
			return nil, fmt.Errorf("client key %s: %w", k, err)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Client) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteClient removes a client; its tokens live until they expire.
func (is *Issuer) DeleteClient(ctx context.Context, id string) error {
	if checkClientID(id) != nil {
		return nil // no such client can exist
	}
	if err := is.store.clients.Delete(ctx, clientKey(id)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("removing client %q: %w", id, err)
	}
	return nil
}

// Grant adds roles on audience to a client's grants (creating the client
// with a random secret when absent).
func (is *Issuer) Grant(ctx context.Context, clientID, audience string, roles ...string) error {
	c, err := is.Client(ctx, clientID)
	if err != nil {
		return err
	}
	spec := ClientSpec{ID: clientID, Grants: map[string][]string{}}
	if c != nil {
		spec.Roles, spec.DynamicRoles, spec.Owner = c.Roles, c.DynamicRoles, c.Owner
		for a, rs := range c.Grants {
			spec.Grants[a] = slices.Clone(rs)
		}
	}
	rs := append(spec.Grants[audience], roles...)
	slices.Sort(rs)
	spec.Grants[audience] = slices.Compact(rs)
	_, err = is.RegisterClient(ctx, spec)
	return err
}

// authenticate checks a client's secret: nil for an unknown client or a
// wrong secret alike.
func (is *Issuer) authenticate(ctx context.Context, id, secret string) (*Client, error) {
	if id == "" || secret == "" {
		return nil, nil
	}
	c, err := is.Client(ctx, id)
	if err != nil || c == nil || !c.secretMatches(secret) {
		return nil, err
	}
	return c, nil
}

// knownAudience: CanvasAudience or a registered client's id.
func (is *Issuer) knownAudience(ctx context.Context, aud string) (bool, error) {
	if aud == CanvasAudience {
		return true, nil
	}
	c, err := is.Client(ctx, aud)
	return c != nil, err
}

// Issue signs an access token (RFC 9068) for client c and audience. A
// Component's API (a client with an Owner) defines its roles, as a
// Keycloak client does: the token carries only the granted roles it
// defines (componentRole, canvasSystemRole and those its role API lists).
func (is *Issuer) Issue(ctx context.Context, c *Client, audience string) (token string, expires time.Duration, err error) {
	roles := c.Grants[audience]
	if api, err := is.Client(ctx, audience); err != nil {
		return "", 0, err
	} else if api != nil && api.Owner != "" {
		roles = slices.DeleteFunc(slices.Clone(roles), func(r string) bool { return !slices.Contains(api.Roles, r) })
	}
	k := is.current()
	if k == nil {
		return "", 0, errors.New("no signing key")
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k.jwk},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		return "", 0, err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", 0, err
	}
	now := is.opts.Now()
	claims := struct {
		jwt.Claims
		ClientID string   `json:"client_id"`
		AZP      string   `json:"azp"`
		Roles    []string `json:"roles"`
	}{
		Claims: jwt.Claims{
			Issuer: is.opts.URL, Subject: c.ID, Audience: jwt.Audience{audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			Expiry: jwt.NewNumericDate(now.Add(is.opts.TokenTTL)),
			ID:     base64.RawURLEncoding.EncodeToString(id),
		},
		ClientID: c.ID, AZP: c.ID, Roles: roles,
	}
	if claims.Roles == nil {
		claims.Roles = []string{}
	}
	token, err = jwt.Signed(signer).Claims(claims).Serialize()
	return token, is.opts.TokenTTL, err
}

// TokenSource gets tokens for clientID in-process, without its secret
// (canvasd's own parts and the runtime acting for a Component). Tokens are
// reused until a minute before they expire.
func (is *Issuer) TokenSource(clientID string) auth.TokenSource {
	return &issuerSource{is: is, client: clientID, cache: map[string]cachedToken{}}
}

type cachedToken struct {
	token string
	until time.Time
}

type issuerSource struct {
	is     *Issuer
	client string
	mu     sync.Mutex
	cache  map[string]cachedToken
}

func (s *issuerSource) AccessToken(ctx context.Context, audience string) (string, error) {
	now := s.is.opts.Now()
	s.mu.Lock()
	t, ok := s.cache[audience]
	s.mu.Unlock()
	if ok && now.Before(t.until) {
		return t.token, nil
	}
	if ok, err := s.is.knownAudience(ctx, audience); err != nil || !ok {
		return "", errors.Join(err, fmt.Errorf("audience %q: no such API registered with the issuer", audience))
	}
	c, err := s.is.Client(ctx, s.client)
	if err != nil {
		return "", err
	}
	if c == nil {
		return "", fmt.Errorf("client %q is not registered with the issuer", s.client)
	}
	tok, ttl, err := s.is.Issue(ctx, c, audience)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.cache[audience] = cachedToken{tok, now.Add(ttl - min(time.Minute, ttl/2))}
	s.mu.Unlock()
	return tok, nil
}
