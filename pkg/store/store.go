package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrNotFound: no value under the key (never written, or deleted).
	ErrNotFound = errors.New("not found")
	// ErrConflict matches every *ConflictError.
	ErrConflict = errors.New("revision conflict")
)

// ConflictError reports a failed compare-and-set: the key was not at the
// revision the caller expected.
type ConflictError struct {
	Op  string // "create", "update" or "delete"
	Key string
	// Expected is the revision the caller gave; 0 for create (expected absent).
	Expected uint64
	// Current is the key's revision when the conflict was seen; 0 when it
	// has no value (deleted or never written).
	Current uint64
}

func (e *ConflictError) Error() string {
	switch {
	case e.Op == "create":
		return fmt.Sprintf("create %s: it already exists at revision %d: update it with that revision, or put it", e.Key, e.Current)
	case e.Current == 0:
		return fmt.Sprintf("%s %s: revision conflict: expected revision %d, but it no longer exists: re-read it and retry", e.Op, e.Key, e.Expected)
	default:
		return fmt.Sprintf("%s %s: revision conflict: expected revision %d, current is %d: re-read it and retry with the current revision", e.Op, e.Key, e.Expected, e.Current)
	}
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Options configure the bucket. Zero values take the defaults.
type Options struct {
	// Bucket defaults to subject.ComponentsBucket.
	Bucket string
	// History is how many revisions per key are kept: 1-64, default 10.
	History int
	// Replicas is the bucket's replication factor in a cluster: 1-5, default 1.
	Replicas int
}

// DefaultHistory is the number of revisions kept per key by default.
const DefaultHistory = 10

// Entry is one stored value at one revision.
type Entry[T any] struct {
	Namespace string
	Name      string
	Value     T
	// Revision is the bucket-wide, strictly increasing sequence of this write;
	// pass it to Update or Delete for compare-and-set.
	Revision uint64
	// Updated is when this revision was written (server clock).
	Updated time.Time
}

// Key is the entry's oda.Key.
func (e Entry[T]) Key() oda.Key { return oda.Key{Namespace: e.Namespace, Name: e.Name} }

// Store keeps values of type T, JSON-encoded, in one JetStream KV bucket. It
// is safe for concurrent use.
type Store[T any] struct {
	kv     jetstream.KeyValue
	bucket string
}

// New opens the bucket, creating it with file storage or updating its
// history and replicas to match opts.
func New[T any](ctx context.Context, js jetstream.JetStream, opts Options) (*Store[T], error) {
	if opts.Bucket == "" {
		opts.Bucket = subject.ComponentsBucket
	}
	if opts.History == 0 {
		opts.History = DefaultHistory
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	var errs []error
	if err := subject.ValidateBucketName(opts.Bucket); err != nil {
		errs = append(errs, fmt.Errorf("Options.Bucket: %w", err))
	}
	if opts.History < 1 || opts.History > jetstream.KeyValueMaxHistory {
		errs = append(errs, fmt.Errorf("Options.History %d: JetStream keeps 1 to %d revisions per key", opts.History, jetstream.KeyValueMaxHistory))
	}
	if opts.Replicas < 1 || opts.Replicas > 5 {
		errs = append(errs, fmt.Errorf("Options.Replicas %d: use 1 to 5 (at most the cluster size)", opts.Replicas))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("store on bucket %s: %w", opts.Bucket, err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      opts.Bucket,
		Description: description(opts.Bucket),
		History:     uint8(opts.History),
		Replicas:    opts.Replicas,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
			return nil, fmt.Errorf("open KV bucket %s: JetStream is not enabled on the server: run nats-server with JetStream (-js) or use the embedded one: %w", opts.Bucket, err)
		}
		return nil, fmt.Errorf("open KV bucket %s: %w", opts.Bucket, err)
	}
	return &Store[T]{kv: kv, bucket: opts.Bucket}, nil
}

// description is what `nats kv ls` shows for bucket: the canvas's two
// buckets say what they hold, any other bucket only how it is keyed.
func description(bucket string) string {
	switch bucket {
	case subject.ComponentsBucket:
		return "wasmcanvas desired state: {namespace}.{name} -> Component as applied"
	case subject.StatusBucket:
		return "wasmcanvas status: {namespace}.{name} -> the Component's ODA status, as the reconciler wrote it"
	}
	return "wasmcanvas: {namespace}.{name} -> JSON value"
}

// Bucket is the KV bucket's name.
func (s *Store[T]) Bucket() string { return s.bucket }

// Get returns the current value, or an error matching ErrNotFound.
func (s *Store[T]) Get(ctx context.Context, namespace, name string) (Entry[T], error) {
	key, err := kvKey(namespace, name)
	if err != nil {
		return Entry[T]{}, fmt.Errorf("get: %w", err)
	}
	e, err := s.kv.Get(ctx, key)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return Entry[T]{}, fmt.Errorf("get %s in bucket %s: %w", key, s.bucket, ErrNotFound)
		}
		return Entry[T]{}, fmt.Errorf("get %s from bucket %s: %w", key, s.bucket, err)
	}
	return s.entry(e)
}

// List returns the current values in namespace, or in every namespace when
// namespace is "", ordered by namespace then name.
func (s *Store[T]) List(ctx context.Context, namespace string) ([]Entry[T], error) {
	filter, err := watchFilter(namespace)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	w, err := s.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list %s in bucket %s: %w", filter, s.bucket, err)
	}
	defer stopWatcher(w)
	var out []Entry[T]
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("list %s in bucket %s: %w", filter, s.bucket, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("list %s in bucket %s: watch closed before the replay finished (connection closed?)", filter, s.bucket)
			}
			if e == nil {
				slices.SortFunc(out, func(a, b Entry[T]) int {
					return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
				})
				return out, nil
			}
			ent, err := s.entry(e)
			if err != nil {
				return nil, fmt.Errorf("list: %w", err)
			}
			out = append(out, ent)
		}
	}
}

