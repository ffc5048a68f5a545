package identityrpc

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// Package is the WIT package served, with its version: a new version of
// wit/identity.wit changes it here and in Instance.
const Package = "wasmcanvas:identity@0.1.0"

// Instance is the wRPC instance name of one interface of Package, e.g.
// "wasmcanvas:identity/tokens@0.1.0".
func Instance(iface string) string { return "wasmcanvas:identity/" + iface + "@0.1.0" }

// Error is a WIT error of wasmcanvas:identity/tokens as the Client
// returns it: Kind is auth.TokensUnavailable or auth.TokensInvalid.
type Error struct {
	Kind    string
	Message string
}

func (e *Error) Error() string { return "wasmcanvas:identity: " + e.Kind + ": " + e.Message }

// errorCases are the cases of the WIT variant error, in WIT order.
var errorCases = []string{auth.TokensUnavailable, auth.TokensInvalid}

// function is one WIT function: decode reads its params tuple and returns
// the call, which encodes the ok side of result<T, error> or fails.
type function struct {
	iface, name string
	decode      func(d *wire.Decoder) call
}

type call func(ctx context.Context, t auth.Tokens, r *wire.Encoder) error

// functions are wit/identity.wit's functions in WIT order; wit_test.go
// checks none is missing.
var functions = []function{
	{"tokens", "access-token", func(d *wire.Decoder) call {
		audience := d.Str()
		return func(ctx context.Context, t auth.Tokens, r *wire.Encoder) error {
			tok, err := t.AccessToken(ctx, audience)
			if err != nil {
				return err
			}
			r.Result(true)
			r.Str(tok)
			return nil
		}
	}},
	{"tokens", "verify", func(d *wire.Decoder) call {
		token := d.Str()
		return func(ctx context.Context, t auth.Tokens, r *wire.Encoder) error {
			c, err := t.Verify(ctx, token)
			if err != nil {
				return err
			}
			r.Result(true)
			encodeClaims(r, c)
			return nil
		}
	}},
}

// encodeError writes the error side of a result.
func encodeError(r *wire.Encoder, kind, message string) {
	r.Result(false)
	for i, c := range errorCases {
		if c == kind {
			r.Case(uint32(i))
		}
	}
	r.Str(message)
}

func decodeError(d *wire.Decoder) *Error {
	c := d.Case(uint32(len(errorCases)))
	msg := d.Str()
	if d.Err() != nil {
		return nil
	}
	return &Error{Kind: errorCases[c], Message: msg}
}

// encodeClaims writes the record claims; a zero expiry is 0.
func encodeClaims(r *wire.Encoder, c auth.Claims) {
	r.Str(c.Subject)
	r.Str(c.Issuer)
	encodeStrings(r, c.Audience)
	encodeStrings(r, c.Roles)
	var exp uint64
	if !c.ExpiresAt.IsZero() && c.ExpiresAt.Unix() > 0 {
		exp = uint64(c.ExpiresAt.Unix())
	}
	r.U64(exp)
}

func encodeStrings(r *wire.Encoder, ss []string) {
	r.ListLen(len(ss))
	for _, s := range ss {
		r.Str(s)
	}
}

func decodeStrings(d *wire.Decoder) []string {
	n := d.ListLen()
	if n == 0 || d.Err() != nil {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		out = append(out, d.Str())
		if d.Err() != nil {
			return nil
		}
	}
	return out
}

// decodeClaims reads the record claims.
func decodeClaims(d *wire.Decoder) auth.Claims {
	c := auth.Claims{Subject: d.Str(), Issuer: d.Str(), Audience: decodeStrings(d), Roles: decodeStrings(d)}
	if exp := d.U64(); exp > 0 {
		c.ExpiresAt = unix(exp)
	}
	return c
}

func describe(fn function) string { return fmt.Sprintf("%s.%s", Instance(fn.iface), fn.name) }

// unix is the time of a WIT expires-at (seconds since the epoch).
func unix(s uint64) time.Time {
	if s > math.MaxInt64/2 {
		s = math.MaxInt64 / 2
	}
	return time.Unix(int64(s), 0)
}
