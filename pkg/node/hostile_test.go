package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testkit"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
)

// growth is how many times longer the work prepare(n) returns takes at
// 8n than at n (the fastest of a few runs of each): about 8 when it is
// linear in n, 64 when it is quadratic. A ratio, not a duration: it holds
// on a slow or busy machine.
func growth(prepare func(n int) func(), n int) float64 {
	fastest := func(n int) time.Duration {
		best := time.Duration(math.MaxInt64)
		for range 5 {
			f := prepare(n)
			start := time.Now()
			f()
			best = min(best, time.Since(start))
		}
		return max(best, time.Microsecond)
	}
	return float64(fastest(8*n)) / float64(fastest(n))
}

// TestLinkConflictLinearInInterfaces: a link put is checked against the
// links in its slot in time linear in the interfaces both list (a request
// may carry tens of thousands), and still finds a shared one.
func TestLinkConflictLinearInInterfaces(t *testing.T) {
	links := func(n int, shared bool) ([]latticeadmin.Link, latticeadmin.Link) {
		old := latticeadmin.Link{SourceID: "s", Target: "t1", Name: "default", WitNamespace: "wasi", WitPackage: "http", Interfaces: make([]string, n)}
		put := old
		put.Target, put.Interfaces = "t2", make([]string, n)
		for i := range n {
			old.Interfaces[i], put.Interfaces[i] = fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
		}
		if shared {
			put.Interfaces[n-1] = old.Interfaces[n/2]
		}
		return []latticeadmin.Link{old}, put
	}
	for _, tc := range []struct {
		shared, sameTarget bool
		want               error
	}{{false, false, nil}, {true, false, errLinkConflict}, {true, true, nil}} {
		stored, put := links(100, tc.shared)
		if tc.sameTarget {
			put.Target = stored[0].Target
		}
		if err := linkConflict(stored, put); !errors.Is(err, tc.want) {
			t.Errorf("shared interface %v, same target %v: %v, want %v", tc.shared, tc.sameTarget, err, tc.want)
		}
	}
	r := growth(func(n int) func() {
		stored, put := links(n, false)
		return func() {
			if err := linkConflict(stored, put); err != nil {
				t.Fatal(err)
			}
		}
	}, 2000)
	if r > 24 {
		t.Errorf("8× the interfaces took %.0f× as long: the conflict check is not linear in them", r)
	}
}

// TestScaleWaitsForPeersOnce: a scale naming config no node has waits
// for the other nodes once, not once per name: the worker, and every scale
// queued behind it, would otherwise wait as long as the request is long.
func TestScaleWaitsForPeersOnce(t *testing.T) {
	h := start(t, Options{Version: "test", Workload: &recorder{}}, nil)
	id := h.node.ID()
	scaled := func(i, names int) time.Duration {
		t.Helper()
		config := make([]string, names)
		for j := range config {
			config[j] = fmt.Sprintf("nowhere-%d-%d", i, j)
		}
		b, err := latticeadmin.Marshal(latticeadmin.ScaleComponentCommand{ComponentRef: "file:///c.wasm", ComponentID: fmt.Sprintf("c%d", i), Count: 1, HostID: id, Config: config})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if got := h.request(subject.CtlComponentScale, id, b); !bytes.HasPrefix(got, []byte(`{"success":true`)) {
			t.Fatalf("component.scale: %s", got)
		}
		h.event(EventComponentScaled, i)
		return time.Since(start)
	}
	few, many := scaled(0, 2), scaled(1, 16)
	if r := float64(many) / float64(few); r > 4 {
		t.Errorf("a scale naming 16 unknown configs took %.1f× as long as one naming 2 (%s, %s): it waits once per name", r, many, few)
	}
}

// gated is a recorder whose Start waits until the gate is opened: it
// holds the node's worker.
type gated struct {
	*recorder
	gate sync.Mutex
	open chan struct{}
}

func newGated() *gated { return &gated{recorder: &recorder{}, open: make(chan struct{})} }

// hold makes the next Starts wait; release lets them go.
func (g *gated) hold() {
	g.gate.Lock()
	defer g.gate.Unlock()
	g.open = make(chan struct{})
}

func (g *gated) release() {
	g.gate.Lock()
	defer g.gate.Unlock()
	close(g.open)
}

