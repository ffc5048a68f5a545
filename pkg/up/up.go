package up

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/api"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy/local"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime"
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
	// Ingress is the gateway address serving the components' APIs
	// (default 127.0.0.1:8080).
	Ingress string
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
	// AllowOutbound lists authorities outside the canvas that components
	// with dependent APIs may call (local.Options.AllowOutbound).
	AllowOutbound []string
	// ArtefactRoots are the only directories file:// artefacts are read
	// from (local.Options.ArtefactRoots); none means the directory canvas
	// up runs in and StateDir.
	ArtefactRoots []string
	Logger        *zap.Logger
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
	Ingress  string `json:"ingress"`
	NATS     string `json:"nats"`
	StateDir string `json:"stateDir"`
}

// Canvas is a running embedded canvas.
//
// # Notes
//
//   - Start returns once every part is up and canvasd reports ready.
//   - Shutdown stops the parts in reverse order; it is safe to call more
//     than once. Wait returns after Shutdown or when a part failed.
type Canvas struct {
	opts Options
	log  *zap.Logger
	info Info

	lock    *os.File
	nats    *embedded.Server
	kvConn  *nats.Conn // the runtime's wasi:keyvalue connection
	host    *runtime.Host
	gw      *gateway.Gateway
	gwStop  context.CancelFunc
	deploy  *local.Deployer
	daemon  *daemon.Daemon
	stopped sync.Once
	done    chan struct{}
	err     error

	// unregister drops the canvas from the list Known reads.
	unregister func()
}

// Start brings the canvas up. On error it stops what it started and
// returns an error naming the part that failed.
func Start(ctx context.Context, opts Options) (_ *Canvas, err error) {
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
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory (--state-dir): %w", err)
	}
	c := &Canvas{opts: opts, log: opts.Logger, done: make(chan struct{})}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	if c.lock, err = acquire(opts.StateDir); err != nil {
		return nil, err
	}
	if err := CheckPorts(opts); err != nil {
		return nil, err
	}
	c.nats, err = embedded.Start(embedded.Config{
		StoreDir: filepath.Join(opts.StateDir, "nats"),
		Port:     opts.NATSPort,
		Logger:   c.log.Named("nats-server"),
	})
	if err != nil {
		return nil, fmt.Errorf("embedded NATS (--nats-port): %w", err)
	}
	c.kvConn, err = lattice.Connect(ctx, lattice.Config{URLs: c.nats.ClientURL(), Name: "wasmcanvas-runtime"}, c.log.Named("runtime-nats"))
	if err != nil {
		return nil, fmt.Errorf("runtime keyvalue connection: %w", err)
	}
	js, err := jetstream.New(c.kvConn)
	if err != nil {
		return nil, fmt.Errorf("runtime keyvalue: %w", err)
	}
	c.host, err = runtime.NewHost(runtime.Config{
		CacheDir:      filepath.Join(opts.StateDir, "cache"),
		Log:           c.log.Named("runtime"),
		Limits:        opts.Limits,
		PoolInstances: opts.MaxInstances,
		OnDemand:      opts.OnDemand,
	})
	if errors.Is(err, runtime.ErrPoolReservation) {
		return nil, fmt.Errorf("wasm runtime (--max-instances %d; 0 turns the pool off): %w", opts.MaxInstances, err)
	}
	if err != nil {
		return nil, fmt.Errorf("wasm runtime: %w", err)
	}
	reg := prometheus.NewRegistry()
	c.gw = gateway.New(gateway.Options{Logger: c.log.Named("gateway"), Registerer: reg})
	restored, err := claimStoredRoutes(ctx, js, c.gw, c.log)
	if err != nil {
		return nil, err
	}
	gwCtx, gwStop := context.WithCancel(context.Background())
	c.gwStop = gwStop
	ingressAddr, err := c.gw.Serve(gwCtx, opts.Ingress)
	if err != nil {
		return nil, fmt.Errorf("gateway (--ingress %s): %w", opts.Ingress, err)
	}
	roots, err := opts.artefactRoots()
	if err != nil {
		return nil, err
	}
	c.deploy, err = local.New(local.Options{
		Runtime: c.host, Gateway: c.gw, Logger: c.log.Named("deploy"), Limits: opts.Limits,
		KeyValue: func(bucket string) runtime.KeyValue { return runtime.NewJetStreamKV(js, bucket) },
		// Components with dependent APIs call them at the ingress.
		IngressAuthority: ingressAddr,
		AllowOutbound:    opts.AllowOutbound,
		InfoURL:          c.gw.BaseURL() + wire.PathCanvasInfo,
		ArtefactRoots:    roots,
	})
	if err != nil {
		return nil, fmt.Errorf("--artefact-root: %w", err)
	}
	d, err := daemon.New(daemon.Options{
		NATS:       lattice.Config{URLs: c.nats.ClientURL()},
		StateDir:   opts.StateDir,
		Listen:     opts.Listen,
		IngressURL: c.gw.BaseURL(),
		Deployer:   c.deploy,
		Checks:     []api.Check{newRestore(restored, c.deploy, c.log).readinessCheck()},
		Registry:   reg,
		Logger:     c.log.Named("canvasd"),
	})
	if err != nil {
		return nil, err
	}
	if err := d.Start(ctx); err != nil {
		return nil, err
	}
	c.daemon = d
	// Components reach the info service (dependent-API discovery) on the
	// ingress, like their dependencies.
	if err := c.gw.SetRoutes(SystemRoutesApp, []gateway.Route{{API: "canvas-info", Path: wire.PathCanvasInfoRoot, Handler: d.InfoHandler()}}); err != nil {
		return nil, fmt.Errorf("gateway: route the canvas info service: %w", err)
	}
	if err := d.Ready(ctx); err != nil {
		return nil, fmt.Errorf("canvasd not ready: %w", err)
	}
	c.info = Info{PID: os.Getpid(), API: d.APIURL(), Ingress: c.gw.BaseURL(), NATS: c.nats.ClientURL(), StateDir: opts.StateDir}
	if err := c.writeInfo(); err != nil {
		return nil, err
	}
	c.unregister = register(opts.StateDir)
	go c.watch()
	return c, nil
}

