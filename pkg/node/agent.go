package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/enforce"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime"
	"github.com/wasmcanvas/wasmcanvas/pkg/service"
)

// DefaultListenHTTP is the ingress of `canvas node`.
const DefaultListenHTTP = "127.0.0.1:8080"

// AgentOptions configure `canvas node`.
type AgentOptions struct {
	// NATS reaches the lattice: a NATS server (the site's leaf node, or
	// the hub with a client credential). Unused with Hub.
	NATS lattice.Config
	// Hub, when set, is the hub's leaf-node URL: the node makes its own
	// leaf-node connection there with NATS.CredsFile (the site's
	// credentials), so it needs no nats-server at the site and logs the
	// hub's reason when it refuses the credential.
	Hub          string
	Lattice      string
	Labels       map[string]string
	FriendlyName string
	// ListenHTTP is the ingress address (default DefaultListenHTTP).
	ListenHTTP string
	// StateDir holds the compile cache, the OCI cache and the components'
	// keyvalue store. Required.
	StateDir string
	// ArtefactRoots are the directories file:// components are read from;
	// none means StateDir only.
	ArtefactRoots []string
	AllowOutbound []string
	Limits        runtime.Limits
	Heartbeat     time.Duration
	// Probe is how often the node checks that the lattice answers beyond
	// its own server (default DefaultProbe): through a site's leaf node, a
	// cut hub link or a revoked site credential shows only that way.
	Probe   time.Duration
	Version string
	// JSDomain is the JetStream domain of the lattice's buckets, as a
	// host's --js-domain (with NATS only).
	JSDomain string
	// SecretsTopic is the secrets backends' topic prefix (a host's
	// --secrets-topic, e.g. subject.SecretsDefaultPrefix); empty refuses
	// components that name secret references, as such a host does.
	SecretsTopic string
	// OIDCIssuer, when set, is the OpenID issuer whose tokens the
	// ingress accepts on guarded APIs, each for its Component's audience
	// (IssuerAuthenticators); empty: guarded APIs answer 503.
	OIDCIssuer string
	Logger     *zap.Logger
	Getenv     func(string) string
}

// Agent is a running `canvas node`: a Node on the lattice, whose
// components run on the wasm runtime and answer on the ingress. Its parts
// are services of one runner.
type Agent struct {
	opts   AgentOptions
	log    *zap.Logger
	runner *service.Runner

	obs     *observe.Observer
	gw      *gateway.Gateway
	authFor func(component string) auth.Authenticator // nil without --oidc-issuer
	ingress string
	local   *embedded.Server // the components' keyvalue store
	kvConn  *nats.Conn
	js      jetstream.JetStream
	host    *runtime.Host
	leaf    *leaf
	nc      *nats.Conn
	work    *Runtime
	key     nkeys.KeyPair // the host's: its id, in the secrets' host JWT
	node    *Node

	mu      sync.Mutex
	started *Node // the node once it answers, for the hub link's callback
}

func (a *Agent) hostNode() *Node {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.started
}

