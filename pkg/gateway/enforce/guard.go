package enforce

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/problem"
)

// NoIdentityProvider is the detail of the 503 a guarded API answers when
// the gateway has no Authenticator for it: it is never served open.
const NoIdentityProvider = "no identity provider configured: this API's Component has a securityFunction, and the canvas checks no tokens"

// guard serves next to callers the Authenticator accepts who hold one of
// g.Roles, with the caller in the request's context and X-Wasmcanvas-*
// headers.
func (e *Enforcer) guard(route Route, g *policy.Guard, next http.Handler) http.Handler {
	a := e.opts.Authenticator
	if e.opts.AuthenticatorFor != nil {
		if ca := e.opts.AuthenticatorFor(route.Component); ca != nil {
			a = ca
		}
	}
	realm := route.Component
	need := strings.Join(g.Roles, " or ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a == nil {
			w.Header().Set("Retry-After", "60")
			problem.Write(w, r, http.StatusServiceUnavailable, NoIdentityProvider)
			return
		}
		p, err := e.authenticate(a, route.Component, r)
		if err != nil {
			auth.Deny(w, r, realm, err)
			return
		}
		if !g.Allows(p.Roles) {
			detail := fmt.Sprintf("%s holds none of the roles of %s (%s)", p.Subject, route.Component, need)
			if len(g.Roles) == 0 {
				detail = fmt.Sprintf("%s declares no componentRole and no canvasSystemRole: no caller may use it", route.Component)
			}
			auth.Forbid(w, r, realm, "one of the roles "+need+" required", detail)
			return
		}
		h := r.Header
		h.Set(HeaderSubject, p.Subject)
		setOrDel(h, HeaderClient, p.Client)
		setOrDel(h, HeaderIssuer, p.Issuer)
		setOrDel(h, HeaderRoles, strings.Join(p.Roles, ","))
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

func setOrDel(h http.Header, k, v string) {
	if v == "" {
		h.Del(k)
		return
	}
	h.Set(k, v)
}

// StripHeaders removes every X-Wasmcanvas-* header from h: only the
// gateway's policies set them.
func StripHeaders(h http.Header) {
	for k := range h {
		if len(k) >= len(HeaderPrefix) && strings.EqualFold(k[:len(HeaderPrefix)], HeaderPrefix) {
			delete(h, k)
		}
	}
}

// authenticate is a.Authenticate, reusing a caller verified for the same
// Authorization header at the same Component within the cache's TTL: a
// token accepted for one Component's audience is never reused at another.
func (e *Enforcer) authenticate(a auth.Authenticator, component string, r *http.Request) (auth.Principal, error) {
	h := r.Header.Get("Authorization")
	if e.callers == nil || h == "" {
		return a.Authenticate(r)
	}
	key := sha256.Sum256([]byte(component + "\x00" + h))
	if p, ok := e.callers.get(key); ok {
		return p, nil
	}
	p, err := a.Authenticate(r)
	if err == nil {
		e.callers.put(key, p)
	}
	return p, err
}

// callerCache maps the hash of a Component and an Authorization header
// to the caller verified for them, for a short TTL. Only successes are
// kept, so refused tokens cannot fill it; at maxCallers entries it starts
// afresh.
type callerCache struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[[32]byte]cachedCaller
}

type cachedCaller struct {
	p     auth.Principal
	until time.Time
}

const maxCallers = 10_000

func newCallerCache(ttl time.Duration, now func() time.Time) *callerCache {
	return &callerCache{ttl: ttl, now: now, m: map[[32]byte]cachedCaller{}}
}

func (c *callerCache) get(k [32]byte) (auth.Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !c.now().Before(e.until) {
		return auth.Principal{}, false
	}
	return e.p, true
}

func (c *callerCache) put(k [32]byte, p auth.Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCallers {
		clear(c.m)
	}
	until := c.now().Add(c.ttl)
	if !p.Expires.IsZero() && p.Expires.Before(until) {
		until = p.Expires // never past the token's own expiry
	}
	c.m[k] = cachedCaller{p: p, until: until}
}
