package up

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/api"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy/local"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/enforce"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policykv"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime"
	"github.com/wasmcanvas/wasmcanvas/pkg/service"
)

// Defaults of Options.
const (
	DefaultListen   = daemon.DefaultListen
	DefaultIngress  = "127.0.0.1:8080"
	DefaultNATSPort = 4222
	// LockFile is the lock and process record in the state directory.
	LockFile = "canvas-up.json"
)

// Options configure an embedded canvas.
type Options struct {
	// StateDir holds NATS data, the compile cache and the lock (default
	// $XDG_STATE_HOME/wasmcanvas).
	StateDir string
	// Listen is canvasd's API address (default 127.0.0.1:7443).
	Listen string
	// KubeListen is the kube API's TLS address (default
	// daemon.DefaultKubeListen: loopback, any free port; "off" turns it
	// off). `canvas kubeconfig` reads where it listens from the lock file.
	KubeListen string
	// Ingress is the gateway address serving the components' APIs
	// (default 127.0.0.1:8080).
	Ingress string
	// PeerCanvases are other canvases' base URLs (daemon.Options.PeerCanvases).
	PeerCanvases []string
	// NATSPort is the embedded nats-server's client port on 127.0.0.1
	// (default 4222; -1 picks a free one).
	NATSPort int
	// Limits bound every component (zero fields take the runtime's
	// defaults).
	Limits runtime.Limits
	// MaxInstances sizes the runtime's instance pool (concurrent requests
	// across all components); 0 means runtime.DefaultPoolInstances.
	MaxInstances uint32
	// OnDemand turns the pool off (runtime.Config.OnDemand).
	OnDemand bool
	// ResidentBytes is runtime.Config.ResidentBytes (0: its default).
	ResidentBytes uint64
	// AllowOutbound lists authorities outside the canvas that components
	// with dependent APIs may call (local.Options.AllowOutbound).
	AllowOutbound []string
	// ArtefactRoots are the only directories file:// artefacts are read
	// from (local.Options.ArtefactRoots); none means the directory canvas
	// up runs in and StateDir.
	ArtefactRoots []string
	Logger        *zap.Logger
	// Getenv reads the OTEL_* settings of the canvas's OTLP export
	// (default os.Getenv; none set: no export, metrics still served).
	Getenv func(string) string
	// Authenticator verifies the bearer tokens of the exposed APIs of
	// Components with a securityFunction, for every Component alike.
	// Nil (the default): canvasd's issuer verifies them, each Component's
	// for its own audience (identity.ClientID of the Component).
	Authenticator auth.Authenticator
}

// SystemRoutesApp owns the gateway routes of the canvas itself (the info
// service at /canvas-info); a Component exposing an API there is refused
// as a route conflict.
const SystemRoutesApp = "wasmcanvas-system"

// Info says where a running canvas serves; it is also the content of the
// lock file.
type Info struct {
	PID      int    `json:"pid"`
	API      string `json:"api"`
	Kube     string `json:"kube,omitempty"`
	Ingress  string `json:"ingress"`
	NATS     string `json:"nats"`
	StateDir string `json:"stateDir"`
}

// Canvas is a running embedded canvas.
//
// # Notes
//
//   - Start returns once every part is up and canvasd reports ready.
//   - Its parts are services of one runner (pkg/service): Shutdown stops
//     them in reverse order and is safe to call more than once. Wait
//     returns after Shutdown or when a part failed.
type Canvas struct {
	opts   Options
	log    *zap.Logger
	info   Info
	runner *service.Runner

	// Set by the services as they start; later services read them.
	lock     *os.File
	nats     *embedded.Server
	kvConn   *nats.Conn // the runtime's wasi:keyvalue connection
	js       jetstream.JetStream
	replicas *runtime.KVReplicas // the components' buckets, in memory
	restored []string            // the applications whose stored routes answer 503 until served
	host     *runtime.Host
	obs      *observe.Observer
	gw       *gateway.Gateway
	ingress  string // the gateway's bound address
	deploy   *local.Deployer
	daemon   *daemon.Daemon
	identity canvasIdentity // canvasd's, for the gateway and the runtime

	// unregister drops the canvas from the list Known reads.
	unregister func()
}

