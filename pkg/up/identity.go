package up

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// errNoIssuer answers a token check or request made before canvasd (and
// so the embedded issuer) has started; the gateway and the deployer start
// before it, though no Component is served until canvasd deploys it.
var errNoIssuer = errors.New("the canvas's identity provider has not started yet")

// canvasIdentity gives the gateway and the runtime canvasd's identity:
// tokens for a Component's API carry its audience (identity.ClientID),
// and a component gets tokens as its Component's client. It reads canvasd
// at each use, as canvasd starts after the parts that hold it.
type canvasIdentity struct{ d atomic.Pointer[daemon.Daemon] }

// authenticatorFor is enforce.Options.AuthenticatorFor: bearer tokens
// whose audience is the Component's client id.
func (ci *canvasIdentity) authenticatorFor(component string) auth.Authenticator {
	k, err := oda.ParseKey(component)
	if err != nil {
		return nil // not a Component's route: the gateway's default (none: 503)
	}
	v := audienceVerifier{ci, identity.ClientID(k.Namespace, k.Name)}
	return auth.AuthenticatorFunc(func(r *http.Request) (auth.Principal, error) {
		return auth.Bearer(v).Authenticate(r)
	})
}

// tokens is local.Options.Identity: the Component's verify checks tokens
// for its own audience, and access-token gets tokens as its client.
func (ci *canvasIdentity) tokens(namespace, component string) auth.Tokens {
	id := identity.ClientID(namespace, component)
	return auth.Tokens{Verifier: audienceVerifier{ci, id}, Source: &clientSource{ci: ci, client: id}}
}

type audienceVerifier struct {
	ci       *canvasIdentity
	audience string
}

func (v audienceVerifier) Verify(ctx context.Context, token string) (auth.Claims, error) {
	d := v.ci.d.Load()
	if d == nil || d.Verifier() == nil {
		return auth.Claims{}, errNoIssuer
	}
	return d.Verifier().ForAudience(v.audience).Verify(ctx, token)
}

// clientSource keeps the issuer's source once canvasd has one: it
// reuses tokens until shortly before they expire.
type clientSource struct {
	ci     *canvasIdentity
	client string
	src    atomic.Pointer[auth.TokenSource]
}

func (s *clientSource) AccessToken(ctx context.Context, audience string) (string, error) {
	if p := s.src.Load(); p != nil {
		return (*p).AccessToken(ctx, audience)
	}
	d := s.ci.d.Load()
	if d == nil {
		return "", errNoIssuer
	}
	src := d.TokenSource(s.client)
	if src == nil {
		return "", errors.New("the canvas uses an external OIDC issuer: it issues no tokens for components")
	}
	s.src.CompareAndSwap(nil, &src)
	return (*s.src.Load()).AccessToken(ctx, audience)
}
