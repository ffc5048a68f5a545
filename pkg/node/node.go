package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
)

// DefaultHeartbeat is how often a host publishes host_heartbeat
// (upstream's default; wadm forgets a host after 70 s without one).
const DefaultHeartbeat = 30 * time.Second

// Options configure a Node.
type Options struct {
	// Conn is the node's lattice connection. It is the caller's: the node
	// subscribes and publishes on it and never closes it.
	Conn    *nats.Conn
	Lattice string
	// CtlPrefix is the ctl topic prefix (default subject.CtlDefaultPrefix).
	CtlPrefix string
	// Key is the host's nkey (a server key: its public key, starting with
	// N, is the host id); nil makes a new one, as a host does per start.
	Key          nkeys.KeyPair
	FriendlyName string
	// Labels are the host's own labels; the hostcore.* labels are added.
	Labels  map[string]string
	Version string
	// Heartbeat is the heartbeat interval (default DefaultHeartbeat).
	Heartbeat time.Duration
	// Workload runs what component.scale asks for; nil records the
	// inventory only (tests of the control interface).
	Workload Workload
	// NoPeers keeps the node from asking the other hosts for the links and
	// config it missed: a site's credentials may not send control-interface
	// requests (the hub would drop them, and the node wait for nothing).
	NoPeers bool
	// JetStream, when set, reaches the lattice's JetStream (the host's
	// JetStream domain, if any): links and named config are then kept in
	// the lattice's LATTICEDATA_/CONFIGDATA_ buckets as wasmCloud 1.x
	// hosts keep them, each put handled by one host of the lattice (a
	// queue group, as upstream's) and learnt by every host from the
	// buckets, and the node asks no peer. Nil keeps them in the node's
	// memory, applied by every node that gets a put.
	JetStream jetstream.JetStream
	// RunningFile, when set, is where the node keeps what it runs (the
	// components, and the links and config they use; RunningFile in a
	// state directory), written after each change and restored at Start.
	RunningFile string
	Logger      *zap.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Node is a wasmCloud 1.x host on a lattice: it answers the control
// interface and publishes host events.
//
// # Notes
//
//   - Start subscribes and publishes host_started; Close publishes
//     host_stopped, unsubscribes and waits for its goroutines.
//   - Scaling runs on one worker goroutine in request order (a scale to 0
//     after a scale to 1 stops what the first started); link and config
//     changes reach the Workload on it too, in one Reconcile for all the
//     changes made while one was due.
//   - No lock is held across NATS I/O or a component load.
type Node struct {
	opts    Options
	log     *zap.Logger
	nc      *nats.Conn
	id      string
	started time.Time
	ctlURL  string // the server the node reached, as ping's ctl_host and rpc_host

	jobs chan func(context.Context)
	// reconcileDue holds one token while a reconcile is due: the worker
	// takes it and then reads the state, so the changes made before that
	// need no other, and asking for one never waits on the worker.
	reconcileDue chan struct{}
	ctx          context.Context
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	subs         []*nats.Subscription
	stopCh       chan struct{} // closed on host.stop
	stop         sync.Once
	closed       sync.Once

	mu         sync.Mutex
	labels     map[string]string
	components map[string]*Component
	providers  map[string]*latticeadmin.ProviderDescription
	links      []latticeadmin.Link
	config     map[string]map[string]string

	gone    deletedLinks  // links just deleted, see memLinkDel
	store   *latticeStore // with Options.JetStream
	working atomic.Bool   // the worker runs
}

// storeTimeout bounds one read or write of the lattice's buckets.
const storeTimeout = 10 * time.Second

// subscription is a control-interface subject the node answers, in a
// queue group or not, and its handler (nil reply: none sent).
type subscription struct {
	subj, queue string
	h           func([]byte, string) []byte
}

// Component is a component this node runs, as the inventory lists it.
type Component struct {
	ID           string
	ImageRef     string
	Annotations  map[string]string
	MaxInstances uint32
	Revision     int32
	Config       []string
	// Limits are the scale's component_limits, reported as given.
	Limits map[string]string
}

// Workload is what runs components on the node: the runtime and ingress
// of `canvas node`.
type Workload interface {
	// Start runs (or replaces) a component; c.ImageRef names its bytes.
	Start(ctx context.Context, c Component, lattice LatticeData) error
	// Stop unloads a component.
	Stop(id string)
	// Reconcile applies changed links or config to the running components.
	Reconcile(ctx context.Context, running []Component, lattice LatticeData)
	// IsBuiltinProvider reports whether a provider reference is one the
	// node runs in-process (canvas-bridge); others are refused.
	IsBuiltinProvider(ref string) bool
}

// ProviderRunner is a Workload that runs its built-in providers
// (IsBuiltinProvider) itself, as a host runs a provider process: the node
// then starts and stops them, and tells them of their links.
type ProviderRunner interface {
	// StartProvider runs provider id of ref with its named config and the
	// links it is part of.
	StartProvider(ctx context.Context, id, ref string, config []string, lattice LatticeData) error
	// StopProvider stops it.
	StopProvider(id string)
	// ProviderLink tells provider id of a link put (del false) or deleted.
	ProviderLink(id string, link latticeadmin.Link, del bool, lattice LatticeData)
}

// LatticeData is what the node knows of the lattice's links and named
// config, as a host resolves a component's.
type LatticeData struct {
	// HostID and Lattice name the node and its lattice.
	HostID, Lattice string
	Links           []latticeadmin.Link
	Config          map[string]map[string]string
	Providers       map[string]string // running providers: id to ref
}

// New checks opts and returns a node that is not started.
func New(opts Options) (*Node, error) {
	if opts.Conn == nil {
		return nil, errors.New("node: a NATS connection is required")
	}
	if err := subject.ValidateLattice(opts.Lattice); err != nil {
		return nil, fmt.Errorf("--lattice: %w", err)
	}
	if opts.CtlPrefix == "" {
		opts.CtlPrefix = subject.CtlDefaultPrefix
	}
	if err := subject.ValidatePrefix(opts.CtlPrefix); err != nil {
		return nil, fmt.Errorf("ctl prefix: %w", err)
	}
	if opts.Key == nil {
		k, err := nkeys.CreateServer()
		if err != nil {
			return nil, fmt.Errorf("node: host key: %w", err)
		}
		opts.Key = k
	}
	id, err := opts.Key.PublicKey()
	if err != nil || !nkeys.IsValidPublicServerKey(id) {
		return nil, fmt.Errorf("node: the host key is not a server nkey (its public key must start with N): %v", err)
	}
	labels := HostcoreLabels()
	for k, v := range opts.Labels {
		if strings.HasPrefix(strings.ToLower(k), "hostcore.") {
			return nil, fmt.Errorf("--label %s=%s: hostcore.* labels are the host's own and cannot be set", k, v)
		}
		labels[k] = v
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FriendlyName == "" {
		opts.FriendlyName = id[:10]
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Node{
		opts: opts, log: opts.Logger, nc: opts.Conn, id: id,
		jobs: make(chan func(context.Context), 1024), reconcileDue: make(chan struct{}, 1), ctx: ctx, cancel: cancel, stopCh: make(chan struct{}),
		labels: labels, components: map[string]*Component{}, providers: map[string]*latticeadmin.ProviderDescription{},
		config: map[string]map[string]string{},
	}, nil
}

// HostcoreLabels are the labels a host sets about itself, in upstream's
// spelling (Rust's names for the architecture and OS).
func HostcoreLabels() map[string]string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "x86"}[goruntime.GOARCH]
	if arch == "" {
		arch = goruntime.GOARCH
	}
	os := goruntime.GOOS
	if os == "darwin" {
		os = "macos"
	}
	family := "unix"
	if os == "windows" {
		family = "windows"
	}
	return map[string]string{"hostcore.arch": arch, "hostcore.os": os, "hostcore.osfamily": family}
}

// ID is the host id: the public key of the node's nkey.
func (n *Node) ID() string { return n.id }

// Stopped is closed when a host.stop request asked the node to stop.
func (n *Node) Stopped() <-chan struct{} { return n.stopCh }

// Start subscribes to the node's control-interface subjects, publishes
// host_started and a first heartbeat (on the wire when it returns), and
// starts the heartbeat.
func (n *Node) Start(ctx context.Context) error {
	n.started = n.opts.Now()
	if n.ctlURL == "" {
		n.ctlURL = n.nc.ConnectedUrlRedacted()
	}
	ctl := func(op, arg string) string { return subject.Ctl(n.opts.CtlPrefix, n.opts.Lattice, op, arg) }
	// One host of upstream's queue groups answers each link and config
	// request and publishes its event; with the lattice's buckets every
	// host learns a change from them, else from a plain subscription.
	linkQ, configQ := ctl("link", ""), ctl("config", "")
	var apply []subscription
	if n.opts.JetStream != nil {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		store, err := openStore(sctx, n.opts.JetStream, n.opts.Lattice)
		if err == nil {
			n.store = store
			err = n.watch(n.ctx)
		}
		cancel()
		if err != nil {
			n.cancel()
			n.wg.Wait()
			return fmt.Errorf("node: the lattice's JetStream: %w", err)
		}
	} else {
		n.seed(ctx)
		apply = []subscription{
			{ctl(subject.CtlLinkPut, ""), "", n.linkApply},
			{ctl(subject.CtlLinkDel, ""), "", n.linkDelApply},
			{ctl(subject.CtlConfigPut, "*"), "", n.configApply},
			{ctl(subject.CtlConfigDel, "*"), "", n.configDelApply},
		}
	}
	subs := []subscription{
		{ctl(subject.CtlHostPing, ""), "", n.ping},
		{ctl(subject.CtlHostGet, n.id), "", n.inventoryReply},
		{ctl(subject.CtlHostStop, n.id), "", n.hostStop},
		{ctl(subject.CtlComponentScale, n.id), "", n.scale},
		{ctl(subject.CtlComponentUpdate, n.id), "", n.update},
		{ctl(subject.CtlComponentAuction, ""), "", n.componentAuction},
		{ctl(subject.CtlProviderStart, n.id), "", n.providerStart},
		{ctl(subject.CtlProviderStop, n.id), "", n.providerStop},
		{ctl(subject.CtlProviderAuction, ""), "", n.providerAuction},
		{ctl(subject.CtlLabelPut, n.id), "", n.labelPut},
		{ctl(subject.CtlLabelDel, n.id), "", n.labelDel},
		{ctl(subject.CtlLinkPut, ""), linkQ, n.linkPut},
		{ctl(subject.CtlLinkDel, ""), linkQ, n.linkDel},
		{ctl(subject.CtlConfigPut, "*"), configQ, n.configPut},
		{ctl(subject.CtlConfigDel, "*"), configQ, n.configDel},
		{ctl(subject.CtlLinkGet, ""), linkQ, n.linkGet},
		{ctl(subject.CtlConfigGet, "*"), configQ, n.configGet},
		{ctl(subject.CtlClaimsGet, ""), ctl("claims", ""), n.claimsGet},
		{ctl(subject.CtlRegistryPut, ""), "", n.registryPut},
		{ctl(subject.CtlNodeConfigPeer, "*"), "", n.configPeer},
	}
	for _, s := range append(subs, apply...) {
		h := s.h
		sub, err := n.nc.QueueSubscribe(s.subj, s.queue, func(m *nats.Msg) {
			last := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
			if reply := h(m.Data, last); reply != nil && m.Reply != "" {
				if err := m.Respond(reply); err != nil {
					n.log.Warn("control interface reply not sent", zap.String("subject", m.Subject), zap.Error(err))
				}
			}
		})
		if err != nil {
			n.unsubscribe()
			return fmt.Errorf("node: subscribe %s: %w", s.subj, err)
		}
		n.subs = append(n.subs, sub)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := n.nc.FlushWithContext(fctx); err != nil {
		n.unsubscribe()
		return fmt.Errorf("node: subscribe to the control interface of lattice %q: %w", n.opts.Lattice, err)
	}
	n.mu.Lock()
	labels := maps.Clone(n.labels)
	n.mu.Unlock()
	n.publish(EventHostStarted, hostStarted(n.opts.FriendlyName, labels, n.opts.Version))
	n.Heartbeat()
	// Both are on the wire when Start returns: a subscriber that starts
	// listening afterwards does not see this host start.
	if err := n.nc.FlushWithContext(fctx); err != nil {
		n.log.Warn("host_started and the first heartbeat not flushed", zap.Error(err))
	}
	n.wg.Add(2)
	n.working.Store(true)
	go n.work()
	go n.beat()
	if err := n.restore(); err != nil {
		n.log.Error("the running set was not restored", zap.Error(err))
	}
	n.log.Info("host started", zap.String("host_id", n.id), zap.String("lattice", n.opts.Lattice), zap.Any("labels", labels))
	return nil
}

func (n *Node) unsubscribe() {
	for _, s := range n.subs {
		_ = s.Unsubscribe()
	}
	n.subs = nil
}

// Close publishes host_stopped, stops answering and working, and unloads
// every component. Safe to call more than once.
func (n *Node) Close() {
	n.closed.Do(func() {
		n.unsubscribe()
		n.mu.Lock()
		labels := maps.Clone(n.labels)
		ids := slices.Collect(maps.Keys(n.components))
		n.mu.Unlock()
		n.publish(EventHostStopped, hostStopped(labels))
		_ = n.nc.Flush()
		n.cancel()
		n.wg.Wait()
		if n.opts.Workload != nil {
			for _, id := range ids {
				n.opts.Workload.Stop(id)
			}
		}
	})
}

// work runs the queued scale and update jobs, and the reconciles due, one
// at a time.
func (n *Node) work() {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case job := <-n.jobs:
			job(n.ctx)
		case <-n.reconcileDue:
			n.mu.Lock()
			running, data := n.running(), n.latticeData()
			n.mu.Unlock()
			n.opts.Workload.Reconcile(n.ctx, running, data)
		}
		n.persist()
	}
}

