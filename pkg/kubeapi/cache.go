package kubeapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wasmcanvas/wasmcanvas/pkg/api"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// maxTombs bounds the deletions kept for watches resuming from a
// resourceVersion; one resuming from before the oldest gets fewer.
const maxTombs = 1024

// tomb is a deleted object and the revision the index had reached with
// its deletion.
type tomb struct {
	obj *object
	at  uint64
}

// watchBuffer is how far a kube watcher may lag before it is cut off (it
// then lists and watches again, as client-go does).
const watchBuffer = 256

// entry is what the index holds for one Component.
type entry struct {
	comp      *object
	exposed   []*object
	dependent []*object
}

func (e *entry) objects(r *resource) []*object {
	switch r {
	case components:
		return []*object{e.comp}
	case exposedAPIs:
		return e.exposed
	default:
		return e.dependent
	}
}

// event is one change of one served object.
type event struct {
	typ string // ADDED, MODIFIED, DELETED
	obj *object
}

// filter selects objects of one resource.
type filter struct {
	res       *resource
	namespace string // "" for all
	labels    labels.Selector
	fields    fields.Selector
}

func (f filter) matches(o *object) bool {
	if o.res != f.res || (f.namespace != "" && o.namespace != f.namespace) {
		return false
	}
	if f.labels != nil && !f.labels.Matches(labels.Set(o.labels)) {
		return false
	}
	return f.fields == nil || f.fields.Matches(fields.Set{"metadata.name": o.name, "metadata.namespace": o.namespace})
}

type watcher struct {
	f  filter
	ch chan event
}

// index mirrors the fan-out of pkg/api as served objects, so lists and
// gets are answered from memory, and fans changes out to kube watchers.
type index struct {
	log *zap.Logger

	mu      sync.Mutex
	entries map[oda.Key]*entry
	// maxRV is the combined revision (wire.WatchEvent.Revision) of the
	// last change; base is the one of the snapshot the index was last
	// reset to: the index knows no history before it.
	maxRV, base uint64
	tombs       []tomb // oldest first
	synced      bool
	changed     chan struct{} // closed and replaced on every change
	watchers    map[*watcher]struct{}
	closed      bool
}

func newIndex(log *zap.Logger) *index {
	return &index{log: log, entries: map[oda.Key]*entry{}, changed: make(chan struct{}), watchers: map[*watcher]struct{}{}}
}

// resubscribeDelay spaces attempts to subscribe to the fan-out again.
const resubscribeDelay = 200 * time.Millisecond

// run feeds the index from srv's fan-out until ctx ends.
func (x *index) run(ctx context.Context, srv *api.Server) error {
	for {
		err := x.follow(ctx, srv)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		x.log.Debug("fan-out subscription ended; subscribing again", zap.Error(err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(resubscribeDelay):
		}
	}
}

func (x *index) follow(ctx context.Context, srv *api.Server) error {
	sub, initial, err := srv.Subscribe(ctx, "", "")
	if err != nil {
		return err
	}
	defer sub.Close()
	x.reset(initial)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-sub.Events():
			if !ok {
				x.unsync()
				return errors.New("cut off by the fan-out")
			}
			x.apply(ev)
		}
	}
}

// reset replaces the index with a snapshot and cuts every watcher off:
// what they missed is not known, so they list again.
func (x *index) reset(initial []wire.WatchEvent) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.entries = map[oda.Key]*entry{}
	x.tombs = nil
	for _, ev := range initial {
		if ev.Object != nil {
			x.put(ev.Object, ev.Revision, nil, 0)
		} else {
			x.base = ev.Revision // the BOOKMARK ending the snapshot
		}
	}
	x.maxRV = max(x.maxRV, x.base)
	x.synced = true
	x.cutOff()
	x.notify()
}

func (x *index) unsync() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.synced = false
	x.cutOff()
}

// cutOff runs with mu held.
func (x *index) cutOff() {
	for w := range x.watchers {
		close(w.ch)
		delete(x.watchers, w)
	}
}

// notify runs with mu held.
func (x *index) notify() {
	close(x.changed)
	x.changed = make(chan struct{})
}

