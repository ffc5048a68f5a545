package reconcile

import (
	"math/rand/v2"
	"sync"
	"time"
)

// queue is a work queue of keys with the guarantees a level-triggered loop
// needs: a key waits at most once however often it is added (adds
// coalesce), a key handed to a worker is not handed to another until Done,
// and a key added while being processed runs once more after Done.
//
// Lock order: queue.mu only; the timers' callbacks take it after firing.
type queue struct {
	mu         sync.Mutex
	cond       *sync.Cond
	order      []string            // keys waiting, FIFO
	dirty      map[string]struct{} // keys that need a pass (waiting or to re-run)
	processing map[string]struct{}
	timers     map[string]*delayed // pending AddAfter per key (the earliest wins)
	failures   map[string]int
	shutdown   bool

	baseDelay, maxDelay time.Duration
}

type delayed struct {
	at time.Time
	t  *time.Timer
}

func newQueue(baseDelay, maxDelay time.Duration) *queue {
	q := &queue{
		dirty:      map[string]struct{}{},
		processing: map[string]struct{}{},
		timers:     map[string]*delayed{},
		failures:   map[string]int{},
		baseDelay:  baseDelay,
		maxDelay:   maxDelay,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add marks key as needing a pass.
func (q *queue) Add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *queue) addLocked(key string) {
	if q.shutdown {
		return
	}
	if _, ok := q.dirty[key]; ok {
		return
	}
	q.dirty[key] = struct{}{}
	if _, ok := q.processing[key]; ok {
		return // Done puts it back
	}
	q.order = append(q.order, key)
	q.cond.Signal()
}

// AddAfter adds key after d. Of several pending delays for one key the
// earliest is kept, so a long requeue never postpones a short retry.
func (q *queue) AddAfter(key string, d time.Duration) {
	if d <= 0 {
		q.Add(key)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	at := time.Now().Add(d)
	if p, ok := q.timers[key]; ok {
		if !p.at.After(at) {
			return
		}
		p.t.Stop()
	}
	p := &delayed{at: at}
	p.t = time.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if q.timers[key] == p {
			delete(q.timers, key)
		}
		q.addLocked(key)
	})
	q.timers[key] = p
}

// AddRateLimited retries key after a capped exponential backoff with
// jitter: base·2^failures, at most maxDelay, then a random 50–100 % of it
// so that keys failing together do not retry together.
func (q *queue) AddRateLimited(key string) {
	q.mu.Lock()
	n := q.failures[key]
	q.failures[key] = n + 1
	q.mu.Unlock()
	q.AddAfter(key, q.backoff(n))
}

func (q *queue) backoff(failures int) time.Duration {
	return backoff(q.baseDelay, q.maxDelay, failures)
}

// backoff is the delay before retry number failures+1: base·2^failures,
// at most maxDelay, then a random 50–100 % of it.
func backoff(base, maxDelay time.Duration, failures int) time.Duration {
	d := maxDelay
	if failures < 32 {
		if b := base << failures; b > 0 && b < maxDelay {
			d = b
		}
	}
	return d/2 + rand.N(d/2+1)
}

// Forget clears the failure count of key after a successful pass.
func (q *queue) Forget(key string) {
	q.mu.Lock()
	delete(q.failures, key)
	q.mu.Unlock()
}

// Failures is the number of consecutive failed passes of key.
func (q *queue) Failures(key string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failures[key]
}

// Get blocks until a key is ready or the queue shuts down (ok false).
func (q *queue) Get() (key string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return "", false
	}
	key = q.order[0]
	q.order[0] = ""
	q.order = q.order[1:]
	delete(q.dirty, key)
	q.processing[key] = struct{}{}
	return key, true
}

// Done ends the pass over key; if it was added meanwhile it waits again.
func (q *queue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, key)
	if _, ok := q.dirty[key]; ok && !q.shutdown {
		q.order = append(q.order, key)
		q.cond.Signal()
	}
}

// Len is the number of keys waiting (not counting those being processed
// or delayed).
func (q *queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}

// ShutDown wakes every Get with ok false and stops the pending timers.
func (q *queue) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutdown = true
	for k, p := range q.timers {
		p.t.Stop()
		delete(q.timers, k)
	}
	q.cond.Broadcast()
}
