package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// DefaultStopTimeout bounds the stop the Runner does by itself: after a
// failed Start or when a Waiter ended by itself.
const DefaultStopTimeout = 30 * time.Second

// errInterrupted is the cause of a Start cut short by Shutdown.
var errInterrupted = errors.New("service runner: Shutdown was called while starting")

// Runner starts Services in order and stops the started ones in reverse.
// Set its fields, then call Start once; Shutdown may be called at any
// time, from any goroutine, any number of times. It holds no lock while a
// Service starts or stops, nor while it waits.
type Runner struct {
	Services []Service
	// StopTimeout bounds the stop the Runner does by itself
	// (DefaultStopTimeout if 0); Shutdown's ctx bounds the others.
	StopTimeout time.Duration
	Log         *zap.Logger

	mu          sync.Mutex
	state       state
	started     []Service
	cancelStart context.CancelCauseFunc
	interrupted bool          // Shutdown was called while starting
	stopping    chan struct{} // closed when the state leaves starting or running
	failed      Service       // the Waiter that ended by itself, if any
	watchers    sync.WaitGroup
	done        chan struct{}
	err         error // Wait's: why it ended by itself
	stopErr     error // Shutdown's: what went wrong stopping
}

type state int

const (
	idle state = iota
	starting
	running
	stopping
	stopped
)

// init makes the channels; it runs with mu held.
func (r *Runner) init() {
	if r.done == nil {
		r.done, r.stopping = make(chan struct{}), make(chan struct{})
	}
}

// Start provisions every Service that is a Provisioner, then starts each
// in order. If a step fails, ctx ends or Shutdown is called meanwhile, it
// stops the started ones in reverse and returns every error, each
// prefixed with its Service's name; Wait returns the same. ctx bounds the
// start-up only.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	r.init()
	if r.state != idle {
		r.mu.Unlock()
		return errors.New("service runner: Start called twice, or after Shutdown")
	}
	r.state = starting
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.cancelStart = cancel
	r.mu.Unlock()

	err := r.provision(ctx)
	for _, s := range r.Services {
		if err != nil {
			break
		}
		if err = s.Start(ctx); err != nil {
			err = fmt.Errorf("%s: %w", s.Name(), err)
			break
		}
		r.mu.Lock()
		r.started = append(r.started, s)
		r.mu.Unlock()
		if ctx.Err() != nil {
			err = fmt.Errorf("started %s, then: %w", s.Name(), context.Cause(ctx))
		}
	}

	r.mu.Lock()
	if err == nil && r.interrupted {
		err = errInterrupted
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
	ctx, cancelStop := context.WithTimeout(context.WithoutCancel(ctx), r.stopTimeout())
	defer cancelStop()
	err = errors.Join(err, r.stopAll(ctx))
	r.finish(err, nil)
	return err
}

func (r *Runner) provision(ctx context.Context) error {
	var errs []error
	for _, s := range r.Services {
		if p, ok := s.(Provisioner); ok {
			if err := p.Provision(ctx); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// watch stops the Runner when w ends by itself; it returns once the
// Runner stops for another reason.
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
		return // Shutdown came first: stopAll reports w's end
	}
	r.beginStop()
	r.failed = s
	r.mu.Unlock()
	err := w.Wait()
	if err == nil {
		err = errors.New("ended by itself")
	}
	err = fmt.Errorf("%s: %w", s.Name(), err)
	r.logger().Error("service ended by itself; stopping the others", zap.String("service", s.Name()))
	// stopAll waits for the watchers, this one included: stop from a
	// goroutine of its own, which ends when done is closed.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), r.stopTimeout())
		defer cancel()
		r.finish(errors.Join(err, r.stopAll(ctx)), nil)
	}()
}

// Shutdown stops the started Services in reverse order; ctx bounds it. It
// returns every error stopping them, each prefixed with its Service's
// name. Concurrent and later calls wait for the first (or until their ctx
// ends) and return the same. If the Runner stopped by itself, Shutdown
// returns nil once it has, and Wait says why. Called while Start runs, it
// cancels Start's ctx, and Start stops what it started.
func (r *Runner) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.init()
	switch r.state {
	case idle:
		r.beginStop()
		r.state = stopped
		close(r.done)
		r.mu.Unlock()
		return nil
	case starting:
		r.interrupted = true
		r.cancelStart(errInterrupted)
	case running:
		r.beginStop()
		r.mu.Unlock()
		err := r.stopAll(ctx)
		r.finish(nil, err)
		return err
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

// beginStop leaves starting or running; it runs with mu held.
func (r *Runner) beginStop() {
	r.state = stopping
	close(r.stopping)
}

// stopAll stops the started Services in reverse order and waits for the
// watchers. A Waiter that ended by itself just as the stop began is
// reported here, unless it is the one that caused the stop.
func (r *Runner) stopAll(ctx context.Context) error {
	r.mu.Lock()
	started, failed := r.started, r.failed
	r.mu.Unlock()
	var errs []error
	for i := len(started) - 1; i >= 0; i-- {
		s := started[i]
		if err := s.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s: %w", s.Name(), err))
		}
		if w, ok := s.(Waiter); ok && s != failed {
			select {
			case <-w.Done():
				if err := w.Wait(); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", s.Name(), err))
				}
			default:
			}
		}
	}
	r.watchers.Wait()
	return errors.Join(errs...)
}

func (r *Runner) finish(err, stopErr error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err, r.stopErr = err, stopErr
	r.state = stopped
	close(r.done)
}

// Done is closed once the Runner has stopped: after Shutdown, a failed
// Start, or the stop that follows a Waiter ending by itself.
func (r *Runner) Done() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.init()
	return r.done
}

// Wait blocks until the Runner has stopped and returns why it stopped by
// itself (a failed Start, a Waiter that ended, and what went wrong
// stopping the rest then); nil if Shutdown stopped it.
func (r *Runner) Wait() error {
	<-r.Done()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *Runner) stopTimeout() time.Duration {
	if r.StopTimeout > 0 {
		return r.StopTimeout
	}
	return DefaultStopTimeout
}

func (r *Runner) logger() *zap.Logger {
	if r.Log == nil {
		return zap.NewNop()
	}
	return r.Log
}

var _ Waiter = (*Runner)(nil)
