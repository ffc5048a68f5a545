package wadmtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// opTimeout bounds each storage or publish call the double makes.
const opTimeout = 5 * time.Second

// Server is a wadm double for one lattice.
type Server struct {
	nc      *nats.Conn
	lattice string
	prefix  string
	memory  bool

	js        jetstream.JetStream
	statusStr jetstream.Stream
	store     store

	ctx    context.Context
	cancel context.CancelFunc
	sub    *nats.Subscription
	wg     sync.WaitGroup

	mu       sync.Mutex
	delay    time.Duration
	putHook  func(*wadm.Manifest) error
	failNext map[string]string
	fail     map[string]string
	waiting  map[string]bool
	gen      map[string]uint64         // bumped on every deploy/undeploy/injection
	running  map[string]*wadm.Manifest // deployed manifest per app, for injections
	statuses map[string]wadm.Status    // last status when JetStream is off

	// statusMu orders status publishes so a superseded reconcile never
	// publishes after its successor.
	statusMu sync.Mutex

	puts, deploys, undeploys, deletes atomic.Int64
}

// Option configures a Server.
type Option func(*Server)

// WithAPIPrefix serves under another API prefix (wadm's --api-prefix).
func WithAPIPrefix(prefix string) Option { return func(s *Server) { s.prefix = prefix } }

// WithDelay sets how long reconciliation takes before an app is deployed.
func WithDelay(d time.Duration) Option { return func(s *Server) { s.delay = d } }

// WithPutHook lets a test refuse puts: a non-nil error from hook becomes
// wadm's generic error reply carrying the error's text.
func WithPutHook(hook func(*wadm.Manifest) error) Option {
	return func(s *Server) { s.putHook = hook }
}

// WithMemoryStore keeps manifests and status in memory even when JetStream
// is available.
func WithMemoryStore() Option { return func(s *Server) { s.memory = true } }

// New returns a double for lattice on nc; call Start to serve.
func New(nc *nats.Conn, lattice string, opts ...Option) (*Server, error) {
	s := &Server{
		nc: nc, lattice: lattice, prefix: subject.WadmDefaultAPIPrefix,
		failNext: map[string]string{}, fail: map[string]string{}, waiting: map[string]bool{},
		gen: map[string]uint64{}, running: map[string]*wadm.Manifest{}, statuses: map[string]wadm.Status{},
	}
	for _, o := range opts {
		o(s)
	}
	if nc == nil {
		return nil, errors.New("wadmtest: New needs a NATS connection")
	}
	if err := subject.ValidateLattice(lattice); err != nil {
		return nil, fmt.Errorf("wadmtest: %w", err)
	}
	s.prefix = strings.Trim(strings.TrimSpace(s.prefix), ".")
	if s.prefix == "" || strings.ContainsAny(s.prefix, "*> \t") {
		return nil, fmt.Errorf("wadmtest: API prefix %q is not a plain subject prefix", s.prefix)
	}
	return s, nil
}

// Start sets up storage (JetStream KV and streams when the server has
// JetStream) and starts serving; ctx bounds the set-up only. Close stops it.
func (s *Server) Start(ctx context.Context) error {
	if s.sub != nil {
		return errors.New("wadmtest: Start called twice")
	}
	if err := s.setupStorage(ctx); err != nil {
		return err
	}
	// A restarted wadm picks up what was deployed; its last status stays in
	// the stream until something changes.
	recs, err := s.store.list(ctx)
	if err != nil {
		return fmt.Errorf("wadmtest: load stored manifests: %w", err)
	}
	for _, r := range recs {
		if m := r.deployedManifest(); m != nil {
			s.running[r.Name] = m
		}
	}
	msgs := make(chan *nats.Msg, 256)
	subj := subject.WadmLatticeAPI(s.prefix, s.lattice)
	sub, err := s.nc.ChanQueueSubscribe(subj, subject.WadmQueueGroup, msgs)
	if err != nil {
		return fmt.Errorf("wadmtest: subscribe %s: %w", subj, err)
	}
	if err := s.nc.FlushWithContext(ctx); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("wadmtest: subscribe %s: flush: %w", subj, err)
	}
	s.sub = sub
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-s.ctx.Done():
				return
			case m := <-msgs:
				s.serve(m)
			}
		}
	}()
	return nil
}

func (s *Server) setupStorage(ctx context.Context) error {
	if s.memory {
		s.store = newMemStore()
		return nil
	}
	js, err := jetstream.New(s.nc)
	if err != nil {
		return fmt.Errorf("wadmtest: jetstream: %w", err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			s.store = newMemStore()
			return nil
		}
		return fmt.Errorf("wadmtest: jetstream account info: %w", err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: subject.WadmManifestBucket, History: 1})
	if err != nil {
		return fmt.Errorf("wadmtest: create KV %s: %w", subject.WadmManifestBucket, err)
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: subject.WadmStatusStream, Subjects: []string{subject.WadmStatusAll},
		Retention: jetstream.LimitsPolicy, MaxMsgsPerSubject: 10, AllowDirect: true,
	})
	if err != nil {
		return fmt.Errorf("wadmtest: create stream %s: %w", subject.WadmStatusStream, err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: subject.WadmEventsStream, Subjects: []string{subject.WadmEventsAll},
		Retention: jetstream.LimitsPolicy, MaxAge: 70 * time.Second,
	}); err != nil {
		return fmt.Errorf("wadmtest: create stream wadm_events: %w", err)
	}
	s.js, s.statusStr = js, st
	s.store = &kvStore{kv: kv, lattice: s.lattice}
	return nil
}

// Close stops serving and every reconciliation; stored manifests stay in
// the KV bucket.
func (s *Server) Close() {
	if s.sub == nil {
		return
	}
	_ = s.sub.Unsubscribe()
	s.cancel()
	s.wg.Wait()
}

// SetPutHook replaces the put hook (nil accepts every put).
func (s *Server) SetPutHook(hook func(*wadm.Manifest) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putHook = hook
}

// FailNext makes the next deploy of name end failed with message.
func (s *Server) FailNext(name, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[name] = message
}

// Fail makes name failed with message now (if deployed) and after every
// deploy until Clear.
func (s *Server) Fail(name, message string) {
	s.mu.Lock()
	s.fail[name] = message
	s.mu.Unlock()
	s.settleNow(name)
}

// SetWaiting makes name wait (as with no hosts in the lattice) now (if
// deployed) and after every deploy until Clear.
func (s *Server) SetWaiting(name string) {
	s.mu.Lock()
	s.waiting[name] = true
	s.mu.Unlock()
	s.settleNow(name)
}

// Clear removes injected failures and waiting for name; a deployed app
// reconciles again to deployed.
func (s *Server) Clear(name string) {
	s.mu.Lock()
	delete(s.fail, name)
	delete(s.failNext, name)
	delete(s.waiting, name)
	m := s.running[name]
	s.mu.Unlock()
	if m != nil {
		s.startReconcile(name, m)
	}
}

// Puts, Deploys, Undeploys and Deletes count accepted requests.
func (s *Server) Puts() int64      { return s.puts.Load() }
func (s *Server) Deploys() int64   { return s.deploys.Load() }
func (s *Server) Undeploys() int64 { return s.undeploys.Load() }
func (s *Server) Deletes() int64   { return s.deletes.Load() }

// Deployed returns the deployed version of name.
func (s *Server) Deployed(name string) (string, bool) {
	if s.store == nil {
		return "", false
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	r, _, err := s.store.get(ctx, name)
	if err != nil || r == nil || r.Deployed == "" {
		return "", false
	}
	return r.Deployed, true
}

// Models returns the stored application names, sorted.
func (s *Server) Models() []string {
	if s.store == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	recs, err := s.store.list(ctx)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Name)
	}
	return out
}

// Versions returns the stored versions of name in creation order.
func (s *Server) Versions(name string) []string {
	if s.store == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	r, _, err := s.store.get(ctx, name)
	if err != nil || r == nil {
		return nil
	}
	out := make([]string, 0, len(r.Versions))
	for _, v := range r.Versions {
		out = append(out, v.Version)
	}
	return out
}

// startReconcile drives a freshly deployed manifest: reconciling now, then
// after the delay deployed (or failed/waiting as injected).
func (s *Server) startReconcile(name string, m *wadm.Manifest) {
	s.mu.Lock()
	s.gen[name]++
	gen := s.gen[name]
	s.running[name] = m
	delay := s.delay
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.publishStatus(name, gen, buildStatus(m, wadm.StatusReconciling, ""))
		if delay > 0 {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
			}
		}
		s.mu.Lock()
		if s.gen[name] != gen {
			s.mu.Unlock()
			return
		}
		typ, msg := s.outcomeLocked(name, true)
		s.mu.Unlock()
		s.publishStatus(name, gen, buildStatus(m, typ, msg))
	}()
}

// outcomeLocked is where an app settles after reconciling; consume says
// whether a FailNext is used up.
func (s *Server) outcomeLocked(name string, consume bool) (wadm.StatusType, string) {
	if msg, ok := s.failNext[name]; ok {
		if consume {
			delete(s.failNext, name)
		}
		return wadm.StatusFailed, msg
	}
	if msg, ok := s.fail[name]; ok {
		return wadm.StatusFailed, msg
	}
	if s.waiting[name] {
		return wadm.StatusWaiting, "Waiting for hosts: no host in the lattice matches the spread requirements"
	}
	return wadm.StatusDeployed, ""
}

