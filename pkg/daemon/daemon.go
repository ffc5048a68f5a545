package daemon

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/api"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policykv"
	"github.com/wasmcanvas/wasmcanvas/pkg/kubeapi"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/peer"
	"github.com/wasmcanvas/wasmcanvas/pkg/reconcile"
	"github.com/wasmcanvas/wasmcanvas/pkg/service"
	"github.com/wasmcanvas/wasmcanvas/pkg/store"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmclient"
)

// RuntimeInfo is the content of StateDir/RuntimeFile: where this canvasd
// process serves. It is written once the API listens and removed on
// Shutdown; after a crash a stale file remains until the next start, so a
// reader checks PID.
type RuntimeInfo struct {
	PID int `json:"pid"`
	// API is the HTTP API's base URL (http://host:port).
	API string `json:"api"`
	// Kube is the kube API's base URL (https://host:port), absent when off.
	Kube string `json:"kube,omitempty"`
	// NATS is the URL of the server canvasd is connected to.
	NATS    string `json:"nats"`
	Lattice string `json:"lattice"`
}

// ReadRuntimeInfo reads the runtime file of stateDir.
func ReadRuntimeInfo(stateDir string) (RuntimeInfo, error) {
	var ri RuntimeInfo
	data, err := os.ReadFile(filepath.Join(stateDir, RuntimeFile))
	if err != nil {
		return ri, fmt.Errorf("canvasd runtime file: %w (is canvasd running with --state-dir %s?)", err, stateDir)
	}
	if err := json.Unmarshal(data, &ri); err != nil {
		return ri, fmt.Errorf("canvasd runtime file %s: %w", filepath.Join(stateDir, RuntimeFile), err)
	}
	return ri, nil
}

// Daemon is one canvasd. Use New, Start, Ready, then Shutdown and Wait.
// Its parts are services of one runner (pkg/service), started in the
// order services lists them and stopped in reverse.
type Daemon struct {
	opts   Options
	log    *zap.Logger
	runner *service.Runner

	// Set by the services as they start; later services read them.
	embedded *embedded.Server
	system   *wadm.Manifest // nil under a Deployer of the caller's
	sysOpts  translate.SystemOptions
	sites    *edge.SiteWatch // nil without LatticeDir
	sysKeep  *reconcile.System
	ctrl     *reconcile.Controller
	apiSrv   *api.Server
	info     http.Handler // apiSrv's info service
	registry *peer.Registry
	peers    atomic.Pointer[peer.Peers] // nil without PeerCanvases, set once the API listens
	httpSrv  *http.Server
	ln       net.Listener
	js       jetstream.JetStream
	id       identityParts
	kube     *kubeapi.Server
	kubeSrv  *http.Server
	kubeLn   net.Listener

	// mu guards what the accessors read while services start; it is never
	// held across I/O.
	mu      sync.Mutex
	nc      *nats.Conn
	apiURL  string
	kubeURL string

	serving           atomic.Bool // from Start until Shutdown begins
	controllerRunning atomic.Bool
}

// New fills in defaults, validates opts and returns a Daemon that is not
// started. Options are not reused after New.
func New(opts Options) (*Daemon, error) {
	urlsGiven := strings.TrimSpace(opts.NATS.URLs) != ""
	opts, err := opts.provision()
	if err != nil {
		return nil, fmt.Errorf("canvasd: %w", err)
	}
	if err := opts.validate(urlsGiven); err != nil {
		return nil, fmt.Errorf("canvasd options: %w", err)
	}
	d := &Daemon{opts: opts, log: opts.Logger}
	if opts.Deployer == nil {
		d.sysOpts = translate.SystemOptions{
			Name: opts.SystemApp, BridgeImage: opts.BridgeImage, IngressAddress: opts.IngressAddress,
			// canvas-bridge verifies an external issuer's tokens, or the
			// embedded one's at --issuer-url (set again in listen once the
			// API's URL is known).
			Issuer: cmp.Or(opts.OIDCIssuer, opts.IssuerURL),
		}
		d.system, err = translate.SystemApplication(d.sysOpts)
		if err != nil {
			return nil, fmt.Errorf("canvasd options: --system-app, --bridge-image, --ingress-address: %w", err)
		}
	}
	if opts.LatticeDir != "" {
		if d.sites, err = edge.WatchSites(opts.LatticeDir); err != nil {
			return nil, fmt.Errorf("canvasd options: --lattice-dir: %w", err)
		}
	}
	d.runner = service.NewRunner(d.services()...)
	return d, nil
}

