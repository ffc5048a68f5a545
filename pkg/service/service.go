package service

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// Service is one part of a process: a connection, a server, a loop. A
// Start that fails leaves nothing of it running; Stop, called only after
// a Start that succeeded, ends it within ctx.
type Service interface {
	// Name says which part it is; the Runner prefixes it to its errors.
	Name() string
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Provisioner is a Service with settings to check: the Runner provisions
// every Service before it starts any. Provision fills in defaults, then
// validates the final values (Caddy's order); it does no I/O.
type Provisioner interface {
	Provision(ctx context.Context) error
}

// Waiter is a Service that can end by itself (a server whose listener
// failed, a loop that returned): the Runner then stops the others. Done
// is closed once it has ended, by itself or after Stop (a nil Done: never
// by itself); Wait then returns why it ended by itself, nil after Stop.
type Waiter interface {
	Done() <-chan struct{}
	Wait() error
}

// Funcs are the steps of a Service made by New; each may be nil. Run runs
// in a goroutine from Start on; returning before Stop, it ends the
// Service by itself (Wait returns its error). Stop calls Funcs.Stop, then
// cancels Run's ctx and waits for Run to return.
type Funcs struct {
	Provision, Start, Run, Stop func(ctx context.Context) error
}

// New makes a Service named name of f's steps.
func New(name string, f Funcs) Service { return &funcService{name: name, f: f} }

type funcService struct {
	name    string
	f       Funcs
	cancel  context.CancelFunc
	done    chan struct{} // nil without Run
	stopped atomic.Bool
	err     error // Run's, if it returned before Stop; set before done closes
}

func (s *funcService) Name() string { return s.name }

func (s *funcService) Provision(ctx context.Context) error { return call(ctx, s.f.Provision) }

func (s *funcService) Start(ctx context.Context) error {
	if err := call(ctx, s.f.Start); err != nil || s.f.Run == nil {
		return err
	}
	ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.f.Run(ctx); !s.stopped.Load() {
			s.err = err
		}
	}()
	return nil
}

func (s *funcService) Stop(ctx context.Context) error {
	s.stopped.Store(true)
	err := call(ctx, s.f.Stop)
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
	return s.err
}

func call(ctx context.Context, f func(context.Context) error) error {
	if f == nil {
		return nil
	}
	return f(ctx)
}

var (
	_ Provisioner = (*funcService)(nil)
	_ Waiter      = (*funcService)(nil)
)
