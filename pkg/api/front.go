package api

import (
	"context"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// This file is the Server as a second front end (pkg/kubeapi) uses it: the
// same admission, store writes, status and watch fan-out as the HTTP API,
// so a rule about Components is written once.

// WriteMode restricts Write.
type WriteMode int

const (
	// WriteApply creates the Component or updates it (the HTTP API's PUT).
	WriteApply WriteMode = iota
	// WriteCreate only creates; an existing Component is 409 Conflict.
	WriteCreate
	// WriteUpdate only updates; a missing Component is 404.
	WriteUpdate
)

// Admit parses body (any accepted apiVersion, YAML or JSON) as a Component
// named file and runs Options.Admit; failures are 422 with field errors.
func (s *Server) Admit(file string, body []byte) (*oda.Component, *wire.Problem) {
	return s.admit(file, body)
}

// Get returns the Component under key with its status.
func (s *Server) Get(ctx context.Context, key oda.Key) (*oda.Component, *wire.Problem) {
	return s.get(ctx, key)
}

// Write stores an admitted c as the HTTP API's apply does (generation,
// uid, creationTimestamp; rv a compare-and-set against the store
// revision), restricted by mode. created says whether it is new.
func (s *Server) Write(ctx context.Context, c *oda.Component, rv string, mode WriteMode) (*oda.Component, bool, *wire.Problem) {
	return s.write(ctx, c, rv, mode, false)
}

// DryWrite makes every check Write makes and answers what it would store
// (and whether it would create), storing nothing: a dry run.
func (s *Server) DryWrite(ctx context.Context, c *oda.Component, rv string, mode WriteMode) (*oda.Component, bool, *wire.Problem) {
	return s.write(ctx, c, rv, mode, true)
}

// Remove deletes key (only at revision rv when given) and returns the
// Component as it was.
func (s *Server) Remove(ctx context.Context, key oda.Key, rv string) (*oda.Component, *wire.Problem) {
	return s.remove(ctx, key, rv)
}

// Subscription is one watcher of the fan-out.
type Subscription struct {
	h *hub
	s *sub
}

// Events delivers every change after the snapshot Subscribe returned. It
// is closed when the fan-out cuts the watcher off (too slow, store watch
// lost, shutdown): subscribe again for a fresh snapshot.
func (x *Subscription) Events() <-chan wire.WatchEvent { return x.s.ch }

// Close ends the subscription.
func (x *Subscription) Close() { x.h.unsubscribe(x.s) }

// Subscribe waits (bounded by ctx) until the mirror of the stores is
// synced and returns every Component with its status (ADDED events, then
// a BOOKMARK) and a Subscription for what follows, with nothing lost in
// between. Empty namespace and name match all.
func (s *Server) Subscribe(ctx context.Context, namespace, name string) (*Subscription, []wire.WatchEvent, error) {
	sb, initial, err := s.hub.subscribe(ctx, namespace, name)
	if err != nil {
		return nil, nil, err
	}
	return &Subscription{h: s.hub, s: sb}, initial, nil
}
