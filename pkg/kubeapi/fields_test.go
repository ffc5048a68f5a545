package kubeapi

import (
	"encoding/json"
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