// Start brings the canvas up. On error it stops what it started and
// returns an error naming the part that failed.
func Start(ctx context.Context, opts Options) (*Canvas, error) {
	if opts.StateDir == "" {
		d, err := daemon.DefaultStateDir()
		if err != nil {
			return nil, err
		}
		opts.StateDir = d
	}
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if opts.Ingress == "" {
		opts.Ingress = DefaultIngress
	}
	if opts.NATSPort == 0 {
		opts.NATSPort = DefaultNATSPort
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	abs, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("--state-dir %q: %w", opts.StateDir, err)
	}
	opts.StateDir = abs
	c := &Canvas{opts: opts, log: opts.Logger}
	c.runner = service.NewRunner(c.services()...)
	if err := c.runner.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// services are the canvas's parts in start order: canvasd is stopped
// first (no new deploys), then the deployer and the runtime, the gateway,
// NATS, observability (flushing what the others recorded) and the lock
// last.
func (c *Canvas) services() []service.Service {
	opts := c.opts
	reg := prometheus.NewRegistry()
	c.obs = observe.New(observe.Options{ServiceName: "canvas-up", Logger: c.log.Named("observe"), Getenv: opts.Getenv})
	gwCtx, gwStop := context.WithCancel(context.Background()) // Serve until Stop
	return []service.Service{
		service.New("lock", service.Funcs{
			Start: func(context.Context) (err error) {
				if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
					return fmt.Errorf("%w (--state-dir)", err)
				}
				c.lock, err = acquire(opts.StateDir)
				return err
			},
			Stop: func(context.Context) error {
				os.Remove(c.lock.Name())
				return c.lock.Close() // releases the flock
			},
		}),
		// A taken port fails here, in one line, before anything listens.
		service.New("ports", service.Funcs{Start: func(context.Context) error { return CheckPorts(opts) }}),
		c.obs.Service(),
		service.New("embedded NATS", service.Funcs{
			Start: func(context.Context) (err error) {
				c.nats, err = embedded.Start(embedded.Config{
					StoreDir: filepath.Join(opts.StateDir, "nats"),
					Port:     opts.NATSPort,
					Logger:   c.log.Named("nats-server"),
				})
				if err != nil {
					return fmt.Errorf("--nats-port %d: %w", opts.NATSPort, err)
				}
				return nil
			},
			Stop: func(context.Context) error { c.nats.Shutdown(); c.nats.WaitForShutdown(); return nil },
		}),
		service.New("runtime keyvalue connection", service.Funcs{
			Start: func(ctx context.Context) (err error) {
				c.kvConn, err = lattice.Connect(ctx, lattice.Config{URLs: c.nats.ClientURL(), Name: "wasmcanvas-runtime"}, c.log.Named("runtime-nats"))
				if err != nil {
					return err
				}
				if c.js, err = jetstream.New(c.kvConn); err != nil {
					return err
				}
				// The embedded runtime is the lattice's only host: every
				// write to a component's bucket goes through it, so reads
				// from the replica see what reads from JetStream saw.
				c.replicas = runtime.NewKVReplicas(c.js, 0, c.log.Named("keyvalue"))
				return nil
			},
			Stop: func(context.Context) error { c.replicas.Close(); c.kvConn.Close(); return nil },
		}),
		// The gateway enforces exposed APIs' policies with API keys and
		// quotas in JetStream KV, so they survive a restart; its rate-limit
		// windows (a minute at most) it counts in memory: it is the only
		// gateway.
		service.New("gateway policy stores", service.Funcs{
			Start: func(ctx context.Context) error {
				keys, err := policykv.OpenKeys(ctx, c.js)
				if err != nil {
					return err
				}
				quota, err := policykv.QuotaCounter(ctx, c.js)
				if err != nil {
					return err
				}
				pol := enforce.Options{Authenticator: opts.Authenticator, APIKeys: keys, QuotaCounter: quota}
				if opts.Authenticator == nil {
					pol.AuthenticatorFor = c.identity.authenticatorFor
				}
				c.gw = gateway.New(gateway.Options{Logger: c.log.Named("gateway"), Registerer: reg, Observer: c.obs, Policy: pol})
				return nil
			},
		}),
		service.New("wasm runtime", service.Funcs{
			Start: func(context.Context) (err error) {
				c.host, err = runtime.NewHost(runtime.Config{
					CacheDir:      filepath.Join(opts.StateDir, "cache"),
					Log:           c.log.Named("runtime"),
					Limits:        opts.Limits,
					PoolInstances: opts.MaxInstances,
					OnDemand:      opts.OnDemand,
					ResidentBytes: opts.ResidentBytes,
					// Calls to dependent APIs continue the trace of the request.
					OutgoingRequest: outgoingSpan(c.obs),
				})
				if errors.Is(err, runtime.ErrPoolReservation) {
					return fmt.Errorf("--max-instances %d (0 turns the pool off): %w", opts.MaxInstances, err)
				}
				if err != nil {
					return err
				}
				// canvasd's /metrics: pool occupancy, components by tier.
				return reg.Register(c.host.Collector())
			},
			Stop: func(context.Context) error { reg.Unregister(c.host.Collector()); c.host.Close(); return nil },
		}),
		// Before the gateway listens, the paths of stored Components are
		// claimed as unavailable: 503 until served again, never 404.
		service.New("stored routes", service.Funcs{Start: func(ctx context.Context) (err error) {
			c.restored, err = claimStoredRoutes(ctx, c.js, c.gw, c.log)
			return err
		}}),
		service.New("gateway", service.Funcs{
			Start: func(context.Context) (err error) {
				if c.ingress, err = c.gw.Serve(gwCtx, opts.Ingress); err != nil {
					return fmt.Errorf("--ingress %s: %w", opts.Ingress, err)
				}
				return nil
			},
			Stop: func(ctx context.Context) error { gwStop(); return c.gw.Wait(ctx) },
		}),
		service.New("local deployer", service.Funcs{
			Start: func(context.Context) error {
				roots, err := opts.artefactRoots()
				if err != nil {
					return err
				}
				c.deploy, err = local.New(local.Options{
					Runtime: c.host, Gateway: c.gw, Logger: c.log.Named("deploy"), Limits: opts.Limits,
					KeyValue: func(bucket string) runtime.KeyValue {
						return runtime.NewJetStreamKV(c.js, bucket, runtime.WithKVReplica(c.replicas))
					},
					// Components with dependent APIs call them at the ingress.
					IngressAuthority: c.ingress,
					AllowOutbound:    opts.AllowOutbound,
					InfoURL:          c.gw.BaseURL() + wire.PathCanvasInfo,
					ArtefactRoots:    roots,
					Observer:         c.obs,
					Identity:         c.identity.tokens,
				})
				if err != nil {
					return fmt.Errorf("--artefact-root: %w", err)
				}
				return nil
			},
			Stop: func(context.Context) error { c.deploy.Close(); return nil },
		}),
		service.New("control plane", service.Funcs{
			// Checks what canvas up sets of canvasd's options before
			// anything starts; the rest is known once the gateway serves.
			Provision: func(context.Context) error {
				_, err := daemon.New(daemon.Options{StateDir: opts.StateDir, Listen: opts.Listen, KubeListen: opts.KubeListen})
				return err
			},
			Start: func(ctx context.Context) (err error) {
				c.daemon, err = daemon.New(daemon.Options{
					NATS:         lattice.Config{URLs: c.nats.ClientURL()},
					StateDir:     opts.StateDir,
					Listen:       opts.Listen,
					IngressURL:   c.gw.BaseURL(),
					Deployer:     c.deploy,
					PeerCanvases: opts.PeerCanvases,
					KubeListen:   opts.KubeListen,
					// Ready means every stored Component serves again (or failed).
					Checks:   []api.Check{newRestore(c.restored, c.deploy, c.log).readinessCheck()},
					Registry: reg,
					Logger:   c.log.Named("canvasd"),
				})
				if err != nil {
					return err
				}
				if err := c.daemon.Start(ctx); err != nil {
					return err
				}
				c.identity.d.Store(c.daemon)
				return nil
			},
			// The canvas ends when canvasd stops by itself.
			Run: func(context.Context) error {
				<-c.daemon.Done() // Stop's Shutdown closes it too
				return c.daemon.Wait()
			},
			Stop: func(ctx context.Context) error { return c.daemon.Shutdown(ctx) },
		}),
		// Components reach the info service (dependent-API discovery) on
		// the ingress, like their dependencies.
		service.New("canvas info route", service.Funcs{
			Start: func(context.Context) error {
				return c.gw.SetRoutes(SystemRoutesApp, []gateway.Route{{API: "canvas-info", Path: wire.PathCanvasInfoRoot, Handler: c.daemon.InfoHandler()}})
			},
			// Stopped before canvasd: from here on the gateway answers 503 there.
			Stop: func(context.Context) error {
				c.gw.SetUnavailable(SystemRoutesApp, "the canvas is shutting down")
				return nil
			},
		}),
		service.New("ready", service.Funcs{
			Start: func(ctx context.Context) error {
				if err := c.daemon.Ready(ctx); err != nil {
					return err
				}
				c.info = Info{PID: os.Getpid(), API: c.daemon.APIURL(), Kube: c.daemon.KubeURL(), Ingress: c.gw.BaseURL(), NATS: c.nats.ClientURL(), StateDir: opts.StateDir}
				if err := c.writeInfo(); err != nil {
					return err
				}
				c.unregister = register(opts.StateDir)
				return nil
			},
			Stop: func(context.Context) error { c.unregister(); return nil },
		}),
	}
}

