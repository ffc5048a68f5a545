package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
)

// Replies are CtlResponse values as a v1.9.2 host writes them; the
// messages are upstream's (host wasmbus/ctl.rs).

func reply[T any](success bool, message string, response *T) []byte {
	b, err := latticeadmin.Marshal(latticeadmin.CtlResponse[T]{Success: success, Message: message, Response: response})
	if err != nil {
		return failure("failed to serialize response")
	}
	return b
}

func success(message string) []byte { return reply[struct{}](true, message, nil) }
func failure(message string) []byte { return reply[struct{}](false, message, nil) }
func ok[T any](v T) []byte          { return reply(true, "", &v) }

// decode reads a request body; a body that does not decode gets upstream's
// answer for it.
func decode(data []byte, v any, what string) []byte {
	if err := json.Unmarshal(data, v); err != nil {
		return failure(fmt.Sprintf("failed to deserialize %s: %v", what, err))
	}
	return nil
}

func (n *Node) ping([]byte, string) []byte {
	up := n.opts.Now().Sub(n.started)
	n.mu.Lock()
	labels := maps.Clone(n.labels)
	n.mu.Unlock()
	human, version := HumanUptime(up), n.opts.Version
	ctlHost := n.ctlURL
	return ok(latticeadmin.Host{
		RPCHost: &ctlHost, CtlHost: &ctlHost, FriendlyName: n.opts.FriendlyName, ID: n.id, Labels: labels,
		Lattice: n.opts.Lattice, UptimeHuman: &human, UptimeSeconds: uint64(up.Seconds()), Version: &version,
	})
}

func (n *Node) inventoryReply([]byte, string) []byte { return ok(n.Inventory()) }

func (n *Node) hostStop(data []byte, _ string) []byte {
	var req latticeadmin.StopHostCommand
	if f := decode(data, &req, "stop host command"); f != nil {
		return f
	}
	n.log.Info("host.stop received: stopping")
	n.stop.Do(func() { close(n.stopCh) })
	return success("successfully handled stop host")
}

func (n *Node) scale(data []byte, _ string) []byte {
	var req latticeadmin.ScaleComponentCommand
	if f := decode(data, &req, "scale component command"); f != nil {
		return f
	}
	if req.ComponentID == "" || req.ComponentRef == "" {
		return failure("component_id and component_ref are required")
	}
	n.mu.Lock()
	cur := n.components[req.ComponentID]
	var message string
	postUpdate := false
	if cur != nil && cur.ImageRef != req.ComponentRef {
		if req.AllowUpdate {
			postUpdate = true
			message = fmt.Sprintf("Requested to scale existing component, with a changed image reference: %s != %s. The component will be scaled, and the image reference will be updated afterwards.", cur.ImageRef, req.ComponentRef)
		} else {
			message = fmt.Sprintf("Requested to scale existing component to a different image reference: %s != %s. The component will be scaled but the image reference will not be updated. If you meant to update this component to a new image ref, use the update command.", cur.ImageRef, req.ComponentRef)
			n.log.Warn(message)
		}
	}
	n.mu.Unlock()
	n.enqueue(func(ctx context.Context) {
		n.scaleTask(ctx, req)
		if postUpdate {
			n.updateTask(ctx, req.ComponentID, req.ComponentRef, nil)
		}
	})
	return success(message)
}

// scaleTask starts, rescales or stops a component and publishes the
// outcome.
func (n *Node) scaleTask(ctx context.Context, req latticeadmin.ScaleComponentCommand) {
	n.mu.Lock()
	cur := n.components[req.ComponentID]
	var prev Component
	if cur != nil {
		prev = *cur
	}
	n.mu.Unlock()
	annotations := annotationsOrEmpty(req.Annotations)
	switch {
	case req.Count == 0:
		if cur != nil {
			n.mu.Lock()
			delete(n.components, req.ComponentID)
			n.mu.Unlock()
			if n.opts.Workload != nil {
				n.opts.Workload.Stop(req.ComponentID)
			}
			n.log.Info("component stopped", zap.String("component_id", req.ComponentID))
		}
		n.publish(EventComponentScaled, componentScaled(annotations, n.id, req.ComponentRef, req.ComponentID, 0))
		return
	case cur != nil:
		// Already running: the count changes, the ref stays (an update
		// changes it).
		n.mu.Lock()
		if c := n.components[req.ComponentID]; c != nil {
			if c.MaxInstances != req.Count || !slices.Equal(c.Config, req.Config) {
				defer n.reconcile() // a new instance limit, or new config
			}
			c.MaxInstances, c.Annotations, c.Config, c.Limits = req.Count, annotations, slices.Clone(req.Config), maps.Clone(req.ComponentLimits)
		}
		n.mu.Unlock()
		n.publish(EventComponentScaled, componentScaled(annotations, n.id, prev.ImageRef, req.ComponentID, req.Count))
		return
	}
	c := Component{ID: req.ComponentID, ImageRef: req.ComponentRef, Annotations: annotations, MaxInstances: req.Count, Config: slices.Clone(req.Config), Limits: maps.Clone(req.ComponentLimits)}
	// Config the node has not heard of may be another node's.
	n.fetchConfigs(ctx, c.Config)
	n.startComponent(ctx, c)
}