// put runs with mu held; it builds the served objects of c changed at
// combined revision rv and stores them unless prev is the deleted entry.
// An object prev held keeps its creation; a new one was created at rv
// (0 in a snapshot: before base).
func (x *index) put(c *oda.Component, rv uint64, prev *entry, created uint64) *entry {
	e := entryAt(c, rv)
	if prev != nil {
		for _, r := range resources {
			was := map[string]uint64{}
			for _, o := range prev.objects(r) {
				was[o.name] = o.createdRV
			}
			for _, o := range e.objects(r) {
				o.createdRV = created
				if at, ok := was[o.name]; ok {
					o.createdRV = at
				}
			}
		}
	} else {
		for _, r := range resources {
			for _, o := range e.objects(r) {
				o.createdRV = created
			}
		}
	}
	x.entries[c.Key()] = e
	x.maxRV = max(x.maxRV, rv)
	return e
}

// entryAt builds the served objects of c as of combined revision rv: their
// resourceVersion is rv, and desired the desired-state revision writes
// are checked against.
func entryAt(c *oda.Component, rv uint64) *entry {
	desired := revision(c.Metadata.ResourceVersion)
	kc := *c
	kc.Metadata.ResourceVersion = strconv.FormatUint(rv, 10)
	e := &entry{comp: componentObject(&kc)}
	e.exposed, e.dependent = children(&kc)
	for _, r := range resources {
		for _, o := range e.objects(r) {
			o.desired = desired
		}
	}
	return e
}

