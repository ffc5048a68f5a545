package client

import (
	"context"
	"errors"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// Client is the canvasd API. Implementations are safe for concurrent use.
type Client interface {
	// Get returns one Component with its status.
	Get(ctx context.Context, namespace, name string) (*oda.Component, error)
	// List returns the Components of namespace ("" for all), sorted.
	List(ctx context.Context, namespace string) ([]*oda.Component, error)
	// Apply sends a Component (YAML or JSON) named file (for error
	// messages). With metadata.resourceVersion in body the write is a
	// compare-and-set. created says whether it was new.
	Apply(ctx context.Context, file string, body []byte) (c *oda.Component, created bool, err error)
	// DryApply makes every check Apply's server makes (admission, the
	// current value and its resourceVersion) and answers what Apply
	// would store, storing nothing.
	DryApply(ctx context.Context, file string, body []byte) (c *oda.Component, created bool, err error)
	// Delete removes a Component (only at resourceVersion when not "") and
	// returns it as it was.
	Delete(ctx context.Context, namespace, name, resourceVersion string) (*oda.Component, error)
	// Status returns the status the reconciler wrote; after a delete it
	// answers 404 (IsNotFound) once the application is removed.
	Status(ctx context.Context, namespace, name string) (*oda.ComponentStatus, error)
	// Events lists what the reconciler recorded for a Component.
	Events(ctx context.Context, namespace, name string) ([]wire.Event, error)
	// Watch calls fn for the current state of the Components matching
	// namespace and name ("" matches all), as ADDED events, then a
	// BOOKMARK, then for every change, until ctx ends (it returns ctx's
	// error), fn returns an error (returned as is) or the stream ends
	// (ErrWatchEnded: watch again). No change is skipped silently: when
	// fn falls behind, the watch ends with ErrWatchEnded rather than drop
	// events, over either transport.
	Watch(ctx context.Context, namespace, name string, fn func(wire.WatchEvent) error) error
	// Close releases what the client holds (a NATS connection it opened).
	Close() error
}

// ErrWatchEnded: the watch stream ended and changes after it may be
// unseen (the server restarted or lost its store watch, the client read too
// slowly, the server fell silent, or the NATS connection broke). Watch
// again to resync; the error may wrap it with the reason.
var ErrWatchEnded = errors.New("the server ended the watch")

// IsNotFound reports whether err is the API's 404.
func IsNotFound(err error) bool { return StatusCode(err) == 404 }

// StatusCode is the API status of err (a *wire.Problem), or 0.
func StatusCode(err error) int {
	var p *wire.Problem
	if errors.As(err, &p) {
		return p.Status
	}
	return 0
}