// Asking the other nodes for the named config a scale lists: every later
// scale waits on the worker meanwhile, and a request may list as many
// names as its payload holds, so the wait is one for all of them.
const (
	// configFetchWait bounds the whole wait of one scale.
	configFetchWait = 500 * time.Millisecond
	// configFetchers is how many questions are in flight at once.
	configFetchers = 16
)

// fetchConfigs asks the other nodes, together and within configFetchWait,
// for the configs of names this node lacks.
func (n *Node) fetchConfigs(ctx context.Context, names []string) {
	if n.opts.NoPeers || len(names) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, configFetchWait)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, configFetchers)
	for _, name := range slices.Compact(slices.Sorted(slices.Values(names))) {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return // the wait is over: what is still missing is nowhere
		}
		wg.Go(func() {
			defer func() { <-slots }()
			n.fetchConfig(ctx, subject.CtlNodeConfigPeer, name)
		})
	}
}

// startComponent runs c and publishes component_scaled, or
// component_scale_failed with why.
func (n *Node) startComponent(ctx context.Context, c Component) {
	annotations := annotationsOrEmpty(c.Annotations)
	if n.opts.Workload != nil {
		n.mu.Lock()
		data := n.latticeData()
		n.mu.Unlock()
		if err := n.opts.Workload.Start(ctx, c, data); err != nil {
			n.log.Warn("component did not start", zap.String("component_id", c.ID), zap.String("image_ref", c.ImageRef), zap.Error(err))
			n.publish(EventComponentScaleFailed, componentScaleFailed(annotations, n.id, c.ImageRef, c.ID, c.MaxInstances, err))
			return
		}
	}
	n.mu.Lock()
	n.components[c.ID] = &c
	n.mu.Unlock()
	n.log.Info("component started", zap.String("component_id", c.ID), zap.String("image_ref", c.ImageRef), zap.Uint32("max_instances", c.MaxInstances))
	n.publish(EventComponentScaled, componentScaled(annotations, n.id, c.ImageRef, c.ID, c.MaxInstances))
}

func (n *Node) update(data []byte, _ string) []byte {
	var req latticeadmin.UpdateComponentCommand
	if f := decode(data, &req, "update component command"); f != nil {
		return f
	}
	n.mu.Lock()
	cur := n.components[req.ComponentID]
	var ref string
	if cur != nil {
		ref = cur.ImageRef
	}
	n.mu.Unlock()
	switch {
	case cur == nil:
		return failure(fmt.Sprintf("component %s not found", req.ComponentID))
	case ref == req.NewComponentRef:
		return success(fmt.Sprintf("component %s already updated to %s", req.ComponentID, req.NewComponentRef))
	}
	n.enqueue(func(ctx context.Context) { n.updateTask(ctx, req.ComponentID, req.NewComponentRef, req.Annotations) })
	return success(fmt.Sprintf("component %s updating from %s to %s", req.ComponentID, ref, req.NewComponentRef))
}

// updateTask replaces a running component's bytes with newRef's; the old
// one serves until the new one is loaded.
func (n *Node) updateTask(ctx context.Context, id, newRef string, annotations map[string]string) {
	n.mu.Lock()
	cur := n.components[id]
	if cur == nil {
		n.mu.Unlock()
		return
	}
	next := *cur
	next.ImageRef = newRef
	if annotations != nil {
		next.Annotations = maps.Clone(annotations)
	}
	data := n.latticeData()
	n.mu.Unlock()
	if n.opts.Workload != nil {
		if err := n.opts.Workload.Start(ctx, next, data); err != nil {
			n.log.Warn("component update failed: the old version keeps serving", zap.String("component_id", id), zap.String("image_ref", newRef), zap.Error(err))
			n.publish(EventComponentScaleFailed, componentScaleFailed(next.Annotations, n.id, newRef, id, next.MaxInstances, err))
			return
		}
	}
	n.mu.Lock()
	if c := n.components[id]; c != nil {
		c.ImageRef, c.Annotations = newRef, next.Annotations
		c.Revision++
	}
	n.mu.Unlock()
	n.publish(EventComponentScaled, componentScaled(next.Annotations, n.id, newRef, id, next.MaxInstances))
}