// StartAgent starts the node; on error it stops what it started.
func StartAgent(ctx context.Context, opts AgentOptions) (*Agent, error) {
	if opts.StateDir == "" {
		return nil, errors.New("node: --state-dir is required")
	}
	abs, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("--state-dir %q: %w", opts.StateDir, err)
	}
	opts.StateDir = abs
	if opts.ListenHTTP == "" {
		opts.ListenHTTP = DefaultListenHTTP
	}
	if len(opts.ArtefactRoots) == 0 {
		opts.ArtefactRoots = []string{opts.StateDir}
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	a := &Agent{opts: opts, log: opts.Logger}
	if opts.OIDCIssuer != "" {
		if a.authFor, err = IssuerAuthenticators(opts.OIDCIssuer); err != nil {
			return nil, err
		}
	}
	a.runner = service.NewRunner(a.services()...)
	if err := a.runner.Start(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Agent) services() []service.Service {
	opts := a.opts
	reg := prometheus.NewRegistry()
	a.obs = observe.New(observe.Options{ServiceName: "canvas-node", Logger: a.log.Named("observe"), Getenv: opts.Getenv})
	a.gw = gateway.New(gateway.Options{Logger: a.log.Named("gateway"), Registerer: reg, Observer: a.obs, Policy: enforce.Options{AuthenticatorFor: a.authFor}})
	gwCtx, gwStop := context.WithCancel(context.Background())
	return []service.Service{
		service.New("state directory", service.Funcs{Start: func(context.Context) error {
			if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
				return fmt.Errorf("%w (--state-dir)", err)
			}
			return nil
		}}),
		a.obs.Service(),
		// The components' wasi:keyvalue lives on the node, so a site keeps
		// its state and serves while its uplink is down.
		service.New("local keyvalue store", service.Funcs{
			Start: func(ctx context.Context) (err error) {
				a.local, err = embedded.Start(embedded.Config{StoreDir: filepath.Join(opts.StateDir, "keyvalue"), Port: -1, Logger: a.log.Named("keyvalue-nats")})
				if err != nil {
					return err
				}
				if a.kvConn, err = lattice.Connect(ctx, lattice.Config{URLs: a.local.ClientURL(), Name: "canvas-node-keyvalue"}, a.log.Named("keyvalue-nats")); err != nil {
					return err
				}
				a.js, err = jetstream.New(a.kvConn)
				return err
			},
			Stop: func(context.Context) error {
				if a.kvConn != nil {
					a.kvConn.Close()
				}
				a.local.Shutdown()
				a.local.WaitForShutdown()
				return nil
			},
		}),
		service.New("wasm runtime", service.Funcs{
			Start: func(context.Context) (err error) {
				a.host, err = runtime.NewHost(runtime.Config{CacheDir: filepath.Join(opts.StateDir, "cache"), Log: a.log.Named("runtime"), Limits: opts.Limits})
				return err
			},
			Stop: func(context.Context) error { return a.host.Close() },
		}),
		service.New("ingress", service.Funcs{
			Start: func(context.Context) (err error) {
				if a.ingress, err = a.gw.Serve(gwCtx, opts.ListenHTTP); err != nil {
					return fmt.Errorf("--listen-http %s: %w", opts.ListenHTTP, err)
				}
				return nil
			},
			Stop: func(ctx context.Context) error { gwStop(); return a.gw.Wait(ctx) },
		}),
		service.New("lattice connection", service.Funcs{
			Start: func(ctx context.Context) (err error) {
				cfg := opts.NATS
				if cfg.Name == "" {
					cfg.Name = "canvas-node"
				}
				if opts.Hub == "" {
					if a.nc, err = lattice.Connect(ctx, cfg, a.log.Named("lattice")); err != nil {
						return err
					}
					a.watchCredential()
					return nil
				}
				// The hub link's coming back republishes the inventory
				// (once the host runs).
				a.leaf, err = startLeaf(opts.Hub, cfg.CredsFile, leafServerName(opts.FriendlyName), a.log.Named("hub-link"), func() {
					if n := a.hostNode(); n != nil {
						n.Heartbeat()
					}
				})
				if err != nil {
					return err
				}
				a.nc, err = nats.Connect("", nats.InProcessServer(a.leaf.srv), nats.Name(cfg.Name), nats.MaxReconnects(-1))
				if err != nil {
					a.leaf.shutdown()
					return fmt.Errorf("in-process connection: %w", err)
				}
				return nil
			},
			Stop: func(context.Context) error {
				a.nc.Close()
				if a.leaf != nil {
					a.leaf.shutdown()
				}
				return nil
			},
		}),
		service.New("components", service.Funcs{
			Start: func(context.Context) error {
				oci, err := NewOCI(filepath.Join(opts.StateDir, "oci"), a.log.Named("oci"))
				if err != nil {
					return err
				}
				arts, err := NewArtefacts(opts.ArtefactRoots, oci)
				if err != nil {
					return fmt.Errorf("--artefact-root: %w", err)
				}
				bridgeOpts, err := a.bridgeOptions()
				if err != nil {
					return err
				}
				if a.key, err = nkeys.CreateServer(); err != nil {
					return err
				}
				id, _ := a.key.PublicKey()
				name := opts.FriendlyName
				if name == "" {
					name = id[:10] // as New names the host
				}
				secrets, err := NewSecrets(a.nc, opts.SecretsTopic, id, name)
				if err != nil {
					return err
				}
				a.work, err = NewRuntime(RuntimeOptions{
					Runtime: a.host, Gateway: a.gw, Fetcher: arts, Observer: a.obs,
					KeyValue:         func(bucket string) runtime.KeyValue { return runtime.NewJetStreamKV(a.js, bucket) },
					IngressAuthority: a.ingress, AllowOutbound: opts.AllowOutbound, Limits: opts.Limits, Logger: a.log.Named("components"),
					Bridge: bridgeOpts, Secrets: secrets,
				})
				return err
			},
			Stop: func(context.Context) error { a.work.Close(); return nil },
		}),
		service.New("host", service.Funcs{
			Start: func(ctx context.Context) (err error) {
				js, err := a.latticeJetStream(ctx)
				if err != nil {
					return err
				}
				a.node, err = New(Options{JetStream: js, RunningFile: filepath.Join(opts.StateDir, RunningFile),
					Conn: a.nc, Key: a.key, Lattice: opts.Lattice, FriendlyName: opts.FriendlyName, Labels: opts.Labels, Version: opts.Version,
					Heartbeat: opts.Heartbeat, Workload: a.work, Logger: a.log.Named("host"),
					NoPeers: opts.Hub != "", // a site's credentials: see Options.NoPeers
				})
				if err != nil {
					return err
				}
				if err := a.node.Start(ctx); err != nil {
					return err
				}
				a.mu.Lock()
				a.started = a.node
				a.mu.Unlock()
				return nil
			},
			// host.stop ends the node.
			Run: func(ctx context.Context) error {
				select {
				case <-a.node.Stopped():
				case <-ctx.Done():
				}
				return nil
			},
			Stop: func(context.Context) error { a.node.Close(); return nil },
		}),
	}
}

