package enforce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/problem"
)

// identify is whose request r is for a counter: "kind:value", hashed so a
// counter key holds no address, header value or name.
func identify(by policy.Identifier, r *http.Request) string {
	var id string
	switch by.Kind {
	case policy.ByHeader:
		if v := r.Header.Get(by.Header); v != "" {
			id = "header:" + v
		}
	case policy.ByConsumer:
		if c := consumer(r.Context()); c != "" {
			id = "consumer:" + c
		} else if p, ok := auth.FromContext(r.Context()); ok {
			id = "subject:" + p.Issuer + "\x00" + p.Subject
		}
	}
	if id == "" {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		id = "ip:" + host
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:12])
}

// rateLimit allows l.Limit requests per fixed window of l.Interval and
// identifier; every answer carries RateLimit-Limit, -Remaining and -Reset
// (seconds to the window's end), a refusal 429 with Retry-After.
func (e *Enforcer) rateLimit(route Route, l *policy.RateLimit, next http.Handler) http.Handler {
	limit := strconv.FormatInt(l.Limit, 10)
	per := "second"
	if l.Interval == time.Minute {
		per = "minute"
	}
	rid := route.id()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := e.opts.Now()
		window := now.UnixNano() / int64(l.Interval)
		reset := time.Unix(0, (window+1)*int64(l.Interval)).Sub(now)
		// A window's key outlives it by one interval, so that replicas
		// with slightly different clocks still share it.
		key := "rl." + rid + "." + identify(l.By, r) + "." + strconv.FormatInt(window, 10)
		n, err := e.opts.RateCounter.Count(r.Context(), key, 2*l.Interval)
		if err != nil {
			e.unavailable(w, r, route, "rate limit", err)
			return
		}
		resetSecs := strconv.FormatInt(int64((reset+time.Second-1)/time.Second), 10)
		h := w.Header()
		h.Set("RateLimit-Limit", limit)
		h.Set("RateLimit-Remaining", strconv.FormatInt(max(0, l.Limit-n), 10))
		h.Set("RateLimit-Reset", resetSecs)
		if n > l.Limit {
			h.Set("Retry-After", resetSecs)
			problem.Write(w, r, http.StatusTooManyRequests, fmt.Sprintf("rate limit of %d requests per %s exceeded: retry in %ss", l.Limit, per, resetSecs))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// quota allows q.Limit requests in all per identifier.
func (e *Enforcer) quota(route Route, q *policy.Quota, next http.Handler) http.Handler {
	rid := route.id()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := e.opts.QuotaCounter.Count(r.Context(), "q."+rid+"."+identify(q.By, r), 0)
		if err != nil {
			e.unavailable(w, r, route, "quota", err)
			return
		}
		if n > q.Limit {
			problem.Write(w, r, http.StatusTooManyRequests, fmt.Sprintf("quota of %d requests used up", q.Limit))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// unavailable answers a policy whose counter could not be reached: 503,
// never the request served uncounted.
func (e *Enforcer) unavailable(w http.ResponseWriter, r *http.Request, route Route, what string, err error) {
	e.opts.Logger.Warn("gateway: "+what+" counter failed", zap.String("app", route.App), zap.String("api", route.API), zap.Error(err))
	w.Header().Set("Retry-After", "1")
	problem.Write(w, r, http.StatusServiceUnavailable, "the "+what+" could not be checked now; retry later")
}

// MemoryCounter is a Counter in this process's memory.
type MemoryCounter struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[string]*memoryEntry
	// sweepAt is the size at which expired entries are dropped next.
	sweepAt int
}

type memoryEntry struct {
	n       int64
	expires time.Time // zero: never
}

// NewMemoryCounter returns an empty MemoryCounter.
func NewMemoryCounter() *MemoryCounter {
	return &MemoryCounter{now: time.Now, entries: map[string]*memoryEntry{}, sweepAt: 1024}
}

// Count implements Counter.
func (c *MemoryCounter) Count(_ context.Context, key string, ttl time.Duration) (int64, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil || (!e.expires.IsZero() && now.After(e.expires)) {
		if len(c.entries) >= c.sweepAt {
			c.sweep(now)
		}
		e = &memoryEntry{}
		if ttl > 0 {
			e.expires = now.Add(ttl)
		}
		c.entries[key] = e
	}
	e.n++
	return e.n, nil
}

// sweep drops expired entries; the next sweep waits until the map has
// doubled, so sweeping costs O(1) per count on average.
func (c *MemoryCounter) sweep(now time.Time) {
	for k, e := range c.entries {
		if !e.expires.IsZero() && now.After(e.expires) {
			delete(c.entries, k)
		}
	}
	c.sweepAt = max(1024, 2*len(c.entries))
}
