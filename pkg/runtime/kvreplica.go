package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// DefaultKVReplicaMaxBytes bounds one bucket's replica: a bucket whose keys
// and values outgrow it is read from JetStream again.
const DefaultKVReplicaMaxBytes = 64 << 20

// kvReplicaWait bounds how long a read waits for the replica to apply this
// host's own last write before reading JetStream itself.
const kvReplicaWait = 2 * time.Second

// kvReplicaFullRetry is how long a replica stopped at the replicas' total
// waits before it may load again.
const kvReplicaFullRetry = time.Minute

// DefaultKVReplicaIdle is how long a replica no read asked for keeps its
// watch: a canvas with 1,000 components keeps replicas of the buckets its
// traffic reads, not of all 1,000.
const DefaultKVReplicaIdle = 5 * time.Minute

// KVReplicas keeps an in-memory replica of each JetStream KV bucket the
// components it serves use, fed by a KV watch, so wasi:keyvalue get,
// exists and list-keys are answered in memory instead of with a JetStream
// request each (a TMF620 list of 20 offerings made 21 of them). Writes go
// to JetStream as before.
//
// Consistency: a read waits until the replica has applied every write this
// process made to the bucket, so a component sees its own writes (and
// every other component's on this host) as it did reading JetStream; a
// write made elsewhere (another process writing the bucket) is seen once
// its watch update arrives, normally well under a millisecond later,
// where a direct read saw it as soon as it was acknowledged. A bucket is
// read from JetStream while its replica is loading or its watch is
// re-established, and for good once it outgrows maxBytes; all of them
// together stay within TotalBytes.
//
// A replica starts on the first read of its bucket (that read, and those
// made while the bucket loads, go to JetStream), and stops after Idle
// without one.
//
// # Notes
//
//   - Safe for concurrent use. At most one watch per bucket, shared by
//     every KeyValue that names it; it stops when idle, when the last such
//     component closes, or at Close.
type KVReplicas struct {
	js       jetstream.JetStream
	log      *zap.Logger
	maxBytes int
	// Idle is how long an unread replica keeps its watch (set before
	// use; zero means DefaultKVReplicaIdle).
	Idle time.Duration
	// TotalBytes bounds all the replicas together (set before use;
	// NewKVReplicas makes it 8 × maxBytes): a replica that would take the
	// total past it stops, and none starts while it is reached, so their
	// buckets are read from JetStream.
	TotalBytes int
	total      atomic.Int64

	mu      sync.Mutex
	closed  bool
	buckets map[string]*kvReplica
	wg      sync.WaitGroup
}

// NewKVReplicas returns replicas over js; maxBytes <= 0 means
// DefaultKVReplicaMaxBytes, log nil discards.
func NewKVReplicas(js jetstream.JetStream, maxBytes int, log *zap.Logger) *KVReplicas {
	if maxBytes <= 0 {
		maxBytes = DefaultKVReplicaMaxBytes
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &KVReplicas{js: js, log: log, maxBytes: maxBytes, TotalBytes: 8 * maxBytes, buckets: map[string]*kvReplica{}}
}

// WithKVReplica makes NewJetStreamKV read through r's replica of its
// bucket. The bucket must live in the connection's own JetStream domain:
// deletes are published as KV delete markers on $KV.<bucket>.<key>, so
// their revision is known and reads can wait for them.
func WithKVReplica(r *KVReplicas) JetStreamKVOption {
	return func(kv *jetStreamKV) { kv.replicas = r }
}

// KVReplicaStats is what one bucket's replica has done.
type KVReplicaStats struct {
	// Keys and Bytes are what it holds now.
	Keys, Bytes int
	// Synced says it is serving reads.
	Synced bool
	// Served counts reads answered from memory; Direct those that went to
	// JetStream (loading, lagging, or over MaxBytes).
	Served, Direct int64
}

// Stats returns the replica of bucket's counts; ok is false when there is
// none.
func (r *KVReplicas) Stats(bucket string) (s KVReplicaStats, ok bool) {
	r.mu.Lock()
	rep := r.buckets[bucket]
	r.mu.Unlock()
	if rep == nil {
		return s, false
	}
	rep.mu.RLock()
	defer rep.mu.RUnlock()
	return KVReplicaStats{Keys: len(rep.entries), Bytes: rep.bytes, Synced: rep.synced && !rep.overflow,
		Served: rep.served.Load(), Direct: rep.direct.Load()}, true
}

// Close stops every watch and waits for them.
func (r *KVReplicas) Close() {
	r.mu.Lock()
	r.closed = true
	for name, rep := range r.buckets {
		rep.cancel()
		delete(r.buckets, name)
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// acquire returns the replica of kv's bucket, starting its watch on first
// use; nil once r is closed.
func (r *KVReplicas) acquire(name string, kv jetstream.KeyValue) *kvReplica {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	rep := r.buckets[name]
	if rep == nil {
		ctx, cancel := context.WithCancel(context.Background())
		idle := r.Idle
		if idle <= 0 {
			idle = DefaultKVReplicaIdle
		}
		rep = &kvReplica{name: name, kv: kv, conn: r.js.Conn(), owner: r, ctx: ctx, cancel: cancel, maxBytes: r.maxBytes, idle: idle,
			log: r.log.With(zap.String("bucket", name)), entries: map[string]kvReplicaEntry{}}
		rep.changed = make(chan struct{})
		r.buckets[name] = rep
	}
	rep.refs++
	return rep
}

// start runs the replica's watch on a goroutine Close waits for, unless it
// runs already, the replicas are closed, its components let go, or it may
// not load (over its bound, over the total, or waiting after that).
func (r *KVReplicas) start(rep *kvReplica) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || rep.ctx.Err() != nil {
		return
	}
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if rep.running || rep.overflow || r.total.Load() >= int64(r.TotalBytes) || time.Now().Before(rep.fullUntil) {
		return
	}
	rep.running = true
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		rep.run()
	}()
}

// release drops one reference; the last stops the watch.
func (r *KVReplicas) release(rep *kvReplica) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep.refs--
	if rep.refs == 0 && r.buckets[rep.name] == rep {
		rep.cancel()
		delete(r.buckets, rep.name)
	}
}