// settleNow republishes a deployed app's status after an injection.
func (s *Server) settleNow(name string) {
	s.mu.Lock()
	m := s.running[name]
	if m == nil {
		s.mu.Unlock()
		return
	}
	s.gen[name]++
	gen := s.gen[name]
	typ, msg := s.outcomeLocked(name, false)
	s.mu.Unlock()
	s.publishStatus(name, gen, buildStatus(m, typ, msg))
}

// stopReconcile marks name undeployed and publishes that.
func (s *Server) stopReconcile(name string) {
	s.mu.Lock()
	s.gen[name]++
	gen := s.gen[name]
	delete(s.running, name)
	s.mu.Unlock()
	s.publishStatus(name, gen, wadm.NewStatus(wadm.StatusInfo{Type: wadm.StatusUndeployed}, nil))
}

// publishStatus publishes st unless a newer generation superseded gen.
func (s *Server) publishStatus(name string, gen uint64, st wadm.Status) {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	s.mu.Lock()
	current := s.gen[name] == gen
	if current && s.js == nil {
		s.statuses[name] = st
	}
	s.mu.Unlock()
	if !current {
		return
	}
	b, err := json.Marshal(st)
	if err != nil {
		return
	}
	subj := subject.WadmAppStatus(s.lattice, name)
	if s.js == nil {
		_ = s.nc.Publish(subj, b)
		return
	}
	// wadm publishes an app's status again as it goes on reconciling: a
	// publish the lattice lost (nats-server killed mid-call) is retried
	// until it lands, a newer status supersedes it, the double stops or
	// statusRetryFor has passed. Without it an app's last recorded status
	// could stay "reconciling" for good.
	deadline := time.Now().Add(statusRetryFor)
	for {
		ctx, cancel := context.WithTimeout(s.ctx, opTimeout)
		_, err := s.js.Publish(ctx, subj, b)
		cancel()
		if err == nil || s.ctx.Err() != nil || time.Now().After(deadline) {
			return
		}
		s.mu.Lock()
		current := s.gen[name] == gen
		s.mu.Unlock()
		if !current {
			return
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(statusRetryPause):
		}
	}
}

// How long and how often a lost status publish is tried again.
const (
	statusRetryFor   = 30 * time.Second
	statusRetryPause = 100 * time.Millisecond
)

// lastStatus reads the last published status of name, as wadm reads the
// last message on the subject from the wadm_status stream.
func (s *Server) lastStatus(ctx context.Context, name string) (wadm.Status, bool) {
	if s.js == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		st, ok := s.statuses[name]
		return st, ok
	}
	m, err := s.statusStr.GetLastMsgForSubject(ctx, subject.WadmAppStatus(s.lattice, name))
	if err != nil {
		return wadm.Status{}, false
	}
	var st wadm.Status
	if err := json.Unmarshal(m.Data, &st); err != nil {
		return wadm.Status{}, false
	}
	return st, true
}

// buildStatus gives every component a spread (or daemon) scaler and every
// link a link scaler, all of type typ, as wadm's scalers report.
func buildStatus(m *wadm.Manifest, typ wadm.StatusType, msg string) wadm.Status {
	info := wadm.StatusInfo{Type: typ, Message: msg}
	var scalers []wadm.ScalerStatus
	for _, c := range m.Spec.Components {
		kind := wadm.ScalerKindSpread
		var params any = c.Properties
		for _, t := range c.Traits {
			if t.Scaler != nil {
				params = t.Scaler
				if t.Type == wadm.TraitDaemonScaler {
					kind = wadm.ScalerKindDaemon
				}
			}
		}
		id := m.ComponentID(c)
		scalers = append(scalers, wadm.ScalerStatus{ID: scalerID(kind, id, params), Kind: kind, Name: id, Info: info})
	}
	for _, l := range m.Links() {
		src, _ := m.ComponentByName(l.Source)
		link := l.Link.Normalized()
		target := link.Target.Name
		if tc, ok := m.ComponentByName(target); ok {
			target = m.ComponentID(tc)
		}
		name := fmt.Sprintf("%s -(%s:%s)-> %s", m.ComponentID(src), link.Namespace, link.Package, target)
		scalers = append(scalers, wadm.ScalerStatus{ID: scalerID(wadm.ScalerKindLink, name, link), Kind: wadm.ScalerKindLink, Name: name, Info: info})
	}
	return wadm.NewStatus(info, scalers)
}

// scalerID is a sha256 hex digest of the scaler's parameters, as wadm ids
// its scalers.
func scalerID(kind, name string, params any) string {
	b, _ := json.Marshal(params)
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}
