package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Service is one part of a process: a connection, a server, a loop.
// A Start that fails leaves nothing of the service running; Stop is only
// called after a Start that succeeded.
type Service interface {
	// Name says which part it is; the Runner prefixes it to its errors.
	Name() string
	Start(ctx context.Context) error
	// Stop ends what Start began; ctx bounds the wait for in-flight work.
	Stop(ctx context.Context) error
}

// Provisioner is a Service with configuration to check: the Runner calls
// Provision on every Service before it starts any, so a bad setting fails
// with nothing running. Provision fills in defaults, then validates the
// final values (Caddy's order); it must not do I/O.
type Provisioner interface {
	Provision(ctx context.Context) error
}

// Waiter is a Service that can end by itself (a server whose listener
// failed, a loop that returned). Done is closed once it has ended, by
// itself or after Stop; Wait then returns why it ended by itself, nil if
// Stop ended it. The Runner stops the others when a Waiter ends by itself.
// A nil Done means it never ends by itself.
type Waiter interface {
	Done() <-chan struct{}
	Wait() error
}

// Funcs are the steps of a Service made by New; each may be nil.
type Funcs struct {
	Start func(ctx context.Context) error
	// Run runs in a goroutine from Start until Stop: after Funcs.Stop,
	// its context is cancelled and Stop waits for it to return.
	// Returning before Stop ends the service by itself.
	Run  func(ctx context.Context) error
	Stop func(ctx context.Context) error
}

// New makes a Service of f, named name; only with f.Run can it end by
// itself (without, its Done is nil).
func New(name string, f Funcs) Service { return &funcService{name: name, f: f} }

type funcService struct {
	name   string
	f      Funcs
	cancel context.CancelFunc
	done   chan struct{} // nil without Run

	mu      sync.Mutex
	stopped bool  // Stop was called
	err     error // Run's result, if it returned before Stop
}

func (s *funcService) Name() string { return s.name }

func (s *funcService) Start(ctx context.Context) error {
	if s.f.Start != nil {
		if err := s.f.Start(ctx); err != nil {
			return err
		}
	}
	if s.f.Run == nil {
		return nil
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		err := s.f.Run(runCtx)
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.stopped {
			s.err = err
		}
	}()
	return nil
}

func (s *funcService) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	var err error
	if s.f.Stop != nil {
		err = s.f.Stop(ctx)
	}
	if s.done == nil {
		return err
	}
	s.cancel()
	select {
	case <-s.done:
		return err
	case <-ctx.Done():
		return errors.Join(err, fmt.Errorf("still running: %w", ctx.Err()))
	}
}

func (s *funcService) Done() <-chan struct{} { return s.done }

func (s *funcService) Wait() error {
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

var (
	_ Service = (*funcService)(nil)
	_ Waiter  = (*funcService)(nil)
)
