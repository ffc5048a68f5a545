package runtime

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/wasi"
)

// KeyValue backs wasi:keyvalue (store and atomics, 0.2.0-draft) for one
// component: Open(ctx, identifier) (Bucket, error) answers
// wasi:keyvalue/store.open. Errors wrapping ErrNoSuchStore or
// ErrAccessDenied reach the guest as those WIT cases, any other as
// other(message). It is the WASI host's own interface, named here so
// callers outside the runtime can implement it.
type KeyValue = wasi.KeyValue

// Bucket is one opened bucket: Get, Set, Delete, Exists, ListKeys (one
// page of keys from cursor, 0 being the start; more says whether next
// continues the listing) and Increment (adds delta to the number at key,
// absent being 0, atomically). Every call's ctx carries the request's
// deadline, capped at 5 s per call. Errors map as for KeyValue.Open.
type Bucket = wasi.Bucket

// Errors a KeyValue or Bucket wraps to answer the WIT's no-such-store and
// access-denied cases.
var (
	ErrNoSuchStore  = wasi.ErrNoSuchStore
	ErrAccessDenied = wasi.ErrAccessDenied
)

// JetStream KV defaults.
const (
	// DefaultKVMaxValueBytes is NATS's default max_payload: a larger value
	// could not be published anyway.
	DefaultKVMaxValueBytes = 1 << 20
	// KVListPageSize is how many keys one list-keys call returns.
	KVListPageSize = 1000
	// kvIncrementAttempts bounds the compare-and-set retries of Increment
	// under contention.
	kvIncrementAttempts = 32
)

// JetStreamKVOption tunes NewJetStreamKV.
type JetStreamKVOption func(*jetStreamKV)

// WithKVMaxValueBytes bounds the size of one value (default
// DefaultKVMaxValueBytes; n <= 0 keeps it); larger sets fail with
// other("value too large").
func WithKVMaxValueBytes(n int) JetStreamKVOption {
	return func(kv *jetStreamKV) {
		if n > 0 {
			kv.maxValue = n
		}
	}
}

// NewJetStreamKV backs a component's wasi:keyvalue with one JetStream KV
// bucket. The identifiers "" and "default" open it; any other is
// no-such-store, so a component reaches its own bucket only. The bucket is
// created on first open if missing (file storage, history 1, the value
// bound as its max value size); bucket must be a valid JetStream bucket
// name ([-_a-zA-Z0-9]+), or every open fails with other(...).
//
// Keys that are valid KV keys (`[-/_.a-zA-Z0-9]`, no leading, trailing or
// double dot) are stored as they are; any other key is stored as "=" plus
// its unpadded base64url, and list-keys decodes it back. Increment stores
// counters as decimal ASCII, as wasmCloud's NATS KV provider does.
// list-keys cursors are offsets into the sorted key list: a page may skip
// or repeat keys written between calls.
func NewJetStreamKV(js jetstream.JetStream, bucket string, opts ...JetStreamKVOption) KeyValue {
	kv := &jetStreamKV{js: js, bucket: bucket, maxValue: DefaultKVMaxValueBytes}
	for _, o := range opts {
		o(kv)
	}
	return kv
}

type jetStreamKV struct {
	js       jetstream.JetStream
	bucket   string
	maxValue int
	replicas *KVReplicas

	mu      sync.Mutex
	kv      jetstream.KeyValue
	replica *kvReplica // acquired on the first Open, released by Close
	closed  bool
}

// Close releases the bucket's replica (WithKVReplica); the runtime calls it
// when the component is unloaded.
func (s *jetStreamKV) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replica != nil {
		s.replicas.release(s.replica)
		s.replica = nil
	}
	s.closed = true
	return nil
}

