package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/store"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
)

// Defaults of Options.
const (
	DefaultWorkers          = 4
	DefaultResync           = 30 * time.Second
	DefaultPollInterval     = 10 * time.Second
	DefaultRetryBase        = 100 * time.Millisecond
	DefaultRetryMax         = 30 * time.Second
	DefaultReconcileTimeout = 30 * time.Second
	DefaultIdentityProvider = "wasmcanvas-oidc"
	DefaultStatusBucket     = subject.StatusBucket
)

// Options configure a Controller. Desired, Status and Deployer are
// required; zero values of the rest take the defaults above.
type Options struct {
	// Desired is the desired-state store of Components.
	Desired *store.Store[oda.Component]
	// Status is the store the controller writes ODA status to, under the
	// Component's key (bucket DefaultStatusBucket by convention). It is a
	// separate bucket so that status writes never change the revision of
	// the desired Component, like a Kubernetes status subresource.
	Status *store.Store[oda.ComponentStatus]
	// Deployer runs the wadm applications.
	Deployer deploy.Deployer
	// Events records events; nil records none.
	Events *Recorder
	// Logger is the structured logger; nil logs nothing.
	Logger *zap.Logger

	// Workers bounds how many keys are reconciled at once.
	Workers int
	// Resync enqueues every key this often, so a lost event still converges.
	Resync time.Duration
	// PollInterval re-runs a Component that is still in progress (waiting
	// for wadm or a dependency) in case the event that would finish it is
	// lost; shorter than Resync.
	PollInterval time.Duration
	// RetryBase and RetryMax bound the exponential backoff after an error.
	RetryBase, RetryMax time.Duration
	// ReconcileTimeout bounds one pass over one key.
	ReconcileTimeout time.Duration

	// BaseURL is the ingress base URL; status urls are BaseURL + path.
	BaseURL string
	// IdentityProvider is written to status.identityConfig.identityProvider.
	IdentityProvider string
	// Identity registers a Component with a securityFunction with the
	// issuer; status.identityConfig then says what it registered. Nil:
	// nothing is registered and identityConfig names IdentityProvider.
	Identity IdentityConfigurer
	// Roles follows the role API of a Component registered by Identity
	// once the API is up; status.identityConfig then shows the roles
	// read and whether the listener is registered. Nil: none is read.
	Roles RoleFollower
	// SystemApp is the shared system application (translate.Options).
	SystemApp string
	// Implementations maps implementation names to Wasm artefacts; entries
	// override the Component's wasmcanvas.io/implementations annotation.
	Implementations map[string]string
	// ExternalDependencies marks every dependent API ready at its
	// specification URL instead of resolving it to another Component.
	ExternalDependencies bool
	// Resolve resolves the dependent APIs no Component of this canvas
	// provides: by specification URL, to a url, or not ready with the
	// reason (written to the entry's message). pkg/peer's Resolver finds
	// them on peer canvases; call WakeDependents when its answers change.
	// Nil resolves only within the canvas.
	Resolve func(specURLs []string) (url string, ready bool, reason string)
	// Sites lists the edge sites of the lattice (edge.SiteWatch.Sites for
	// canvasd --lattice-dir); a placement naming another site gets a
	// Warning event (ReasonUnknownSite) and is deployed all the same. It
	// is called on every pass, so it must be cheap. Nil checks no site.
	Sites func() ([]string, error)
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	if o.Resync == 0 {
		o.Resync = DefaultResync
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.RetryBase == 0 {
		o.RetryBase = DefaultRetryBase
	}
	if o.RetryMax == 0 {
		o.RetryMax = DefaultRetryMax
	}
	if o.ReconcileTimeout == 0 {
		o.ReconcileTimeout = DefaultReconcileTimeout
	}
	if o.IdentityProvider == "" {
		o.IdentityProvider = DefaultIdentityProvider
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.Desired == nil {
		errs = append(errs, errors.New("Options.Desired is nil: pass the desired-state store"))
	}
	if o.Status == nil {
		errs = append(errs, errors.New("Options.Status is nil: pass a store for status (bucket "+DefaultStatusBucket+")"))
	}
	if o.Deployer == nil {
		errs = append(errs, errors.New("Options.Deployer is nil: pass deploy.NewWadm(client) or the local backend"))
	}
	if o.Workers < 0 {
		errs = append(errs, fmt.Errorf("Options.Workers %d: use a positive number (0 for %d)", o.Workers, DefaultWorkers))
	}
	for name, d := range map[string]time.Duration{"Resync": o.Resync, "PollInterval": o.PollInterval, "RetryBase": o.RetryBase, "RetryMax": o.RetryMax, "ReconcileTimeout": o.ReconcileTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("Options.%s %s must not be negative (0 takes the default)", name, d))
		}
	}
	if o.RetryBase > o.RetryMax && o.RetryMax > 0 {
		errs = append(errs, fmt.Errorf("Options.RetryBase %s is above RetryMax %s", o.RetryBase, o.RetryMax))
	}
	if o.BaseURL != "" {
		if u, err := url.Parse(o.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("Options.BaseURL %q: want the ingress base URL, e.g. http://127.0.0.1:8080", o.BaseURL))
		}
	}
	return errors.Join(errs...)
}

