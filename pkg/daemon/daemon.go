package daemon

import (
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
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/reconcile"
	"github.com/wasmcanvas/wasmcanvas/pkg/store"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
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
type Daemon struct {
	opts Options
	log  *zap.Logger

	mu       sync.Mutex
	started  bool
	embedded *embedded.Server
	nc       *nats.Conn
	httpSrv  *http.Server
	apiSrv   *api.Server
	info     http.Handler
	apiURL   string
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	checks   []api.Check

	controllerRunning atomic.Bool

	stopOnce sync.Once
	done     chan struct{}
	errMu    sync.Mutex
	err      error
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
	return &Daemon{opts: opts, log: opts.Logger, done: make(chan struct{})}, nil
}

// Start brings the daemon up: state dir, NATS (embedded or remote),
// stores, reconcile controller, API over HTTP and NATS. On error it undoes
// what it started and returns an error naming the step. ctx bounds the
// start-up only.
func (d *Daemon) Start(ctx context.Context) (err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started {
		return errors.New("canvasd: Start called twice")
	}
	d.started = true
	defer func() {
		if err != nil {
			d.cleanup()
			d.finish(err)
		}
	}()
	o := d.opts
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return fmt.Errorf("canvasd: state directory (--state-dir): %w", err)
	}
	natsCfg := o.NATS
	if o.EmbeddedNATS {
		e, err := embedded.Start(embedded.Config{
			StoreDir: filepath.Join(o.StateDir, "nats"),
			Port:     o.EmbeddedNATSPort,
			Logger:   d.log.Named("nats-server"),
		})
		if err != nil {
			return fmt.Errorf("canvasd: %w", err)
		}
		d.embedded = e
		natsCfg.URLs = e.ClientURL()
	}
	nc, err := lattice.Connect(ctx, natsCfg, d.log.Named("nats"))
	if err != nil {
		return fmt.Errorf("canvasd: %w", err)
	}
	d.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("canvasd: JetStream: %w", err)
	}
	desiredStore, err := store.New[oda.Component](ctx, js, store.Options{})
	if err != nil {
		return fmt.Errorf("canvasd: %w", err)
	}
	statusStore, err := store.New[oda.ComponentStatus](ctx, js, store.Options{Bucket: reconcile.DefaultStatusBucket, History: 1})
	if err != nil {
		return fmt.Errorf("canvasd: status store: %w", err)
	}
	recorder, err := reconcile.NewRecorder(ctx, js, reconcile.RecorderOptions{})
	if err != nil {
		return fmt.Errorf("canvasd: %w", err)
	}
	var wadmOpts []wadmclient.Option
	if o.WadmTimeout > 0 {
		wadmOpts = append(wadmOpts, wadmclient.WithTimeout(o.WadmTimeout))
	}
	deployer := o.Deployer
	if deployer == nil {
		wc, err := wadmclient.New(nc, o.Lattice, wadmOpts...)
		if err != nil {
			return fmt.Errorf("canvasd: %w", err)
		}
		deployer = deploy.NewWadm(wc)
	}
	ctrl, err := reconcile.New(reconcile.Options{
		Desired:   desiredStore,
		Status:    statusStore,
		Deployer:  deployer,
		Events:    recorder,
		Logger:    d.log.Named("reconcile"),
		Workers:   o.Workers,
		Resync:    o.Resync,
		BaseURL:   o.IngressURL,
		SystemApp: o.SystemApp,
	})
	if err != nil {
		return fmt.Errorf("canvasd: %w", err)
	}

	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), ctrl.Collector())
	d.checks = []api.Check{
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
	d.checks = append(d.checks, o.Checks...)
	apiSrv, err := api.New(api.Options{
		Desired:  desired{desiredStore},
		Statuses: statuses{statusStore},
		Events:   events{recorder},
		// Faults of the Component itself are refused with 422; a missing
		// Wasm artefact is stored and reported in status (Failed).
		Admit: func(c *oda.Component) error {
			_, err := translate.Component(c, translate.Options{SystemApp: o.SystemApp})
			return translate.InputErrors(err)
		},
		Checks:     d.checks,
		Registerer: reg,
		Gatherer:   reg,
		Logger:     d.log.Named("api"),
	})
	if err != nil {
		return fmt.Errorf("canvasd: %w", err)
	}
	d.apiSrv = apiSrv
	d.info = apiSrv.InfoHandler()

	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("canvasd: listen on %s (--listen): %w; pick a free port, or port 0 for any", o.Listen, err)
	}
	d.apiURL = "http://" + ln.Addr().String()
	d.httpSrv = &http.Server{
		Handler:           apiSrv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(d.log.Named("http")),
	}
	d.httpSrv.RegisterOnShutdown(apiSrv.CloseWatches)

	runCtx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.goRun("controller", func() error {
		d.controllerRunning.Store(true)
		defer d.controllerRunning.Store(false)
		return ctrl.Run(runCtx)
	})
	d.goRun("api watch", func() error { return ignoreCanceled(apiSrv.Run(runCtx)) })
	d.goRun("nats api", func() error { return ignoreCanceled(apiSrv.ServeNATS(runCtx, nc)) })
	reconnected := nc.StatusChanged(nats.CONNECTED)
	d.goRun("rewatch on reconnect", func() error {
		for {
			select {
			case <-runCtx.Done():
				return nil
			case <-reconnected:
				apiSrv.Rewatch()
			}
		}
	})
	d.goRun("http", func() error {
		if err := d.httpSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving HTTP on %s: %w", ln.Addr(), err)
		}
		return nil
	})
	if err := d.writeRuntimeFile(); err != nil {
		return err
	}
	d.log.Info("canvasd started", zap.String("api", d.apiURL), zap.String("nats", nc.ConnectedUrlRedacted()),
		zap.String("lattice", o.Lattice), zap.String("state_dir", o.StateDir), zap.Bool("embedded_nats", o.EmbeddedNATS))
	return nil
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// goRun runs f under the daemon's wait group; an error from f that is not
// the result of Shutdown stops the daemon, and Wait returns it.
func (d *Daemon) goRun(name string, f func() error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := f(); err != nil {
			err = fmt.Errorf("canvasd: %s: %w", name, err)
			d.log.Error("component failed; shutting down", zap.String("component", name), zap.Error(err))
			d.setErr(err)
			go func() { // Shutdown waits for this goroutine, so it cannot run inline
				ctx, cancel := context.WithTimeout(context.Background(), DefaultShutdownTimeout)
				defer cancel()
				_ = d.Shutdown(ctx)
			}()
		}
	}()
}

