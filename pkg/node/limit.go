package node

import (
	"net/http"
	"sync/atomic"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/problem"
)

// limiter lets at most max requests into a component at once, as a host
// runs at most max_instances instances of it: the others wait for a slot
// (or for their request to end). A rescale swaps the slots; requests in
// flight give back the slot they took.
type limiter struct {
	next  http.Handler
	slots atomic.Pointer[chan struct{}]
}

func newLimiter(next http.Handler, max uint32) *limiter {
	l := &limiter{next: next}
	l.resize(max)
	return l
}

func (l *limiter) resize(max uint32) {
	if max == 0 {
		max = 1
	}
	if cur := l.slots.Load(); cur != nil && uint32(cap(*cur)) == max {
		return
	}
	ch := make(chan struct{}, max)
	l.slots.Store(&ch)
}

func (l *limiter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	slots := *l.slots.Load()
	select {
	case slots <- struct{}{}:
	case <-r.Context().Done():
		problem.Write(w, r, http.StatusServiceUnavailable, "every instance of the component is busy and the request ended while waiting for one")
		return
	}
	defer func() { <-slots }()
	l.next.ServeHTTP(w, r)
}
