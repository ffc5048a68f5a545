package wasi

import (
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
)

// IdentityInterfaces serve wasmcanvas:identity/tokens (wit/identity.wit)
// from Config.Identity, with the request's Ctx.Context: the same
// auth.Tokens canvas-bridge serves over wRPC, called in-process. An
// *auth.Error reaches the guest as the WIT case invalid, any other error
// as unavailable (auth.TokensError; what it keeps from the guest goes to
// the component's log, never the token). The zero Config.Identity is a
// component that is not linked: every call answers unavailable, saying so.
func IdentityInterfaces() map[string]Definer {
	return map[string]Definer{"wasmcanvas:identity/tokens": defineIdentityTokens}
}

func defineIdentityTokens(li *cm.LinkerInstance) error {
	return all(
		fn(li, "access-token", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			tok, err := c.cfg.Identity.AccessToken(c.Context, a[0].(string))
			if err != nil {
				return c.identityError("access-token", err), nil
			}
			return cm.Result{Value: tok}, nil
		}),
		fn(li, "verify", func(c *Ctx, a []cm.Value) (cm.Value, error) {
			cl, err := c.cfg.Identity.Verify(c.Context, a[0].(string))
			if err != nil {
				return c.identityError("verify", err), nil
			}
			return cm.Result{Value: claimsValue(cl)}, nil
		}),
	)
}

// identityError is the error side of a tokens function's result for err.
func (c *Ctx) identityError(fn string, err error) cm.Value {
	kind, msg, logged := auth.TokensError(err)
	if logged {
		c.log.Warn("wasmcanvas:identity/tokens#"+fn+" failed", zap.Error(err))
	}
	return cm.Result{Err: true, Value: cm.Variant{Case: kind, Value: msg}}
}

// claimsValue is the WIT record claims; a zero expiry is 0.
func claimsValue(cl auth.Claims) cm.Value {
	var exp uint64
	if !cl.ExpiresAt.IsZero() && cl.ExpiresAt.After(time.Unix(0, 0)) {
		exp = uint64(cl.ExpiresAt.Unix())
	}
	return cm.Record{
		{Name: "subject", Value: cl.Subject},
		{Name: "issuer", Value: cl.Issuer},
		{Name: "audience", Value: stringList(cl.Audience)},
		{Name: "roles", Value: stringList(cl.Roles)},
		{Name: "expires-at", Value: exp},
	}
}

func stringList(ss []string) cm.List {
	if len(ss) == 0 {
		return nil
	}
	l := make(cm.List, len(ss))
	for i, s := range ss {
		l[i] = s
	}
	return l
}
