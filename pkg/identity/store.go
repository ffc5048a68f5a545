package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// signingKey is one signing key as stored. The private JWK never leaves
// the store and the issuer; String hides it.
type signingKey struct {
	ID      string          `json:"kid"`
	Private json.RawMessage `json:"jwk"`
	Created time.Time       `json:"created"`
	// Retired is when a newer key replaced it; it stays published until
	// every token it signed has expired.
	Retired time.Time `json:"retired,omitzero"`

	jwk jose.JSONWebKey
}

func (k *signingKey) String() string { return "signing key " + k.ID }

func newSigningKey(now time.Time) (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	k := &signingKey{ID: base64.RawURLEncoding.EncodeToString(id), Created: now.UTC()}
	k.jwk = jose.JSONWebKey{Key: priv, KeyID: k.ID, Algorithm: string(jose.RS256), Use: "sig"}
	if k.Private, err = k.jwk.MarshalJSON(); err != nil {
		return nil, err
	}
	return k, nil
}

func decodeSigningKey(data []byte) (*signingKey, error) {
	var k signingKey
	if err := json.Unmarshal(data, &k); err != nil {
		return nil, err
	}
	if err := k.jwk.UnmarshalJSON(k.Private); err != nil {
		return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
	}
	if k.jwk.IsPublic() || k.jwk.KeyID != k.ID {
		return nil, fmt.Errorf("signing key %s: not a private key of that id", k.ID)
	}
	return &k, nil
}

func (k *signingKey) public() jose.JSONWebKey { return k.jwk.Public() }

// Client is a registered OAuth client as the issuer keeps it: its secret
// only as a hash.
type Client struct {
	ID string `json:"id"`
	// SecretHash is the hex SHA-256 of the secret: secrets are 256
	// random bits, so a slow password hash adds nothing.
	SecretHash string `json:"secretHash"`
	// Grants are the roles the client holds, per audience; a token for an
	// audience carries that audience's roles.
	Grants map[string][]string `json:"grants,omitempty"`
	// Roles are the roles the client's own API defines (a Component's
	// componentRole), for others to be granted.
	Roles []string `json:"roles,omitempty"`
	// DynamicRoles are the Roles its role API (partyRole or
	// permissionSpecificationSet) defined when last read, kept so the
	// next registration of its componentRole keeps them.
	DynamicRoles []string `json:"dynamicRoles,omitempty"`
	// Owner is the Component ({namespace}/{name}) the client was
	// registered for, "" for the canvas's own clients.
	Owner   string    `json:"owner,omitempty"`
	Created time.Time `json:"created"`
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func (c *Client) secretMatches(secret string) bool {
	return subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(c.SecretHash)) == 1
}

// newSecret is 256 random bits, URL-safe.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// store is the issuer's JetStream KV buckets.
type store struct {
	keys, clients, revoked jetstream.KeyValue
}

func openStore(ctx context.Context, js jetstream.JetStream, revokedTTL time.Duration) (*store, error) {
	var s store
	var err error
	open := func(cfg jetstream.KeyValueConfig) jetstream.KeyValue {
		if err != nil {
			return nil
		}
		var kv jetstream.KeyValue
		if kv, err = js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			err = fmt.Errorf("KV bucket %s: %w", cfg.Bucket, err)
		}
		return kv
	}
	s.keys = open(jetstream.KeyValueConfig{Bucket: subject.IdentityKeysBucket, Description: "wasmcanvas identity: signing keys (private)", History: 1})
	s.clients = open(jetstream.KeyValueConfig{Bucket: subject.IdentityClientsBucket, Description: "wasmcanvas identity: OAuth clients (secrets hashed)", History: 1})
	s.revoked = open(jetstream.KeyValueConfig{Bucket: subject.IdentityRevokedBucket, Description: "wasmcanvas identity: revoked token ids", History: 1, TTL: revokedTTL})
	return &s, err
}

func (s *store) signingKeys(ctx context.Context) ([]*signingKey, error) {
	names, err := s.keys.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing signing keys: %w", err)
	}
	var out []*signingKey
	for _, n := range names {
		e, err := s.keys.Get(ctx, n)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading signing key %s: %w", n, err)
		}
		k, err := decodeSigningKey(e.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b *signingKey) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// revokedIDs reads every revoked token id with the time it expires.
func (s *store) revokedIDs(ctx context.Context) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	names, err := s.revoked.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing revoked tokens: %w", err)
	}
	for _, n := range names {
		e, err := s.revoked.Get(ctx, n)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading revoked token %s: %w", n, err)
		}
		var until time.Time
		if json.Unmarshal(e.Value(), &until) == nil {
			out[n] = until
		}
	}
	return out, nil
}

func (s *store) putKey(ctx context.Context, k *signingKey, create bool) error {
	data, err := json.Marshal(k)
	if err != nil {
		return err
	}
	if create {
		_, err = s.keys.Create(ctx, k.ID, data)
	} else {
		_, err = s.keys.Put(ctx, k.ID, data)
	}
	if err != nil {
		return fmt.Errorf("storing %s: %w", k, err)
	}
	return nil
}

func (s *store) client(ctx context.Context, id string) (*Client, uint64, error) {
	if checkClientID(id) != nil {
		return nil, 0, nil // no such client can exist; and KV is not asked
	}
	e, err := s.clients.Get(ctx, clientKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading client %q: %w", id, err)
	}
	var c Client
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		return nil, 0, fmt.Errorf("client %q: %w", id, err)
	}
	return &c, e.Revision(), nil
}

// maxClientID bounds a client id (a DNS name's length). It also keeps
// the id's KV key, and so the NATS subject a lookup sends, far below the
// server's 4 KiB control line: a longer one makes nats-server close the
// whole connection, so an id from a request is checked before KV is asked.
const maxClientID = 253

// checkClientID is the one rule for client ids.
func checkClientID(id string) error {
	if id == "" || len(id) > maxClientID || strings.ContainsAny(id, " \t\r\n:") {
		return fmt.Errorf("client id %q: want 1-%d characters, no spaces or colons", short(id), maxClientID)
	}
	return nil
}

// clientKey is a KV key for any client id (ids may hold characters KV
// keys may not).
func clientKey(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }
