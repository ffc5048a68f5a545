package identityrpc

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// Client calls wasmcanvas:identity over wRPC as the component SourceID:
// the caller's side of the encoding the handlers decode, for Go callers
// and tests. A WIT error comes back as an *Error; a failed call as the
// wrpc error.
type Client struct {
	RPC      *wrpc.Client // on {lattice}.{provider key}
	SourceID string
}

// invoke calls tokens.fn with one string param; ok reads the ok side.
func (c *Client) invoke(ctx context.Context, fn, param string, ok func(*wire.Decoder)) error {
	var e wire.Encoder
	e.Str(param)
	b, err := c.RPC.Invoke(ctx, Instance("tokens"), fn, e.Bytes(), nats.Header{wrpc.HeaderSourceID: {c.SourceID}})
	if err != nil {
		return err
	}
	d := wire.NewDecoder(b)
	var werr *Error
	if d.Result() {
		ok(d)
	} else {
		werr = decodeError(d)
	}
	if err := d.Finish(); err != nil {
		return fmt.Errorf("%s.%s: results do not match wit/identity.wit: %w", Instance("tokens"), fn, err)
	}
	if werr != nil {
		return werr
	}
	return nil
}

// AccessToken calls tokens.access-token.
func (c *Client) AccessToken(ctx context.Context, audience string) (string, error) {
	var tok string
	err := c.invoke(ctx, "access-token", audience, func(d *wire.Decoder) { tok = d.Str() })
	return tok, err
}

// Verify calls tokens.verify.
func (c *Client) Verify(ctx context.Context, token string) (auth.Claims, error) {
	var cl auth.Claims
	err := c.invoke(ctx, "verify", token, func(d *wire.Decoder) { cl = decodeClaims(d) })
	return cl, err
}