func (n *Node) enqueue(job func(context.Context)) {
	select {
	case n.jobs <- job:
	case <-n.ctx.Done():
	}
}

// beat publishes host_heartbeat every interval, and at once when the
// connection comes back, so the lattice sees the inventory again after a
// cut.
func (n *Node) beat() {
	defer n.wg.Done()
	t := time.NewTicker(n.opts.Heartbeat)
	defer t.Stop()
	back := n.nc.StatusChanged(nats.CONNECTED)
	defer n.nc.RemoveStatusListener(back)
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		case <-back:
			n.log.Info("lattice connection back: publishing the inventory", zap.String("url", n.nc.ConnectedUrlRedacted()))
		}
		n.Heartbeat()
	}
}

// Heartbeat publishes host_heartbeat with the inventory now.
func (n *Node) Heartbeat() {
	inv := n.Inventory()
	n.publish(EventHostHeartbeat, heartbeatOf(inv))
	for _, p := range inv.Providers {
		n.publish(EventHealthCheckStatus, healthCheck(n.id, p.ID))
	}
}

// publish sends a host event; a failure is logged (events are best effort
// upstream too, and a cut link must not stop the node).
func (n *Node) publish(name string, data any) {
	at := n.opts.Now()
	b, err := envelope(n.id, name, at, eventID(at), data)
	if err == nil {
		err = n.nc.Publish(subject.HostEvent(n.opts.Lattice, name), b)
	}
	if err != nil {
		n.log.Warn("host event not published", zap.String("event", name), zap.Error(err))
	}
}