// Controller runs the reconcile loop over Components.
type Controller struct {
	opts Options
	log  *zap.Logger
	q    *queue
	rec  Reconciler

	appsMu sync.Mutex
	apps   map[string]string // wadm app name -> key, learnt while reconciling
	// siteWarnings is the last unknown-site warning per key, so that a
	// warning is recorded when it changes, not on every pass.
	sitesMu      sync.Mutex
	siteWarnings map[string]string
	// idx is the view of the desired Components that dependent-API
	// resolution and path claims read, kept by watchDesired.
	idx *index

	running atomic.Bool
	metrics metrics
}

// New validates opts and returns a Controller; Run starts it.
func New(opts Options) (*Controller, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	c := &Controller{
		opts: opts,
		log:  opts.Logger,
		q:    newQueue(opts.RetryBase, opts.RetryMax),
		apps: map[string]string{},

		siteWarnings: map[string]string{},
	}
	c.idx = newIndex(func(comp *oda.Component) []translate.IngressRoute {
		m, err := translate.Component(comp, c.translateOptions())
		if err != nil {
			return nil
		}
		return translate.IngressRoutes(m)
	})
	c.rec = Func(c.Reconcile)
	return c, nil
}

// Enqueue asks for a pass over key ({namespace}.{name}); repeated calls
// before the pass coalesce into one.
func (c *Controller) Enqueue(key string) { c.q.Add(key) }

// Run reconciles until ctx ends, then stops every goroutine it started
// and returns nil. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("reconcile: Run called twice on one Controller")
	}
	var wg sync.WaitGroup
	run := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	for range c.opts.Workers {
		run(func() { c.worker(ctx) })
	}
	run(func() { c.watchDesired(ctx) })
	run(func() { c.watchDeployer(ctx) })
	run(func() { c.resyncLoop(ctx) })
	c.log.Info("reconcile loop started", zap.Int("workers", c.opts.Workers), zap.Duration("resync", c.opts.Resync))
	<-ctx.Done()
	c.q.ShutDown()
	wg.Wait()
	c.log.Info("reconcile loop stopped")
	return nil
}

func (c *Controller) worker(ctx context.Context) {
	for {
		key, ok := c.q.Get()
		if !ok {
			return
		}
		c.process(ctx, key)
		c.q.Done(key)
	}
}

// process runs one pass and applies the Reconciler contract to its result.
func (c *Controller) process(ctx context.Context, key string) {
	rctx, cancel := context.WithTimeout(ctx, c.opts.ReconcileTimeout)
	start := time.Now()
	res, err := c.rec.Reconcile(rctx, key)
	cancel()
	c.metrics.reconciles.Add(1)
	c.metrics.observe(time.Since(start))
	switch {
	case err != nil && ctx.Err() != nil:
		// Shutting down: the pass was cut short, not failed.
		return
	case IsTerminal(err):
		c.metrics.terminal.Add(1)
		c.q.Forget(key)
		c.log.Error("reconcile failed; not retrying until the Component changes", zap.String("key", key), zap.Error(err))
	case err != nil:
		c.metrics.errors.Add(1)
		if res.RequeueAfter > 0 {
			c.log.Warn("Reconcile returned both a requeue and an error: the requeue is ignored, the error is retried with backoff (see the Reconciler doc)",
				zap.String("key", key), zap.Duration("requeueAfter", res.RequeueAfter))
		}
		c.log.Warn("reconcile failed; retrying with backoff", zap.String("key", key), zap.Int("failures", c.q.Failures(key)+1), zap.Error(err))
		c.q.AddRateLimited(key)
	default:
		c.q.Forget(key)
		if res.RequeueAfter > 0 {
			c.metrics.requeues.Add(1)
			c.q.AddAfter(key, res.RequeueAfter)
		}
	}
}

