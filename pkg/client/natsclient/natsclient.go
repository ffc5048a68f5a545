// Package natsclient is the canvasd API client over the NATS micro service
// canvas.api.>: a client.Client with the same behaviour as the HTTP one, for
// programs that reach canvasd only through the lattice. It lives apart from
// pkg/client so a program that speaks HTTP links no NATS.
package natsclient

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// Client is a client.Client over the canvas.api micro service.
type Client struct {
	nc      *nats.Conn
	owned   bool
	timeout time.Duration
}

// New returns a client that sends requests over nc. With owned set, Close
// closes nc.
func New(nc *nats.Conn, owned bool) *Client {
	return &Client{nc: nc, owned: owned, timeout: client.DefaultTimeout}
}

func (c *Client) request(ctx context.Context, op string, hdr nats.Header, body []byte, out any) (nats.Header, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	subj := subject.CanvasAPI(wire.MicroGroup, op)
	msg := &nats.Msg{Subject: subj, Data: body, Header: hdr}
	resp, err := c.nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("canvas API over NATS (%s at %s): %w (is canvasd running and connected to this NATS?)", subj, c.nc.ConnectedUrlRedacted(), err)
	}
	if code := resp.Header.Get(micro.ErrorCodeHeader); code != "" {
		var p wire.Problem
		if json.Unmarshal(resp.Data, &p) == nil && p.Status != 0 {
			return resp.Header, &p
		}
		status, _ := strconv.Atoi(code)
		return resp.Header, &wire.Problem{Status: status, Title: resp.Header.Get(micro.ErrorHeader), Detail: resp.Header.Get(micro.ErrorHeader)}
	}
	if err := json.Unmarshal(resp.Data, out); err != nil {
		return resp.Header, fmt.Errorf("%s: reading the reply: %w", subj, err)
	}
	return resp.Header, nil
}

func ref(namespace, name, rv string) []byte {
	if namespace == "" {
		namespace = oda.DefaultNamespace
	}
	data, _ := json.Marshal(wire.MicroRef{Namespace: namespace, Name: name, ResourceVersion: rv}) // strings always marshal
	return data
}

