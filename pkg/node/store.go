package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
)

// componentSpecPrefix keys a component's specification in LATTICEDATA
// (upstream's COMPONENT_{id}), which holds the links it is the source of.
const componentSpecPrefix = "COMPONENT_"

// componentSpec is upstream's ComponentSpecification: {"url", "links"}.
type componentSpec struct {
	URL   string              `json:"url"`
	Links []latticeadmin.Link `json:"links"`
}

// latticeStore is the lattice's shared data as wasmCloud 1.x hosts keep
// it: links in LATTICEDATA_{lattice} (a COMPONENT_{source_id} spec per
// source component) and named config in CONFIGDATA_{lattice} (the config's
// name, a JSON map). One host writes a put; every host learns it by
// watching the buckets.
type latticeStore struct {
	data, config jetstream.KeyValue
}

// openStore opens (creating them when missing, with upstream's defaults)
// the lattice's two buckets.
func openStore(ctx context.Context, js jetstream.JetStream, lattice string) (*latticeStore, error) {
	open := func(name string) (jetstream.KeyValue, error) {
		kv, err := js.KeyValue(ctx, name)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name})
			if errors.Is(err, jetstream.ErrBucketExists) {
				kv, err = js.KeyValue(ctx, name)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", name, err)
		}
		return kv, nil
	}
	data, err := open(subject.HostDataBucket(lattice))
	if err != nil {
		return nil, err
	}
	config, err := open(subject.HostConfigBucket(lattice))
	if err != nil {
		return nil, err
	}
	return &latticeStore{data: data, config: config}, nil
}

func (s *latticeStore) spec(ctx context.Context, source string) (componentSpec, error) {
	var spec componentSpec
	e, err := s.data.Get(ctx, componentSpecPrefix+source)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return spec, nil
	}
	if err != nil {
		return spec, fmt.Errorf("failed to get component spec: %w", err)
	}
	if err := json.Unmarshal(e.Value(), &spec); err != nil {
		return spec, fmt.Errorf("failed to deserialize stored component specification for %s: %w", source, err)
	}
	return spec, nil
}

func (s *latticeStore) putSpec(ctx context.Context, source string, spec componentSpec) error {
	if spec.Links == nil {
		spec.Links = []latticeadmin.Link{}
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if _, err := s.data.Put(ctx, componentSpecPrefix+source, b); err != nil {
		return fmt.Errorf("failed to put component spec: %w", err)
	}
	return nil
}

// watch follows both buckets from their current values: the node's
// links and config follow them. It returns once the current values are
// applied; the watchers stop with ctx.
func (n *Node) watch(ctx context.Context) error {
	dw, err := n.store.data.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("failed to watch lattice data bucket: %w", err)
	}
	cw, err := n.store.config.WatchAll(ctx)
	if err != nil {
		_ = dw.Stop()
		return fmt.Errorf("failed to watch config bucket: %w", err)
	}
	ready := make(chan struct{}, 2)
	follow := func(w jetstream.KeyWatcher, apply func(jetstream.KeyValueEntry)) {
		defer n.wg.Done()
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, open := <-w.Updates():
				if !open {
					return
				}
				if e == nil { // the current values are in
					ready <- struct{}{}
					continue
				}
				apply(e)
			}
		}
	}
	n.wg.Add(2)
	go follow(dw, n.applyDataEntry)
	go follow(cw, n.applyConfigEntry)
	for range 2 {
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	n.log.Info("following the lattice's links and config", zap.String("links", n.store.data.Bucket()), zap.String("config", n.store.config.Bucket()))
	return nil
}

// applyDataEntry takes a COMPONENT_ spec's links as the links of its
// source, telling in-process providers of the links that came or went.
func (n *Node) applyDataEntry(e jetstream.KeyValueEntry) {
	source, ok := strings.CutPrefix(e.Key(), componentSpecPrefix)
	if !ok {
		return // CLAIMS_, REFMAP_, LINKDEF_ (deprecated): not the node's
	}
	var links []latticeadmin.Link
	if e.Operation() == jetstream.KeyValuePut {
		var spec componentSpec
		if err := json.Unmarshal(e.Value(), &spec); err != nil {
			n.log.Error("failed to process KV bucket entry", zap.String("key", e.Key()), zap.Error(err))
			return
		}
		links = spec.Links
	}
	n.setLinks(source, links)
}