type kvReplicaEntry struct {
	value    []byte
	revision uint64
}

type kvReplica struct {
	name     string
	kv       jetstream.KeyValue
	conn     *nats.Conn
	owner    *KVReplicas
	ctx      context.Context // ends when the last component lets go
	cancel   context.CancelFunc
	maxBytes int
	idle     time.Duration
	log      *zap.Logger
	refs     int // under KVReplicas.mu

	lastRead atomic.Int64 // unix nanoseconds

	// written is the highest revision a write through this process got
	// back; reads wait until applied reaches it.
	written atomic.Uint64
	served  atomic.Int64
	direct  atomic.Int64

	mu      sync.RWMutex
	entries map[string]kvReplicaEntry // by stored (encoded) key
	bytes   int
	sorted  []string // decoded keys, sorted; nil when stale
	applied uint64   // the last revision applied
	running bool     // a watch goroutine runs
	// fullUntil: stopped at the replicas' total, it does not start again
	// before then.
	fullUntil time.Time
	synced    bool // the initial values are in and the watch is live
	overflow  bool // outgrew maxBytes: reads go to JetStream for good
	changed   chan struct{}
}

// errIdle ends a watch no read asked for in the replica's idle time;
// errFull one whose replica outgrew its bound or the replicas' total.
var (
	errIdle = errors.New("idle")
	errFull = errors.New("full")
)

// run keeps the replica fed until its components let go or it is idle,
// re-watching after a failure; then it drops what it holds.
func (rep *kvReplica) run() {
	defer func() {
		rep.mu.Lock()
		rep.running, rep.synced = false, false
		rep.drop()
		rep.wake()
		rep.mu.Unlock()
	}()
	backoff := 100 * time.Millisecond
	for rep.ctx.Err() == nil {
		err := rep.watch(rep.ctx)
		rep.mu.Lock()
		rep.synced = false
		rep.mu.Unlock()
		if errors.Is(err, errIdle) || errors.Is(err, errFull) || rep.ctx.Err() != nil {
			return
		}
		rep.log.Warn("keyvalue replica: the watch ended; reads go to JetStream until it is back", zap.Error(err), zap.Duration("retry_in", backoff))
		select {
		case <-rep.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// watch loads the bucket and applies its updates until ctx ends or the
// watch fails.
func (rep *kvReplica) watch(ctx context.Context) error {
	w, err := rep.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer func() { _ = w.Stop() }()
	// A fresh load: what the last watch left may be missing deletes.
	rep.mu.Lock()
	rep.drop()
	rep.mu.Unlock()
	idle := time.NewTicker(max(rep.idle/4, time.Millisecond))
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-idle.C:
			if time.Since(time.Unix(0, rep.lastRead.Load())) > rep.idle {
				return errIdle
			}
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("the watch's update channel closed")
			}
			if !rep.apply(e) {
				return errFull // over its own bound (for good) or the total
			}
		}
	}
}

