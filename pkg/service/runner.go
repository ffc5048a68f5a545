package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// stopTimeout bounds the stop the Runner does by itself: after a failed
// Start or when a Waiter ended by itself.
const stopTimeout = 30 * time.Second

// Runner starts Services in order and stops the started ones in reverse.
// Start it once; Shutdown may be called at any time, from any goroutine,
// any number of times. No lock is held while a Service starts or stops,
// nor while the Runner waits.
type Runner struct {
	services []Service

	mu           sync.Mutex
	state        int // idle, starting, running, stopping, stopped
	started      []Service
	cancelStart  context.CancelFunc
	stopping     chan struct{} // closed when the stop begins
	done         chan struct{} // closed once stopped
	watchers     sync.WaitGroup
	err, stopErr error // Wait's and Shutdown's
}

const (
	idle = iota
	starting
	running
	stopping
	stopped
)

// NewRunner returns a Runner of services, in start order.
func NewRunner(services ...Service) *Runner {
	return &Runner{services: services, stopping: make(chan struct{}), done: make(chan struct{})}
}

func named(s Service, err error) error { return fmt.Errorf("%s: %w", s.Name(), err) }

// Start provisions every Service, then starts each in order. If a step
// fails, ctx ends or Shutdown is called meanwhile, it stops the started
// ones in reverse and returns every error, each prefixed with its
// Service's name; Wait returns the same. ctx bounds the start-up only.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.state != idle {
		r.mu.Unlock()
		return errors.New("service runner: Start called twice, or after Shutdown")
	}
	r.state = starting
	ctx, r.cancelStart = context.WithCancel(ctx)
	defer r.cancelStart()
	r.mu.Unlock()

	var errs []error
	for _, s := range r.services {
		if p, ok := s.(Provisioner); ok {
			if err := p.Provision(ctx); err != nil {
				errs = append(errs, named(s, err))
			}
		}
	}
	err := errors.Join(errs...)
	for _, s := range r.services {
		if err != nil {
			break
		}
		if err = s.Start(ctx); err != nil {
			err = named(s, err)
			break
		}
		r.mu.Lock()
		r.started = append(r.started, s)
		r.mu.Unlock()
	}

	r.mu.Lock()
	if err == nil && ctx.Err() != nil { // Shutdown cancels ctx with mu held
		err = fmt.Errorf("service runner: start-up ended: %w", ctx.Err())
	}
	if err == nil {
		r.state = running
		for _, s := range r.started {
			if w, ok := s.(Waiter); ok && w.Done() != nil {
				r.watchers.Add(1)
				go r.watch(s, w)
			}
		}
		r.mu.Unlock()
		return nil
	}
	r.beginStop()
	r.mu.Unlock()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	return r.stop(sctx, err)
}

// watch stops the Runner when w ends by itself; it returns once the
// Runner stops for any reason.
func (r *Runner) watch(s Service, w Waiter) {
	defer r.watchers.Done()
	select {
	case <-r.stopping:
		return
	case <-w.Done():
	}
	r.mu.Lock()
	if r.state != running {
		r.mu.Unlock()
		return // the Runner is stopping anyway
	}
	r.beginStop()
	r.mu.Unlock()
	err := w.Wait()
	if err == nil {
		err = errors.New("ended by itself")
	}
	// stop waits for the watchers, this one included.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		r.stop(ctx, named(s, err))
	}()
}

// Shutdown stops the started Services in reverse order, ctx bounding it,
// and returns every error stopping them, each prefixed with its Service's
// name. Concurrent and later calls wait for the first (or for their ctx)
// and return the same. If the Runner stopped by itself, Shutdown returns
// nil once it has, and Wait says why. During Start, it cancels Start's
// ctx and Start stops what it started.
func (r *Runner) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	switch r.state {
	case idle, running:
		r.beginStop()
		r.mu.Unlock()
		return r.stop(ctx, nil)
	case starting:
		r.cancelStart()
	}
	r.mu.Unlock()
	select {
	case <-r.done:
	case <-ctx.Done():
		return fmt.Errorf("service runner: waiting for the stop under way: %w", ctx.Err())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopErr
}

// beginStop runs with mu held, once.
func (r *Runner) beginStop() {
	r.state = stopping
	close(r.stopping)
}

// stop stops the started Services in reverse and waits for the watchers.
// cause is why the Runner stopped by itself, nil for Shutdown.
func (r *Runner) stop(ctx context.Context, cause error) error {
	r.mu.Lock()
	started := r.started
	r.mu.Unlock()
	errs := []error{cause}
	for _, s := range slices.Backward(started) {
		if err := s.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s: %w", s.Name(), err))
		}
	}
	r.watchers.Wait()
	err := errors.Join(errs...)
	r.mu.Lock()
	defer r.mu.Unlock()
	if cause != nil {
		r.err = err
	} else {
		r.stopErr = err
	}
	r.state = stopped
	close(r.done)
	return err
}

// Done is closed once the Runner has stopped: after Shutdown, a failed
// Start, or the stop that follows a Waiter ending by itself.
func (r *Runner) Done() <-chan struct{} { return r.done }

// Wait blocks until the Runner has stopped and returns why it stopped by
// itself (a failed Start or a Waiter that ended, with what went wrong
// stopping the rest); nil if Shutdown stopped it.
func (r *Runner) Wait() error {
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

var _ Waiter = (*Runner)(nil)
