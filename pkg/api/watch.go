package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// subBuffer is how many events a watcher may lag behind before it is cut
// off; a cut-off client re-watches and gets the whole state again, so a
// slow reader costs itself a resync and never stalls the others.
const subBuffer = 256

// hub mirrors desired state and status from the store watches and fans
// the merged changes out to watchers. Run owns its goroutine.
type hub struct {
	desired  Desired
	statuses Statuses
	log      *zap.Logger
	m        *metrics

	mu            sync.Mutex
	comps         map[oda.Key]*oda.Component
	stats         map[oda.Key]*oda.ComponentStatus
	desiredSynced bool
	statusSynced  bool
	syncedCh      chan struct{} // closed once both watches are synced
	notRunning    error
	subs          map[*sub]struct{}
	closed        bool // CloseWatches was called: no new watchers
	stopWatch     context.CancelFunc

	statRevs map[oda.Key]uint64 // the status store's revision of each status
	// desiredRev and statusRev are the highest revisions the store watches
	// delivered (kept across re-watches, so they never decrease): their
	// sum is the combined revision of wire.WatchEvent.
	desiredRev, statusRev uint64
}

type sub struct {
	ch        chan wire.WatchEvent
	namespace string
	name      string
}

func (s *sub) matches(c *oda.Component) bool {
	return (s.namespace == "" || c.Metadata.Namespace == s.namespace) && (s.name == "" || c.Metadata.Name == s.name)
}

func newHub(d Desired, st Statuses, log *zap.Logger, m *metrics) *hub {
	return &hub{desired: d, statuses: st, log: log, m: m, syncedCh: make(chan struct{}),
		notRunning: errors.New("the watch of the stores has not started"), subs: map[*sub]struct{}{}}
}

// rewatchDelay spaces attempts to re-establish a lost store watch.
const rewatchDelay = 500 * time.Millisecond

// run watches both stores until ctx ends, re-watching after a watch ends
// (the NATS connection broke, the stream was recreated).
func (h *hub) run(ctx context.Context) error {
	for {
		err := h.watchOnce(ctx)
		if ctx.Err() != nil {
			h.reset(errors.New("stopped"))
			return ctx.Err()
		}
		h.reset(fmt.Errorf("store watch lost, re-establishing: %w", err))
		if errors.Is(err, errRewatch) {
			h.log.Info("store watches restarted (NATS reconnected)")
			continue
		}
		h.log.Warn("store watch ended; watching again", zap.Error(err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(rewatchDelay):
		}
	}
}

// reset forgets the mirror and cuts off every watcher, who will re-watch
// and receive the re-established state.
func (h *hub) reset(why error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.comps, h.stats, h.statRevs = nil, nil, nil
	h.desiredSynced, h.statusSynced = false, false
	select {
	case <-h.syncedCh:
		h.syncedCh = make(chan struct{})
	default:
	}
	h.notRunning = why
	for s := range h.subs {
		close(s.ch)
		delete(h.subs, s)
	}
}

// errRewatch ends a watch that Rewatch asked to start over.
var errRewatch = errors.New("rewatch requested")

// rewatch ends the current store watches so run starts fresh ones.
func (h *hub) rewatch() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopWatch != nil {
		h.stopWatch()
	}
}

func (h *hub) watchOnce(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	h.mu.Lock()
	h.stopWatch = func() { cancel(errRewatch) }
	h.mu.Unlock()
	dch, err := h.desired.Watch(ctx)
	if err != nil {
		return fmt.Errorf("watching desired state: %w", err)
	}
	sch, err := h.statuses.Watch(ctx)
	if err != nil {
		return fmt.Errorf("watching status: %w", err)
	}
	h.mu.Lock()
	h.comps, h.stats, h.statRevs = map[oda.Key]*oda.Component{}, map[oda.Key]*oda.ComponentStatus{}, map[oda.Key]uint64{}
	h.notRunning = errors.New("waiting for the store watches to deliver the current state")
	h.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case ch, ok := <-dch:
			if !ok {
				return errors.New("desired-state watch closed")
			}
			h.onDesired(ch)
		case ch, ok := <-sch:
			if !ok {
				return errors.New("status watch closed")
			}
			h.onStatus(ch)
		}
	}
}

func (h *hub) onDesired(ch DesiredChange) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch.Synced {
		h.desiredSynced = true
		h.markSynced()
		return
	}
	prev := h.comps[ch.Key]
	if ch.Component == nil {
		h.desiredRev = max(h.desiredRev, ch.Revision)
	} else {
		h.desiredRev = max(h.desiredRev, revisionOf(ch.Component))
	}
	if ch.Component == nil {
		if prev == nil {
			return
		}
		delete(h.comps, ch.Key)
		// As in Kubernetes, the deleted object carries the revision of
		// its deletion: a watcher resuming from it has seen the delete.
		gone := h.merged(prev)
		if ch.Revision != 0 {
			gone.Metadata.ResourceVersion = strconv.FormatUint(ch.Revision, 10)
		}
		h.emit(wire.WatchDeleted, gone)
		return
	}
	if prev != nil && prev.Metadata.ResourceVersion == ch.Component.Metadata.ResourceVersion {
		return // redelivered after a reconnect
	}
	h.comps[ch.Key] = ch.Component
	typ := wire.WatchModified
	if prev == nil {
		typ = wire.WatchAdded
	}
	h.emit(typ, h.merged(ch.Component))
}

