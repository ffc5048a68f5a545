package reconcile

import (
	"slices"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/store"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
)

// exposedRoutes stands in for translate in index tests: one route per
// exposed API at its path.
func exposedRoutes(c *oda.Component) []translate.IngressRoute {
	var out []translate.IngressRoute
	for _, apis := range c.Spec.ExposedAPIsByFunction() {
		for _, a := range apis {
			out = append(out, translate.IngressRoute{API: a.Name, Path: a.EffectivePath()})
		}
	}
	return out
}

// indexed is the store entry of a claimant at path exposing spec URL
// exposes and depending on dependsOn ("" for none).
func indexed(name, path, exposes, dependsOn string, rev uint64) store.Entry[oda.Component] {
	c := claimant(name, path)
	c.Spec.CoreFunction.ExposedAPIs[0].Specification[0].URL = exposes
	if dependsOn != "" {
		c.Spec.CoreFunction.DependentAPIs = []oda.DependentAPI{{Name: "dep", Specification: []oda.DependentAPISpecification{{URL: dependsOn}}}}
	}
	return store.Entry[oda.Component]{Namespace: testNamespace, Name: name, Value: *c, Revision: rev}
}

func sorted(keys []string) []string {
	slices.Sort(keys)
	return keys
}

func TestIndexClaimsAndDependents(t *testing.T) {
	t.Parallel()
	x := newIndex(exposedRoutes)
	const a, b, c = testNamespace + ".a", testNamespace + ".b", testNamespace + ".c"
	order := func(key string) claimOrder { return x.orderOf(key, claimOrder{rev: 1 << 60, key: key}) }
	routes := []translate.IngressRoute{{API: "echo", Path: "/x/"}}

	x.beginReplay()
	x.put(indexed("a", "/x", "u-a", "", 1))
	x.put(indexed("b", "/x", "u-b", "", 2))
	x.put(indexed("c", "/c", "u-c", "u-a", 3))
	if gone, _ := x.endReplay(); len(gone) != 0 {
		t.Fatalf("replay dropped %v", gone)
	}

	if cc := x.conflict(a, order(a), routes); cc != nil {
		t.Errorf("the first claimant conflicts with %s", cc.owner)
	}
	cc := x.conflict(b, order(b), routes)
	if cc == nil || cc.owner != a || cc.claim.path != "/x" || cc.ownerAPI != "echo" {
		t.Fatalf("second claimant's conflict = %+v, want /x owned by %s", cc, a)
	}
	if got := x.dependentsOf(a); !slices.Equal(got, []string{c}) {
		t.Errorf("dependents of a = %v, want [%s]", got, c)
	}
	if p := x.providersOf(map[string]bool{"u-a": true}); len(p) != 1 || p[0].key != a || p[0].names["a-echo"] != "u-a" {
		t.Errorf("providers of u-a = %+v", p)
	}

	// An update others cannot see wakes nobody and keeps a first in line.
	if wake := x.put(indexed("a", "/x", "u-a", "", 9)); len(wake) != 0 {
		t.Errorf("an unchanged update woke %v", wake)
	}
	if cc := x.conflict(a, order(a), routes); cc != nil {
		t.Errorf("after an update a lost its path to %s", cc.owner)
	}

	// Moved elsewhere, a holds its old path until its new version is
	// deployed.
	x.put(indexed("a", "/elsewhere", "u-a", "", 10))
	if cc := x.conflict(b, order(b), routes); cc == nil || cc.owner != a {
		t.Errorf("before settle b's conflict = %+v, want a's", cc)
	}
	// A pass that saw version 9 or 11 deployed settles nothing: version
	// 9 still serves /x, and what 11 holds the index has not seen.
	for _, rev := range []uint64{9, 11} {
		if wake := x.settle(a, rev); len(wake) != 0 {
			t.Errorf("settle at revision %d woke %v, want nobody (the index has 10)", rev, wake)
		}
	}
	if cc := x.conflict(b, order(b), routes); cc == nil || cc.owner != a {
		t.Errorf("after a stale settle b's conflict = %+v, want a's", cc)
	}
	if wake := x.settle(a, 10); !slices.Equal(wake, []string{b}) {
		t.Errorf("settle woke %v, want [%s]", wake, b)
	}
	if cc := x.conflict(b, order(b), routes); cc != nil {
		t.Errorf("after settle b conflicts with %s", cc.owner)
	}
	x.put(indexed("a", "/x", "u-a", "", 11))

	// Deleted, a holds its path until released, and provides nothing.
	if wake := sorted(x.remove(a)); !slices.Equal(wake, []string{b, c}) {
		t.Errorf("removing a woke %v, want its dependent and the other claimant", wake)
	}
	if cc := x.conflict(b, order(b), routes); cc == nil || cc.owner != a {
		t.Errorf("before release b's conflict = %+v, want a's", cc)
	}
	if p := x.providersOf(map[string]bool{"u-a": true}); len(p) != 0 {
		t.Errorf("a deleted Component still provides: %+v", p)
	}
	if wake := x.release(a); !slices.Equal(wake, []string{b}) {
		t.Errorf("release woke %v, want [%s]", wake, b)
	}
	if cc := x.conflict(b, order(b), routes); cc != nil {
		t.Errorf("after release b conflicts with %s", cc.owner)
	}

	// A replay that no longer holds c drops it.
	x.beginReplay()
	x.put(indexed("b", "/x", "u-b", "", 2))
	if gone, _ := x.endReplay(); !slices.Equal(gone, []string{c}) {
		t.Errorf("replay without c dropped %v", gone)
	}
}

func TestCreationRevision(t *testing.T) {
	t.Parallel()
	put := func(rev uint64) store.Event[oda.Component] {
		return store.Event[oda.Component]{Kind: store.EventPut, Entry: store.Entry[oda.Component]{Revision: rev}}
	}
	del := store.Event[oda.Component]{Kind: store.EventDelete}
	for _, tc := range []struct {
		name    string
		history []store.Event[oda.Component]
		want    uint64
	}{
		{"created then updated", []store.Event[oda.Component]{put(3), put(7)}, 3},
		{"re-created", []store.Event[oda.Component]{put(3), del, put(9), put(12)}, 9},
		{"deleted", []store.Event[oda.Component]{put(3), del}, 0},
		{"empty", nil, 0},
	} {
		if got := creationRevision(tc.history); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