// Start brings the daemon up: state dir, NATS (embedded or remote),
// stores, reconcile controller, API over HTTP and NATS. On error it stops
// what it started and returns an error naming the step. ctx bounds the
// start-up only.
func (d *Daemon) Start(ctx context.Context) error {
	if err := d.runner.Start(ctx); err != nil {
		return err
	}
	d.log.Info("canvasd started", zap.String("api", d.APIURL()), zap.String("nats", d.NATSURL()),
		zap.String("lattice", d.opts.Lattice), zap.String("state_dir", d.opts.StateDir), zap.Bool("embedded_nats", d.opts.EmbeddedNATS))
	return nil
}

// services are the daemon's parts in start order. One that ends by itself
// (a loop that fails, the HTTP server) stops the daemon; Wait returns why.
func (d *Daemon) services() []service.Service {
	o := d.opts
	ss := []service.Service{service.New("state directory", service.Funcs{
		Start: func(context.Context) error {
			if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
				return fmt.Errorf("%w (--state-dir)", err)
			}
			return nil
		},
		// Started first, so stopped last.
		Stop: func(context.Context) error { d.log.Info("canvasd stopped"); return nil },
	})}
	natsCfg := o.NATS
	if o.EmbeddedNATS {
		ss = append(ss, service.New("embedded NATS", service.Funcs{
			Start: func(context.Context) (err error) {
				d.embedded, err = embedded.Start(embedded.Config{
					StoreDir: filepath.Join(o.StateDir, "nats"),
					Port:     o.EmbeddedNATSPort,
					Logger:   d.log.Named("nats-server"),
				})
				if err == nil {
					natsCfg.URLs = d.embedded.ClientURL()
				}
				return err
			},
			Stop: func(context.Context) error { d.embedded.Shutdown(); d.embedded.WaitForShutdown(); return nil },
		}))
	}
	ss = append(ss,
		service.New("NATS", service.Funcs{
			Start: func(ctx context.Context) error {
				nc, err := lattice.Connect(ctx, natsCfg, d.log.Named("nats"))
				if err != nil {
					return err
				}
				d.mu.Lock()
				d.nc = nc
				d.mu.Unlock()
				return nil
			},
			// Closed, not drained: the loops that use it have stopped.
			Stop: func(context.Context) error { d.nc.Close(); return nil },
		}),
		// Before the control plane, which deploys the system application
		// naming the embedded issuer's URL, and the controller, which
		// registers Components with the issuer: both need the API's URL.
		service.New("API listener", service.Funcs{
			Start: d.listen,
			// Closed already when the HTTP API served it; not when a later
			// step failed.
			Stop: func(context.Context) error { _ = d.ln.Close(); return nil },
		}),
		service.New("control plane", service.Funcs{Start: d.build}),
	)
	if d.system != nil {
		// Before the controller, so the shared components exist when the
		// first Component's application is deployed (wadm refuses it
		// otherwise). A failure only delays that: Run retries it.
		ss = append(ss, service.New("system application", service.Funcs{
			Start: func(ctx context.Context) error {
				if _, err := d.sysKeep.Ensure(ctx); err != nil {
					d.log.Warn("system application not deployed yet; retrying in the background", zap.Error(err))
				}
				return nil
			},
			Run: func(ctx context.Context) error { return d.sysKeep.Run(ctx) },
		}))
	}
	ss = append(ss,
		d.identityService(),
		d.tokenService(),
		d.roleService(),
		service.New("controller", service.Funcs{Run: func(ctx context.Context) error {
			d.controllerRunning.Store(true)
			defer d.controllerRunning.Store(false)
			return d.ctrl.Run(ctx)
		}}),
		service.New("api watch", service.Funcs{Run: func(ctx context.Context) error { return d.apiSrv.Run(ctx) }}),
		service.New("nats api", service.Funcs{Run: func(ctx context.Context) error { return d.apiSrv.ServeNATS(ctx, d.nc) }}),
		service.New("rewatch on reconnect", service.Funcs{Run: func(ctx context.Context) error {
			reconnected := d.nc.StatusChanged(nats.CONNECTED)
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-reconnected:
					d.apiSrv.Rewatch()
				}
			}
		}}),
		service.New("HTTP API", service.Funcs{
			Start: d.serveHTTP,
			// Serve returns http.ErrServerClosed after Stop, which ignores it.
			Run: func(context.Context) error { return d.httpSrv.Serve(d.ln) },
			// In-flight requests finish (watch streams are cut) within ctx.
			Stop: func(ctx context.Context) error {
				if err := d.httpSrv.Shutdown(ctx); err != nil {
					return errors.Join(err, d.httpSrv.Close())
				}
				return nil
			},
		}),
		service.New("peer registrations", service.Funcs{Run: func(ctx context.Context) error {
			t := time.NewTicker(peer.DefaultTTL / 3)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
					d.registry.Expire()
				}
			}
		}}),
	)
	ss = append(ss, d.kubeServices()...)
	ss = append(ss,
		service.New("runtime file", service.Funcs{
			Start: func(context.Context) error {
				err := d.writeRuntimeFile()
				d.serving.Store(err == nil)
				return err
			},
			// Stopped first: the info service answers 503 from here on.
			Stop: func(context.Context) error {
				d.serving.Store(false)
				_ = os.Remove(filepath.Join(o.StateDir, RuntimeFile)) // gone already: nothing to do
				return nil
			},
		}),
	)
	if len(o.PeerCanvases) > 0 {
		ss = append(ss, service.New("peer canvases", service.Funcs{Start: d.startPeers,
			Run: func(ctx context.Context) error { return d.peers.Load().Run(ctx) }}))
	}
	return ss
}

