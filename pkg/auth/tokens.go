package auth

import (
	"context"
	"net/http"
	"time"
)

// Claims are what a verified token says (the record `claims` of
// wit/identity.wit, wasmcanvas:identity/tokens).
type Claims struct {
	Subject   string
	Issuer    string
	Client    string // azp or client_id
	Audience  []string
	Roles     []string
	ExpiresAt time.Time
}

// Principal is the caller the claims name.
func (c Claims) Principal() Principal {
	return Principal{Subject: c.Subject, Client: c.Client, Issuer: c.Issuer, Roles: c.Roles, Expires: c.ExpiresAt}
}

// Verifier checks a bearer token: signature, algorithm, issuer, audience
// and times (pkg/identity holds the one implementation of the rules). It
// returns an *Error for a token it refuses and another error when it could
// not decide (issuer unreachable).
type Verifier interface {
	Verify(ctx context.Context, token string) (Claims, error)
}

// TokenSource gets access tokens for a component's own calls (the
// client-credentials grant), one audience at a time.
type TokenSource interface {
	AccessToken(ctx context.Context, audience string) (string, error)
}

// Bearer authenticates requests carrying "Authorization: Bearer" with v.
func Bearer(v Verifier) Authenticator {
	return AuthenticatorFunc(func(r *http.Request) (Principal, error) {
		tok, err := BearerToken(r)
		if err != nil {
			return Principal{}, err
		}
		c, err := v.Verify(r.Context(), tok)
		if err != nil {
			return Principal{}, err
		}
		return c.Principal(), nil
	})
}
