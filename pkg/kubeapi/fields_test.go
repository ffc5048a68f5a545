package kubeapi

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFieldsOf(t *testing.T) {
	t.Parallel()
	doc := map[string]any{"apiVersion": "oda.tmforum.org/v1", "kind": "Component", "status": map[string]any{"x": 1.0},
		"metadata": map[string]any{"name": "a", "namespace": "components", "resourceVersion": "3",
			"labels": map[string]any{"team": "a"}, "annotations": map[string]any{managedAnnotation: "[]"}},
		"spec": map[string]any{"componentMetadata": map[string]any{"version": "1"}, "list": []any{map[string]any{"name": "x"}}, "empty": map[string]any{}}}
	raw, _ := json.Marshal(fieldsOf(doc))
	want := `{"f:metadata":{"f:labels":{"f:team":{}}},"f:spec":{"f:componentMetadata":{"f:version":{}},"f:empty":{},"f:list":{}}}`
	if string(raw) != want {
		t.Errorf("fieldsOf = %s\nwant       %s", raw, want)
	}
	fs := fieldsOf(doc)
	if !fs.has([]string{"spec", "list"}) || !fs.has([]string{"spec"}) || fs.has([]string{"spec", "other"}) || !fs.has([]string{"spec", "empty", "below"}) {
		t.Error("has answers wrongly")
	}
	fs.remove([]string{"metadata", "labels", "team"})
	if _, ok := fs["f:metadata"]; ok {
		t.Errorf("remove left empty parents: %v", fs)
	}
	fs.add([]string{"metadata", "labels", "b"})
	if got := fs.leaves(); !slices.EqualFunc(got, [][]string{{"metadata", "labels", "b"}, {"spec", "componentMetadata", "version"}, {"spec", "empty"}, {"spec", "list"}}, slices.Equal[[]string]) {
		t.Errorf("leaves = %v", got)
	}
}

// A deep set's leaves cost what they return, not the square of the depth
// (the walk cloned its prefix at every level: 650 MB for one leaf 9,000
// deep); and a stored FieldsV1 nested deeper than any Component (its
// annotation can come through the canvas API) owns nothing.
func TestDeepFieldSets(t *testing.T) {
	const depth = 9000
	raw := []byte(strings.Repeat(`{"f:a":`, depth) + "{}" + strings.Repeat("}", depth))
	var fs fieldSet
	if err := json.Unmarshal(raw, &fs); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ls := fs.leaves()
	runtime.ReadMemStats(&after)
	if len(ls) != 1 || len(ls[0]) != depth {
		t.Fatalf("%d leaves, the first %d deep; want one %d deep", len(ls), len(ls[0]), depth)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("one leaf %d deep allocated %d MB", depth, alloc>>20)
	}
	deep := metav1.ManagedFieldsEntry{FieldsV1: &metav1.FieldsV1{Raw: raw}}
	if got := entrySet(deep); len(got) != 0 {
		t.Errorf("a FieldsV1 %d deep owns %d fields, want none", depth, len(got))
	}
	ok := []byte(strings.Repeat(`{"f:a":`, maxFieldsDepth) + "{}" + strings.Repeat("}", maxFieldsDepth))
	if got := entrySet(metav1.ManagedFieldsEntry{FieldsV1: &metav1.FieldsV1{Raw: ok}}); len(got.leaves()) != 1 {
		t.Errorf("a FieldsV1 %d deep (the limit) owns %v", maxFieldsDepth, got.leaves())
	}
}

// mergeApply removes what the applier no longer applies unless another
// manager owns it, and leaves cur untouched.
func TestMergeApplyRemoval(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	cur := map[string]any{"metadata": map[string]any{"labels": map[string]any{"mine": "1", "shared": "2", "theirs": "3"}}}
	entries := []metav1.ManagedFieldsEntry{
		newEntry("me", metav1.ManagedFieldsOperationApply, "v1", fieldsOf(cur), now),
		newEntry("other", metav1.ManagedFieldsOperationUpdate, "v1", fieldSet{"f:metadata": {"f:labels": {"f:shared": {}, "f:theirs": {}}}}, now),
	}
	applied := map[string]any{"metadata": map[string]any{"labels": map[string]any{"new": "4"}}}
	got := mergeApply(cur, applied, entries, "me")
	b, _ := json.Marshal(got)
	if string(b) != `{"metadata":{"labels":{"new":"4","shared":"2","theirs":"3"}}}` {
		t.Errorf("merged %s", b)
	}
	if len(cur["metadata"].(map[string]any)["labels"].(map[string]any)) != 3 {
		t.Error("mergeApply changed cur")
	}
}

