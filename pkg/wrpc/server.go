package wrpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// A Handler serves one function. It decodes the params tuple from params,
// which waits for bytes still in flight, checks params.Err() before it acts
// on them, and encodes the results tuple into results. An error (or a
// panic) fails the call: the results are closed empty, with the error in
// HeaderError. Header(ctx) gives the invocation's headers; ctx ends with
// the call's deadline or the server's Close.
type Handler func(ctx context.Context, params *wire.Decoder, results *wire.Encoder) error

// maxInFlight bounds the calls a Server serves at once; more wait in NATS.
const maxInFlight = 1024

// A Server serves functions under one prefix ({lattice}.{id} in wasmCloud,
// subject.WRPCPrefix). Each function is queue-subscribed with the prefix as
// the queue group, so replicas share the calls; each call runs in its own
// goroutine, owned by the Server, which Close waits for. The calls in
// flight hold at most 128 MiB of params in all; a call past that fails
// with an error that says so.
type Server struct {
	nc     *nats.Conn
	prefix string
	log    *zap.Logger
	inbox  *inbox
	ctx    context.Context
	cancel context.CancelFunc
	slots  chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	subs   []*nats.Subscription
	closed bool
}

// NewServer returns a Server for prefix on nc that logs failed calls to
// log (nil: nowhere).
func NewServer(nc *nats.Conn, prefix string, log *zap.Logger) (*Server, error) {
	return newServer(nc, prefix, log, maxHeldBytes)
}

// newServer is NewServer whose calls in flight hold at most maxHeld bytes.
func newServer(nc *nats.Conn, prefix string, log *zap.Logger, maxHeld int64) (*Server, error) {
	if log == nil {
		log = zap.NewNop()
	}
	ib, err := newInbox(nc, maxHeld)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{nc: nc, prefix: prefix, log: log, inbox: ib, ctx: ctx, cancel: cancel, slots: make(chan struct{}, maxInFlight)}, nil
}

// Handle serves fn of instance with h until Close. It returns once the
// NATS server has the subscription, so a call made after it is served.
func (s *Server) Handle(instance, fn string, h Handler) error {
	subj := subject.WRPCInvoke(s.prefix, instance, fn)
	cb := func(m *nats.Msg) { s.start(instance, fn, h, m) }
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	var sub *nats.Subscription
	var err error
	if s.prefix == "" {
		sub, err = s.nc.Subscribe(subj, cb)
	} else {
		sub, err = s.nc.QueueSubscribe(subj, s.prefix, cb)
	}
	if err == nil {
		s.subs = append(s.subs, sub)
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("wrpc: serve %s: %w", subj, err)
	}
	if err := s.nc.FlushTimeout(DefaultTimeout); err != nil {
		return fmt.Errorf("wrpc: serve %s: the NATS server did not confirm the subscription: %w", subj, err)
	}
	return nil
}

// Close stops taking calls, cancels the calls in flight and waits for
// their goroutines. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	subs := s.subs
	s.mu.Unlock()
	var errs []error
	for _, sub := range subs {
		errs = append(errs, unsubscribe(sub))
	}
	s.cancel()
	s.wg.Wait()
	errs = append(errs, s.inbox.close())
	return errors.Join(errs...)
}

// start runs on the subscription's goroutine: it takes a slot and hands the
// call to a goroutine of its own.
func (s *Server) start(instance, fn string, h Handler, m *nats.Msg) {
	select {
	case s.slots <- struct{}{}:
	case <-s.ctx.Done():
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.slots
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() { <-s.slots }()
		s.serve(instance, fn, h, m)
	}()
}

// serve answers one invocation: the accept first, then the handler, then
// the results and the end of the results stream, whatever happened.
func (s *Server) serve(instance, fn string, h Handler, m *nats.Msg) {
	log := s.log.With(zap.String("instance", instance), zap.String("func", fn), zap.String("source_id", m.Header.Get(HeaderSourceID)))
	if m.Reply == "" {
		log.Warn("wRPC invocation without a reply subject dropped")
		return
	}
	inbox := s.inbox.newSubject()
	params := subject.WRPCParams(inbox)
	q := s.inbox.open(params)
	defer s.inbox.release(q, params)
	if err := s.nc.PublishMsg(&nats.Msg{Subject: m.Reply, Reply: inbox}); err != nil {
		log.Warn("wRPC accept not sent", zap.Error(err))
		return
	}
	ctx, cancel := withTimeout(context.WithValue(s.ctx, headerKey{}, m.Header))
	defer cancel()
	d := wire.NewStreamDecoder(m.Data, MaxValueBytes, func() ([]byte, error) {
		pm, err := q.next(ctx)
		switch {
		case err != nil:
			return nil, fmt.Errorf("waiting for params: %w", err)
		case len(pm.Data) == 0:
			return nil, io.EOF
		}
		return pm.Data, nil
	})
	var results wire.Encoder
	err := q.charge(msgCost(m))
	if err == nil {
		err = call(ctx, h, d, &results)
	}
	var end nats.Header
	if err != nil {
		var pe *panicError
		if errors.As(err, &pe) {
			log = log.With(zap.ByteString("stack", pe.stack))
		}
		log.Warn("wRPC call failed", zap.Error(err))
		end = nats.Header{HeaderError: []string{headerValue(err.Error())}}
		results = wire.Encoder{}
	}
	if err := publishStream(s.nc, subject.WRPCResults(m.Reply), results.Bytes(), end); err != nil {
		log.Warn("wRPC results not sent", zap.Error(err))
	}
}

// call runs the handler; a panic becomes the call's error, and so does a
// decode error the handler did not look at.
func call(ctx context.Context, h Handler, params *wire.Decoder, results *wire.Encoder) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{value: p, stack: debug.Stack()}
		}
	}()
	if err := h(ctx, params, results); err != nil {
		return err
	}
	if err := params.Finish(); err != nil {
		return fmt.Errorf("params: %w", err)
	}
	return nil
}

type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("handler panicked: %v", e.value) }

// headerValue makes s one header line of at most maxErrorHeader bytes: a
// NATS header value cannot hold CR or LF.
func headerValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxErrorHeader {
		s = strings.ToValidUTF8(s[:maxErrorHeader], "") + "..."
	}
	return s
}

const maxErrorHeader = 512
