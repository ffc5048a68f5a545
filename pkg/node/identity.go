package node

import (
	"fmt"
	"net/url"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// IssuerAuthenticators is enforce.Options.AuthenticatorFor of a node given
// an OpenID issuer (`canvas node --oidc-issuer URL`, found by discovery):
// a guarded API of Component ns/name accepts that issuer's bearer tokens
// whose audience is the Component's client (identity.ClientID), as
// `canvas up` checks its embedded issuer's. A route of no Component gets
// none (503).
func IssuerAuthenticators(issuer string) (func(component string) auth.Authenticator, error) {
	if u, err := url.Parse(issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("--oidc-issuer %q: not an http(s) URL: give the issuer's URL, its iss (e.g. https://idp.example.com/realms/canvas)", issuer)
	}
	base, err := identity.NewVerifier(identity.VerifierOptions{Issuer: issuer, Audience: identity.CanvasAudience})
	if err != nil {
		return nil, fmt.Errorf("--oidc-issuer: %w", err)
	}
	return func(component string) auth.Authenticator {
		k, err := oda.ParseKey(component)
		if err != nil {
			return nil
		}
		return auth.Bearer(base.ForAudience(identity.ClientID(k.Namespace, k.Name)))
	}, nil
}
