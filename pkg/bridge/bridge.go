package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/service"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
)

// ShutdownTimeout bounds the bridge's stop once the host asked for it: a
// host gives a provider little time before it kills it, and the protocol
// wants the process gone within 2 s.
const ShutdownTimeout = 1500 * time.Millisecond

// ShuttingDown is the raw reply to the host's shutdown request.
const ShuttingDown = "shutting down"

// Service is a set of WIT interfaces the bridge serves on the lattice:
// the seam where the wRPC handlers of wasmcanvas:observe and
// wasmcanvas:identity plug in (Options.Services). Each becomes one service
// of the bridge's runner, started after the NATS connection and before the
// provider subjects (so a host sees the bridge healthy only once it
// serves), and stopped in reverse.
type Service interface {
	// Name names what it serves, e.g. "wasmcanvas:observe@0.2.0";
	// the bridge's errors carry it.
	Name() string
	// Serve serves on nc until ctx ends, then returns nil; an error ends
	// the bridge. It calls env.Ready once its handlers are subscribed: the
	// bridge's start waits for that (a Serve that returns first fails the
	// start). It must look every call's source-id header up with
	// env.Links.Target and refuse a call from a component with no link.
	Serve(ctx context.Context, nc *nats.Conn, env Env) error
}

// Env is what a served interface needs to know of the provider: the wRPC
// prefix is {Lattice}.{ProviderKey} (WRPC.md), calls are checked against
// Links.
type Env struct {
	Lattice     string
	ProviderKey string
	Links       *Links
	Log         *zap.Logger
	// Config is the provider's named config now (Bridge.Config); the
	// caller must not change it.
	Config func() map[string]string
	// Otel is the provider's OpenTelemetry settings from the host.
	Otel OtelConfig
	// Ready tells the bridge the interface serves; calls after the first
	// do nothing.
	Ready func()
}

// Options are the bridge's settings besides the host data.
type Options struct {
	// Services are the served interfaces, in start order; with none the
	// bridge runs the provider protocol only.
	Services []Service
	Logger   *zap.Logger
}

// Bridge is one canvas-bridge provider process's parts: New, Start, then
// Shutdown (when ShutdownRequested is closed, on a signal) and Wait; Run
// does all of that.
type Bridge struct {
	hd         HostData
	opts       Options
	log        *zap.Logger
	links      *Links
	opener     *secretsOpener
	linkPutKey string // provider xkey public key, or provider_key
	runner     *service.Runner

	nc     *nats.Conn // set by the NATS service before later ones start
	subs   []*nats.Subscription
	config atomic.Pointer[map[string]string]

	shutdownOnce sync.Once
	shutdown     chan struct{}
}