// randomSet is a field set of up to depth levels over a few names, some
// subsets empty (leaves).
func randomSet(r *rand.Rand, depth int) fieldSet {
	fs := fieldSet{}
	for _, n := range []string{"a", "b", "c", "d"} {
		switch x := r.IntN(4); {
		case x == 0:
		case x == 1 || depth == 0:
			fs["f:"+n] = fieldSet{}
		default:
			fs["f:"+n] = randomSet(r, depth-1)
		}
	}
	return fs
}

// cloneSet is a deep copy of fs.
func cloneSet(fs fieldSet) fieldSet {
	c := fieldSet{}
	for k, v := range fs {
		c[k] = cloneSet(v)
	}
	return c
}

// The union and the joint walk answer what has() answers one set and one
// path at a time, in the same order, for random sets; union leaves what
// it adds unchanged.
func TestUnionAndOverlapMatchHas(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		x, y, mine := randomSet(r, 3), randomSet(r, 3), randomSet(r, 3)
		ySnap, _ := json.Marshal(y)
		u := fieldSet{}
		u.union(cloneSet(x))
		u.union(y)
		if after, _ := json.Marshal(y); string(after) != string(ySnap) {
			t.Fatalf("union changed what it added: %s -> %s", ySnap, after)
		}
		for _, p := range append(append(x.leaves(), y.leaves()...), mine.leaves()...) {
			if got, want := u.has(p), x.has(p) || y.has(p); got != want {
				t.Fatalf("union of %v and %v has %v: %v, want %v", x, y, p, got, want)
			}
		}
		var want, got [][]string
		for _, p := range mine.leaves() {
			if x.has(p) {
				want = append(want, p)
			}
		}
		mine.overlap(x, func(p []string) { got = append(got, p) })
		if !slices.EqualFunc(got, want, slices.Equal[[]string]) {
			t.Fatalf("overlap of %v with %v = %v, want %v", mine, x, got, want)
		}
	}
}

// An apply's ownership work is linear in the fields: dropping 4,000 labels
// beside another manager's 4,000 (each dropped label was checked against
// every entry decoded anew: 6 s), and applying 4,000 labels among 400
// other managers (all of the applier's fields walked for each).
func TestApplyOwnershipScales(t *testing.T) {
	const n = 4000
	now := time.Unix(0, 0)
	mine, theirs, applied := fieldSet{}, fieldSet{}, map[string]any{}
	labels := map[string]any{}
	for i := range n {
		mine.add([]string{"metadata", "labels", fmt.Sprintf("m%d", i)})
		theirs.add([]string{"metadata", "labels", fmt.Sprintf("t%d", i)})
		labels[fmt.Sprintf("m%d", i)] = "x"
		applied[fmt.Sprintf("m%d", i)] = "y"
	}
	entries := []metav1.ManagedFieldsEntry{
		newEntry("me", metav1.ManagedFieldsOperationApply, "v1", mine, now),
		newEntry("other", metav1.ManagedFieldsOperationUpdate, "v1", theirs, now),
	}
	cur := map[string]any{"metadata": map[string]any{"labels": labels}}
	alloc := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	var doc map[string]any
	if a := alloc(func() { doc = mergeApply(cur, map[string]any{"metadata": map[string]any{}}, entries, "me") }); a > 64<<20 {
		t.Errorf("dropping %d labels beside %d allocated %d MB", n, n, a>>20)
	}
	if ls, ok := valueAt(doc, []string{"metadata", "labels"}); ok {
		if m, _ := ls.(map[string]any); len(m) != 0 {
			t.Errorf("dropped labels left: %d", len(m))
		}
	}
	var many []metav1.ManagedFieldsEntry
	for i := range 400 {
		many = append(many, newEntry(fmt.Sprintf("m%d", i), metav1.ManagedFieldsOperationUpdate, "v1",
			fieldSet{"f:metadata": {"f:labels": {fmt.Sprintf("f:m%d", i): {}}}}, now))
	}
	next := map[string]any{"metadata": map[string]any{"labels": applied}}
	var conflicts []fieldConflict
	if a := alloc(func() {
		_, conflicts = applyOwnership(cur, next, next, many, "applier", "v1", false, now)
	}); a > 64<<20 {
		t.Errorf("applying %d labels among %d managers allocated %d MB", n, len(many), a>>20)
	}
	if len(conflicts) != 400 {
		t.Errorf("%d conflicts, want one a manager", len(conflicts))
	}
}