// Info says where the canvas serves.
func (c *Canvas) Info() Info { return c.info }

// watch ends the canvas when canvasd stops by itself.
func (c *Canvas) watch() {
	select {
	case <-c.daemon.Done():
		c.err = c.daemon.Wait()
		c.stop()
	case <-c.done:
	}
}

// Shutdown stops the canvas: canvasd first (no new deploys), then the
// deployer and runtime, the gateway, NATS, and the lock last.
func (c *Canvas) Shutdown(ctx context.Context) error {
	if c.daemon != nil {
		if err := c.daemon.Shutdown(ctx); err != nil {
			c.log.Warn("canvasd shutdown", zap.Error(err))
		}
	}
	c.stop()
	return nil
}

func (c *Canvas) stop() {
	c.stopped.Do(func() {
		if c.daemon != nil {
			ctx, cancel := context.WithTimeout(context.Background(), daemon.DefaultShutdownTimeout)
			_ = c.daemon.Shutdown(ctx)
			cancel()
		}
		if c.deploy != nil {
			c.deploy.Close()
		}
		if c.gwStop != nil {
			c.gwStop()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			_ = c.gw.Wait(ctx)
			cancel()
		}
		if c.host != nil {
			c.host.Close()
		}
		if c.kvConn != nil {
			c.kvConn.Close()
		}
		if c.nats != nil {
			c.nats.Shutdown()
			c.nats.WaitForShutdown()
		}
		if c.unregister != nil {
			c.unregister()
		}
		if c.lock != nil {
			os.Remove(c.lock.Name())
			c.lock.Close() // releases the flock
		}
		close(c.done)
	})
}

// Done is closed once the canvas has stopped.
func (c *Canvas) Done() <-chan struct{} { return c.done }

// Wait blocks until the canvas has stopped and returns why, if a part
// failed.
func (c *Canvas) Wait() error {
	<-c.done
	return c.err
}

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