// New checks hd and opts and returns a Bridge that is not started, holding
// the links the host data carries. A link whose secrets cannot be opened
// is logged and left out: calls over it are refused.
func New(hd HostData, opts Options) (*Bridge, error) {
	if err := hd.Validate(); err != nil {
		return nil, fmt.Errorf("host data: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	b := &Bridge{
		hd: hd, opts: opts, log: opts.Logger,
		links:      newLinks(hd.ProviderKey),
		linkPutKey: hd.ProviderKey,
		shutdown:   make(chan struct{}),
	}
	if hd.ProviderXKeyPrivateKey != "" {
		kp, err := providerXKey(hd)
		if err != nil {
			return nil, fmt.Errorf("host data: %w", err)
		}
		if b.linkPutKey, err = kp.PublicKey(); err != nil {
			return nil, fmt.Errorf("host data: provider_xkey_private_key: %w", err)
		}
		b.opener = &secretsOpener{provider: kp, host: hd.HostXKeyPublicKey}
	}
	cfg := maps.Clone(hd.Config)
	b.config.Store(&cfg)
	for i, d := range hd.LinkDefinitions {
		if err := b.putLink(d); err != nil {
			b.log.Error("link from host data left out", zap.Int("link_definitions", i), zap.Error(err))
		}
	}
	b.runner = service.NewRunner(b.services()...)
	return b, nil
}

// Run starts the bridge and runs it until ctx ends, the host asks it to
// shut down or a part ends by itself; then it stops within
// ShutdownTimeout. It returns nil after a requested stop.
func Run(ctx context.Context, hd HostData, opts Options) error {
	b, err := New(hd, opts)
	if err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		b.log.Info("signal received; shutting down")
	case <-b.ShutdownRequested():
		b.log.Info("host asked the provider to shut down", zap.String("host_id", hd.HostID))
	case <-b.runner.Done():
		return b.runner.Wait()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if err := b.Shutdown(sctx); err != nil {
		return err
	}
	return b.runner.Wait()
}

// Start connects to NATS, starts the served interfaces and subscribes to
// the provider subjects; on error it stops what it started.
func (b *Bridge) Start(ctx context.Context) error { return b.runner.Start(ctx) }

// Shutdown stops the bridge in reverse start order within ctx.
func (b *Bridge) Shutdown(ctx context.Context) error { return b.runner.Shutdown(ctx) }

// Done is closed once the bridge has stopped; Wait says why.
func (b *Bridge) Done() <-chan struct{} { return b.runner.Done() }

// Wait blocks until the bridge has stopped and returns why it stopped by
// itself, nil after Shutdown.
func (b *Bridge) Wait() error { return b.runner.Wait() }

// ShutdownRequested is closed once the bridge's own host asked it to shut
// down (and was answered); the owner then calls Shutdown.
func (b *Bridge) ShutdownRequested() <-chan struct{} { return b.shutdown }

// Links are the provider's links, as the host has put and deleted them.
func (b *Bridge) Links() *Links { return b.links }

// Config is the provider's named config, as the host data gave it and the
// last config update replaced it. The caller must not change it.
func (b *Bridge) Config() map[string]string { return *b.config.Load() }

// Otel is the provider's own OpenTelemetry settings from the host.
func (b *Bridge) Otel() OtelConfig { return b.hd.OtelConfig }

// HostData is what the host gave the provider.
func (b *Bridge) HostData() HostData { return b.hd }

func (b *Bridge) services() []service.Service {
	hd := b.hd
	ss := []service.Service{service.New("NATS", service.Funcs{
		Start: func(ctx context.Context) error {
			nc, err := lattice.Connect(ctx, lattice.Config{
				URLs:     hd.RPCURL(),
				Name:     translate.BridgeName + " " + hd.ProviderKey,
				UserJWT:  hd.LatticeRPCUserJWT,
				UserSeed: hd.LatticeRPCUserSeed,
			}, b.log.Named("nats"))
			b.nc = nc
			return err
		},
		// The shutdown reply and the last events are flushed first.
		Stop: func(ctx context.Context) error {
			err := flush(ctx, b.nc)
			b.nc.Close()
			return err
		},
	})}
	env := Env{Lattice: hd.LatticeRPCPrefix, ProviderKey: hd.ProviderKey, Links: b.links, Config: b.Config, Otel: hd.OtelConfig}
	for _, s := range b.opts.Services {
		ss = append(ss, b.served(s, env))
	}
	return append(ss, service.New("provider subjects", service.Funcs{
		Start: b.subscribe,
		Stop: func(context.Context) error {
			var errs []error
			for _, s := range b.subs {
				if err := s.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
					errs = append(errs, fmt.Errorf("%s: %w", s.Subject, err))
				}
			}
			return errors.Join(errs...)
		},
	}))
}

// served runs s as a service of the runner: its Start returns once Serve
// called env.Ready, its Run until Serve returns; Serve's goroutine is
// theirs.
func (b *Bridge) served(s Service, env Env) service.Service {
	ready := make(chan struct{})
	var once sync.Once
	env.Ready = func() { once.Do(func() { close(ready) }) }
	env.Log = b.log.Named(s.Name())
	var (
		cancel context.CancelFunc
		served = make(chan error, 1)
	)
	return service.New("serve "+s.Name(), service.Funcs{
		Start: func(ctx context.Context) error {
			var sctx context.Context
			sctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
			go func() { served <- s.Serve(sctx, b.nc, env) }()
			select {
			case <-ready:
				return nil
			case err := <-served:
				cancel()
				if err == nil {
					err = errors.New("Serve returned before it was ready")
				}
				return err
			case <-ctx.Done():
				cancel()
				<-served
				return ctx.Err()
			}
		},
		Run: func(ctx context.Context) error {
			select {
			case err := <-served:
				return err
			case <-ctx.Done():
				cancel()
				return <-served
			}
		},
	})
}

// subscribe subscribes to the provider subjects (PROVIDER.md, section 2)
// and flushes, so the host's first request finds them.
func (b *Bridge) subscribe(ctx context.Context) error {
	lat, key := b.hd.LatticeRPCPrefix, b.hd.ProviderKey
	for _, s := range []struct {
		subject string
		handle  nats.MsgHandler
	}{
		{subject.ProviderHealth(lat, key), b.health},
		{subject.ProviderShutdown(lat, key, b.hd.LinkName), b.shutdownRequest},
		{subject.ProviderLinkPut(lat, b.linkPutKey), b.linkPut},
		{subject.ProviderLinkDel(lat, key), b.linkDel},
		{subject.ProviderConfigUpdate(lat, key), b.configUpdate},
	} {
		sub, err := b.nc.Subscribe(s.subject, s.handle)
		if err != nil {
			for _, done := range b.subs {
				_ = done.Unsubscribe()
			}
			b.subs = nil
			return fmt.Errorf("subscribe %s: %w", s.subject, err)
		}
		b.subs = append(b.subs, sub)
	}
	if err := flush(ctx, b.nc); err != nil {
		return fmt.Errorf("flush subscriptions: %w", err)
	}
	b.log.Info("provider started", zap.String("host_id", b.hd.HostID), zap.String("lattice", lat),
		zap.String("provider_key", key), zap.Int("links", b.links.Len()), zap.Int("served_interfaces", len(b.opts.Services)))
	return nil
}

