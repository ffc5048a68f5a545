package reconcile

import (
	"context"
	"errors"
	"time"
)

// Result says when to look at a key again after a pass without error.
type Result struct {
	// RequeueAfter, when positive, runs the key again after that delay
	// (unless an event runs it sooner). Zero means wait for the next
	// event or resync.
	RequeueAfter time.Duration
}

// Reconciler makes one key's observed state match its desired state.
//
// Reconciliation is level-based: the loop passes only the key, never the
// event that caused the call, and Reconcile reads everything it needs
// again. It must be safe to call at any time, any number of times, for a
// key that exists or not.
//
// A non-nil error means the key is retried with capped exponential backoff
// and the Result is ignored (the loop warns when both come back). A nil
// error with RequeueAfter runs the key again after that delay. An error
// wrapped by TerminalError is logged and counted but not retried: the key
// runs again only when an event or the periodic resync enqueues it.
type Reconciler interface {
	Reconcile(ctx context.Context, key string) (Result, error)
}

// Func adapts a function to a Reconciler.
type Func func(ctx context.Context, key string) (Result, error)

// Reconcile calls f.
func (f Func) Reconcile(ctx context.Context, key string) (Result, error) { return f(ctx, key) }

// TerminalError marks err as not worth retrying: the input must change
// first (for example a Component that does not translate). TerminalError(nil)
// is a value errors.Is matches any terminal error against.
func TerminalError(err error) error {
	return &terminalError{err: err}
}

type terminalError struct{ err error }

func (e *terminalError) Error() string {
	if e.err == nil {
		return "terminal error"
	}
	return "terminal error: " + e.err.Error()
}

func (e *terminalError) Unwrap() error { return e.err }

// Is makes errors.Is(err, TerminalError(nil)) true for every terminal
// error.
func (e *terminalError) Is(target error) bool {
	_, ok := target.(*terminalError)
	return ok
}

// IsTerminal reports whether err is or wraps a TerminalError.
func IsTerminal(err error) bool {
	return errors.Is(err, TerminalError(nil))
}