// Inventory is the node's HostInventory: host.get's answer and the
// heartbeat's data. Components and providers come sorted by id.
func (n *Node) Inventory() latticeadmin.HostInventory {
	up := n.opts.Now().Sub(n.started)
	n.mu.Lock()
	defer n.mu.Unlock()
	inv := latticeadmin.HostInventory{
		Components: make([]latticeadmin.ComponentDescription, 0, len(n.components)),
		Providers:  make([]latticeadmin.ProviderDescription, 0, len(n.providers)),
		HostID:     n.id, FriendlyName: n.opts.FriendlyName, Labels: maps.Clone(n.labels), Version: n.opts.Version,
		UptimeHuman: HumanUptime(up), UptimeSeconds: uint64(up / time.Second),
	}
	for _, c := range n.components {
		inv.Components = append(inv.Components, latticeadmin.ComponentDescription{
			ID: c.ID, ImageRef: c.ImageRef, Annotations: annotationsOrEmpty(c.Annotations), Revision: c.Revision, MaxInstances: c.MaxInstances, Limits: maps.Clone(c.Limits),
		})
	}
	for _, p := range n.providers {
		inv.Providers = append(inv.Providers, *p)
	}
	slices.SortFunc(inv.Components, func(a, b latticeadmin.ComponentDescription) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(inv.Providers, func(a, b latticeadmin.ProviderDescription) int { return strings.Compare(a.ID, b.ID) })
	return inv
}

// HumanUptime writes d as upstream's human_friendly_uptime (humantime's
// format of whole seconds): "30s", "1m 5s", "2days 3h".
func HumanUptime(d time.Duration) string {
	s := int64(d / time.Second)
	if s <= 0 {
		return "0s"
	}
	parts := []string{}
	add := func(v int64, unit, plural string) {
		if v == 0 {
			return
		}
		if v > 1 && plural != "" {
			unit = plural
		}
		parts = append(parts, fmt.Sprintf("%d%s", v, unit))
	}
	add(s/86400, "day", "days")
	add(s%86400/3600, "h", "")
	add(s%3600/60, "m", "")
	add(s%60, "s", "")
	return strings.Join(parts, " ")
}

// lattice snapshots the links, config and providers; n.mu is held.
func (n *Node) latticeData() LatticeData {
	d := LatticeData{HostID: n.id, Lattice: n.opts.Lattice, Links: slices.Clone(n.links), Config: make(map[string]map[string]string, len(n.config)), Providers: map[string]string{}}
	for k, v := range n.config {
		d.Config[k] = maps.Clone(v)
	}
	for id, p := range n.providers {
		if p.ImageRef != nil {
			d.Providers[id] = *p.ImageRef
		}
	}
	return d
}

func (n *Node) running() []Component {
	out := make([]Component, 0, len(n.components))
	for _, c := range n.components {
		out = append(out, *c)
	}
	return out
}

// reconcile has the worker apply the lattice data to what runs. It never
// waits: it is called on the worker too, whose queue may be full, and a
// burst of link or config changes needs one reconcile, not one each.
func (n *Node) reconcile() {
	if n.opts.Workload == nil || !n.working.Load() {
		return // nothing runs before the worker does
	}
	select {
	case n.reconcileDue <- struct{}{}:
	default: // one is due already, and will read the state when it runs
	}
}

// seed learns the lattice's links, and the config they name, from the
// hosts already there, before this node answers such queries itself: a
// host of a lattice that shares no LATTICEDATA bucket with it would
// otherwise never hear of the links wadm put before it started (wadm
// re-puts only what link.get lacks).
func (n *Node) seed(ctx context.Context) {
	if n.opts.NoPeers {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var links latticeadmin.CtlResponse[[]latticeadmin.Link]
	if !n.query(ctx, subject.CtlLinkGet, "", &links) || links.Response == nil {
		return
	}
	n.mu.Lock()
	n.links = *links.Response
	n.mu.Unlock()
	for _, l := range *links.Response {
		for _, name := range append(slices.Clone(l.SourceConfig), l.TargetConfig...) {
			n.fetchConfig(ctx, subject.CtlConfigGet, name)
		}
	}
	n.log.Info("learned the lattice's links from its hosts", zap.Int("links", len(*links.Response)))
}

// fetchConfig asks for a named config the node lacks and keeps it when a
// host has it: op is CtlConfigGet before the node answers config.get
// itself (at start), CtlNodeConfigPeer after.
func (n *Node) fetchConfig(ctx context.Context, op, name string) {
	if n.opts.NoPeers {
		return
	}
	n.mu.Lock()
	_, have := n.config[name]
	n.mu.Unlock()
	if have || latticeadmin.ValidateConfigName(name) != nil {
		return
	}
	var cfg latticeadmin.CtlResponse[map[string]string]
	if n.query(ctx, op, name, &cfg) && cfg.Response != nil {
		n.mu.Lock()
		if _, have := n.config[name]; !have {
			n.config[name] = *cfg.Response
		}
		n.mu.Unlock()
	}
}

// query sends a control-interface request to the lattice and decodes a
// successful answer into v.
func (n *Node) query(ctx context.Context, op, arg string, v any) bool {
	m, err := n.nc.RequestWithContext(ctx, subject.Ctl(n.opts.CtlPrefix, n.opts.Lattice, op, arg), nil)
	if err != nil {
		return false
	}
	return json.Unmarshal(m.Data, v) == nil
}