// setLinks replaces the links of source with links.
func (n *Node) setLinks(source string, links []latticeadmin.Link) {
	n.mu.Lock()
	var old []latticeadmin.Link
	kept := n.links[:0:0]
	for _, l := range n.links {
		if l.SourceID == source {
			old = append(old, l)
		} else {
			kept = append(kept, l)
		}
	}
	n.links = append(kept, links...)
	n.mu.Unlock()
	changed := false
	for _, l := range links {
		if !slices.ContainsFunc(old, func(o latticeadmin.Link) bool { return sameLink(o, l) }) {
			n.tellProviders(l, false)
			changed = true
		}
	}
	for _, o := range old {
		if !slices.ContainsFunc(links, func(l latticeadmin.Link) bool { return sameLink(o, l) }) {
			n.tellProviders(o, true)
			changed = true
		}
	}
	if changed {
		n.reconcile()
	}
}

// sameLink: a and b are the same link, config included.
func sameLink(a, b latticeadmin.Link) bool {
	return a.SourceID == b.SourceID && a.Target == b.Target && a.Name == b.Name && a.WitNamespace == b.WitNamespace && a.WitPackage == b.WitPackage &&
		slices.Equal(a.Interfaces, b.Interfaces) && slices.Equal(a.SourceConfig, b.SourceConfig) && slices.Equal(a.TargetConfig, b.TargetConfig)
}

func (n *Node) applyConfigEntry(e jetstream.KeyValueEntry) {
	n.mu.Lock()
	if e.Operation() == jetstream.KeyValuePut {
		var values map[string]string
		if err := json.Unmarshal(e.Value(), &values); err != nil {
			n.mu.Unlock()
			n.log.Error("failed to process config entry: not a map of string to string", zap.String("config", e.Key()))
			return
		}
		if maps.Equal(n.config[e.Key()], values) && n.config[e.Key()] != nil {
			n.mu.Unlock()
			return
		}
		n.config[e.Key()] = nonNilMap(values)
	} else {
		delete(n.config, e.Key())
	}
	n.mu.Unlock()
	n.reconcile()
}

// storeLinkPut is link.put with the store: the link goes into its
// source's spec; the other hosts learn it from the bucket.
func (n *Node) storeLinkPut(ctx context.Context, l latticeadmin.Link) error {
	spec, err := n.store.spec(ctx, l.SourceID)
	if err != nil {
		return err
	}
	if err := linkConflict(spec.Links, l); err != nil {
		return err
	}
	if i := slices.IndexFunc(spec.Links, func(o latticeadmin.Link) bool { return sameLinkSlot(o, l) && o.Target == l.Target }); i >= 0 {
		spec.Links[i] = l
	} else {
		spec.Links = append(spec.Links, l)
	}
	if err := n.store.putSpec(ctx, l.SourceID, spec); err != nil {
		return err
	}
	n.setLinks(l.SourceID, spec.Links)
	return nil
}

// storeLinkDel is link.del with the store; it returns the deleted link.
func (n *Node) storeLinkDel(ctx context.Context, req linkDelete) (*latticeadmin.Link, error) {
	spec, err := n.store.spec(ctx, req.SourceID)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(spec.Links, func(o latticeadmin.Link) bool {
		return o.SourceID == req.SourceID && o.WitNamespace == req.WitNamespace && o.WitPackage == req.WitPackage && o.Name == req.Name
	})
	if i < 0 {
		return nil, nil
	}
	deleted := spec.Links[i]
	spec.Links = slices.Delete(spec.Links, i, i+1)
	if err := n.store.putSpec(ctx, req.SourceID, spec); err != nil {
		return nil, err
	}
	n.setLinks(req.SourceID, spec.Links)
	return &deleted, nil
}
