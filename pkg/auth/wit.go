package auth

import (
	"context"
	"errors"
	"fmt"
)

// MaxTokenBytes bounds a bearer token: a longer one is refused before
// anything parses it (a real access token is a few KiB at most).
const MaxTokenBytes = 16 << 10

// maxAudienceBytes bounds access-token's audience, an API name or URL.
const maxAudienceBytes = 2 << 10

// ErrNotLinked is what Tokens answers a component that is not linked to
// wasmcanvas:identity (its ODA Component has no securityFunction).
var ErrNotLinked = errors.New("not linked to wasmcanvas:identity: give the ODA Component a securityFunction, which links its components to canvas-bridge's wasmcanvas:identity/tokens")

// Tokens is wasmcanvas:identity/tokens (wit/identity.wit) for one
// component, the one set of rules the runtime's host functions and
// canvas-bridge's wRPC handlers both call: verify goes to Verifier,
// access-token to Source, after the bounds on their arguments. The zero
// value is a component that is not linked: every call fails with
// ErrNotLinked.
type Tokens struct {
	Verifier Verifier
	Source   TokenSource
}

// Linked reports whether the component is linked to wasmcanvas:identity.
func (t Tokens) Linked() bool { return t.Verifier != nil || t.Source != nil }

// Verify checks a token presented to the component: one over
// MaxTokenBytes is refused (an *Error) without reaching the Verifier.
func (t Tokens) Verify(ctx context.Context, token string) (Claims, error) {
	if t.Verifier == nil {
		return Claims{}, t.notLinked("verify")
	}
	if len(token) > MaxTokenBytes {
		return Claims{}, Invalid("token of %d bytes is over the %d-byte limit", len(token), MaxTokenBytes)
	}
	if token == "" {
		return Claims{}, &Error{Code: "invalid_request", Reason: "empty token"}
	}
	return t.Verifier.Verify(ctx, token)
}

// AccessToken gets a client-credentials token for calling audience.
func (t Tokens) AccessToken(ctx context.Context, audience string) (string, error) {
	if t.Source == nil {
		return "", t.notLinked("access-token")
	}
	if audience == "" || len(audience) > maxAudienceBytes {
		return "", &Error{Code: "invalid_request", Reason: fmt.Sprintf("audience must be 1 to %d bytes, not %d", maxAudienceBytes, len(audience))}
	}
	return t.Source.AccessToken(ctx, audience)
}

// notLinked is ErrNotLinked, or for a component served one function
// only, a notServed error naming the other.
func (t Tokens) notLinked(fn string) error {
	if t.Linked() {
		return notServed(fn + ": the canvas has no issuer configured to serve this function to the component")
	}
	return ErrNotLinked
}

// notServed is an unavailable error whose text names nothing secret, so
// the component gets it as it is.
type notServed string

func (e notServed) Error() string { return string(e) }

// Kinds of wasmcanvas:identity/tokens' error, in the WIT's case order.
const (
	TokensUnavailable = "unavailable"
	TokensInvalid     = "invalid"
)

// TokensError is the WIT error case and message a component gets for err,
// a failure of Tokens: invalid with the Reason of an *Error (meant for the
// caller); unavailable otherwise, with a fixed message: a Verifier's or
// TokenSource's own error may name an issuer's address or a client, which
// belongs in the host's log (logged reports whether to log it there).
func TokensError(err error) (kind, message string, logged bool) {
	var e *Error
	switch {
	case errors.As(err, &e):
		return TokensInvalid, e.Reason, false
	case errors.Is(err, ErrNotLinked):
		return TokensUnavailable, ErrNotLinked.Error(), false
	case errors.As(err, new(notServed)):
		return TokensUnavailable, err.Error(), false
	default:
		return TokensUnavailable, "the issuer could not be reached or refused the request; retry later", true
	}
}
