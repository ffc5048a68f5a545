package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/enforce"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policykv"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
)

// BenchmarkPolicies compares requests through the gateway to the echo
// component with a guard (an ES256 bearer token verified on every
// request) and a rate limit (in memory, never reached) on, and with no
// policy, alternating request by request in one run. Goal: on/off ≤ 1.3.
func BenchmarkPolicies(b *testing.B) {
	comp := echoComponent(b)
	iss := newTestIssuer(b)
	token := "Bearer " + iss.token(b, "bench", "Admin")
	spec := policy.Spec{
		Guard:     &policy.Guard{Roles: []string{"Admin"}},
		RateLimit: &policy.RateLimit{By: policy.Identifier{Kind: policy.ByIP}, Limit: 1 << 40, Interval: time.Second},
	}
	gateways := map[bool]*Gateway{
		true:  New(Options{Policy: enforce.Options{Authenticator: auth.Bearer(iss)}}),
		false: New(Options{}),
	}
	for on, g := range gateways {
		r := Route{API: "catalog", Path: catalogPath, Handler: comp, Source: catalog}
		if on {
			r.Policy = spec
		}
		if err := g.SetRoutes("shop-catalog", []Route{r}); err != nil {
			b.Fatal(err)
		}
	}
	const path = catalogPath + "/items"
	body := strings.Repeat("x", 256)
	urls := map[bool]string{true: serve(b, gateways[true]) + path, false: serve(b, gateways[false]) + path}
	b.Run("http", func(b *testing.B) {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}
		alternate(b, func(on bool) time.Duration {
			return postEcho(b, c, urls[on], body, http.Header{"Authorization": {token}})
		})
	})
	inproc := func(gateways map[bool]*Gateway) func(b *testing.B) {
		return func(b *testing.B) {
			alternate(b, func(on bool) time.Duration {
				return serveEcho(b, gateways[on], path, body, http.Header{"Authorization": {token}})
			})
		}
	}
	b.Run("inproc", inproc(gateways))
	// verify-each turns the guard's caller cache off: every request pays
	// the token's signature check.
	each := New(Options{Policy: enforce.Options{Authenticator: auth.Bearer(iss), AuthCacheTTL: -1}})
	if err := each.SetRoutes("shop-catalog", []Route{{API: "catalog", Path: catalogPath, Handler: comp, Source: catalog, Policy: spec}}); err != nil {
		b.Fatal(err)
	}
	b.Run("inproc-verify-each", inproc(map[bool]*Gateway{true: each, false: gateways[false]}))
	// inproc-kv counts the rate limit in JetStream KV (embedded NATS on
	// loopback), as gateways sharing their windows do: two round trips a
	// request.
	js := jetStream(b, testkit.NATS(b, embedded.Config{}))
	rc, err := policykv.RateCounter(context.Background(), js)
	if err != nil {
		b.Fatal(err)
	}
	kv := New(Options{Policy: enforce.Options{Authenticator: auth.Bearer(iss), RateCounter: rc}})
	if err := kv.SetRoutes("shop-catalog", []Route{{API: "catalog", Path: catalogPath, Handler: comp, Source: catalog, Policy: spec}}); err != nil {
		b.Fatal(err)
	}
	b.Run("inproc-kv", inproc(map[bool]*Gateway{true: kv, false: gateways[false]}))
}