func (x *index) apply(ev wire.WatchEvent) {
	if ev.Object == nil {
		return // a bookmark
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	key := ev.Object.Key()
	prev := x.entries[key]
	var next *entry
	if ev.Type == wire.WatchDeleted {
		delete(x.entries, key)
		// The deleted object carries the revision of its delete; so do
		// the DELETED events of it and its children.
		if prev != nil {
			prev = entryAt(ev.Object, ev.Revision)
		}
		x.maxRV = max(x.maxRV, ev.Revision)
	} else {
		next = x.put(ev.Object, ev.Revision, prev, ev.Revision)
	}
	evs := diff(prev, next)
	for _, e := range evs {
		if e.typ == "DELETED" {
			x.tombs = append(x.tombs, tomb{e.obj, x.maxRV})
		}
	}
	if over := len(x.tombs) - maxTombs; over > 0 {
		x.tombs = slices.Delete(x.tombs, 0, over)
	}
	x.emit(evs)
	x.notify()
}

// diff lists the object events that turn prev into next (either may be nil).
func diff(prev, next *entry) []event {
	var out []event
	for _, r := range resources {
		old := map[string]*object{}
		if prev != nil {
			for _, o := range prev.objects(r) {
				old[o.name] = o
			}
		}
		if next != nil {
			for _, o := range next.objects(r) {
				typ := "ADDED"
				if _, ok := old[o.name]; ok {
					typ = "MODIFIED"
					delete(old, o.name)
				}
				out = append(out, event{typ, o})
			}
		}
		for _, o := range old {
			out = append(out, event{"DELETED", o})
		}
	}
	return out
}

// emit runs with mu held.
func (x *index) emit(evs []event) {
	for w := range x.watchers {
		for _, ev := range evs {
			if !w.f.matches(ev.obj) {
				continue
			}
			select {
			case w.ch <- ev:
			default:
				x.log.Warn("kube watcher too slow; cutting it off so it lists again")
				close(w.ch)
				delete(x.watchers, w)
			}
			if _, ok := x.watchers[w]; !ok {
				break
			}
		}
	}
}

var errNotSynced = errors.New("the canvas's store is not synced yet (starting, or NATS reconnecting): retry shortly")

// list returns the objects f matches, sorted, and the index's resourceVersion.
func (x *index) list(f filter) ([]*object, uint64, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.synced {
		return nil, 0, errNotSynced
	}
	var out []*object
	for _, e := range x.entries {
		for _, o := range e.objects(f.res) {
			if f.matches(o) {
				out = append(out, o)
			}
		}
	}
	slices.SortFunc(out, func(a, b *object) int {
		return cmp.Or(strings.Compare(a.namespace, b.namespace), strings.Compare(a.name, b.name))
	})
	return out, x.maxRV, nil
}

// get returns the object of r named name in namespace, or nil.
func (x *index) get(r *resource, namespace, name string) (*object, error) {
	objs, _, err := x.list(filter{res: r, namespace: namespace, fields: fields.OneTermEqualSelector("metadata.name", name)})
	if err != nil || len(objs) == 0 {
		return nil, err
	}
	return objs[0], nil
}

// errExpired: a watch from a resourceVersion the index holds no history
// for (before its last reset, or not issued by it); the client lists
// again, as after etcd compacted the revision in Kubernetes.
type errExpired struct{ since, base, max uint64 }

func (e errExpired) Error() string {
	if e.since > e.max {
		return fmt.Sprintf("too large resource version: %d, current: %d", e.since, e.max)
	}
	return fmt.Sprintf("too old resource version: %d (%d)", e.since, e.base)
}

// watch registers a watcher for f and returns the events it starts with:
// every object (ADDED) when since is 0; else the deletions after since (of
// the last maxTombs), then the objects changed after since (desired state
// or status): ADDED if created after since, else MODIFIED. A since the
// index has no history for is errExpired.
func (x *index) watch(f filter, since uint64) (*watcher, []event, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.synced {
		return nil, nil, errNotSynced
	}
	if x.closed {
		return nil, nil, errors.New("the server is shutting down")
	}
	if since != 0 && (since < x.base || since > x.maxRV) {
		return nil, nil, errExpired{since, x.base, x.maxRV}
	}
	var initial, deleted []event
	if since > 0 {
		for _, t := range x.tombs {
			if t.at > since && f.matches(t.obj) {
				deleted = append(deleted, event{"DELETED", t.obj})
			}
		}
	}
	for _, e := range x.entries {
		for _, o := range e.objects(f.res) {
			if f.matches(o) && (since == 0 || o.rv > since) {
				typ := "ADDED"
				if since != 0 && o.createdRV <= since {
					typ = "MODIFIED"
				}
				initial = append(initial, event{typ, o})
			}
		}
	}
	slices.SortFunc(initial, func(a, b event) int {
		return cmp.Or(strings.Compare(a.obj.namespace, b.obj.namespace), strings.Compare(a.obj.name, b.obj.name))
	})
	w := &watcher{f: f, ch: make(chan event, watchBuffer)}
	x.watchers[w] = struct{}{}
	return w, append(deleted, initial...), nil
}

// desiredOf maps a resourceVersion a client sends for key to the
// desired-state revision to write at: ok is false when it is not key's
// current one (desired state or status changed since), which is a
// conflict, as in Kubernetes for a custom resource with a status
// subresource. A key the index does not hold is left to the store.
func (x *index) desiredOf(key oda.Key, rv string) (desired string, ok bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.entries[key]
	if e == nil {
		return rv, true // not there: the store says so
	}
	if strconv.FormatUint(e.comp.rv, 10) != rv {
		return "", false
	}
	return strconv.FormatUint(e.comp.desired, 10), true
}

// component returns key's Component as served (with its status and the
// combined resourceVersion) and the desired-state revision it is at, if
// the index holds it at revision desired or later, else nil.
func (x *index) component(key oda.Key, desired uint64) (c *oda.Component, at uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e := x.entries[key]; e != nil && e.comp.desired >= desired {
		return e.comp.comp, e.comp.desired
	}
	return nil, 0
}

// revision is the newest combined revision the index has seen.
func (x *index) revision() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.maxRV
}

func (x *index) unwatch(w *watcher) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.watchers[w]; ok {
		close(w.ch)
		delete(x.watchers, w)
	}
}

func (x *index) closeWatches() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.closed = true
	x.cutOff()
}

// waitFor waits (bounded by ctx) until the index holds key at
// desired-state revision rv or later, or no longer holds it when rv is 0:
// a client reading after its own write sees it.
func (x *index) waitFor(ctx context.Context, key oda.Key, rv uint64) error {
	for {
		x.mu.Lock()
		e, ok := x.entries[key]
		done := (rv == 0 && !ok) || (rv != 0 && ok && e.comp.desired >= rv)
		ch := x.changed
		x.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the write of %s is stored but not visible yet: %w", key.Display(), ctx.Err())
		case <-ch:
		}
	}
}