func (h *hub) onStatus(ch StatusChange) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch.Synced {
		h.statusSynced = true
		h.markSynced()
		return
	}
	h.statusRev = max(h.statusRev, ch.Revision)
	if ch.Status == nil {
		delete(h.stats, ch.Key)
		delete(h.statRevs, ch.Key)
	} else {
		h.stats[ch.Key] = ch.Status
		h.statRevs[ch.Key] = ch.Revision
	}
	if c := h.comps[ch.Key]; c != nil {
		h.emit(wire.WatchModified, h.merged(c))
	}
}

// markSynced runs with mu held.
func (h *hub) markSynced() {
	if !h.desiredSynced || !h.statusSynced {
		return
	}
	select {
	case <-h.syncedCh:
	default:
		close(h.syncedCh)
		h.notRunning = nil
	}
}

// merged runs with mu held; events are emitted only once synced, so the
// mirror is complete by then.
func (h *hub) merged(c *oda.Component) *oda.Component {
	out := *c
	out.Status = h.stats[c.Key()]
	return &out
}

// emit runs with mu held.
func (h *hub) emit(typ string, c *oda.Component) {
	if !h.desiredSynced || !h.statusSynced {
		return
	}
	ev := wire.WatchEvent{Type: typ, Object: c, Revision: h.desiredRev + h.statusRev}
	for s := range h.subs {
		if !s.matches(c) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			h.log.Warn("watcher too slow; cutting it off so it re-watches", zap.String("namespace", s.namespace), zap.String("name", s.name))
			h.m.watchDropped.Inc()
			close(s.ch)
			delete(h.subs, s)
		}
	}
}

func (h *hub) syncedErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.notRunning
}

// subscribe waits until the mirror is synced (bounded by ctx) and returns
// the current state matching namespace/name, then a Bookmark, and a
// subscription for what follows. The snapshot and the registration happen
// under one lock, so no change falls between them.
func (h *hub) subscribe(ctx context.Context, namespace, name string) (*sub, []wire.WatchEvent, error) {
	for {
		h.mu.Lock()
		synced := h.syncedCh
		if h.desiredSynced && h.statusSynced {
			break
		}
		why := h.notRunning
		h.mu.Unlock()
		select {
		case <-synced:
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("watch not available: %w", why)
		}
	}
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, errors.New("the server is shutting down")
	}
	s := &sub{ch: make(chan wire.WatchEvent, subBuffer), namespace: namespace, name: name}
	var initial []wire.WatchEvent
	for _, c := range h.comps {
		if s.matches(c) {
			initial = append(initial, wire.WatchEvent{Type: wire.WatchAdded, Object: h.merged(c), Revision: revisionOf(c) + h.statRevs[c.Key()]})
		}
	}
	slices.SortFunc(initial, func(a, b wire.WatchEvent) int { return compareComponents(a.Object, b.Object) })
	initial = append(initial, wire.WatchEvent{Type: wire.WatchBookmark, Revision: h.desiredRev + h.statusRev})
	h.subs[s] = struct{}{}
	return s, initial, nil
}

// closeWatches cuts off every watcher and refuses new ones, so an HTTP
// server shutting down is not held open by event streams.
func (h *hub) closeWatches() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		close(s.ch)
		delete(h.subs, s)
	}
}

func (h *hub) unsubscribe(s *sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		close(s.ch)
		delete(h.subs, s)
	}
}

func compareComponents(a, b *oda.Component) int {
	return cmp.Or(strings.Compare(a.Metadata.Namespace, b.Metadata.Namespace), strings.Compare(a.Metadata.Name, b.Metadata.Name))
}

func sortComponents(cs []*oda.Component) { slices.SortFunc(cs, compareComponents) }

// Timing of the SSE stream.
const (
	watchSyncWait  = 10 * time.Second
	watchHeartbeat = 15 * time.Second
	watchWriteWait = 10 * time.Second
)

// serveWatch streams wire.WatchEvents as server-sent events: the current
// state as ADDED events, a BOOKMARK, then every change. Comment lines keep
// idle connections alive through proxies.
func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request, namespace, name string) {
	ctx, cancel := context.WithTimeout(r.Context(), watchSyncWait)
	sb, initial, err := s.hub.subscribe(ctx, namespace, name)
	cancel()
	if err != nil {
		writeProblem(w, problem(http.StatusServiceUnavailable, wire.ProblemUnavailable, err.Error()))
		return
	}
	defer s.hub.unsubscribe(sb)
	s.metrics.watchers.Inc()
	defer s.metrics.watchers.Dec()

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", wire.ContentTypeSSE)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(write func() error) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(watchWriteWait))
		if err := write(); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	writeEvent := func(ev wire.WatchEvent) error {
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, data)
		return err
	}
	for _, ev := range initial {
		if !send(func() error { return writeEvent(ev) }) {
			return
		}
	}
	tick := time.NewTicker(watchHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-sb.ch:
			if !ok {
				return
			}
			if !send(func() error { return writeEvent(ev) }) {
				return
			}
		case <-tick.C:
			if !send(func() error { _, err := fmt.Fprint(w, ": keep-alive\n\n"); return err }) {
				return
			}
		}
	}
}

// revisionOf is the desired-state revision c was stored at.
func revisionOf(c *oda.Component) uint64 {
	n, _ := strconv.ParseUint(c.Metadata.ResourceVersion, 10, 64)
	return n
}
