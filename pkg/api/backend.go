package api

import (
	"context"
	"errors"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// Errors a backend wraps so the API can map them onto status codes.
var (
	// ErrNotFound: no value under the key.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the expected revision is no longer current.
	ErrConflict = errors.New("revision conflict")
)

// Desired is the desired-state store as the API uses it. Components handed
// out carry metadata.resourceVersion = the store revision (decimal).
//
// # Notes
//
// It exists to decouple the API from pkg/store; the daemon adapts the store
// to it. Implementations must be safe for concurrent use.
type Desired interface {
	// Get returns the Component stored under key, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, key oda.Key) (*oda.Component, error)
	// List returns every stored Component.
	List(ctx context.Context) ([]*oda.Component, error)
	// Put stores c under c.Key(). rev 0 creates and fails with ErrConflict
	// when the key exists; otherwise it succeeds only while rev is the
	// current revision (ErrConflict if not). It returns c as stored.
	Put(ctx context.Context, c *oda.Component, rev uint64) (*oda.Component, error)
	// Delete removes key if its revision is rev (any revision when 0).
	Delete(ctx context.Context, key oda.Key, rev uint64) error
	// Watch streams the current value of every key, then one Change with
	// Synced set, then every change until ctx ends (the channel is then
	// closed).
	Watch(ctx context.Context) (<-chan DesiredChange, error)
}

// DesiredChange is one value of a Desired watch. Component is nil when Key
// was deleted; Revision is then the store revision of the delete (0 when
// unknown).
type DesiredChange struct {
	Synced    bool
	Key       oda.Key
	Component *oda.Component
	Revision  uint64
}

// Statuses is the status store the reconciler writes, keyed like Desired.
type Statuses interface {
	// Get returns the status under key, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key oda.Key) (*oda.ComponentStatus, error)
	// List returns every status by key.
	List(ctx context.Context) (map[oda.Key]*oda.ComponentStatus, error)
	// Watch behaves as Desired.Watch.
	Watch(ctx context.Context) (<-chan StatusChange, error)
}

// StatusChange is one value of a Statuses watch; Status is nil when Key
// was deleted. Revision is the status store's revision of the put or
// delete (0 when unknown); with the desired-state revisions it makes the
// combined revision of wire.WatchEvent.Revision.
type StatusChange struct {
	Synced   bool
	Key      oda.Key
	Status   *oda.ComponentStatus
	Revision uint64
}

// Events lists what the reconciler recorded for one incarnation (uid, the
// Component's metadata.uid) of a Component, oldest first.
type Events interface {
	List(ctx context.Context, key oda.Key, uid string) ([]wire.Event, error)
}