// Get implements client.Client.
func (c *Client) Get(ctx context.Context, namespace, name string) (*oda.Component, error) {
	var out oda.Component
	if _, err := c.request(ctx, wire.MicroGet, nil, ref(namespace, name, ""), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// List implements client.Client.
func (c *Client) List(ctx context.Context, namespace string) ([]*oda.Component, error) {
	body, _ := json.Marshal(wire.MicroListRequest{Namespace: namespace})
	var out wire.ComponentList
	if _, err := c.request(ctx, wire.MicroList, nil, body, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// Apply implements client.Client.
func (c *Client) Apply(ctx context.Context, file string, body []byte) (*oda.Component, bool, error) {
	return c.apply(ctx, file, body, false)
}

// DryApply implements client.Client.
func (c *Client) DryApply(ctx context.Context, file string, body []byte) (*oda.Component, bool, error) {
	return c.apply(ctx, file, body, true)
}

func (c *Client) apply(ctx context.Context, file string, body []byte, dry bool) (*oda.Component, bool, error) {
	hdr := nats.Header{}
	if file != "" {
		hdr.Set(wire.HeaderFileName, file)
	}
	if dry {
		hdr.Set(wire.HeaderDryRun, wire.DryRunAll)
	}
	var out oda.Component
	rh, err := c.request(ctx, wire.MicroApply, hdr, body, &out)
	if err != nil {
		return nil, false, err
	}
	return &out, rh.Get(wire.HeaderCreated) == "true", nil
}

// Delete implements client.Client.
func (c *Client) Delete(ctx context.Context, namespace, name, resourceVersion string) (*oda.Component, error) {
	var out oda.Component
	if _, err := c.request(ctx, wire.MicroDelete, nil, ref(namespace, name, resourceVersion), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Status implements client.Client.
func (c *Client) Status(ctx context.Context, namespace, name string) (*oda.ComponentStatus, error) {
	var out oda.ComponentStatus
	if _, err := c.request(ctx, wire.MicroStatus, nil, ref(namespace, name, ""), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Events implements client.Client.
func (c *Client) Events(ctx context.Context, namespace, name string) ([]wire.Event, error) {
	var out wire.EventList
	if _, err := c.request(ctx, wire.MicroEvents, nil, ref(namespace, name, ""), &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// watchBuffer is how many watch messages may wait while fn runs. NATS
// drops what arrives beyond it; the watch then ends with client.ErrWatchEnded,
// never skips a change silently.
const watchBuffer = 256

// Watch implements client.Client: it subscribes to the watch subjects first, then
// lists, so no change falls between the initial state and the stream (a
// change may arrive twice, which a level-based reader does not mind).
// Core NATS does not keep messages, so the watch ends with client.ErrWatchEnded
// whenever one may have been lost: fn fell more than watchBuffer messages
// behind, the connection broke, or the server announced a break in its
// stream on wire.WatchEndedSubject.
func (c *Client) Watch(ctx context.Context, namespace, name string, fn func(wire.WatchEvent) error) error {
	subj := wire.WatchWildcard
	if namespace != "" {
		n := name
		if n == "" {
			n = "*"
		}
		subj = wire.WatchSubject(namespace, n)
	}
	status := c.nc.StatusChanged(nats.DISCONNECTED, nats.RECONNECTING, nats.CLOSED)
	defer c.nc.RemoveStatusListener(status)
	ch := make(chan *nats.Msg, watchBuffer)
	var subs []*nats.Subscription
	defer func() {
		for _, sub := range subs {
			_ = sub.Unsubscribe()
		}
	}()
	for _, s := range []string{subj, wire.WatchEndedSubject} {
		sub, err := c.nc.ChanSubscribe(s, ch)
		if err != nil {
			return fmt.Errorf("watch over NATS: subscribe %s: %w", s, err)
		}
		subs = append(subs, sub)
	}
	items, err := c.List(ctx, namespace)
	if err != nil {
		return err
	}
	for _, it := range items {
		if name == "" || it.Metadata.Name == name {
			if err := fn(wire.WatchEvent{Type: wire.WatchAdded, Object: it}); err != nil {
				return err
			}
		}
	}
	if err := fn(wire.WatchEvent{Type: wire.WatchBookmark}); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case st := <-status:
			return fmt.Errorf("%w: the NATS connection is %s, events sent meanwhile are lost", client.ErrWatchEnded, st)
		case m := <-ch:
			// A drop needs a full channel, so a message always follows it.
			if err := dropped(subs); err != nil {
				return err
			}
			if m.Subject == wire.WatchEndedSubject {
				return fmt.Errorf("%w: the server's event stream %s", client.ErrWatchEnded, m.Data)
			}
			var ev wire.WatchEvent
			if err := json.Unmarshal(m.Data, &ev); err != nil || ev.Object == nil {
				continue // not a watch event; nothing to show
			}
			if name != "" && ev.Object.Metadata.Name != name {
				continue
			}
			if err := fn(ev); err != nil {
				return err
			}
		}
	}
}

// dropped returns client.ErrWatchEnded when NATS dropped a message of subs (the
// consumer was too slow) or a subscription is gone.
func dropped(subs []*nats.Subscription) error {
	for _, sub := range subs {
		n, err := sub.Dropped()
		if err != nil {
			return fmt.Errorf("%w: subscription %s: %v", client.ErrWatchEnded, sub.Subject, err)
		}
		if n > 0 {
			return fmt.Errorf("%w: the watch read too slowly and NATS dropped %d events of %s", client.ErrWatchEnded, n, sub.Subject)
		}
	}
	return nil
}

// Close implements client.Client.
func (c *Client) Close() error {
	if c.owned {
		c.nc.Close()
	}
	return nil
}

var _ client.Client = (*Client)(nil)