func (s *jetStreamKV) Open(ctx context.Context, identifier string) (Bucket, error) {
	if identifier != "" && identifier != "default" {
		return nil, fmt.Errorf("%w: %q (this component has only \"default\")", ErrNoSuchStore, identifier)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv == nil {
		kv, err := s.js.KeyValue(ctx, s.bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = s.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket: s.bucket, History: 1, Storage: jetstream.FileStorage, MaxValueSize: int32(min(s.maxValue, math.MaxInt32)),
			})
			if errors.Is(err, jetstream.ErrBucketExists) {
				kv, err = s.js.KeyValue(ctx, s.bucket)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("open JetStream KV bucket %q: %w", s.bucket, err)
		}
		s.kv = kv
	}
	if s.replicas != nil && s.replica == nil && !s.closed {
		s.replica = s.replicas.acquire(s.bucket, s.kv)
	}
	return &jetStreamBucket{js: s.js, bucket: s.bucket, kv: s.kv, maxValue: s.maxValue, replica: s.replica}, nil
}

type jetStreamBucket struct {
	js       jetstream.JetStream
	bucket   string
	kv       jetstream.KeyValue
	maxValue int
	replica  *kvReplica // nil: every read goes to JetStream
}

func (b *jetStreamBucket) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if b.replica != nil {
		if e, found, ok := b.replica.get(ctx, encodeKey(key)); ok {
			return e.value, found, nil
		}
	}
	e, err := b.kv.Get(ctx, encodeKey(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get %q: %w", key, err)
	}
	return e.Value(), true, nil
}

func (b *jetStreamBucket) Set(ctx context.Context, key string, value []byte) error {
	if len(value) > b.maxValue {
		return fmt.Errorf("value too large: %d bytes, at most %d", len(value), b.maxValue)
	}
	rev, err := b.kv.Put(ctx, encodeKey(key), value)
	if err != nil {
		return fmt.Errorf("set %q: %w", key, err)
	}
	b.wrote(rev)
	return nil
}

// wrote tells the replica, if any, of a write's revision: reads wait for
// it.
func (b *jetStreamBucket) wrote(rev uint64) {
	if b.replica != nil {
		b.replica.wrote(rev)
	}
}

