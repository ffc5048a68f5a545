package node

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

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
