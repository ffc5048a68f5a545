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
	held *pool // what all the open calls hold

	mu     sync.Mutex
	calls  map[string]*queue
	closed bool
}

// maxHeldBytes bounds what the open calls of one peer hold at once,
// counted as msgCost: eight calls of MaxValueBytes, where a call each
// could otherwise hold MaxValueBytes up to maxInFlight times over.
const maxHeldBytes = 8 * MaxValueBytes

func newInbox(nc *nats.Conn, maxHeld int64) (*inbox, error) {
	ib := &inbox{base: nc.NewInbox(), calls: map[string]*queue{}, held: &pool{limit: maxHeld}}
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
	q := &queue{signal: make(chan struct{}, 1), held: ib.held}
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

// release ends the call of q: its subjects take no more messages and what
// it held goes back to the inbox.
func (ib *inbox) release(q *queue, subjects ...string) {
	ib.mu.Lock()
	for _, s := range subjects {
		delete(ib.calls, s)
	}
	ib.mu.Unlock()
	q.release()
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

// pool counts the bytes the open calls of one inbox hold.
type pool struct {
	limit int64
	held  atomic.Int64
}

func (p *pool) take(n int) bool {
	if p.held.Add(int64(n)) > p.limit {
		p.held.Add(-int64(n))
		return false
	}
	return true
}

func (p *pool) give(n int) { p.held.Add(-int64(n)) }

// msgOverhead is what a message costs besides its subjects, headers and
// payload: the nats.Msg and its allocations, roughly. Counting it bounds a
// flood of empty or one-byte messages as a flood of bytes is bounded.
const msgOverhead = 256

// msgCost is what holding m costs, as the queues count it.
func msgCost(m *nats.Msg) int {
	n := msgOverhead + len(m.Subject) + len(m.Reply) + len(m.Data)
	for k, vs := range m.Header {
		for _, v := range vs {
			n += len(k) + len(v) + len(": \r\n")
		}
	}
	return n
}

// maxCallBytes bounds what one call takes in, counted as msgCost: a value
// of MaxValueBytes with room for the overhead of its messages, when they
// carry 4 KiB or more each.
const maxCallBytes = MaxValueBytes + MaxValueBytes/16

// queue holds one call's messages until its owner takes them. It counts
// what the call took in, messages handed on included (the decoder or the
// results buffer keeps their bytes until the call ends), and stops taking
// messages past maxCallBytes or when the inbox's pool is spent: a peer
// that floods a call, or many calls, cannot grow a peer without bound.
type queue struct {
	signal chan struct{}
	held   *pool

	mu       sync.Mutex
	msgs     []*nats.Msg
	size     int   // bytes taken from held
	err      error // why the queue stopped taking messages
	closed   bool
	released bool
}

func (q *queue) push(m *nats.Msg) {
	q.mu.Lock()
	if q.take(msgCost(m)) {
		q.msgs = append(q.msgs, m)
	}
	q.mu.Unlock()
	q.wake()
}

// charge counts n bytes the call holds that did not come through the
// queue (a server's first params); an error says why it may not.
func (q *queue) charge(n int) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.take(n) {
		return q.err
	}
	return nil
}

// take counts n more bytes, or records why not; q.mu is held.
func (q *queue) take(n int) bool {
	switch {
	case q.released || q.err != nil:
		return false
	case q.size+n > maxCallBytes:
		q.err = fmt.Errorf("%w: the peer sent more than %d bytes", wire.ErrTooLarge, MaxValueBytes)
		return false
	case !q.held.take(n):
		q.err = fmt.Errorf("the calls in flight on this peer already hold the most they may (%d MiB in all): the call is refused; retry when fewer are in flight", q.held.limit>>20)
		return false
	}
	q.size += n
	return true
}

// release gives back what the call held; later messages are dropped.
func (q *queue) release() {
	q.mu.Lock()
	q.held.give(q.size)
	q.size = 0
	q.msgs = nil
	q.released = true
	q.mu.Unlock()
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
			q.mu.Unlock()
			return m, nil
		case q.err != nil:
			err := q.err
			q.mu.Unlock()
			return nil, err
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