// watchDesired keeps the index and enqueues the key of every change of the
// desired state, with the keys the change concerns (the other claimants of
// its paths, the dependents of its APIs). The watch replays every key when
// it (re)starts, so nothing missed while it was down stays unreconciled,
// and the index is rebuilt from that replay.
func (c *Controller) watchDesired(ctx context.Context) {
	c.rewatch(ctx, "desired-state watch", func() error {
		ch, err := c.opts.Desired.Watch(ctx, "")
		if err != nil {
			return err
		}
		c.idx.beginReplay()
		for ev := range ch {
			key := ev.Key().String()
			switch {
			case ev.Kind == store.EventReplayDone:
				c.refineClaimOrder(ctx)
				gone, wake := c.idx.endReplay()
				c.enqueueAll(gone)
				c.enqueueAll(wake)
			case ev.Namespace == "":
				// A key the store did not write: nothing to reconcile.
			case ev.Kind == store.EventPut && ev.Err != nil:
				c.idx.touch(key)
				c.Enqueue(key)
			case ev.Kind == store.EventPut:
				wake := c.idx.put(ev.Entry)
				c.Enqueue(key)
				c.enqueueAll(wake)
			case ev.Kind == store.EventDelete:
				wake := c.idx.remove(key)
				c.Enqueue(key)
				c.enqueueAll(wake)
			}
		}
		return nil
	})
}

// refineClaimOrder reads, for each Component the replay delivered that
// shares a path with another, the revision it was created at from its
// history, so that who owns a path survives a restart even when the owner
// was updated after its rivals were created. A failed read keeps the
// replay's revision (logged); the next replay tries again.
func (c *Controller) refineClaimOrder(ctx context.Context) {
	for _, key := range c.idx.contested() {
		k, err := oda.ParseKey(key)
		if err != nil {
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, c.opts.ReconcileTimeout)
		history, err := c.opts.Desired.History(hctx, k.Namespace, k.Name)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("path claims: read a claimant's history failed; ordering it by its current revision", zap.String("key", key), zap.Error(err))
			}
			continue
		}
		c.enqueueAll(c.idx.refine(key, creationRevision(history)))
	}
}

func (c *Controller) enqueueAll(keys []string) {
	for _, k := range keys {
		c.Enqueue(k)
	}
}

// watchDeployer maps application status changes back to keys.
func (c *Controller) watchDeployer(ctx context.Context) {
	c.rewatch(ctx, "deployer status watch", func() error {
		ch, err := c.opts.Deployer.Watch(ctx)
		if err != nil {
			return err
		}
		for ev := range ch {
			c.appsMu.Lock()
			key, ok := c.apps[ev.App]
			c.appsMu.Unlock()
			if ok {
				c.Enqueue(key)
			}
		}
		return nil
	})
}

// rewatch runs watch until ctx ends, restarting it with capped backoff
// when it fails or its channel closes (the connection went away).
func (c *Controller) rewatch(ctx context.Context, what string, watch func() error) {
	failures := 0
	for {
		started := time.Now()
		err := watch()
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > c.opts.RetryMax {
			failures = 0
		}
		d := c.q.backoff(failures)
		failures++
		c.log.Warn(what+" ended; restarting", zap.Error(err), zap.Duration("after", d))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// resyncLoop enqueues every key now and then every Resync: the keys of the
// desired store, and those of the status store (Components deleted while
// the controller was not running still have status and an application).
func (c *Controller) resyncLoop(ctx context.Context) {
	t := time.NewTicker(c.opts.Resync)
	defer t.Stop()
	for {
		c.resync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Controller) resync(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, c.opts.ReconcileTimeout)
	defer cancel()
	desired, err := c.opts.Desired.List(lctx, "")
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("resync: list desired Components failed; next resync retries", zap.Error(err))
		}
		return
	}
	for _, e := range desired {
		c.Enqueue(e.Key().String())
	}
	status, err := c.opts.Status.List(lctx, "")
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("resync: list status entries failed; next resync retries", zap.Error(err))
		}
		return
	}
	for _, e := range status {
		c.Enqueue(e.Key().String())
	}
	c.metrics.resyncs.Add(1)
}

// wakeDependents enqueues the Components depending on an API key
// exposes: its APIs' readiness or URLs changed.
func (c *Controller) wakeDependents(key string) {
	c.enqueueAll(c.idx.dependentsOf(key))
}

// WakeDependents enqueues the Components depending on one of specURLs:
// Options.Resolve's answer for them may have changed.
func (c *Controller) WakeDependents(specURLs []string) {
	c.enqueueAll(c.idx.dependentsOfSpecs(specURLs))
}

func (c *Controller) rememberApp(app, key string) {
	c.appsMu.Lock()
	defer c.appsMu.Unlock()
	if key == "" {
		delete(c.apps, app)
		return
	}
	c.apps[app] = key
}
