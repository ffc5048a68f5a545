package node

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/bridge"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge/observerpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
)

// BridgeOptions let the Runtime run canvas-bridge in-process (pkg/bridge
// with wasmcanvas:observe, what cmd/canvas-bridge runs), so components on
// other hosts reach it over wRPC as the provider of this host.
type BridgeOptions struct {
	// URL, UserJWT and UserSeed are how the bridge reaches the lattice,
	// as a host's host data says.
	URL, UserJWT, UserSeed string
	// Conn is the node's connection: link changes go to the bridge on
	// its provider subjects, as a host sends them.
	Conn *nats.Conn
}

// StartProvider runs canvas-bridge in-process as provider id, with its
// named config and the links it is part of as host data.
func (r *Runtime) StartProvider(ctx context.Context, id, ref string, config []string, data LatticeData) error {
	if r.opts.Bridge == nil {
		return errors.New("this node serves canvas-bridge to its own components only (no BridgeOptions)")
	}
	cfg := map[string]string{}
	for _, name := range config {
		maps.Copy(cfg, data.Config[name])
	}
	hd := bridge.HostData{
		HostID: data.HostID, LatticeRPCPrefix: data.Lattice, LinkName: latticeadmin.DefaultLinkName, ProviderKey: id,
		LatticeRPCURL: r.opts.Bridge.URL, LatticeRPCUserJWT: r.opts.Bridge.UserJWT, LatticeRPCUserSeed: r.opts.Bridge.UserSeed,
		Config: cfg, InstanceID: eventID(time.Now()),
	}
	for _, l := range data.Links {
		if l.SourceID == id || l.Target == id {
			hd.LinkDefinitions = append(hd.LinkDefinitions, linkDefinition(l, data))
		}
	}
	b, err := bridge.New(hd, bridge.Options{Logger: r.log.Named("canvas-bridge"), Services: []bridge.Service{observerpc.New(observerpc.Options{})}})
	if err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		return fmt.Errorf("canvas-bridge %s (%s): %w", id, ref, err)
	}
	r.mu.Lock()
	r.bridges[id] = b
	r.mu.Unlock()
	return nil
}

// StopProvider shuts the in-process bridge down.
func (r *Runtime) StopProvider(id string) {
	r.mu.Lock()
	b := r.bridges[id]
	delete(r.bridges, id)
	r.mu.Unlock()
	if b == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), bridge.ShutdownTimeout)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		r.log.Warn("canvas-bridge did not stop cleanly", zap.String("provider_id", id), zap.Error(err))
	}
}

// ProviderLink sends a link change to the bridge on its provider
// subjects (linkdefs.put or .del), as a host does.
func (r *Runtime) ProviderLink(id string, l latticeadmin.Link, del bool, data LatticeData) {
	r.mu.Lock()
	_, running := r.bridges[id]
	r.mu.Unlock()
	if !running || r.opts.Bridge.Conn == nil {
		return
	}
	body, err := latticeadmin.Marshal(linkDefinition(l, data))
	if err != nil {
		return
	}
	subj := subject.ProviderLinkPut(data.Lattice, id)
	if del {
		subj = subject.ProviderLinkDel(data.Lattice, id)
	}
	if err := r.opts.Bridge.Conn.Publish(subj, body); err != nil {
		r.log.Warn("link change not sent to canvas-bridge", zap.String("provider_id", id), zap.Error(err))
	}
}

// linkDefinition is a link with its named config resolved, as a host
// gives it to a provider.
func linkDefinition(l latticeadmin.Link, data LatticeData) bridge.LinkDefinition {
	resolve := func(names []string) map[string]string {
		out := map[string]string{}
		for _, n := range names {
			if !IsSecretReference(n) {
				maps.Copy(out, data.Config[n])
			}
		}
		return out
	}
	return bridge.LinkDefinition{
		SourceID: l.SourceID, Target: l.Target, Name: l.Name, WitNamespace: l.WitNamespace, WitPackage: l.WitPackage,
		Interfaces: nonNil(l.Interfaces), SourceConfig: resolve(l.SourceConfig), TargetConfig: resolve(l.TargetConfig),
	}
}

var _ ProviderRunner = (*Runtime)(nil)