// Create stores v only if the key has no value (never written or deleted);
// otherwise it returns a *ConflictError. It returns the new revision.
func (s *Store[T]) Create(ctx context.Context, namespace, name string, v T) (uint64, error) {
	key, data, err := s.encode("create", namespace, name, v)
	if err != nil {
		return 0, err
	}
	rev, err := s.kv.Create(ctx, key, data)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return 0, s.conflict(ctx, "create", key, 0)
		}
		return 0, fmt.Errorf("create %s in bucket %s: %w", key, s.bucket, err)
	}
	return rev, nil
}

// Update stores v only if the key's current revision is expectedRevision
// (compare-and-set); otherwise it returns a *ConflictError. It returns the
// new revision.
func (s *Store[T]) Update(ctx context.Context, namespace, name string, v T, expectedRevision uint64) (uint64, error) {
	key, data, err := s.encode("update", namespace, name, v)
	if err != nil {
		return 0, err
	}
	if expectedRevision == 0 {
		return 0, fmt.Errorf("update %s: expected revision is 0: pass the revision read with Get, use Create for a new key, or Put to write without a check", key)
	}
	rev, err := s.kv.Update(ctx, key, data, expectedRevision)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return 0, s.conflict(ctx, "update", key, expectedRevision)
		}
		return 0, fmt.Errorf("update %s in bucket %s: %w", key, s.bucket, err)
	}
	return rev, nil
}

// Put stores v whatever the current revision (apply semantics) and returns
// the new revision.
func (s *Store[T]) Put(ctx context.Context, namespace, name string, v T) (uint64, error) {
	key, data, err := s.encode("put", namespace, name, v)
	if err != nil {
		return 0, err
	}
	rev, err := s.kv.Put(ctx, key, data)
	if err != nil {
		return 0, fmt.Errorf("put %s in bucket %s: %w", key, s.bucket, err)
	}
	return rev, nil
}

// Delete removes the value, keeping its history. With expectedRevision 0 it
// deletes whatever is there (ErrNotFound when nothing is); otherwise only
// when the current revision matches, else a *ConflictError.
func (s *Store[T]) Delete(ctx context.Context, namespace, name string, expectedRevision uint64) error {
	key, err := kvKey(namespace, name)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if expectedRevision == 0 {
		if _, err := s.kv.Get(ctx, key); err != nil {
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				return fmt.Errorf("delete %s in bucket %s: %w", key, s.bucket, ErrNotFound)
			}
			return fmt.Errorf("delete %s in bucket %s: %w", key, s.bucket, err)
		}
		if err := s.kv.Delete(ctx, key); err != nil {
			return fmt.Errorf("delete %s in bucket %s: %w", key, s.bucket, err)
		}
		return nil
	}
	if err := s.kv.Delete(ctx, key, jetstream.LastRevision(expectedRevision)); err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return s.conflict(ctx, "delete", key, expectedRevision)
		}
		return fmt.Errorf("delete %s in bucket %s: %w", key, s.bucket, err)
	}
	return nil
}

// History returns the kept revisions of one key, oldest first, deletes
// included (at most Options.History of them), or ErrNotFound.
func (s *Store[T]) History(ctx context.Context, namespace, name string) ([]Event[T], error) {
	key, err := kvKey(namespace, name)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	entries, err := s.kv.History(ctx, key)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("history of %s in bucket %s: %w", key, s.bucket, ErrNotFound)
		}
		return nil, fmt.Errorf("history of %s in bucket %s: %w", key, s.bucket, err)
	}
	out := make([]Event[T], 0, len(entries))
	for _, e := range entries {
		out = append(out, s.event(e))
	}
	return out, nil
}

func (s *Store[T]) encode(op, namespace, name string, v T) (string, []byte, error) {
	key, err := kvKey(namespace, name)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", op, err)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return "", nil, fmt.Errorf("%s %s: encode value as JSON: %w", op, key, err)
	}
	return key, data, nil
}

// conflict builds the ConflictError, reading the current revision so the
// message can say what the caller should re-read.
func (s *Store[T]) conflict(ctx context.Context, op, key string, expected uint64) error {
	ce := &ConflictError{Op: op, Key: key, Expected: expected}
	e, err := s.kv.Get(ctx, key)
	switch {
	case err == nil:
		ce.Current = e.Revision()
	case errors.Is(err, jetstream.ErrKeyNotFound):
	default:
		return fmt.Errorf("%w (reading the current revision also failed: %w)", ce, err)
	}
	return ce
}

func (s *Store[T]) entry(e jetstream.KeyValueEntry) (Entry[T], error) {
	k, err := oda.ParseKey(e.Key())
	if err != nil {
		return Entry[T]{}, fmt.Errorf("bucket %s holds a key the store did not write: %w", s.bucket, err)
	}
	ent := Entry[T]{Namespace: k.Namespace, Name: k.Name, Revision: e.Revision(), Updated: e.Created()}
	if err := json.Unmarshal(e.Value(), &ent.Value); err != nil {
		return ent, fmt.Errorf("decode %s revision %d from bucket %s: %w", e.Key(), e.Revision(), s.bucket, err)
	}
	return ent, nil
}

// kvKey is the bucket key of a Component: oda.Key's string form, checked.
func kvKey(namespace, name string) (string, error) {
	k, err := oda.NewKey(namespace, name)
	return k.String(), err
}
