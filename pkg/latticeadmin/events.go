package latticeadmin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// Event is one host event as it arrived: its subject, its envelope, and
// the raw message (kept for events that are not CloudEvents, whose
// envelope is then empty and whose DecodeErr says why).
type Event struct {
	Subject   string
	Name      string
	Envelope  CloudEvent
	Raw       []byte
	DecodeErr error
}

// EventName turns a --type value into the event name that ends the
// subject: "labels_changed" stays, "com.wasmcloud.lattice.labels_changed"
// loses its CloudEvents type prefix.
func EventName(typ string) (string, error) {
	name := strings.TrimPrefix(typ, subject.HostEventTypePrefix)
	if name == "" || strings.ContainsAny(name, ".*> \t\r\n") {
		return "", fmt.Errorf("event type %q: want an event name such as component_scaled or labels_changed (see CONTROL-INTERFACE.md)", typ)
	}
	return name, nil
}

// Events delivers the lattice's host events to fn, in arrival order, until
// ctx ends (then it returns nil) or fn returns an error (returned). With
// types, only those events are subscribed to, so the server filters them.
// ready, when not nil, is called with the subjects once the server has the
// subscriptions: an event published after that is delivered.
func (c *Client) Events(ctx context.Context, types []string, ready func(subjects []string), fn func(Event) error) error {
	subjects := []string{subject.HostEventsAll(c.lattice)}
	if len(types) > 0 {
		subjects = subjects[:0]
		for _, t := range types {
			name, err := EventName(t)
			if err != nil {
				return err
			}
			subjects = append(subjects, subject.HostEvent(c.lattice, name))
		}
	}
	ch := make(chan *nats.Msg, 1024)
	for _, s := range subjects {
		sub, err := c.nc.ChanSubscribe(s, ch)
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", s, err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	if err := c.nc.FlushWithContext(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("subscribe to host events: %w", err)
	}
	if ready != nil {
		ready(subjects)
	}
	prefix := subject.HostEvent(c.lattice, "")
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			ev := Event{Subject: m.Subject, Name: strings.TrimPrefix(m.Subject, prefix), Raw: m.Data}
			if err := json.Unmarshal(m.Data, &ev.Envelope); err != nil {
				ev.DecodeErr = fmt.Errorf("not a CloudEvent: %w", err)
			} else if ev.Envelope.Type == "" {
				ev.DecodeErr = errors.New("not a CloudEvent: no type")
			}
			if err := fn(ev); err != nil {
				return err
			}
		}
	}
}