// latticeJetStream is the JetStream the node keeps links and config in
// (LATTICEDATA_/CONFIGDATA_), or nil: with Hub (a site's leaf link, whose
// JetStream access is not made here) or when the lattice's server has no
// JetStream, the node keeps them in memory and says so.
func (a *Agent) latticeJetStream(ctx context.Context) (jetstream.JetStream, error) {
	if a.opts.Hub != "" {
		a.log.Info("links and named config are kept in this node's memory, learnt from link.put and config.put: the lattice's LATTICEDATA/CONFIGDATA buckets are not used across a site's leaf link")
		return nil, nil
	}
	var (
		js  jetstream.JetStream
		err error
	)
	if a.opts.JSDomain != "" {
		js, err = jetstream.NewWithDomain(a.nc, a.opts.JSDomain)
	} else {
		js, err = jetstream.New(a.nc)
	}
	if err != nil {
		return nil, fmt.Errorf("--js-domain: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(pctx); err != nil {
		a.log.Warn("the lattice's JetStream does not answer: links and named config are kept in this node's memory (learnt from link.put, config.put and the hosts already there), not in the LATTICEDATA/CONFIGDATA buckets hosts share",
			zap.String("js_domain", a.opts.JSDomain), zap.Error(err))
		return nil, nil
	}
	return js, nil
}

// watchCredential logs, once per change, why the lattice refuses the
// node's connection (a revoked or expired credential): the node then gets
// no commands, but keeps serving what it runs and keeps retrying.
func (a *Agent) watchCredential() {
	var (
		mu   sync.Mutex
		last string
	)
	refused := func(err error) {
		if err == nil || !authError(err) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if err.Error() == last {
			return
		}
		last = err.Error()
		a.log.Error("the lattice refuses this node's credential: it receives no commands until it gets a valid one, and keeps serving the components it runs; ask the lattice's operator for new credentials (canvas edge bootstrap --rotate) and restart canvas node with them",
			zap.String("creds", a.opts.NATS.CredsFile), zap.Error(err))
	}
	a.nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { refused(err) })
	a.nc.SetDisconnectErrHandler(func(nc *nats.Conn, err error) {
		a.log.Warn("lattice connection lost: the node keeps serving what it runs and reconnects", zap.Error(err))
		refused(err)
	})
	a.nc.SetReconnectHandler(func(nc *nats.Conn) {
		mu.Lock()
		last = ""
		mu.Unlock()
		a.log.Info("lattice connection back", zap.String("url", nc.ConnectedUrlRedacted()))
	})
}

func authError(err error) bool {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired) {
		return true
	}
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "authorization violation") || strings.Contains(s, "authentication")
}

// Node is the host on the lattice.
func (a *Agent) Node() *Node { return a.node }

// Ingress is the ingress's URL.
func (a *Agent) Ingress() string { return "http://" + a.ingress }

// Shutdown stops the node's parts in reverse order.
func (a *Agent) Shutdown(ctx context.Context) error { return a.runner.Shutdown(ctx) }

// Done is closed once the node has stopped (after Shutdown or host.stop).
func (a *Agent) Done() <-chan struct{} { return a.runner.Done() }

// Wait blocks until the node has stopped and returns why, if a part
// failed.
func (a *Agent) Wait() error { return a.runner.Wait() }

// leafServerName names the node's in-process server: unique per start, as
// the hub refuses two leaf connections from one server name.
func leafServerName(friendly string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	if friendly == "" {
		friendly = "canvas-node"
	}
	return friendly + "-" + hex.EncodeToString(b[:])
}

// bridgeOptions say how an in-process canvas-bridge reaches the lattice:
// the hub link's loopback listener, or the --nats server with the node's
// credentials.
func (a *Agent) bridgeOptions() (*BridgeOptions, error) {
	if a.leaf != nil {
		return &BridgeOptions{URL: a.leaf.srv.ClientURL(), Conn: a.nc}, nil
	}
	o := &BridgeOptions{URL: strings.Split(a.opts.NATS.URLs, ",")[0], Conn: a.nc}
	if f := a.opts.NATS.CredsFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--creds: %w", err)
		}
		if o.UserJWT, err = jwt.ParseDecoratedJWT(b); err != nil {
			return nil, fmt.Errorf("--creds %s: %w", f, err)
		}
		kp, err := nkeys.ParseDecoratedNKey(b)
		if err != nil {
			return nil, fmt.Errorf("--creds %s: %w", f, err)
		}
		seed, err := kp.Seed()
		if err != nil {
			return nil, fmt.Errorf("--creds %s: %w", f, err)
		}
		o.UserSeed = string(seed)
	}
	return o, nil
}
