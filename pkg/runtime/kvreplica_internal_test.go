package runtime

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// replicaBucket opens bucket through a fresh KVReplicas (idle: its Idle);
// both are closed in the test's cleanup.
func replicaBucket(t *testing.T, js jetstream.JetStream, bucket string, maxBytes int, idle time.Duration) (*KVReplicas, Bucket, KeyValue) {
	t.Helper()
	r := NewKVReplicas(js, maxBytes, nil)
	r.Idle = idle
	t.Cleanup(r.Close)
	kv := NewJetStreamKV(js, bucket, WithKVReplica(r))
	t.Cleanup(func() { kv.(io.Closer).Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := kv.Open(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	return r, b, kv
}

// loadedReplica starts JetStream and opens bucket through a replica that
// serves (loaded by a first read), with a context bounding the test.
func loadedReplica(t *testing.T, bucket string, maxBytes int) (jetstream.JetStream, *KVReplicas, Bucket, context.Context) {
	t.Helper()
	js := startJetStream(t)
	r, b, _ := replicaBucket(t, js, bucket, maxBytes, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	waitSynced(t, r, b, bucket)
	return js, r, b, ctx
}

// waitSynced reads b until its replica serves: the first read starts it.
func waitSynced(t *testing.T, r *KVReplicas, b Bucket, bucket string) KVReplicaStats {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := b.Exists(context.Background(), "any"); err != nil {
			t.Fatal(err)
		}
		if st, _ := r.Stats(bucket); st.Synced {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the replica did not load in 10 s", bucket)
		}
	}
}

// TestKVReplicaReadsItsOwnWrites: every read after a write through the
// host sees it, at once, and is answered from memory.
func TestKVReplicaReadsItsOwnWrites(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	r, b, _ := replicaBucket(t, js, "rep-own", 0, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if st, _ := r.Stats("rep-own"); st.Synced || st.Served+st.Direct != 0 {
		t.Fatalf("before any read: %+v, want no replica yet", st)
	}
	before := waitSynced(t, r, b, "rep-own")
	if before.Direct == 0 {
		t.Fatalf("%+v: the reads made while the replica loaded must go to JetStream", before)
	}
	const n = 100
	for i := range n {
		k := fmt.Sprintf("item.%03d", i)
		if err := b.Set(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
		if v, found, err := b.Get(ctx, k); err != nil || !found || string(v) != k {
			t.Fatalf("get %s right after set = %q %v %v", k, v, found, err)
		}
		if i%2 == 1 {
			prev := fmt.Sprintf("item.%03d", i-1)
			if err := b.Delete(ctx, prev); err != nil {
				t.Fatal(err)
			}
			if ok, err := b.Exists(ctx, prev); err != nil || ok {
				t.Fatalf("exists %s right after delete = %v %v", prev, ok, err)
			}
		}
		if got, err := b.Increment(ctx, "seq", 1); err != nil || got != uint64(i+1) {
			t.Fatalf("increment %d = %d %v", i, got, err)
		}
	}
	keys, _, more, err := b.ListKeys(ctx, 0)
	if err != nil || more || len(keys) != n/2+1 || keys[0] != "item.001" || keys[len(keys)-1] != "seq" {
		t.Fatalf("list = %d keys %v…, more %v, %v; want the %d odd items and seq", len(keys), keys[:min(3, len(keys))], more, err, n/2)
	}
	st, ok := r.Stats("rep-own")
	if !ok || !st.Synced || st.Keys != n/2+1 {
		t.Fatalf("stats %+v (ok %v), want synced with %d keys", st, ok, n/2+1)
	}
	// get + exists + increment's read + list, all from memory.
	if want := int64(n + n/2 + n + 1); st.Served-before.Served != want || st.Direct != before.Direct {
		t.Fatalf("served %d from memory and %d from JetStream once loaded, want %d and 0", st.Served-before.Served, st.Direct-before.Direct, want)
	}
}

// TestKVReplicaSeesWritesMadeElsewhere: a write another process makes to
// the bucket reaches the replica by its watch.
func TestKVReplicaSeesWritesMadeElsewhere(t *testing.T) {
	t.Parallel()
	js, _, b, ctx := loadedReplica(t, "rep-ext", 0)
	other, err := js.KeyValue(ctx, "rep-ext")
	if err != nil {
		t.Fatal(err)
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not seen in 10 s", what)
			}
		}
	}
	if _, err := other.Put(ctx, "ext", []byte("1")); err != nil {
		t.Fatal(err)
	}
	eventually("an outside put", func() bool { v, _, _ := b.Get(ctx, "ext"); return string(v) == "1" })
	if _, err := other.Put(ctx, "ext", []byte("2")); err != nil {
		t.Fatal(err)
	}
	eventually("an outside update", func() bool { v, _, _ := b.Get(ctx, "ext"); return string(v) == "2" })
	if err := other.Delete(ctx, "ext"); err != nil {
		t.Fatal(err)
	}
	eventually("an outside delete", func() bool { ok, _ := b.Exists(ctx, "ext"); return !ok })
	if _, err := other.Put(ctx, "ext", []byte("3")); err != nil {
		t.Fatal(err)
	}
	eventually("a put after an outside delete", func() bool { v, _, _ := b.Get(ctx, "ext"); return string(v) == "3" })
	if err := other.Purge(ctx, "ext"); err != nil {
		t.Fatal(err)
	}
	eventually("an outside purge", func() bool { keys, _, _, _ := b.ListKeys(ctx, 0); return len(keys) == 0 })
}

// TestKVReplicaOverflow: a bucket larger than the replica's bound is read
// from JetStream, with the same answers.
func TestKVReplicaOverflow(t *testing.T) {
	t.Parallel()
	_, r, b, ctx := loadedReplica(t, "rep-big", 1024)
	big := []byte(strings.Repeat("x", 600))
	for i := range 3 {
		if err := b.Set(ctx, fmt.Sprint("k", i), big); err != nil {
			t.Fatal(err)
		}
		if v, found, err := b.Get(ctx, fmt.Sprint("k", i)); err != nil || !found || len(v) != len(big) {
			t.Fatalf("get k%d = %d bytes %v %v", i, len(v), found, err)
		}
	}
	keys, _, _, err := b.ListKeys(ctx, 0)
	if err != nil || len(keys) != 3 {
		t.Fatalf("list = %v %v", keys, err)
	}
	st, _ := r.Stats("rep-big")
	if st.Synced || st.Keys != 0 || st.Direct == 0 {
		t.Fatalf("stats %+v: want the replica dropped (not synced, empty) and reads from JetStream", st)
	}
}

// TestKVReplicaShared: components on one bucket share one replica; it
// goes when the last of them is closed.
func TestKVReplicaShared(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	r := NewKVReplicas(js, 0, nil)
	t.Cleanup(r.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var kvs []KeyValue
	var wg sync.WaitGroup
	for range 3 {
		kv := NewJetStreamKV(js, "rep-shared", WithKVReplica(r))
		b, err := kv.Open(ctx, "default")
		if err != nil {
			t.Fatal(err)
		}
		kvs = append(kvs, kv)
		wg.Go(func() {
			for range 20 {
				if _, err := b.Increment(ctx, "n", 1); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	b, _ := kvs[0].Open(ctx, "default")
	if v, _, err := b.Get(ctx, "n"); err != nil || string(v) != "60" {
		t.Fatalf("n = %q %v, want 60 (an increment was lost)", v, err)
	}
	for i, kv := range kvs {
		if _, ok := r.Stats("rep-shared"); !ok {
			t.Fatalf("the replica went after %d of 3 closes", i)
		}
		kv.(io.Closer).Close()
	}
	if _, ok := r.Stats("rep-shared"); ok {
		t.Fatal("the replica outlived its last component")
	}
}

// TestKVReplicaIdle: a replica nobody reads stops its watch and drops what
// it held; the next read starts it again.
func TestKVReplicaIdle(t *testing.T) {
	t.Parallel()
	r, b, _ := replicaBucket(t, startJetStream(t), "rep-idle", 0, 50*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		if st := waitSynced(t, r, b, "rep-idle"); st.Keys != 1 {
			t.Fatalf("round %d: %+v, want the bucket's one key", round, st)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			st, _ := r.Stats("rep-idle")
			if !st.Synced && st.Keys == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: an unread replica still holds %+v", round, st)
			}
		}
		if v, found, err := b.Get(ctx, "k"); err != nil || !found || string(v) != "v" {
			t.Fatalf("round %d: get after idle = %q %v %v", round, v, found, err)
		}
	}
}

// TestKVReplicaTotal: replicas together stay within TotalBytes; a bucket
// that would take them past it is read from JetStream, with the same
// answers, and does not reload at every read.
func TestKVReplicaTotal(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	r := NewKVReplicas(js, 0, nil)
	r.TotalBytes = 1000
	t.Cleanup(r.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open := func(bucket string) Bucket {
		kv := NewJetStreamKV(js, bucket, WithKVReplica(r))
		t.Cleanup(func() { kv.(io.Closer).Close() })
		b, err := kv.Open(ctx, "default")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Set(ctx, "k", []byte(strings.Repeat("x", 600))); err != nil {
			t.Fatal(err)
		}
		return b
	}
	first, second := open("rep-total-1"), open("rep-total-2")
	waitSynced(t, r, first, "rep-total-1")
	// The second replica loads past the total and stops; its reads go on
	// from JetStream.
	for i := range 50 {
		if v, found, err := second.Get(ctx, "k"); err != nil || !found || len(v) != 600 {
			t.Fatalf("read %d of the second bucket = %d bytes %v %v", i, len(v), found, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	st1, _ := r.Stats("rep-total-1")
	st2, _ := r.Stats("rep-total-2")
	if !st1.Synced || st2.Synced || st2.Keys != 0 || st2.Direct < 50 {
		t.Fatalf("first %+v, second %+v: want the first serving and the second read from JetStream", st1, st2)
	}
	if total := r.total.Load(); total > int64(r.TotalBytes) {
		t.Fatalf("the replicas hold %d bytes, over their total %d", total, r.TotalBytes)
	}
}