// apply applies one update (nil: the initial values are in) and wakes the
// readers; false means the replica outgrew maxBytes and was dropped.
func (rep *kvReplica) apply(e jetstream.KeyValueEntry) bool {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	defer rep.wake()
	if e == nil {
		rep.synced = true
		return true
	}
	key := e.Key()
	old, had := rep.entries[key]
	if had {
		rep.grow(-(len(key) + len(old.value)))
	}
	switch e.Operation() {
	case jetstream.KeyValuePut:
		rep.entries[key] = kvReplicaEntry{value: e.Value(), revision: e.Revision()}
		rep.grow(len(key) + len(e.Value()))
		if !had {
			rep.sorted = nil
		}
	default: // delete or purge
		delete(rep.entries, key)
		if had {
			rep.sorted = nil
		}
	}
	rep.applied = max(rep.applied, e.Revision())
	if rep.bytes > rep.maxBytes {
		rep.overflow = true
		rep.drop()
		return false
	}
	if rep.owner.total.Load() > int64(rep.owner.TotalBytes) {
		// Over the replicas' total: this one stops (run drops what it
		// holds), and a read may start it again after kvReplicaFullRetry,
		// if there is room then.
		rep.fullUntil = time.Now().Add(kvReplicaFullRetry)
		return false
	}
	return true
}

// drop empties the replica; rep.mu is held.
func (rep *kvReplica) drop() {
	clear(rep.entries)
	rep.grow(-rep.bytes)
	rep.sorted = nil
}

// grow changes the replica's size, and the replicas' total, by n bytes;
// rep.mu is held.
func (rep *kvReplica) grow(n int) {
	rep.bytes += n
	rep.owner.total.Add(int64(n))
}

// wake tells waiting readers something changed; rep.mu is held.
func (rep *kvReplica) wake() {
	close(rep.changed)
	rep.changed = make(chan struct{})
}

// read runs f over the replica once it has applied this process's last
// write; false means the caller reads JetStream instead: the replica is
// stopped (this read starts it) or loading, lagging past kvReplicaWait or
// ctx, or overflowed, or the connection is down (then the replica may be
// missing writes, and the read fails as it would have without one).
func (rep *kvReplica) read(ctx context.Context, f func()) bool {
	rep.lastRead.Store(time.Now().UnixNano())
	if !rep.conn.IsConnected() {
		rep.direct.Add(1)
		return false
	}
	want := rep.written.Load()
	var deadline <-chan time.Time
	for {
		rep.mu.RLock()
		if rep.overflow || !rep.running || !rep.synced {
			running := rep.running
			rep.mu.RUnlock()
			if !running {
				rep.owner.start(rep)
			}
			rep.direct.Add(1)
			return false
		}
		if rep.applied >= want {
			f()
			rep.mu.RUnlock()
			rep.served.Add(1)
			return true
		}
		changed := rep.changed
		rep.mu.RUnlock()
		if deadline == nil {
			t := time.NewTimer(kvReplicaWait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-changed:
		case <-deadline:
			rep.direct.Add(1)
			return false
		case <-ctx.Done():
			rep.direct.Add(1)
			return false
		}
	}
}

// wrote records a write's revision.
func (rep *kvReplica) wrote(revision uint64) {
	for {
		cur := rep.written.Load()
		if revision <= cur || rep.written.CompareAndSwap(cur, revision) {
			return
		}
	}
}

// get answers Get from the replica.
func (rep *kvReplica) get(ctx context.Context, stored string) (e kvReplicaEntry, found, ok bool) {
	ok = rep.read(ctx, func() { e, found = rep.entries[stored] })
	return e, found, ok
}

// keys answers ListKeys from the replica: every decodable key, sorted.
// The sorted list is rebuilt after keys came or went, and never changed in
// place: callers page through it after the lock is released.
func (rep *kvReplica) keys(ctx context.Context) (keys []string, ok bool) {
	if !rep.read(ctx, func() { keys = rep.sorted }) {
		return nil, false
	}
	if keys != nil {
		return keys, true
	}
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if rep.overflow || !rep.synced {
		rep.direct.Add(1)
		rep.served.Add(-1)
		return nil, false
	}
	if rep.sorted == nil {
		sorted := make([]string, 0, len(rep.entries))
		for stored := range rep.entries {
			if key, err := decodeKey(stored); err == nil {
				sorted = append(sorted, key)
			}
		}
		slices.Sort(sorted)
		rep.sorted = sorted
	}
	return rep.sorted, true
}

// deleteMarker publishes a KV delete marker for stored in kv's bucket, as
// jetstream's KeyValue.Delete does (ADR-8: an empty message with the
// KV-Operation: DEL header on $KV.<bucket>.<key>), and returns its
// revision, which Delete does not.
func deleteMarker(ctx context.Context, js jetstream.JetStream, bucket, stored string) (uint64, error) {
	m := nats.NewMsg("$KV." + bucket + "." + stored)
	m.Header.Set("KV-Operation", "DEL")
	ack, err := js.PublishMsg(ctx, m)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}
