package wrpc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// inbox is a peer's one wildcard subscription on its private inbox base:
// it hands each message to the call that opened the message's subject, as
// upstream does, instead of a subscription per call.
type inbox struct {
	base string
	sub  *nats.Subscription
	next atomic.Uint64

	mu     sync.Mutex
	calls  map[string]*queue
	closed bool
}

func newInbox(nc *nats.Conn) (*inbox, error) {
	ib := &inbox{base: nc.NewInbox(), calls: map[string]*queue{}}
	sub, err := nc.Subscribe(subject.WRPCInboxAll(ib.base), ib.deliver)
	if err != nil {
		return nil, fmt.Errorf("wrpc: subscribe to the inbox: %w", err)
	}
	ib.sub = sub
	return ib, nil
}

// newSubject returns a fresh call subject under the base.
func (ib *inbox) newSubject() string { return subject.WRPCInbox(ib.base, ib.next.Add(1)) }

// open returns one queue that receives the messages of all the subjects.
func (ib *inbox) open(subjects ...string) *queue {
	q := &queue{signal: make(chan struct{}, 1)}
	ib.mu.Lock()
	defer ib.mu.Unlock()
	if ib.closed {
		q.closed = true
	}
	for _, s := range subjects {
		ib.calls[s] = q
	}
	return q
}

func (ib *inbox) release(subjects ...string) {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	for _, s := range subjects {
		delete(ib.calls, s)
	}
}

func (ib *inbox) deliver(m *nats.Msg) {
	ib.mu.Lock()
	q := ib.calls[m.Subject]
	ib.mu.Unlock()
	if q != nil {
		q.push(m)
	}
}

// close unsubscribes and wakes every open call with ErrClosed.
func (ib *inbox) close() error {
	ib.mu.Lock()
	ib.closed = true
	calls := ib.calls
	ib.calls = map[string]*queue{}
	ib.mu.Unlock()
	for _, q := range calls {
		q.shut()
	}
	return unsubscribe(ib.sub)
}

// unsubscribe ends sub; a subscription the connection's closing already
// ended is no error.
func unsubscribe(sub *nats.Subscription) error {
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
		return fmt.Errorf("wrpc: unsubscribe %s: %w", sub.Subject, err)
	}
	return nil
}

// queue holds one call's messages until its owner takes them; it never
// holds more than MaxValueBytes of payload, so a peer
// that floods a call cannot grow it without bound.
type queue struct {
	signal chan struct{}

	mu     sync.Mutex
	msgs   []*nats.Msg
	size   int
	over   bool
	closed bool
}

func (q *queue) push(m *nats.Msg) {
	q.mu.Lock()
	if q.size+len(m.Data) > MaxValueBytes {
		q.over = true
	} else {
		q.msgs = append(q.msgs, m)
		q.size += len(m.Data)
	}
	q.mu.Unlock()
	q.wake()
}

func (q *queue) shut() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
}

func (q *queue) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// next waits for the next message, in the order they arrived.
func (q *queue) next(ctx context.Context) (*nats.Msg, error) {
	for {
		q.mu.Lock()
		switch {
		case len(q.msgs) > 0:
			m := q.msgs[0]
			q.msgs[0] = nil
			q.msgs = q.msgs[1:]
			q.size -= len(m.Data)
			q.mu.Unlock()
			return m, nil
		case q.over:
			q.mu.Unlock()
			return nil, fmt.Errorf("%w: the peer sent more than %d bytes", wire.ErrTooLarge, MaxValueBytes)
		case q.closed:
			q.mu.Unlock()
			return nil, ErrClosed
		}
		q.mu.Unlock()
		select {
		case <-q.signal:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