// Info says where the canvas serves.
func (c *Canvas) Info() Info { return c.info }

// Shutdown stops the canvas's parts in reverse order, ctx bounding it,
// and returns what went wrong. Concurrent and later calls wait for the
// first and return the same.
func (c *Canvas) Shutdown(ctx context.Context) error { return c.runner.Shutdown(ctx) }

// Done is closed once the canvas has stopped.
func (c *Canvas) Done() <-chan struct{} { return c.runner.Done() }

// Wait blocks until the canvas has stopped and returns why, if a part
// failed; nil after Shutdown, which returns its own errors.
func (c *Canvas) Wait() error { return c.runner.Wait() }

// acquire takes the state directory's lock, or says who holds it.
func acquire(stateDir string) (*os.File, error) {
	path := filepath.Join(stateDir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if info, rerr := ReadInfo(stateDir); rerr == nil && info.PID > 0 {
				return nil, fmt.Errorf("state directory %s is in use by canvas up (pid %d, API %s): stop it with `canvas down --state-dir %s`, or pick another --state-dir", stateDir, info.PID, info.API, stateDir)
			}
			return nil, fmt.Errorf("state directory %s is in use by another canvas up that is still starting: wait for it, or stop it with `canvas down --state-dir %s`", stateDir, stateDir)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// writeInfo records where the canvas serves in the (locked) lock file.
func (c *Canvas) writeInfo() error {
	data, err := json.MarshalIndent(c.info, "", "  ")
	if err != nil {
		return err
	}
	if err := c.lock.Truncate(0); err != nil {
		return fmt.Errorf("write %s: %w", c.lock.Name(), err)
	}
	if _, err := c.lock.WriteAt(append(data, '\n'), 0); err != nil {
		return fmt.Errorf("write %s: %w", c.lock.Name(), err)
	}
	return c.lock.Sync()
}

// ReadInfo reads the lock file of a running (or crashed) canvas.
func ReadInfo(stateDir string) (Info, error) {
	var info Info
	path := filepath.Join(stateDir, LockFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return info, fmt.Errorf("no canvas is running with state directory %s (no %s)", stateDir, LockFile)
		}
		return info, err
	}
	if len(data) == 0 {
		return info, fmt.Errorf("canvas up with state directory %s is still starting", stateDir)
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("%s: %w", path, err)
	}
	return info, nil
}

// Running reports whether a canvas holds stateDir's lock, with its Info.
func Running(stateDir string) (Info, bool) {
	path := filepath.Join(stateDir, LockFile)
	f, err := os.Open(path)
	if err != nil {
		return Info{}, false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return Info{}, false // nobody holds it: a stale file after a crash
	}
	info, err := ReadInfo(stateDir)
	return info, err == nil
}
