package store

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds. EventReplayDone is sent once, after the values that existed
// when the watch started; everything after it is a live change.
const (
	EventPut EventKind = iota + 1
	EventDelete
	EventReplayDone
)

func (k EventKind) String() string {
	switch k {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	case EventReplayDone:
		return "replay-done"
	}
	return fmt.Sprintf("EventKind(%d)", k)
}

// Event is one change of one key. For EventDelete, Value is the zero T; for
// EventReplayDone only Kind is set.
type Event[T any] struct {
	Kind EventKind
	Entry[T]
	// Err is set when a put's value does not decode as T; Namespace, Name
	// and Revision still say which write it was.
	Err error
}

// Watch streams the current value of every key in namespace ("" for all
// namespaces), then an EventReplayDone, then every later put and delete, in
// revision order. The replay also holds an EventDelete for each key whose
// last kept write was a delete, so a watcher that was down learns what was
// removed meanwhile. The channel is closed when ctx ends or the underlying
// subscription ends (the NATS connection was closed); the caller owns the
// watch through ctx.
func (s *Store[T]) Watch(ctx context.Context, namespace string) (<-chan Event[T], error) {
	filter, err := watchFilter(namespace)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	w, err := s.kv.Watch(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("watch %s in bucket %s: %w", filter, s.bucket, err)
	}
	out := make(chan Event[T])
	go func() {
		defer close(out)
		defer stopWatcher(w)
		for {
			var ev Event[T]
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					ev = Event[T]{Kind: EventReplayDone}
				} else {
					ev = s.event(e)
				}
			}
			select {
			case <-ctx.Done():
				return
			case out <- ev:
			}
		}
	}()
	return out, nil
}

func (s *Store[T]) event(e jetstream.KeyValueEntry) Event[T] {
	if e.Operation() != jetstream.KeyValuePut {
		ev := Event[T]{Kind: EventDelete}
		ev.Revision, ev.Updated = e.Revision(), e.Created()
		var k oda.Key
		k, ev.Err = oda.ParseKey(e.Key())
		ev.Namespace, ev.Name = k.Namespace, k.Name
		return ev
	}
	ent, err := s.entry(e)
	return Event[T]{Kind: EventPut, Entry: ent, Err: err}
}

func watchFilter(namespace string) (string, error) {
	if namespace == "" {
		return "*.*", nil
	}
	if err := oda.CheckDNSLabel(namespace); err != nil {
		return "", &oda.KeyError{Field: "namespace", Value: namespace, Reason: err.Error()}
	}
	return namespace + ".*", nil
}

// stopWatcher unsubscribes and drains the watcher's channel: its delivery
// callback blocks on a full channel, and the channel is only closed once that
// callback returns. The drain is bounded so a wedged connection cannot hold
// the caller.
func stopWatcher(w jetstream.KeyWatcher) {
	_ = w.Stop() // the only failure is an already-closed subscription
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case _, ok := <-w.Updates():
			if !ok {
				return
			}
		case <-timeout.C:
			return
		}
	}
}