// build makes the stores, the reconcile controller and the API server on
// the NATS connection.
func (d *Daemon) build(ctx context.Context) error {
	o := d.opts
	js, err := jetstream.New(d.nc)
	if err != nil {
		return fmt.Errorf("JetStream: %w", err)
	}
	d.js = js
	desiredStore, err := store.New[oda.Component](ctx, js, store.Options{})
	if err != nil {
		return err
	}
	statusStore, err := store.New[oda.ComponentStatus](ctx, js, store.Options{Bucket: reconcile.DefaultStatusBucket, History: 1})
	if err != nil {
		return fmt.Errorf("status store: %w", err)
	}
	recorder, err := reconcile.NewRecorder(ctx, js, reconcile.RecorderOptions{})
	if err != nil {
		return err
	}
	var wadmOpts []wadmclient.Option
	if o.WadmTimeout > 0 {
		wadmOpts = append(wadmOpts, wadmclient.WithTimeout(o.WadmTimeout))
	}
	deployer := o.Deployer
	if deployer == nil {
		wc, err := wadmclient.New(d.nc, o.Lattice, wadmOpts...)
		if err != nil {
			return err
		}
		deployer = deploy.NewWadm(wc)
		d.sysKeep, err = reconcile.NewSystem(reconcile.SystemOptions{
			Manifest: d.system, Deployer: deployer, Logger: d.log.Named("system"), Resync: o.Resync,
		})
		if err != nil {
			return err
		}
	}
	var sites func() ([]string, error)
	if d.sites != nil {
		sites = d.sites.Sites
	}
	d.registry = peer.NewRegistry(0, nil)
	d.ctrl, err = reconcile.New(reconcile.Options{
		Resolve: func(specs []string) (string, bool, string) {
			return peer.Resolver{Registry: d.registry, Peers: d.peers.Load()}.Resolve(specs)
		},
		Desired:   desiredStore,
		Status:    statusStore,
		Deployer:  deployer,
		Events:    recorder,
		Logger:    d.log.Named("reconcile"),
		Workers:   o.Workers,
		Resync:    o.Resync,
		BaseURL:   o.IngressURL,
		SystemApp: o.SystemApp,
		Sites:     sites,
		Identity:  d.componentIdentity(),
		Roles:     lazyRoles{d},
		// An external issuer is named, not configured (no admin API yet).
		IdentityProvider: o.OIDCIssuer,
	})
	if err != nil {
		return err
	}

	d.registry.SetOnChange(d.ctrl.WakeDependents)

	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), d.ctrl.Collector())
	nc := d.nc
	checks := []api.Check{
		{Name: "nats", Check: func(context.Context) error {
			if st := nc.Status(); st != nats.CONNECTED {
				return fmt.Errorf("NATS connection is %s (server %s)", st, nc.ConnectedUrlRedacted())
			}
			return nil
		}},
		{Name: "kv", Check: func(ctx context.Context) error {
			if _, err := js.KeyValue(ctx, desiredStore.Bucket()); err != nil {
				return fmt.Errorf("KV bucket %s not reachable: %w", desiredStore.Bucket(), err)
			}
			return nil
		}},
		{Name: "controller", Check: func(context.Context) error {
			if !d.controllerRunning.Load() {
				return errors.New("reconcile controller is not running")
			}
			return nil
		}},
	}
	checks = append(checks, d.kubeCheck()...)
	checks = append(checks, o.Checks...)
	apiKeys, err := policykv.OpenKeys(ctx, js)
	if err != nil {
		return err
	}
	d.apiSrv, err = api.New(api.Options{
		APIKeys:  apiKeys,
		Desired:  desired{desiredStore},
		Statuses: statuses{statusStore},
		Events:   events{recorder},
		// Faults of the Component itself are refused with 422; a missing
		// Wasm artefact is stored and reported in status (Failed).
		Admit: func(c *oda.Component) error {
			_, err := translate.Component(c, translate.Options{SystemApp: o.SystemApp})
			return translate.InputErrors(err)
		},
		Checks:     checks,
		Registerer: reg,
		Gatherer:   reg,
		Logger:     d.log.Named("api"),
		Registry:   d.registry,
	})
	if err != nil {
		return err
	}
	d.info = d.apiSrv.InfoHandler()
	return d.buildKube(kubeEvents{recorder})
}