func (d *Daemon) setErr(err error) {
	d.errMu.Lock()
	defer d.errMu.Unlock()
	if d.err == nil {
		d.err = err
	}
}

func (d *Daemon) writeRuntimeFile() error {
	ri := RuntimeInfo{PID: os.Getpid(), API: d.apiURL, NATS: d.nc.ConnectedUrlRedacted(), Lattice: d.opts.Lattice}
	data, err := json.MarshalIndent(ri, "", "  ")
	if err != nil {
		return fmt.Errorf("canvasd: runtime file: %w", err)
	}
	path := filepath.Join(d.opts.StateDir, RuntimeFile)
	tmp, err := os.CreateTemp(d.opts.StateDir, RuntimeFile+".*")
	if err != nil {
		return fmt.Errorf("canvasd: runtime file in %s (--state-dir): %w", d.opts.StateDir, err)
	}
	_, werr := tmp.Write(append(data, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("canvasd: writing runtime file %s: %w", path, err)
	}
	// rename is atomic: a reader never sees a half-written file.
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("canvasd: runtime file %s: %w", path, err)
	}
	return nil
}

// InfoHandler serves the canvas info service (dependent-API discovery,
// api.Server.InfoHandler) for mounting where components reach it; before
// Start it answers 503.
func (d *Daemon) InfoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		h := d.info
		d.mu.Unlock()
		if h == nil {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "canvasd is starting", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// APIURL is the HTTP API's base URL (with the bound port); "" before Start.
func (d *Daemon) APIURL() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.apiURL
}

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
	d.mu.Lock()
	srv := d.apiSrv
	d.mu.Unlock()
	if srv == nil {
		return errors.New("canvasd: not started")
	}
	interval := 10 * time.Millisecond
	for {
		rd := srv.Readiness(ctx)
		if rd.Ready {
			return nil
		}
		select {
		case <-d.done:
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

// Shutdown stops the daemon: the HTTP server stops accepting and finishes
// in-flight requests (watch streams are cut), then the controller and the
// NATS API stop, the NATS connection is drained and an embedded server
// shut down. ctx bounds the wait for in-flight requests. Safe to call more
// than once and concurrently; later calls wait for the first.
func (d *Daemon) Shutdown(ctx context.Context) error {
	var err error
	d.stopOnce.Do(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.httpSrv != nil {
			if serr := d.httpSrv.Shutdown(ctx); serr != nil {
				err = fmt.Errorf("canvasd: HTTP shutdown: %w", serr)
				_ = d.httpSrv.Close()
			}
		}
		d.cleanup()
		_ = os.Remove(filepath.Join(d.opts.StateDir, RuntimeFile))
		d.log.Info("canvasd stopped")
		d.finish(err)
	})
	<-d.done
	return err
}

// cleanup stops whatever Start got running; it runs with mu held and
// tolerates a partial start.
func (d *Daemon) cleanup() {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	if d.nc != nil {
		d.nc.Close()
	}
	if d.embedded != nil {
		d.embedded.Shutdown()
		d.embedded.WaitForShutdown()
	}
}

func (d *Daemon) finish(err error) {
	if err != nil {
		d.setErr(err)
	}
	select {
	case <-d.done:
	default:
		close(d.done)
	}
}

// Wait blocks until the daemon has stopped and returns the error that
// stopped it (nil after a clean Shutdown).
func (d *Daemon) Wait() error {
	<-d.done
	d.errMu.Lock()
	defer d.errMu.Unlock()
	return d.err
}

// Done is closed once the daemon has stopped.
func (d *Daemon) Done() <-chan struct{} { return d.done }
