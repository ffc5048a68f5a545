package wrpc

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/wrpc/wire"
)

// A Client invokes functions served under one prefix ({lattice}.{target}
// in wasmCloud, subject.WRPCPrefix). It is safe for concurrent use; Close
// ends the calls in flight.
type Client struct {
	nc     *nats.Conn
	prefix string
	inbox  *inbox
}

// NewClient subscribes to a private inbox on nc, the one subscription all
// its calls share.
func NewClient(nc *nats.Conn, prefix string) (*Client, error) {
	ib, err := newInbox(nc, maxHeldBytes)
	if err != nil {
		return nil, err
	}
	return &Client{nc: nc, prefix: prefix, inbox: ib}, nil
}

// Close unsubscribes; calls in flight return ErrClosed.
func (c *Client) Close() error { return c.inbox.close() }

// Invoke calls fn of instance (e.g. "wasmcanvas:observe/metrics@0.1.0",
// "counter-add") with params, the encoded params tuple, and the NATS
// headers h (nil for none; see HeaderSourceID and the others). It returns
// the encoded results: every byte the server wrote before it closed the
// results channel, to decode with wire.NewDecoder.
//
// A call nothing serves fails with ErrNoResponders; a call the server
// failed with a *RemoteError, or, from an upstream server, with results
// that end early (wire.ErrTruncated when decoded); results of more than
// MaxValueBytes fail it with wire.ErrTooLarge. Without a deadline in ctx
// the call is bounded by DefaultTimeout.
func (c *Client) Invoke(ctx context.Context, instance, fn string, params []byte, h nats.Header) ([]byte, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	inv := subject.WRPCInvoke(c.prefix, instance, fn)
	r := c.inbox.newSubject()
	results := subject.WRPCResults(r)
	q := c.inbox.open(r, results)
	defer c.inbox.release(q, r, results)

	first := params[:min(len(params), firstChunk(c.nc, r, h))]
	if err := c.nc.PublishMsg(&nats.Msg{Subject: inv, Reply: r, Header: h, Data: first}); err != nil {
		return nil, fmt.Errorf("wrpc: invoke %s: %w", inv, err)
	}
	var out []byte
	accepted := false
	for {
		m, err := q.next(ctx)
		switch {
		case err != nil && !accepted && errors.Is(err, context.DeadlineExceeded):
			return nil, fmt.Errorf("wrpc: invoke %s: no server accepted the call in time: %w", inv, err)
		case err != nil:
			return nil, fmt.Errorf("wrpc: invoke %s: %w", inv, err)
		case m.Subject == r:
			if accepted {
				continue // a second accept (two servers answered) changes nothing
			}
			if err := handshake(m); err != nil {
				return nil, fmt.Errorf("wrpc: invoke %s: %w", inv, err)
			}
			accepted = true
			// Params that did not fit go to the server's inbox, and the
			// params stream is always closed, as upstream clients do.
			if err := publishStream(c.nc, subject.WRPCParams(m.Reply), params[len(first):], nil); err != nil {
				return nil, fmt.Errorf("wrpc: invoke %s: send params: %w", inv, err)
			}
		case len(m.Data) > 0:
			if len(out)+len(m.Data) > MaxValueBytes {
				return nil, fmt.Errorf("wrpc: invoke %s: %w: the server sent more than %d bytes of results", inv, wire.ErrTooLarge, MaxValueBytes)
			}
			out = append(out, m.Data...)
		default: // the empty message that ends the results
			if msg := m.Header.Get(HeaderError); msg != "" {
				return nil, fmt.Errorf("wrpc: invoke %s: %w", inv, &RemoteError{Message: msg})
			}
			return out, nil
		}
	}
}

// handshake checks the server's accept: no NATS status, a reply subject.
func handshake(m *nats.Msg) error {
	switch status := m.Header.Get("Status"); {
	case status == "503":
		return ErrNoResponders
	case status != "":
		return fmt.Errorf("NATS answered with status %s %s", status, m.Header.Get("Description"))
	case m.Reply == "":
		return errors.New("the server's accept has no reply subject: it is not a wRPC 0.0.1 server")
	}
	return nil
}

// firstChunk is how many params bytes fit in the invocation message: the
// server's max_payload less the reply subject and the headers, as
// upstream reckons it.
func firstChunk(nc *nats.Conn, reply string, h nats.Header) int {
	n := int(nc.MaxPayload()) - len(reply)
	if h != nil {
		n -= len("NATS/1.0\r\n") + len("\r\n")
		for k, vs := range h {
			for _, v := range vs {
				n -= len(k) + len(": ") + len(v) + len("\r\n")
			}
		}
	}
	return max(n, 0)
}