func (g *gated) Start(ctx context.Context, c Component, data LatticeData) error {
	g.gate.Lock()
	open := g.open
	g.gate.Unlock()
	select {
	case <-open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.recorder.Start(ctx, c, data)
}

// scaleCommand is a component.scale body for the node.
func scaleCommand(t *testing.T, n *Node, id string, count uint32) []byte {
	t.Helper()
	b, err := latticeadmin.Marshal(latticeadmin.ScaleComponentCommand{ComponentRef: "file:///" + id + ".wasm", ComponentID: id, Count: count, HostID: n.ID(), Config: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLinkBurstReconcilesOnce: link puts made while the worker is busy
// are applied to what runs by one Reconcile, not one each (each reads all
// the links and components: a burst of k puts would cost k²).
func TestLinkBurstReconcilesOnce(t *testing.T) {
	w := newGated()
	h := start(t, Options{Version: "test", Workload: w}, nil)
	h.request(subject.CtlComponentScale, h.node.ID(), scaleCommand(t, h.node, "held", 1)) // the worker waits in Start
	const puts = 20
	for i := range puts {
		b, _ := latticeadmin.Marshal(latticeadmin.Link{SourceID: "s", Target: "held", Name: fmt.Sprintf("l%d", i), WitNamespace: "wasi", WitPackage: "http", Interfaces: []string{"incoming-handler"}})
		if got := h.request(subject.CtlLinkPut, "", b); !bytes.HasPrefix(got, []byte(`{"success":true`)) {
			t.Fatalf("link.put: %s", got)
		}
	}
	w.release()
	drained := make(chan struct{})
	h.node.enqueue(func(context.Context) { close(drained) })
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker did not get to a job queued after the burst")
	}
	w.mu.Lock()
	reconciled := w.reconciled
	w.mu.Unlock()
	// One for the burst, and perhaps one for a put whose second delivery
	// (the node's plain subscription) came after the worker had started it.
	if reconciled < 1 || reconciled > 2 {
		t.Errorf("%d link puts while the worker was busy: %d reconciles, want 1 (or 2)", puts, reconciled)
	}
}

// TestRescaleWithAFullQueue: a rescale on the worker asks for a reconcile
// while the job queue is full (a burst of scales) and the worker carries
// on: it once waited for room in the queue only it empties.
func TestRescaleWithAFullQueue(t *testing.T) {
	w := newGated()
	h := start(t, Options{Version: "test", Workload: w}, nil)
	id := h.node.ID()
	w.release()
	h.request(subject.CtlComponentScale, id, scaleCommand(t, h.node, "c", 1))
	h.event(EventComponentScaled, 0)
	w.hold()
	h.request(subject.CtlComponentScale, id, scaleCommand(t, h.node, "held", 1)) // the worker waits in Start
	// More rescales of c than the queue holds, each a new count: each
	// asks for a reconcile on the worker.
	scales := cap(h.node.jobs) + 8
	for i := range scales {
		if err := h.nc.Publish(subject.Ctl("", lat, subject.CtlComponentScale, id), scaleCommand(t, h.node, "c", uint32(2+i%2))); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the queue to fill", func() bool { return len(h.node.jobs) == cap(h.node.jobs) })
	w.release()
	h.request(subject.CtlComponentScale, id, scaleCommand(t, h.node, "last", 1))
	testkit.WaitFor(t, 20*time.Second, "the scale after the burst", func() bool {
		h.node.mu.Lock()
		defer h.node.mu.Unlock()
		return h.node.components["last"] != nil
	})
}

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestDeletedLinksForgotten: a node outside the queue group that answers
// a link.del gets the request once, on its plain subscription; it must
// neither keep every link the lattice ever deleted, nor report one of
// them as the link a later delete removed.
func TestDeletedLinksForgotten(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)}
	h := start(t, Options{Version: "test", Now: clock.Now}, nil)
	n := h.node
	link := func(i int) latticeadmin.Link {
		return latticeadmin.Link{SourceID: "s", Target: "t", Name: fmt.Sprintf("l%d", i), WitNamespace: "wasi", WitPackage: "http", Interfaces: []string{"incoming-handler"}, SourceConfig: []string{}, TargetConfig: []string{}}
	}
	del := func(i int) (latticeadmin.DeleteLinkRequest, []byte) {
		req := latticeadmin.DeleteLinkRequest{SourceID: "s", Name: fmt.Sprintf("l%d", i), WitNamespace: "wasi", WitPackage: "http"}
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		return req, b
	}
	for i := range 3 * maxDeleted {
		if err := n.memLinkPut(link(i)); err != nil {
			t.Fatal(err)
		}
		_, b := del(i)
		n.linkDelApply(b, "")
	}
	n.mu.Lock()
	kept, order := len(n.gone.byKey), len(n.gone.order)
	n.mu.Unlock()
	if kept > maxDeleted || order > maxDeleted {
		t.Errorf("after %d links deleted on one subscription only, %d (%d in order) are remembered, at most %d", 3*maxDeleted, kept, order, maxDeleted)
	}
	// The node answers a delete of the last link, which it deleted long
	// ago: the link does not exist, and the answer says so.
	clock.advance(time.Minute)
	req, _ := del(3*maxDeleted - 1)
	if l := n.memLinkDel(req); l != nil {
		t.Errorf("a link deleted a minute ago is reported deleted now: %+v", *l)
	}
	// Both deliveries of one delete, the plain one first: the answer has
	// the link.
	if err := n.memLinkPut(link(0)); err != nil {
		t.Fatal(err)
	}
	req, b := del(0)
	n.linkDelApply(b, "")
	if l := n.memLinkDel(req); l == nil || l.Target != "t" {
		t.Errorf("the answering delivery after the plain one: %+v, want the deleted link", l)
	}
}
