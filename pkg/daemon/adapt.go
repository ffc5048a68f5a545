package daemon

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/wasmcanvas/wasmcanvas/pkg/api"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/kubeapi"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/reconcile"
	"github.com/wasmcanvas/wasmcanvas/pkg/store"
)

// storeErr maps the store's sentinels onto the API's, keeping the cause.
func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", api.ErrNotFound, err)
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%w: %w", api.ErrConflict, err)
	}
	return err
}

// StoreBackends adapts the desired-state and status stores to the
// interfaces the API server reads them through, as the daemon wires them.
func StoreBackends(d *store.Store[oda.Component], st *store.Store[oda.ComponentStatus]) (api.Desired, api.Statuses) {
	return desired{d}, statuses{st}
}

// desired adapts the desired-state store to api.Desired: the store
// revision becomes metadata.resourceVersion.
type desired struct{ s *store.Store[oda.Component] }

func component(e store.Entry[oda.Component]) *oda.Component {
	c := e.Value
	c.Metadata.Namespace, c.Metadata.Name = e.Namespace, e.Name
	c.Metadata.ResourceVersion = strconv.FormatUint(e.Revision, 10)
	return &c
}

func (d desired) Get(ctx context.Context, key oda.Key) (*oda.Component, error) {
	e, err := d.s.Get(ctx, key.Namespace, key.Name)
	if err != nil {
		return nil, storeErr(err)
	}
	return component(e), nil
}

func (d desired) List(ctx context.Context) ([]*oda.Component, error) {
	es, err := d.s.List(ctx, "")
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]*oda.Component, len(es))
	for i, e := range es {
		out[i] = component(e)
	}
	return out, nil
}

func (d desired) Put(ctx context.Context, c *oda.Component, rev uint64) (*oda.Component, error) {
	ns, name := c.Metadata.Namespace, c.Metadata.Name
	var (
		newRev uint64
		err    error
	)
	if rev == 0 {
		newRev, err = d.s.Create(ctx, ns, name, *c)
	} else {
		newRev, err = d.s.Update(ctx, ns, name, *c, rev)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	out := c.DeepCopy()
	out.Metadata.ResourceVersion = strconv.FormatUint(newRev, 10)
	return out, nil
}

func (d desired) Delete(ctx context.Context, key oda.Key, rev uint64) error {
	return storeErr(d.s.Delete(ctx, key.Namespace, key.Name, rev))
}

func (d desired) Watch(ctx context.Context) (<-chan api.DesiredChange, error) {
	return relay(ctx, d.s, func(ev store.Event[oda.Component]) api.DesiredChange {
		switch ev.Kind {
		case store.EventReplayDone:
			return api.DesiredChange{Synced: true}
		case store.EventDelete:
			return api.DesiredChange{Key: ev.Key(), Revision: ev.Revision}
		}
		return api.DesiredChange{Key: ev.Key(), Component: component(ev.Entry)}
	})
}

// statuses adapts the status store to api.Statuses.
type statuses struct {
	s *store.Store[oda.ComponentStatus]
}

func (st statuses) Get(ctx context.Context, key oda.Key) (*oda.ComponentStatus, error) {
	e, err := st.s.Get(ctx, key.Namespace, key.Name)
	if err != nil {
		return nil, storeErr(err)
	}
	return &e.Value, nil
}

func (st statuses) List(ctx context.Context) (map[oda.Key]*oda.ComponentStatus, error) {
	es, err := st.s.List(ctx, "")
	if err != nil {
		return nil, storeErr(err)
	}
	out := make(map[oda.Key]*oda.ComponentStatus, len(es))
	for _, e := range es {
		v := e.Value
		out[e.Key()] = &v
	}
	return out, nil
}

func (st statuses) Watch(ctx context.Context) (<-chan api.StatusChange, error) {
	return relay(ctx, st.s, func(ev store.Event[oda.ComponentStatus]) api.StatusChange {
		switch ev.Kind {
		case store.EventReplayDone:
			return api.StatusChange{Synced: true}
		case store.EventDelete:
			return api.StatusChange{Key: ev.Key(), Revision: ev.Revision}
		}
		v := ev.Value
		return api.StatusChange{Key: ev.Key(), Status: &v, Revision: ev.Revision}
	})
}

// relay converts a store watch; values that do not decode are skipped (the
// store reports them with Err), the same as a key the API cannot show.
func relay[T, C any](ctx context.Context, s *store.Store[T], conv func(store.Event[T]) C) (<-chan C, error) {
	in, err := s.Watch(ctx, "")
	if err != nil {
		return nil, storeErr(err)
	}
	out := make(chan C)
	go func() {
		defer close(out)
		for ev := range in {
			if ev.Err != nil {
				continue
			}
			select {
			case out <- conv(ev):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// events adapts the reconcile event recorder to api.Events.
type events struct{ r *reconcile.Recorder }

func (e events) List(ctx context.Context, key oda.Key, uid string) ([]wire.Event, error) {
	evs, err := e.r.List(ctx, key.String(), uid)
	if err != nil {
		return nil, err
	}
	out := make([]wire.Event, len(evs))
	for i, ev := range evs {
		out[i] = wire.Event{Type: ev.Type, Reason: ev.Reason, Message: ev.Message, Count: ev.Count,
			FirstTimestamp: ev.FirstTimestamp, LastTimestamp: ev.LastTimestamp}
	}
	return out, nil
}

// KubeEvents serves the recorder's events to the kube API, as the daemon
// does (for tests that build the kube API themselves).
func KubeEvents(r *reconcile.Recorder) kubeapi.EventSource { return kubeEvents{r} }

// kubeEvents adapts the reconcile event recorder to kubeapi.EventSource.
type kubeEvents struct{ r *reconcile.Recorder }

func (e kubeEvents) ListEvents(ctx context.Context, namespace string) ([]kubeapi.Event, error) {
	evs, err := e.r.ListNamespace(ctx, namespace)
	if err != nil {
		return nil, err
	}
	out := make([]kubeapi.Event, 0, len(evs))
	for _, ev := range evs {
		if kev, ok := kubeEvent(ev); ok {
			out = append(out, kev)
		}
	}
	return out, nil
}

func (e kubeEvents) WatchEvents(ctx context.Context, namespace string, after uint64) (<-chan kubeapi.Event, error) {
	in, err := e.r.Watch(ctx, namespace, after)
	if err != nil {
		return nil, err
	}
	out := make(chan kubeapi.Event)
	go func() {
		defer close(out)
		for ev := range in {
			kev, ok := kubeEvent(ev)
			if !ok {
				continue
			}
			select {
			case out <- kev:
			case <-ctx.Done():
				return // in closes too, as ctx ended
			}
		}
	}()
	return out, nil
}

// kubeEvent is ev as the kube API serves it; false for an event whose key
// is not a Component's (nothing kubectl could ask about).
func kubeEvent(ev reconcile.Event) (kubeapi.Event, bool) {
	k, err := oda.ParseKey(ev.Key)
	if err != nil {
		return kubeapi.Event{}, false
	}
	return kubeapi.Event{Namespace: k.Namespace, Name: k.Name, UID: ev.UID, Type: ev.Type, Reason: ev.Reason,
		Message: ev.Message, Count: ev.Count, FirstTimestamp: ev.FirstTimestamp, LastTimestamp: ev.LastTimestamp, Seq: ev.Seq}, true
}

var (
	_ kubeapi.EventSource = kubeEvents{}
	_ api.Desired         = desired{}
	_ api.Statuses        = statuses{}
	_ api.Events          = events{}
)
