package edge_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge/edgetest"
	"github.com/wasmcanvas/wasmcanvas/pkg/edge/hubclient"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// TestSitesThroughLeafNodes runs the hub and two sites' leaf nodes from the
// configs lattice init and edge bootstrap wrote: site traffic reaches the
// hub and the other site within the lattice's subjects, a site is refused
// another site's and the canvas's subjects and cannot use its credentials
// as a client, and after revoke it is cut off while the other keeps working.
func TestSitesThroughLeafNodes(t *testing.T) {
	t.Parallel()
	h := startHub(t)
	leafA, siteA := h.bootstrapSite(t, "a")
	leafB, _ := h.bootstrapSite(t, "b")
	testkit.WaitFor(t, 10*time.Second, "both leaf nodes connected", func() bool { return h.srv.NumLeafNodes() == 2 })

	const lat = subject.DefaultLattice
	canvasd := connect(t, h.url, nats.UserCredentials(h.creds("canvasd")))
	client := connect(t, h.url, nats.UserCredentials(h.creds("client")))
	admin := connect(t, h.url, nats.UserCredentials(filepath.Join(h.dir, edge.AdminCreds)))
	a := connect(t, leafA.ClientURL())
	b := connect(t, leafB.ClientURL())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leafs, err := hubclient.Leafs(ctx, admin, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, lf := range leafs {
		names = append(names, lf.Name)
	}
	slices.Sort(names)
	if want := []string{edge.LeafServerName(lat, "a"), edge.LeafServerName(lat, "b")}; !slices.Equal(names, want) {
		t.Fatalf("hub's leaf nodes %q, want %q", names, want)
	}

	heartbeatA := under(subject.HostEventsAll(lat), "a_heartbeat")
	heartbeatB := under(subject.HostEventsAll(lat), "b_heartbeat")
	events := edgetest.Subscribe(t, canvasd, subject.HostEventsAll(lat))
	t.Run("site a's host events reach canvasd on the hub", func(t *testing.T) {
		edgetest.DeliveredUntil(t, events, heartbeatA, func() { _ = a.Publish(heartbeatA, nil) })
	})

	wrpcB := edgetest.Subscribe(t, b, subject.WRPCLatticeAll(lat), subject.EdgeSiteAll(lat, "b"))
	callB := subject.WRPCInvoke(subject.WRPCPrefix(lat, "on-b"), "", "run")
	t.Run("site a cannot publish on site b's subjects", func(t *testing.T) {
		// a's wRPC call reaches b through the hub; the message a sent on
		// b's subjects just before it must not have.
		got := edgetest.DeliveredUntil(t, wrpcB, callB, func() {
			_ = a.Publish(under(subject.EdgeSiteAll(lat, "b"), "telemetry"), nil)
			_ = a.Publish(callB, nil)
		})
		if len(got) > 0 {
			t.Errorf("site b received %q from site a", got)
		}
	})

	fromHub := edgetest.Subscribe(t, a, subject.CanvasAPIAll, subject.EdgeSiteAll(lat, "b"), subject.CtlLatticeAll("", lat))
	ctlPing := under(subject.CtlLatticeAll("", lat), "host.ping")
	t.Run("site a hears neither the canvas API nor site b", func(t *testing.T) {
		got := edgetest.DeliveredUntil(t, fromHub, ctlPing, func() {
			_ = client.Publish(subject.CanvasAPI("components", "list"), nil)
			_ = b.Publish(under(subject.EdgeSiteAll(lat, "b"), "telemetry"), nil)
			_ = b.Flush()
			_ = client.Publish(ctlPing, nil)
		})
		if len(got) > 0 {
			t.Errorf("site a received %q", got)
		}
	})

	t.Run("site credentials work only for a leaf node", func(t *testing.T) {
		nc, err := nats.Connect(h.url, nats.UserCredentials(filepath.Join(siteA.Dir, edge.SiteCredsFile)), nats.Timeout(5*time.Second))
		if err == nil {
			nc.Close()
			t.Fatal("site a's credentials connected to the hub as a client")
		}
	})

	t.Run("after revoke site a is cut off and b keeps working", func(t *testing.T) {
		if _, err := h.l.Revoke("a"); err != nil {
			t.Fatal(err)
		}
		if err := hubclient.PushAccount(ctx, admin, h.l.AccountJWT()); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, 10*time.Second, "site a's leaf node gone", func() bool { return h.srv.NumLeafNodes() == 1 })
		edgetest.DeliveredUntil(t, events, heartbeatB, func() { _ = b.Publish(heartbeatB, nil) })
		// a's leaf keeps trying; the hub keeps refusing it.
		time.Sleep(time.Second)
		if n := h.srv.NumLeafNodes(); n != 1 {
			t.Fatalf("%d leaf nodes after the revocation, want 1 (b)", n)
		}
		_ = a.Publish(heartbeatA, nil)
		got := edgetest.DeliveredUntil(t, events, heartbeatB, func() { _ = b.Publish(heartbeatB, nil) })
		if slices.Contains(got, heartbeatA) {
			t.Error("site a's host event reached canvasd after the revocation")
		}
	})
}

func TestPushAccountErrors(t *testing.T) {
	t.Parallel()
	ctx := func(d time.Duration) context.Context {
		c, cancel := context.WithTimeout(context.Background(), d)
		t.Cleanup(cancel)
		return c
	}
	h := startHub(t)
	admin := connect(t, h.url, nats.UserCredentials(filepath.Join(h.dir, edge.AdminCreds)))
	if err := hubclient.PushAccount(ctx(10*time.Second), admin, "not a JWT"); err == nil || !strings.Contains(err.Error(), "the hub refused it") {
		t.Errorf("a malformed JWT: %v", err)
	}
	// A user of the lattice account may not publish to the system
	// account's services.
	canvasd := connect(t, h.url, nats.UserCredentials(h.creds("canvasd")), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err := hubclient.PushAccount(ctx(time.Second), canvasd, h.l.AccountJWT()); err == nil {
		t.Error("canvasd's credentials pushed an account JWT")
	}
	plain := testkit.NATS(t, embedded.Config{})
	nc := connect(t, plain.ClientURL())
	if err := hubclient.PushAccount(ctx(10*time.Second), nc, h.l.AccountJWT()); err == nil || !strings.Contains(err.Error(), "system account's credentials") {
		t.Errorf("a server without a resolver: %v", err)
	}
	if _, err := hubclient.Leafs(ctx(10*time.Second), nc, 300*time.Millisecond); err == nil {
		t.Error("a server that does not answer LEAFZ gave leaf nodes")
	}
}
