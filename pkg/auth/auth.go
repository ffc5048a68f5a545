// Package auth is the one seam between who a caller is and what may serve
// it. An Authenticator (pkg/identity's bearer-token verifier, the local
// admin credential of `canvas up`, or both chained) turns a request into a
// Principal; Require guards a handler with it and answers failures as RFC
// 9457 problems with a WWW-Authenticate challenge. canvasd's API, the kube
// API and the gateway's exposed-API guard all use it, so a rule about
// tokens is written once. It is pure but for the local admin credential
// file (admin.go).
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/problem"
)

// Roles of canvasd's own API (the Component store, the kube API).
const (
	// RoleRead may list, get and watch Components.
	RoleRead = "canvas:read"
	// RoleWrite may create, replace, patch and delete them (it implies read).
	RoleWrite = "canvas:write"
)

// Principal is a verified caller.
type Principal struct {
	// Subject is the token's sub (or "admin" for the local credential).
	Subject string `json:"subject"`
	// Client is the OAuth client the token was issued to (azp/client_id).
	Client string `json:"client,omitempty"`
	// Issuer is the token's iss ("local" for the local credential).
	Issuer string `json:"issuer,omitempty"`
	// Roles the caller holds.
	Roles []string `json:"roles,omitempty"`
	// Expires is when the credential stops being valid (zero: it does
	// not expire, as the local admin credential); a cache of verified
	// callers must not keep one past it.
	Expires time.Time `json:"expires,omitzero"`
}

// Has reports whether p holds role; RoleWrite implies RoleRead.
func (p Principal) Has(role string) bool {
	if slices.Contains(p.Roles, role) {
		return true
	}
	return role == RoleRead && slices.Contains(p.Roles, RoleWrite)
}

// Authenticator verifies the credentials a request carries.
type Authenticator interface {
	// Authenticate returns the caller, or an error: ErrNoCredentials when
	// the request carries none, an *Error for credentials it refuses.
	Authenticate(r *http.Request) (Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (Principal, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(r *http.Request) (Principal, error) { return f(r) }

// ErrNoCredentials means the request carried no credentials this
// authenticator reads.
var ErrNoCredentials = errors.New("no credentials: send Authorization: Bearer <token>")

// Error is a refused credential. Reason goes to the client (never the token
// or a key); Code is the RFC 6750 error code for the challenge.
type Error struct {
	Code   string // invalid_token, invalid_request, insufficient_scope
	Reason string
}

func (e *Error) Error() string { return e.Code + ": " + e.Reason }

// Invalid is an *Error with code invalid_token.
func Invalid(format string, args ...any) error {
	return &Error{Code: "invalid_token", Reason: fmt.Sprintf(format, args...)}
}

// Chain tries each authenticator in turn: the first that reads credentials
// from the request decides (success or refusal); ErrNoCredentials only when
// none read any.
func Chain(as ...Authenticator) Authenticator {
	return AuthenticatorFunc(func(r *http.Request) (Principal, error) {
		for _, a := range as {
			p, err := a.Authenticate(r)
			if errors.Is(err, ErrNoCredentials) {
				continue
			}
			return p, err
		}
		return Principal{}, ErrNoCredentials
	})
}

// BearerToken returns the token of an "Authorization: Bearer" header, or
// ErrNoCredentials. The scheme is case-insensitive (RFC 7235).
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", ErrNoCredentials
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoCredentials
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", &Error{Code: "invalid_request", Reason: "empty bearer token"}
	}
	return tok, nil
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the Principal Require put in ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// Require serves next only to callers a authenticates and who hold role
// (any authenticated caller when role is ""). It answers 401 with a
// WWW-Authenticate challenge for missing or refused credentials and 403
// for a missing role, as RFC 9457 problems. realm names the protected API
// in the challenge. The Principal reaches next through the request context.
func Require(a Authenticator, realm, role string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			Deny(w, r, realm, err)
			return
		}
		if role != "" && !p.Has(role) {
			Forbid(w, r, realm, "role "+role+" required", fmt.Sprintf("%s lacks the role %q this request needs", p.Subject, role))
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// Forbid answers an authenticated caller who lacks a role: 403 with an
// insufficient_scope challenge (reason) and a problem body (detail).
func Forbid(w http.ResponseWriter, r *http.Request, realm, reason, detail string) {
	w.Header().Set("WWW-Authenticate", challenge(realm, &Error{Code: "insufficient_scope", Reason: reason}))
	problem.Write(w, r, http.StatusForbidden, detail)
}

// Deny answers a failed authentication: 401 with the challenge of RFC 6750.
func Deny(w http.ResponseWriter, r *http.Request, realm string, err error) {
	var e *Error
	detail := "authentication required: send Authorization: Bearer <token>"
	if errors.As(err, &e) {
		detail = "credentials refused: " + e.Reason
	} else if !errors.Is(err, ErrNoCredentials) {
		// Not a verdict on the credentials: the verifier itself failed
		// (issuer unreachable). Say so without details.
		e = &Error{Code: "invalid_token", Reason: "could not verify the token"}
		detail = "credentials could not be verified now; retry later"
	}
	w.Header().Set("WWW-Authenticate", challenge(realm, e))
	problem.Write(w, r, http.StatusUnauthorized, detail)
}

// Challenge is the WWW-Authenticate value Deny sends for err, for a
// front end that answers 401 in its own body format (the kube API's
// Status objects).
func Challenge(realm string, err error) string {
	var e *Error
	if !errors.As(err, &e) && !errors.Is(err, ErrNoCredentials) {
		e = &Error{Code: "invalid_token", Reason: "could not verify the token"}
	}
	return challenge(realm, e)
}

func challenge(realm string, e *Error) string {
	c := `Bearer realm="` + quote(realm) + `"`
	if e != nil {
		c += `, error="` + e.Code + `", error_description="` + quote(e.Reason) + `"`
	}
	return c
}

// quote keeps a challenge parameter one quoted-string: no quotes,
// backslashes or control characters.
func quote(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return '\''
		}
		return r
	}, s)
}
