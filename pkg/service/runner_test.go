package service_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/service"
)

// events records what the services did, in order.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, s)
}

func (e *events) want(t *testing.T, want ...string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !slices.Equal(e.got, want) {
		t.Errorf("events %q, want %q", e.got, want)
	}
}

// recorded is a service that records its start and stop; startErr and
// stopErr are what those return.
func recorded(ev *events, name string, startErr, stopErr error) service.Service {
	return service.New(name, service.Funcs{
		Start: func(context.Context) error { ev.add("start " + name); return startErr },
		Stop:  func(context.Context) error { ev.add("stop " + name); return stopErr },
	})
}

// loop is a service whose Run returns err once end is closed, or its
// context's error when that ends (recorded as cancelled).
func loop(ev *events, name string, end <-chan struct{}, err error) service.Service {
	return service.New(name, service.Funcs{Start: func(context.Context) error {
		ev.add("start " + name)
		return nil
	}, Run: func(ctx context.Context) error {
		select {
		case <-end:
			return err
		case <-ctx.Done():
			ev.add("cancelled " + name)
			return ctx.Err()
		}
	}})
}

// provisioned is recorded with a Provision step returning err.
func provisioned(ev *events, name string, err error) service.Service {
	return service.New(name, service.Funcs{
		Provision: func(context.Context) error { ev.add("provision " + name); return err },
		Start:     func(context.Context) error { ev.add("start " + name); return nil },
		Stop:      func(context.Context) error { ev.add("stop " + name); return nil },
	})
}

var (
	errStart = errors.New("start failed")
	errStop  = errors.New("stop failed")
	errRun   = errors.New("run failed")
)

// The tests run in a synctest bubble: Test fails if a goroutine the
// runner started is left blocked when the test function returns.

func TestRunnerStartsInOrderStopsInReverse(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ev := &events{}
		r := service.NewRunner(
			recorded(ev, "a", nil, nil),
			loop(ev, "b", nil, nil),
			recorded(ev, "c", nil, nil),
		)
		if err := r.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case <-r.Done():
			t.Fatal("Done closed while running")
		default:
		}
		if err := r.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		ev.want(t, "start a", "start b", "start c", "stop c", "cancelled b", "stop a")
		<-r.Done()
		if err := r.Wait(); err != nil {
			t.Errorf("Wait after Shutdown: %v", err)
		}
		if err := r.Shutdown(t.Context()); err != nil {
			t.Errorf("second Shutdown: %v", err)
		}
		if err := r.Start(t.Context()); err == nil {
			t.Error("Start after Shutdown succeeded")
		}
		ev.want(t, "start a", "start b", "start c", "stop c", "cancelled b", "stop a")
	})
}

func TestRunnerFailedStartStopsTheStartedInReverse(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ev := &events{}
		r := service.NewRunner(
			recorded(ev, "a", nil, errStop),
			loop(ev, "b", nil, nil),
			recorded(ev, "c", errStart, nil),
			recorded(ev, "d", nil, nil),
		)
		err := r.Start(t.Context())
		if !errors.Is(err, errStart) || !errors.Is(err, errStop) {
			t.Fatalf("Start: %v, want %v joined with %v", err, errStart, errStop)
		}
		for _, want := range []string{"c: start failed", "stopping a: stop failed"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		ev.want(t, "start a", "start b", "start c", "cancelled b", "stop a")
		select {
		case <-r.Done():
		default:
			t.Fatal("Done not closed after a failed Start")
		}
		if werr := r.Wait(); werr == nil || werr.Error() != err.Error() {
			t.Errorf("Wait: %v, want Start's error", werr)
		}
		if err := r.Shutdown(t.Context()); err != nil {
			t.Errorf("Shutdown after a failed Start: %v", err)
		}
	})
}

func TestRunnerProvisionsAllBeforeStartingAny(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ev := &events{}
		errA, errC := errors.New("a: no port"), errors.New("c: no path")
		r := service.NewRunner(
			provisioned(ev, "a", errA),
			recorded(ev, "b", nil, nil),
			provisioned(ev, "c", errC),
		)
		err := r.Start(t.Context())
		if !errors.Is(err, errA) || !errors.Is(err, errC) {
			t.Fatalf("Start: %v, want both provision errors", err)
		}
		ev.want(t, "provision a", "provision c")

		ev = &events{}
		r = service.NewRunner(
			recorded(ev, "a", nil, nil),
			provisioned(ev, "b", nil),
		)
		if err := r.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := r.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		ev.want(t, "provision b", "start a", "start b", "stop b", "stop a")
	})
}