// matches reports whether every constraint is one of the node's labels.
func (n *Node) matches(constraints map[string]string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, v := range constraints {
		if hv, ok := n.labels[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// componentAuction answers only when the constraints match the labels
// and the component does not run here yet; otherwise it stays silent.
func (n *Node) componentAuction(data []byte, _ string) []byte {
	var req latticeadmin.ComponentAuctionRequest
	if json.Unmarshal(data, &req) != nil || !n.matches(req.Constraints) {
		return nil
	}
	n.mu.Lock()
	_, running := n.components[req.ComponentID]
	n.mu.Unlock()
	if running {
		return nil
	}
	return ok(latticeadmin.ComponentAuctionAck{ComponentRef: req.ComponentRef, ComponentID: req.ComponentID, HostID: n.id, Constraints: nonNilMap(req.Constraints)})
}

func (n *Node) providerAuction(data []byte, _ string) []byte {
	var req latticeadmin.ProviderAuctionRequest
	if json.Unmarshal(data, &req) != nil || !n.matches(req.Constraints) {
		return nil
	}
	n.mu.Lock()
	_, running := n.providers[req.ProviderID]
	n.mu.Unlock()
	if running || n.opts.Workload == nil || !n.opts.Workload.IsBuiltinProvider(req.ProviderRef) {
		return nil // it could not start it: it does not bid
	}
	return ok(latticeadmin.ProviderAuctionAck{HostID: n.id, ProviderRef: req.ProviderRef, ProviderID: req.ProviderID, Constraints: nonNilMap(req.Constraints)})
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// ErrProviderRefused is the error of provider_start_failed for every
// provider but canvas-bridge.
var ErrProviderRefused = errors.New("canvas node runs Wasm components only: capability providers need a wasmCloud host (canvas-bridge is the exception, served in-process); place this provider on a wasmCloud host with a spread requirement that excludes canvas nodes")

func (n *Node) providerStart(data []byte, _ string) []byte {
	var req latticeadmin.StartProviderCommand
	if f := decode(data, &req, "start provider command"); f != nil {
		return f
	}
	n.mu.Lock()
	_, running := n.providers[req.ProviderID]
	n.mu.Unlock()
	if running {
		return failure("provider with that ID is already running")
	}
	n.enqueue(func(ctx context.Context) {
		if n.opts.Workload == nil || !n.opts.Workload.IsBuiltinProvider(req.ProviderRef) {
			n.log.Warn("provider start refused", zap.String("provider_id", req.ProviderID), zap.String("provider_ref", req.ProviderRef))
			n.publish(EventProviderStartFailed, providerStartFailed(req.ProviderRef, req.ProviderID, n.id, ErrProviderRefused))
			return
		}
		ref := req.ProviderRef
		if pr, ok := n.opts.Workload.(ProviderRunner); ok {
			n.mu.Lock()
			data := n.latticeData()
			n.mu.Unlock()
			if err := pr.StartProvider(ctx, req.ProviderID, ref, req.Config, data); err != nil {
				n.log.Warn("in-process provider did not start", zap.String("provider_id", req.ProviderID), zap.Error(err))
				n.publish(EventProviderStartFailed, providerStartFailed(ref, req.ProviderID, n.id, err))
				return
			}
		}
		n.mu.Lock()
		n.providers[req.ProviderID] = &latticeadmin.ProviderDescription{ID: req.ProviderID, ImageRef: &ref, Annotations: annotationsOrEmpty(req.Annotations)}
		links := slices.Clone(n.links)
		n.mu.Unlock()
		// Links put while it started reach it now (puts are idempotent).
		for _, l := range links {
			if l.SourceID == req.ProviderID || l.Target == req.ProviderID {
				n.tellProviders(l, false)
			}
		}
		n.log.Info("provider served in-process", zap.String("provider_id", req.ProviderID), zap.String("provider_ref", ref))
		n.publish(EventProviderStarted, providerStarted(req.Annotations, n.id, ref, req.ProviderID))
		// In-process, it is healthy as long as the node runs: passed now,
		// the same status with every heartbeat (as a host's periodic check).
		n.publish(EventHealthCheckPassed, healthCheck(n.id, req.ProviderID))
		n.reconcile()
	})
	return success("successfully started provider")
}

func (n *Node) providerStop(data []byte, _ string) []byte {
	var req latticeadmin.StopProviderCommand
	if f := decode(data, &req, "stop provider command"); f != nil {
		return f
	}
	n.mu.Lock()
	p := n.providers[req.ProviderID]
	delete(n.providers, req.ProviderID)
	n.mu.Unlock()
	if p == nil {
		return failure("provider with that ID is not running")
	}
	if pr, ok := n.opts.Workload.(ProviderRunner); ok {
		pr.StopProvider(req.ProviderID)
	}
	n.publish(EventProviderStopped, providerStopped(p.Annotations, n.id, req.ProviderID, "stop"))
	n.reconcile()
	return success("successfully stopped provider")
}

func (n *Node) labelPut(data []byte, _ string) []byte {
	var req latticeadmin.HostLabel
	if f := decode(data, &req, "label put request"); f != nil {
		return f
	}
	if strings.HasPrefix(strings.ToLower(req.Key), "hostcore.") {
		return failure("hostcore.* labels cannot be set dynamically")
	}
	n.mu.Lock()
	n.labels[req.Key] = req.Value
	labels := maps.Clone(n.labels)
	n.mu.Unlock()
	n.publish(EventLabelsChanged, labelsChanged(n.id, labels))
	return success("successfully put label")
}

func (n *Node) labelDel(data []byte, _ string) []byte {
	var req latticeadmin.HostLabelIdentifier
	if f := decode(data, &req, "label delete request"); f != nil {
		return f
	}
	n.mu.Lock()
	_, had := n.labels[req.Key]
	delete(n.labels, req.Key)
	labels := maps.Clone(n.labels)
	n.mu.Unlock()
	if !had {
		return success("successfully deleted label (no such label)")
	}
	n.publish(EventLabelsChanged, labelsChanged(n.id, labels))
	return success("successfully deleted label")
}

// errLinkConflict is upstream's refusal of a second target for the same
// source, interface and name.
var errLinkConflict = errors.New("link already exists with different target, consider deleting the existing link or using a different link name")

func (n *Node) linkPut(data []byte, _ string) []byte {
	var l latticeadmin.Link
	if f := decode(data, &l, "link put request"); f != nil {
		return f
	}
	normalizeLink(&l)
	var err error
	if n.store != nil {
		ctx, cancel := context.WithTimeout(n.ctx, storeTimeout)
		err = n.storeLinkPut(ctx, l)
		cancel()
	} else {
		err = n.memLinkPut(l)
	}
	if err != nil {
		n.publish(EventLinkdefSetFailed, linkdefSetFailed(l, err))
		return failure(err.Error())
	}
	n.publish(EventLinkdefSet, linkdefSet(l))
	return success("successfully set link")
}

func normalizeLink(l *latticeadmin.Link) {
	for _, s := range []*[]string{&l.Interfaces, &l.SourceConfig, &l.TargetConfig} {
		if *s == nil {
			*s = []string{}
		}
	}
}

// Without the lattice's buckets every node applies each link and config
// change it sees (the *Apply handlers, on plain subscriptions), while one
// node of upstream's queue group answers it and publishes its one event
// (the handlers above, which apply it too: whichever comes first does, the
// other finds nothing to change).

func (n *Node) linkApply(data []byte, _ string) []byte {
	var l latticeadmin.Link
	if json.Unmarshal(data, &l) == nil {
		normalizeLink(&l)
		_ = n.memLinkPut(l) // the answering node reports a conflict
	}
	return nil
}

func (n *Node) linkDelApply(data []byte, _ string) []byte {
	var req linkDelete
	if json.Unmarshal(data, &req) == nil {
		n.memLinkDel(req)
	}
	return nil
}

func (n *Node) configApply(data []byte, name string) []byte {
	var values map[string]string
	if json.Unmarshal(data, &values) == nil {
		n.memConfigPut(name, values)
	}
	return nil
}

func (n *Node) configDelApply(_ []byte, name string) []byte {
	n.memConfigDel(name)
	return nil
}

// memLinkPut applies a link put to the node's memory and, when it
// changed anything, to the providers and components.
func (n *Node) memLinkPut(l latticeadmin.Link) error {
	n.mu.Lock()
	err := linkConflict(n.links, l)
	changed := false
	if err == nil {
		switch i := slices.IndexFunc(n.links, func(o latticeadmin.Link) bool { return sameLinkSlot(o, l) && o.Target == l.Target }); {
		case i < 0:
			n.links, changed = append(n.links, l), true
		case !sameLink(n.links[i], l):
			n.links[i], changed = l, true
		}
	}
	n.mu.Unlock()
	if changed {
		n.tellProviders(l, false)
		n.reconcile()
	}
	return err
}

// memLinkDel deletes a link from the node's memory; it returns the link
// deleted, by this call or just before it by the other subscription.
func (n *Node) memLinkDel(req linkDelete) *latticeadmin.Link {
	key := req.SourceID + "\x00" + req.WitNamespace + "\x00" + req.WitPackage + "\x00" + req.Name
	now := n.opts.Now()
	n.mu.Lock()
	var deleted *latticeadmin.Link
	i := slices.IndexFunc(n.links, func(o latticeadmin.Link) bool {
		return o.SourceID == req.SourceID && o.WitNamespace == req.WitNamespace && o.WitPackage == req.WitPackage && o.Name == req.Name
	})
	if i >= 0 {
		l := n.links[i]
		deleted = &l
		n.links = slices.Delete(n.links, i, i+1)
		n.gone.add(key, l, now)
	} else if l, ok := n.gone.take(key, now); ok {
		n.mu.Unlock()
		return &l
	}
	n.mu.Unlock()
	if deleted != nil {
		n.tellProviders(*deleted, true)
		n.reconcile()
	}
	return deleted
}

// deletedLinks are the links a node just deleted, kept for a moment and
// up to a number: the node that answers a link.del gets it on both its
// subscriptions, in either order, and the answer reports the link the
// other one deleted; every other node gets it once, and must not keep
// what it deleted (as many links as the lattice ever deleted).
type deletedLinks struct {
	byKey map[string]deletedLink
	order []deletedLink // oldest first; stale when byKey holds another seq
	seq   uint64
}

type deletedLink struct {
	key  string
	link latticeadmin.Link
	at   time.Time
	seq  uint64
}

const (
	// deletedFor is how long the other delivery of a link.del may lag.
	deletedFor = 10 * time.Second
	// maxDeleted bounds the links remembered (a burst of deletes).
	maxDeleted = 1024
)

func (d *deletedLinks) add(key string, l latticeadmin.Link, now time.Time) {
	if d.byKey == nil {
		d.byKey = map[string]deletedLink{}
	}
	d.seq++
	e := deletedLink{key: key, link: l, at: now, seq: d.seq}
	d.byKey[key] = e
	d.order = append(d.order, e)
	for len(d.order) > 0 && (len(d.order) > maxDeleted || now.Sub(d.order[0].at) >= deletedFor) {
		old := d.order[0]
		d.order = d.order[1:]
		if cur, ok := d.byKey[old.key]; ok && cur.seq == old.seq {
			delete(d.byKey, old.key)
		}
	}
}

// take returns, and forgets, the link deleted under key within deletedFor.
func (d *deletedLinks) take(key string, now time.Time) (latticeadmin.Link, bool) {
	e, ok := d.byKey[key]
	if !ok {
		return latticeadmin.Link{}, false
	}
	delete(d.byKey, key)
	return e.link, now.Sub(e.at) < deletedFor
}

func (n *Node) memConfigPut(name string, values map[string]string) {
	n.mu.Lock()
	old, had := n.config[name]
	changed := !had || !maps.Equal(old, values)
	if changed {
		n.config[name] = nonNilMap(values)
	}
	n.mu.Unlock()
	if changed {
		n.reconcile()
	}
}

func (n *Node) memConfigDel(name string) {
	n.mu.Lock()
	_, had := n.config[name]
	delete(n.config, name)
	n.mu.Unlock()
	if had {
		n.reconcile()
	}
}

// sameLinkSlot: o and l are links of one source on one package and name.
func sameLinkSlot(o, l latticeadmin.Link) bool {
	return o.SourceID == l.SourceID && o.WitNamespace == l.WitNamespace && o.WitPackage == l.WitPackage && o.Name == l.Name
}

// linkConflict refuses l when links has one in its slot to another target
// on a shared interface, as upstream does. l's interfaces go into a set
// once: a request may list as many as its payload holds, and comparing
// each with each of a stored link's would be quadratic in them.
func linkConflict(links []latticeadmin.Link, l latticeadmin.Link) error {
	var ifaces map[string]struct{}
	for _, o := range links {
		if !sameLinkSlot(o, l) || o.Target == l.Target {
			continue
		}
		if ifaces == nil {
			ifaces = make(map[string]struct{}, len(l.Interfaces))
			for _, i := range l.Interfaces {
				ifaces[i] = struct{}{}
			}
		}
		for _, i := range o.Interfaces {
			if _, shared := ifaces[i]; shared {
				return errLinkConflict
			}
		}
	}
	return nil
}

type linkDelete = latticeadmin.DeleteLinkRequest

func (n *Node) linkDel(data []byte, _ string) []byte {
	var req linkDelete
	if f := decode(data, &req, "link delete request"); f != nil {
		return f
	}
	var deleted *latticeadmin.Link
	if n.store != nil {
		ctx, cancel := context.WithTimeout(n.ctx, storeTimeout)
		var err error
		deleted, err = n.storeLinkDel(ctx, req)
		cancel()
		if err != nil {
			return failure(err.Error())
		}
	} else {
		deleted = n.memLinkDel(req)
	}
	// Published whether or not the link existed, for idempotency, as
	// upstream does.
	n.publish(EventLinkdefDeleted, linkdefDeleted(req, deleted))
	return success("successfully deleted link")
}

func (n *Node) linkGet([]byte, string) []byte {
	n.mu.Lock()
	links := slices.Clone(n.links)
	n.mu.Unlock()
	if links == nil {
		links = []latticeadmin.Link{}
	}
	return ok(links)
}

func (n *Node) configPut(data []byte, name string) []byte {
	var values map[string]string
	if err := json.Unmarshal(data, &values); err != nil {
		return failure(fmt.Sprintf("config data should be a map of string -> string: %v", err))
	}
	if n.store != nil {
		ctx, cancel := context.WithTimeout(n.ctx, storeTimeout)
		_, err := n.store.config.Put(ctx, name, data)
		cancel()
		if err != nil {
			return failure(fmt.Sprintf("unable to store config data: %v", err))
		}
	}
	// With the store every host's watcher applies it too; this one at
	// once, for the scale that may follow.
	n.memConfigPut(name, values)
	n.publish(EventConfigSet, configEvent(name))
	return success("successfully put config")
}

func (n *Node) configDel(_ []byte, name string) []byte {
	if n.store != nil {
		ctx, cancel := context.WithTimeout(n.ctx, storeTimeout)
		err := n.store.config.Delete(ctx, name)
		cancel()
		if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return failure(fmt.Sprintf("unable to delete config data: %v", err))
		}
	}
	n.memConfigDel(name)
	n.publish(EventConfigDeleted, configEvent(name))
	return success("successfully deleted config")
}

// configPeer answers another canvas node's question for a config only
// when this node has it (see subject.CtlNodeConfigPeer).
func (n *Node) configPeer(_ []byte, name string) []byte {
	n.mu.Lock()
	values, found := n.config[name]
	values = maps.Clone(values)
	n.mu.Unlock()
	if !found {
		return nil
	}
	return ok(values)
}

func (n *Node) configGet(_ []byte, name string) []byte {
	n.mu.Lock()
	values, found := n.config[name]
	values = maps.Clone(values)
	n.mu.Unlock()
	if !found {
		return success("Configuration not found")
	}
	return ok(values)
}

// claimsGet lists no claims: the node reads none from its components.
func (n *Node) claimsGet([]byte, string) []byte { return ok([]map[string]string{}) }

// registryPut accepts registry credentials as a host does; pulls use the
// node's own registry settings (docker config), so they are not kept.
func (n *Node) registryPut([]byte, string) []byte { return success("successfully put registries") }

// tellProviders passes a link change to the in-process providers it
// concerns, as a host puts links to its providers.
func (n *Node) tellProviders(l latticeadmin.Link, del bool) {
	pr, ok := n.opts.Workload.(ProviderRunner)
	if !ok {
		return
	}
	n.mu.Lock()
	var ids []string
	for _, id := range []string{l.SourceID, l.Target} {
		if _, running := n.providers[id]; running {
			ids = append(ids, id)
		}
	}
	data := n.latticeData()
	n.mu.Unlock()
	for _, id := range ids {
		pr.ProviderLink(id, l, del, data)
	}
}
