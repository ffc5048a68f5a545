package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
)

// startJetStreamCluster runs three nats-servers in one JetStream cluster on
// 127.0.0.1 (client and route ports from the OS), waits until they elected
// a meta leader, and returns a client connected to all three.
func startJetStreamCluster(t testing.TB) jetstream.JetStream {
	t.Helper()
	const size = 3
	var srvs []*server.Server
	// A route port is reserved, released, then taken by its server: another
	// process may take it in between, so a failed start is tried again on
	// fresh ports (bounded).
	for attempt := 1; ; attempt++ {
		var err error
		if srvs, err = startCluster(t, size); err == nil {
			break
		}
		if attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("cluster start %d: %v; trying again on other ports", attempt, err)
	}
	urls := make([]string, size)
	for i, s := range srvs {
		urls[i] = s.ClientURL()
	}
	deadline := time.Now().Add(30 * time.Second)
	for !metaReady(srvs) {
		if time.Now().After(deadline) {
			t.Fatalf("the JetStream cluster elected no meta leader with %d current peers within 30s", size)
		}
		time.Sleep(50 * time.Millisecond)
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// startCluster starts size servers routed to each other; on an error it
// stops those it started.
func startCluster(t testing.TB, size int) ([]*server.Server, error) {
	// Every server lists every route up front, so the route ports are
	// reserved first: the OS picks them, the servers take them over.
	ports := make([]int, size)
	routes := make([]string, size)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		routes[i] = "nats://" + l.Addr().String()
		_ = l.Close()
	}
	var srvs []*server.Server
	stopAll := func() {
		for _, s := range srvs {
			s.Shutdown()
			s.WaitForShutdown()
		}
	}
	for i := range size {
		opts := &server.Options{
			ServerName: fmt.Sprintf("kv-r%d-%d", size, i),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "kv-cluster", Host: "127.0.0.1", Port: ports[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}
		srv, err := server.NewServer(opts)
		if err != nil {
			stopAll()
			return nil, err
		}
		srv.Start()
		srvs = append(srvs, srv)
		if !srv.ReadyForConnections(20 * time.Second) {
			stopAll()
			return nil, fmt.Errorf("nats-server %s not ready within 20s", opts.ServerName)
		}
	}
	t.Cleanup(stopAll)
	return srvs, nil
}

// metaReady: one server leads the meta group and every one is current.
func metaReady(srvs []*server.Server) bool {
	leaders := 0
	for _, s := range srvs {
		if !s.JetStreamIsCurrent() {
			return false
		}
		if s.JetStreamIsLeader() {
			leaders++
		}
	}
	return leaders == 1
}

// TestJetStreamKVIncrementReplicated: on an R3 bucket an update racing
// another write to the same key fails with code 10164, which matches
// ErrKeyRevisionMismatch but not ErrKeyExists; Increment retries both, so
// concurrent increments are neither lost nor failed.
func TestJetStreamKVIncrementReplicated(t *testing.T) {
	t.Parallel()
	js := startJetStreamCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const bucket = "kv-r3"
	// The meta leader may not know every peer yet ("no suitable peers for
	// placement"): the create is retried until it places three replicas.
	var kv jetstream.KeyValue
	testkit.WaitForErr(t, 30*time.Second, "the R3 bucket to be created", func() (err error) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1, Replicas: 3, Storage: jetstream.FileStorage})
		return err
	})
	// A new R3 stream elects its leader and catches its replicas up after
	// the create returns; until then reads may find no responder.
	testkit.WaitForErr(t, 30*time.Second, "the R3 bucket's leader and current replicas", func() error {
		info, err := js.Stream(ctx, "KV_"+bucket)
		if err != nil {
			return err
		}
		ci := info.CachedInfo().Cluster
		if ci == nil || ci.Leader == "" || len(ci.Replicas) != 2 {
			return fmt.Errorf("cluster %+v", ci)
		}
		for _, r := range ci.Replicas {
			if !r.Current {
				return fmt.Errorf("replica %s is not current", r.Name)
			}
		}
		if _, err := kv.Get(ctx, "not-there"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("read: %v", err)
		}
		return nil
	})
	b, err := NewJetStreamKV(js, bucket).Open(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}

	incrementConcurrently(t, ctx, b, 6, 15)
}
