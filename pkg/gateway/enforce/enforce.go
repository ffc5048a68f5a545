package enforce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
)

// Headers the guard and the API key set for the component. The gateway
// removes every incoming header starting with HeaderPrefix first, guarded
// route or not, so a caller cannot forge them.
const (
	HeaderPrefix   = "X-Wasmcanvas-"
	HeaderSubject  = HeaderPrefix + "Subject"
	HeaderClient   = HeaderPrefix + "Client"
	HeaderIssuer   = HeaderPrefix + "Issuer"
	HeaderRoles    = HeaderPrefix + "Roles" // comma-separated
	HeaderConsumer = HeaderPrefix + "Consumer"
)

// Counter counts requests. Count adds one to key and returns the count
// after it; a key is forgotten ttl after it was created (never when ttl
// is 0). Implementations: NewMemoryCounter, and policykv's JetStream KV
// counters shared by gateway replicas and kept across restarts.
type Counter interface {
	Count(ctx context.Context, key string, ttl time.Duration) (int64, error)
}

// APIKey is a stored API key (never its plaintext).
type APIKey struct {
	// ID is policy.APIKeyID of the hash.
	ID string `json:"id"`
	// Component is the oda.Key ({namespace}.{name}) of the Component
	// whose APIs the key opens.
	Component string `json:"component"`
	// Consumer names who holds it: the rate limit's and quota's consumer.
	Consumer string    `json:"consumer"`
	Created  time.Time `json:"created"`
}

// ErrUnknownAPIKey is KeyLookup's answer for a hash it does not hold
// (never made, or revoked).
var ErrUnknownAPIKey = errors.New("unknown API key")

// KeyLookup finds an API key by policy.HashAPIKey of its plaintext.
type KeyLookup interface {
	LookupAPIKey(ctx context.Context, hash string) (APIKey, error)
}

// Options configure an Enforcer. The zero value enforces every policy
// that needs no outside help: a guarded API then answers 503 (no identity
// provider configured) and an API-key API 503 (no key store): neither is
// ever served open.
type Options struct {
	// Authenticator verifies the bearer tokens of guarded APIs
	// (pkg/identity's, through auth.Bearer).
	Authenticator auth.Authenticator
	// AuthenticatorFor, when set, picks the Authenticator of one
	// Component's guarded APIs (component is Route.Component, its oda.Key)
	// when its routes are compiled: a token for one Component's API
	// carries that Component's audience and is refused at another's. A nil
	// answer falls back to Authenticator.
	AuthenticatorFor func(component string) auth.Authenticator
	// APIKeys finds the keys `canvas apikey create` made.
	APIKeys KeyLookup
	// RateCounter counts rate-limit windows; nil: in this process's
	// memory. Share one (policykv) between gateway replicas.
	RateCounter Counter
	// QuotaCounter counts quotas; nil: in memory, lost at restart.
	QuotaCounter Counter
	Logger       *zap.Logger
	// Now is the clock of the rate-limit windows (tests); nil: time.Now.
	Now func() time.Time
	// AuthCacheTTL is how long the guard reuses a verified caller for the
	// same Authorization header instead of verifying the token again
	// (default DefaultAuthCacheTTL; negative: every request verifies). A
	// token's revocation is therefore seen up to this late; a cached caller
	// never outlives its token's expiry (auth.Principal.Expires).
	AuthCacheTTL time.Duration
}

// DefaultAuthCacheTTL is Options.AuthCacheTTL's default: short against a
// token's lifetime (minutes) and well within the clock skew a verifier
// allows, while a busy client's token is verified once per interval, not
// once per request (an ES256 check costs more than a small component).
const DefaultAuthCacheTTL = 5 * time.Second

// Enforcer compiles routes' policies. It is safe for concurrent use.
type Enforcer struct {
	opts    Options
	callers *callerCache // nil: no caching
}

// New returns an Enforcer; counters left nil are kept in memory.
func New(opts Options) *Enforcer {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.RateCounter == nil {
		opts.RateCounter = NewMemoryCounter()
	}
	if opts.QuotaCounter == nil {
		opts.QuotaCounter = NewMemoryCounter()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AuthCacheTTL == 0 {
		opts.AuthCacheTTL = DefaultAuthCacheTTL
	}
	e := &Enforcer{opts: opts}
	if opts.AuthCacheTTL > 0 {
		e.callers = newCallerCache(opts.AuthCacheTTL, opts.Now)
	}
	return e
}

// Route names the API a policy applies to.
type Route struct {
	// App, API and Path are the gateway route's.
	App, API, Path string
	// Component is the oda.Key ({namespace}.{name}) of the Component
	// serving it: API keys are made for it.
	Component string
}

// id names r's counters: one KV token, stable across restarts.
func (r Route) id() string {
	sum := sha256.Sum256([]byte(r.App + "\x00" + r.API))
	return hex.EncodeToString(sum[:8])
}

// Chain is a compiled policy: Wrap puts it in front of a handler.
type Chain struct {
	wraps []func(http.Handler) http.Handler
}

// Wrap returns next behind the chain's policies.
func (c *Chain) Wrap(next http.Handler) http.Handler {
	for i := len(c.wraps) - 1; i >= 0; i-- {
		next = c.wraps[i](next)
	}
	return next
}

// Compile builds the chain of spec for route: it reads and checks the
// OpenAPI document now, so a route whose document is missing or invalid
// is refused when it is set, not at its first request.
func (e *Enforcer) Compile(ctx context.Context, route Route, spec policy.Spec) (*Chain, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("API %s: %w", route.API, err)
	}
	c := &Chain{}
	if s := spec.CORS; s != nil {
		c.wraps = append(c.wraps, func(next http.Handler) http.Handler { return cors(s, next) })
	}
	if s := spec.Guard; s != nil {
		c.wraps = append(c.wraps, func(next http.Handler) http.Handler { return e.guard(route, s, next) })
	}
	if s := spec.APIKey; s != nil {
		c.wraps = append(c.wraps, func(next http.Handler) http.Handler { return e.apiKey(route, s, next) })
	}
	if s := spec.RateLimit; s != nil {
		c.wraps = append(c.wraps, func(next http.Handler) http.Handler { return e.rateLimit(route, s, next) })
	}
	if s := spec.Quota; s != nil {
		c.wraps = append(c.wraps, func(next http.Handler) http.Handler { return e.quota(route, s, next) })
	}
	if s := spec.OAS; s != nil {
		v, err := e.openAPI(ctx, route, s, spec.APIKey)
		if err != nil {
			return nil, fmt.Errorf("API %s: OASValidation: %w", route.API, err)
		}
		c.wraps = append(c.wraps, v.wrap)
	}
	return c, nil
}
