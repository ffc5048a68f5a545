package enforce

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/problem"
)

type consumerKey struct{}

// consumer is the API key's consumer Compile's apiKey put in ctx.
func consumer(ctx context.Context) string {
	s, _ := ctx.Value(consumerKey{}).(string)
	return s
}

// apiKey serves next to requests carrying a key made for route's
// Component and not revoked.
func (e *Enforcer) apiKey(route Route, k *policy.APIKey, next http.Handler) http.Handler {
	keys := e.opts.APIKeys
	where := fmt.Sprintf("the header or query parameter %q", k.Name)
	switch k.In {
	case policy.InHeader:
		where = fmt.Sprintf("the header %q", k.Name)
	case policy.InQuery:
		where = fmt.Sprintf("the query parameter %q", k.Name)
	}
	challenge := fmt.Sprintf(`APIKey realm=%q, name=%q`, route.Component, k.Name)
	deny := func(w http.ResponseWriter, r *http.Request, detail string) {
		w.Header().Set("WWW-Authenticate", challenge)
		problem.Write(w, r, http.StatusUnauthorized, detail)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if keys == nil {
			problem.Write(w, r, http.StatusServiceUnavailable, "this API needs an API key and the gateway has no key store configured")
			return
		}
		presented := ""
		if k.In != policy.InQuery {
			presented = r.Header.Get(k.Name)
		}
		if presented == "" && k.In != policy.InHeader {
			presented = r.URL.Query().Get(k.Name)
		}
		if presented == "" {
			deny(w, r, "an API key is required in "+where)
			return
		}
		got, err := keys.LookupAPIKey(r.Context(), policy.HashAPIKey(presented))
		switch {
		case errors.Is(err, ErrUnknownAPIKey), err == nil && got.Component != route.Component:
			deny(w, r, "the API key is not valid for this API (unknown or revoked)")
			return
		case err != nil:
			e.opts.Logger.Warn("gateway: API key lookup failed", zap.String("api", route.API), zap.Error(err))
			w.Header().Set("Retry-After", "1")
			problem.Write(w, r, http.StatusServiceUnavailable, "the API key could not be checked now; retry later")
			return
		}
		r.Header.Set(HeaderConsumer, got.Consumer)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), consumerKey{}, got.Consumer)))
	})
}