// flushTimeout bounds a flush when ctx has no deadline of its own.
const flushTimeout = 5 * time.Second

// flush waits for the server to have everything sent so far.
func flush(ctx context.Context, nc *nats.Conn) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, flushTimeout)
		defer cancel()
	}
	return nc.FlushWithContext(ctx)
}

// healthResponse is wasmCloud's HealthCheckResponse.
type healthResponse struct {
	Healthy bool   `json:"healthy"`
	Message string `json:"message,omitempty"`
}

func (b *Bridge) health(m *nats.Msg) {
	body, _ := json.Marshal(healthResponse{Healthy: true,
		Message: fmt.Sprintf("%d links, %d served interfaces", b.links.Len(), len(b.opts.Services))})
	b.respond(m, body)
}

func (b *Bridge) respond(m *nats.Msg, body []byte) {
	if m.Reply == "" {
		b.log.Warn("request without a reply subject ignored", zap.String("subject", m.Subject))
		return
	}
	if err := m.Respond(body); err != nil {
		b.log.Warn("reply failed", zap.String("subject", m.Subject), zap.Error(err))
	}
}

// shutdownRequest answers only a request for the bridge's own host: on a
// shared lattice every instance of the provider hears every host's
// request.
func (b *Bridge) shutdownRequest(m *nats.Msg) {
	var req struct {
		HostID string `json:"host_id"`
	}
	if err := json.Unmarshal(m.Data, &req); err != nil {
		b.log.Warn("shutdown request ignored: not {\"host_id\": ...}", zap.Error(jsonError(err)))
		return
	}
	if req.HostID != b.hd.HostID {
		b.log.Debug("shutdown request for another host ignored", zap.String("host_id", req.HostID))
		return
	}
	b.respond(m, []byte(ShuttingDown))
	b.shutdownOnce.Do(func() { close(b.shutdown) })
}

func (b *Bridge) linkPut(m *nats.Msg) {
	var d LinkDefinition
	if err := json.Unmarshal(m.Data, &d); err != nil {
		b.log.Warn("link definition ignored: not an InterfaceLinkDefinition", zap.Error(jsonError(err)))
		return
	}
	if err := b.putLink(d); err != nil {
		b.log.Warn("link definition ignored", zap.String("source_id", d.SourceID), zap.String("target", d.Target), zap.Error(err))
		return
	}
	b.log.Info("link put", linkFields(d)...)
	ack(m)
}

func (b *Bridge) putLink(d LinkDefinition) error {
	l, err := resolve(b.hd.ProviderKey, b.opener, d)
	if err != nil {
		return err
	}
	b.links.put(l)
	return nil
}

func (b *Bridge) linkDel(m *nats.Msg) {
	var d LinkDefinition
	if err := json.Unmarshal(m.Data, &d); err != nil {
		b.log.Warn("link deletion ignored: not an InterfaceLinkDefinition", zap.Error(jsonError(err)))
		return
	}
	if b.links.del(d) {
		b.log.Info("link deleted", linkFields(d)...)
	} else {
		b.log.Info("link deletion for an unknown link ignored", linkFields(d)...)
	}
	ack(m)
}

func linkFields(d LinkDefinition) []zap.Field {
	return []zap.Field{zap.String("source_id", d.SourceID), zap.String("target", d.Target), zap.String("name", d.Name),
		zap.String("wit", d.WitNamespace+":"+d.WitPackage), zap.Strings("interfaces", d.Interfaces)}
}

func (b *Bridge) configUpdate(m *nats.Msg) {
	var cfg map[string]string
	if err := json.Unmarshal(m.Data, &cfg); err != nil {
		b.log.Warn("config update ignored: not a JSON map of strings", zap.Error(jsonError(err)))
		return
	}
	b.config.Store(&cfg)
	b.log.Info("config updated", zap.Int("keys", len(cfg)))
	ack(m)
}

// ack answers an update sent as a request with an empty reply; one
// published needs none.
func ack(m *nats.Msg) {
	if m.Reply != "" {
		_ = m.Respond(nil)
	}
}