// startPeers makes the peer client once the API listens: this canvas
// names itself to peers by its ingress URL, else its API URL.
func (d *Daemon) startPeers(context.Context) error {
	o := d.opts
	name := o.IngressURL
	if name == "" {
		name = d.APIURL()
	}
	p, err := peer.New(peer.Options{
		URLs: o.PeerCanvases, Canvas: name, Interval: o.PeerInterval, Logger: d.log.Named("peer"),
		Self:     d.apiSrv.Inventory,
		OnChange: d.ctrl.WakeDependents,
	})
	if err != nil {
		return err
	}
	d.peers.Store(p)
	return nil
}

// listen opens the HTTP API's listener, so the issuer knows its URL.
func (d *Daemon) listen(context.Context) error {
	ln, err := net.Listen("tcp", d.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (--listen): %w; pick a free port, or port 0 for any", d.opts.Listen, err)
	}
	d.ln = ln
	d.mu.Lock()
	d.apiURL = "http://" + ln.Addr().String()
	d.mu.Unlock()
	return d.systemIssuer()
}

// serveHTTP makes the HTTP server of the API (guarded) and the issuer;
// the service's Run serves it.
func (d *Daemon) serveHTTP(context.Context) error {
	d.httpSrv = &http.Server{
		Handler:           d.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(d.log.Named("http")),
	}
	d.httpSrv.RegisterOnShutdown(d.apiSrv.CloseWatches)
	return nil
}

func (d *Daemon) writeRuntimeFile() error {
	ri := RuntimeInfo{PID: os.Getpid(), API: d.APIURL(), Kube: d.KubeURL(), NATS: d.NATSURL(), Lattice: d.opts.Lattice}
	data, err := json.MarshalIndent(ri, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(d.opts.StateDir, RuntimeFile)
	tmp, err := os.CreateTemp(d.opts.StateDir, RuntimeFile+".*")
	if err != nil {
		return fmt.Errorf("in %s (--state-dir): %w", d.opts.StateDir, err)
	}
	_, werr := tmp.Write(append(data, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// rename is atomic: a reader never sees a half-written file.
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// InfoHandler serves the canvas info service (dependent-API discovery,
// api.Server.InfoHandler) for mounting where components reach it; before
// Start and from the moment Shutdown begins it answers 503.
func (d *Daemon) InfoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.serving.Load() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "canvasd is not running: it is starting or shutting down", http.StatusServiceUnavailable)
			return
		}
		d.info.ServeHTTP(w, r)
	})
}

// APIURL is the HTTP API's base URL (with the bound port); "" before Start.
func (d *Daemon) APIURL() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.apiURL
}

// StateDir is the state directory (--state-dir): runtime file, admin
// credential, embedded NATS store.
func (d *Daemon) StateDir() string { return d.opts.StateDir }

// NATSURL is the URL of the NATS server the daemon is connected to.
func (d *Daemon) NATSURL() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nc == nil {
		return ""
	}
	return d.nc.ConnectedUrlRedacted()
}

// Ready waits until every readiness check passes or ctx ends; the error
// then names each check that failed and why.
func (d *Daemon) Ready(ctx context.Context) error {
	if !d.serving.Load() {
		return errors.New("canvasd: not running")
	}
	interval := 10 * time.Millisecond
	for {
		rd := d.apiSrv.Readiness(ctx)
		if rd.Ready {
			return nil
		}
		select {
		case <-d.Done():
			return fmt.Errorf("canvasd stopped before it was ready: %w", d.Wait())
		case <-ctx.Done():
			var failed []string
			for name, msg := range rd.Checks {
				if msg != "ok" {
					failed = append(failed, name+": "+msg)
				}
			}
			return fmt.Errorf("canvasd not ready: %s: %w", strings.Join(failed, "; "), ctx.Err())
		case <-time.After(interval):
			interval = min(interval*2, 250*time.Millisecond)
		}
	}
}

// Shutdown stops the daemon's parts in reverse order: the info service
// answers 503 and the runtime file goes, the HTTP server stops accepting
// and finishes in-flight requests (watch streams are cut), the loops stop,
// the NATS connection is closed and an embedded server shut down. ctx
// bounds it. Safe to call more than once and concurrently; later calls
// wait for the first and return the same.
func (d *Daemon) Shutdown(ctx context.Context) error { return d.runner.Shutdown(ctx) }

// Wait blocks until the daemon has stopped and returns why, if it stopped
// by itself (a part failed); nil after Shutdown, which returns its own
// errors.
func (d *Daemon) Wait() error { return d.runner.Wait() }

// Done is closed once the daemon has stopped.
func (d *Daemon) Done() <-chan struct{} { return d.runner.Done() }