func TestRunnerShutdownJoinsStopErrors(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ev := &events{}
		errStop2 := errors.New("flush failed")
		r := service.NewRunner(
			recorded(ev, "a", nil, errStop),
			recorded(ev, "b", nil, nil),
			recorded(ev, "c", nil, errStop2),
		)
		if err := r.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		err := r.Shutdown(t.Context())
		if !errors.Is(err, errStop) || !errors.Is(err, errStop2) {
			t.Fatalf("Shutdown: %v, want both stop errors", err)
		}
		if want := "stopping c: flush failed\nstopping a: stop failed"; err.Error() != want {
			t.Errorf("Shutdown: %q, want %q", err, want)
		}
		ev.want(t, "start a", "start b", "start c", "stop c", "stop b", "stop a")
		if again := r.Shutdown(t.Context()); again == nil || again.Error() != err.Error() {
			t.Errorf("second Shutdown: %v, want the first's error", again)
		}
		if err := r.Wait(); err != nil {
			t.Errorf("Wait after Shutdown: %v (Shutdown reports stop errors)", err)
		}
	})
}

func TestRunnerConcurrentShutdown(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ev := &events{}
		release := make(chan struct{})
		slow := service.New("slow", service.Funcs{Stop: func(ctx context.Context) error {
			ev.add("stop slow")
			<-release
			return errStop
		}})
		r := service.NewRunner(recorded(ev, "a", nil, nil), slow)
		if err := r.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		const callers = 8
		errs := make(chan error, callers)
		for range callers {
			go func() { errs <- r.Shutdown(t.Context()) }()
		}
		synctest.Wait() // every caller is blocked: one in slow's Stop, the rest waiting for it
		close(release)
		for range callers {
			if err := <-errs; !errors.Is(err, errStop) {
				t.Errorf("Shutdown: %v, want %v", err, errStop)
			}
		}
		ev.want(t, "start a", "stop slow", "stop a")
	})
}

func TestRunnerStopsWhenAServiceEnds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ev := &events{}
		end := make(chan struct{})
		r := service.NewRunner(
			recorded(ev, "a", nil, nil),
			loop(ev, "b", end, errRun),
			loop(ev, "c", nil, nil),
		)
		if err := r.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		close(end)
		err := r.Wait()
		if !errors.Is(err, errRun) || !strings.HasPrefix(err.Error(), "b: run failed") {
			t.Fatalf("Wait: %v, want b's %v", err, errRun)
		}
		ev.want(t, "start a", "start b", "start c", "cancelled c", "stop a")
		if err := r.Shutdown(t.Context()); err != nil {
			t.Errorf("Shutdown after the runner stopped by itself: %v", err)
		}
	})
}

func TestRunnerShutdownDuringStart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ev := &events{}
		blocking := service.New("connect", service.Funcs{Start: func(ctx context.Context) error {
			ev.add("start connect")
			<-ctx.Done()
			return fmt.Errorf("dial: %w", ctx.Err())
		}})
		r := service.NewRunner(recorded(ev, "a", nil, nil), blocking, recorded(ev, "c", nil, nil))
		started := make(chan error, 1)
		go func() { started <- r.Start(t.Context()) }()
		synctest.Wait() // Start is blocked in connect
		if err := r.Shutdown(t.Context()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-started; !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "connect: dial") {
			t.Errorf("Start: %v, want connect's cancelled dial", err)
		}
		ev.want(t, "start a", "start connect", "stop a")
	})
}

func TestRunnerShutdownBeforeStart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ev := &events{}
		r := service.NewRunner(recorded(ev, "a", nil, nil))
		if err := r.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		<-r.Done()
		if err := r.Start(t.Context()); err == nil {
			t.Error("Start after Shutdown succeeded")
		}
		ev.want(t)
	})
}

// TestRunnerStopIsBounded: a service that does not stop in time is
// reported, and the others are still stopped.
func TestRunnerStopIsBounded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ev := &events{}
		release := make(chan struct{})
		stuck := service.New("stuck", service.Funcs{Run: func(context.Context) error {
			<-release // ignores its context
			return nil
		}})
		r := service.NewRunner(recorded(ev, "a", nil, nil), stuck)
		if err := r.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		err := r.Shutdown(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "stopping stuck: still running") {
			t.Errorf("Shutdown: %v, want stuck named as still running", err)
		}
		ev.want(t, "start a", "stop a")
		close(release)
	})
}
