package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestTerminalErrorIsAndUnwrap(t *testing.T) {
	t.Parallel()
	cause := errors.New("spec.coreFunction.exposedAPIs[0].implementation: missing")
	err := fmt.Errorf("reconcile x: %w", TerminalError(cause))
	tests := []struct {
		name string
		got  bool
	}{
		{"Is(TerminalError(nil))", errors.Is(err, TerminalError(nil))},
		{"IsTerminal", IsTerminal(err)},
		{"Is(cause) through Unwrap", errors.Is(err, cause)},
		{"plain error is not terminal", !IsTerminal(cause)},
		{"nil is not terminal", !IsTerminal(nil)},
	}
	for _, tt := range tests {
		if !tt.got {
			t.Errorf("%s: false", tt.name)
		}
	}
}

// loopEnv is a Controller whose Reconciler is replaced by f, so the loop's
// contract is tested apart from Components (the stores and wadm are real
// and idle).
func loopEnv(t *testing.T, f Func, opts ...envOption) (*env, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.WarnLevel)
	opts = append(opts, func(o *Options) {
		o.Logger = zap.New(core)
		o.RetryBase, o.RetryMax = time.Millisecond, 20*time.Millisecond
		o.Resync = time.Hour
	})
	e := newEnv(t, nil, opts...)
	e.ctrl.rec = f
	e.run()
	return e, logs
}

func TestLoopRetriesErrorsWithBackoff(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	e, _ := loopEnv(t, func(ctx context.Context, key string) (Result, error) {
		if calls.Add(1) <= 3 {
			return Result{}, errors.New("wadm unreachable")
		}
		return Result{}, nil
	})
	e.ctrl.Enqueue("components.retry")
	waitFor(t, "4 calls", func() (bool, string) { return calls.Load() == 4, fmt.Sprint(calls.Load()) })
	waitFor(t, "failures forgotten", func() (bool, string) {
		n := e.ctrl.q.Failures("components.retry")
		return n == 0, fmt.Sprint(n)
	})
	if s := e.ctrl.Stats(); s.Errors != 3 {
		t.Fatalf("Stats.Errors = %d, want 3", s.Errors)
	}
}

func TestLoopDoesNotRetryTerminalErrors(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	e, logs := loopEnv(t, func(ctx context.Context, key string) (Result, error) {
		calls.Add(1)
		return Result{}, TerminalError(errors.New("does not translate"))
	})
	e.ctrl.Enqueue("components.terminal")
	waitFor(t, "terminal counted", func() (bool, string) {
		s := e.ctrl.Stats()
		return s.Terminal == 1, fmt.Sprintf("%+v", s)
	})
	e.ctrl.q.mu.Lock()
	_, pending := e.ctrl.q.timers["components.terminal"]
	failures := e.ctrl.q.failures["components.terminal"]
	e.ctrl.q.mu.Unlock()
	if pending || failures != 0 {
		t.Fatalf("terminal error scheduled a retry (timer %t, failures %d)", pending, failures)
	}
	if logs.FilterMessageSnippet("not retrying").Len() == 0 {
		t.Fatal("terminal error not logged")
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

func TestLoopWarnsOnRequeueWithError(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	e, logs := loopEnv(t, func(ctx context.Context, key string) (Result, error) {
		if calls.Add(1) == 1 {
			return Result{RequeueAfter: time.Hour}, errors.New("both")
		}
		return Result{}, nil
	})
	e.ctrl.Enqueue("components.both")
	// The error wins: the retry comes after milliseconds, not the hour.
	waitFor(t, "retry", func() (bool, string) { return calls.Load() == 2, fmt.Sprint(calls.Load()) })
	if logs.FilterMessageSnippet("both a requeue and an error").Len() != 1 {
		t.Fatalf("no warning about requeue+error; logs: %v", logs.All())
	}
}

func TestLoopNeverRunsOneKeyTwiceAtOnce(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		active  = map[string]int{}
		maxSeen int
		calls   atomic.Int32
	)
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	e, _ := loopEnv(t, func(ctx context.Context, key string) (Result, error) {
		mu.Lock()
		active[key]++
		maxSeen = max(maxSeen, active[key])
		mu.Unlock()
		defer func() {
			mu.Lock()
			active[key]--
			mu.Unlock()
		}()
		if calls.Add(1) == 1 {
			started <- struct{}{}
			<-release
		}
		return Result{}, nil
	}, func(o *Options) { o.Workers = 8 })
	e.ctrl.Enqueue("components.one")
	<-started
	for range 20 {
		e.ctrl.Enqueue("components.one")
	}
	close(release)
	waitFor(t, "second pass", func() (bool, string) { return calls.Load() >= 2, fmt.Sprint(calls.Load()) })
	waitFor(t, "idle", func() (bool, string) {
		e.ctrl.q.mu.Lock()
		defer e.ctrl.q.mu.Unlock()
		return len(e.ctrl.q.processing) == 0 && len(e.ctrl.q.order) == 0, fmt.Sprint(e.ctrl.q.processing)
	})
	mu.Lock()
	defer mu.Unlock()
	if maxSeen != 1 {
		t.Fatalf("key processed by %d workers at once", maxSeen)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d passes, want 2: 20 adds during a pass coalesce into one more", n)
	}
}

func TestLoopRequeueAfter(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	e, _ := loopEnv(t, func(ctx context.Context, key string) (Result, error) {
		if calls.Add(1) == 1 {
			return Result{RequeueAfter: 10 * time.Millisecond}, nil
		}
		return Result{}, nil
	})
	e.ctrl.Enqueue("components.requeue")
	waitFor(t, "requeued pass", func() (bool, string) { return calls.Load() == 2, fmt.Sprint(calls.Load()) })
	if s := e.ctrl.Stats(); s.Requeues != 1 || s.Errors != 0 {
		t.Fatalf("Stats %+v, want 1 requeue, no error", s)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
	}{
		{"no stores or deployer", Options{}},
		{"negative workers", Options{Workers: -1}},
		{"bad base URL", Options{BaseURL: "127.0.0.1:8080"}},
		{"negative resync", Options{Resync: -time.Second}},
	}
	for _, tt := range tests {
		if _, err := New(tt.opts); err == nil {
			t.Errorf("%s: New accepted %+v", tt.name, tt.opts)
		}
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.ctrl.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if err := e.ctrl.Run(context.Background()); err == nil {
		t.Fatal("second Run accepted")
	}
}