func (b *jetStreamBucket) Delete(ctx context.Context, key string) error {
	if b.replica != nil {
		rev, err := deleteMarker(ctx, b.js, b.bucket, encodeKey(key))
		if err != nil {
			return fmt.Errorf("delete %q: %w", key, err)
		}
		b.wrote(rev)
		return nil
	}
	if err := b.kv.Delete(ctx, encodeKey(key)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	return nil
}

func (b *jetStreamBucket) Exists(ctx context.Context, key string) (bool, error) {
	_, ok, err := b.Get(ctx, key)
	return ok, err
}

func (b *jetStreamBucket) ListKeys(ctx context.Context, cursor uint64) ([]string, uint64, bool, error) {
	if b.replica != nil {
		if keys, ok := b.replica.keys(ctx); ok {
			return page(keys, cursor)
		}
	}
	lister, err := b.kv.ListKeys(ctx)
	if err != nil {
		return nil, 0, false, fmt.Errorf("list keys: %w", err)
	}
	defer lister.Stop()
	var keys []string
	for stored := range keysUntil(ctx, lister.Keys()) {
		key, err := decodeKey(stored)
		if err != nil {
			// Written by something other than this host; a guest could
			// not address it anyway.
			continue
		}
		keys = append(keys, key)
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, false, fmt.Errorf("list keys: %w", err)
	}
	slices.Sort(keys)
	return page(keys, cursor)
}

// page returns the page of sorted keys from cursor.
func page(keys []string, cursor uint64) ([]string, uint64, bool, error) {
	if cursor >= uint64(len(keys)) {
		return nil, 0, false, nil
	}
	end := min(cursor+KVListPageSize, uint64(len(keys)))
	return keys[cursor:end], end, end < uint64(len(keys)), nil
}

func (b *jetStreamBucket) Increment(ctx context.Context, key string, delta uint64) (uint64, error) {
	k := encodeKey(key)
	for attempt := range kvIncrementAttempts {
		var cur uint64
		// The first attempt reads the replica; after a lost race, JetStream.
		value, rev, found, err := b.current(ctx, k, attempt == 0)
		if err != nil {
			return 0, fmt.Errorf("increment %q: %w", key, err)
		}
		if found {
			if cur, err = strconv.ParseUint(strings.TrimSpace(string(value)), 10, 64); err != nil {
				return 0, fmt.Errorf("increment %q: the value is not a decimal u64", key)
			}
		}
		n := cur + delta
		if n < cur {
			return 0, fmt.Errorf("increment %q: %d + %d overflows u64", key, cur, delta)
		}
		v := []byte(strconv.FormatUint(n, 10))
		var wrote uint64
		if !found {
			// Create also succeeds over a delete marker.
			wrote, err = b.kv.Create(ctx, k, v)
		} else {
			wrote, err = b.kv.Update(ctx, k, v, rev)
		}
		if err == nil {
			b.wrote(wrote)
			return n, nil
		}
		if !lostRace(err) {
			return 0, fmt.Errorf("increment %q: %w", key, err)
		}
		// Jittered, growing backoff: writers that lost together must not
		// retry together, or on a replicated bucket they lose together again.
		backoff := time.Duration(rand.Int64N(int64(min(time.Millisecond<<min(attempt, 6), 50*time.Millisecond)))) + 100*time.Microsecond
		if err := sleepCtx(ctx, backoff); err != nil {
			return 0, fmt.Errorf("increment %q: %w", key, err)
		}
	}
	return 0, fmt.Errorf("increment %q: still contended after %d attempts", key, kvIncrementAttempts)
}

// current reads key's value and revision, from the replica when
// fromReplica and it can answer.
func (b *jetStreamBucket) current(ctx context.Context, stored string, fromReplica bool) (value []byte, rev uint64, found bool, err error) {
	if fromReplica && b.replica != nil {
		if e, found, ok := b.replica.get(ctx, stored); ok {
			return e.value, e.revision, found, nil
		}
	}
	e, err := b.kv.Get(ctx, stored)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, 0, false, nil
	case err != nil:
		return nil, 0, false, err
	}
	return e.Value(), e.Revision(), true, nil
}

// lostRace reports whether a Create or Update failed because another
// writer got there first. Create says ErrKeyExists; Update says
// ErrKeyRevisionMismatch, which on a replicated bucket (R>1, error code
// 10164) does not match ErrKeyExists, as it does on R1 (10071).
func lostRace(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// keysUntil yields from ch until it closes or ctx is done, whichever is
// first: the lister's channel does not promise to close on its own.
func keysUntil(ctx context.Context, ch <-chan string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for {
			select {
			case k, ok := <-ch:
				if !ok || !yield(k) {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// encodedKeyPrefix marks a base64url-encoded key; plain keys never contain
// '=', so the two forms cannot collide.
const encodedKeyPrefix = "="

// encodeKey maps any wasi key to a valid JetStream KV key.
func encodeKey(key string) string {
	if plainKey(key) {
		return key
	}
	return encodedKeyPrefix + base64.RawURLEncoding.EncodeToString([]byte(key))
}

// decodeKey inverts encodeKey.
func decodeKey(stored string) (string, error) {
	rest, ok := strings.CutPrefix(stored, encodedKeyPrefix)
	if !ok {
		if !plainKey(stored) {
			return "", fmt.Errorf("stored key %q is neither plain nor encoded", stored)
		}
		return stored, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("stored key %q: %w", stored, err)
	}
	if plainKey(string(b)) {
		return "", fmt.Errorf("stored key %q encodes a plain key", stored)
	}
	return string(b), nil
}

// plainKey reports whether key is a valid KV key without '=' (the
// encoding marker).
func plainKey(key string) bool {
	if key == "" || key[0] == '.' || key[len(key)-1] == '.' || strings.Contains(key, "..") {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '/', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
