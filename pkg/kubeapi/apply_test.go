package kubeapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// owners lists the managers (manager/Operation) whose managedFields hold
// the field at path (as FieldsV1 names it: "f:spec", …).
func owners(t *testing.T, o *unstructured.Unstructured, path ...string) []string {
	t.Helper()
	var out []string
	for _, e := range o.GetManagedFields() {
		if e.FieldsType != "FieldsV1" || e.FieldsV1 == nil {
			t.Fatalf("managedFields entry %+v is not FieldsV1", e)
		}
		var fs map[string]any
		if err := json.Unmarshal(e.FieldsV1.Raw, &fs); err != nil {
			t.Fatal(err)
		}
		var cur any = fs
		for _, p := range path {
			m, _ := cur.(map[string]any)
			if cur = m["f:"+p]; cur == nil {
				break
			}
		}
		if cur != nil {
			out = append(out, e.Manager+"/"+string(e.Operation))
		}
	}
	return out
}

// TestServerSideApplyOwnership drives field ownership with client-go's
// Apply: managedFields per manager; a field another manager owns with
// another value is a 409 naming it, the same value is shared; force takes
// it over; a field a manager stops applying goes unless another manager
// owns it; an update (merge patch) takes the fields it changes.
func TestServerSideApplyOwnership(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.dyn.Resource(componentsV1).Namespace("components")
	apply := func(manager string, force bool, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
		return res.Apply(e.ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: manager, Force: force})
	}
	config := func(labels map[string]string, spec map[string]any) *unstructured.Unstructured {
		o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "oda.tmforum.org/v1", "kind": "Component",
			"metadata": map[string]any{"name": "own", "namespace": "components"}}}
		if labels != nil {
			o.SetLabels(labels)
		}
		if spec != nil {
			o.Object["spec"] = spec
		}
		return o
	}

	alice := example(t, "productcatalog-v1.component.yaml", renamed("own"))
	alice.SetLabels(map[string]string{"team": "a", "shared": "x"})
	got, err := apply("alice", false, alice)
	if err != nil {
		t.Fatalf("alice creates: %v", err)
	}
	if o := owners(t, got, "metadata", "labels", "team"); strings.Join(o, ",") != "alice/Apply" {
		t.Errorf("owners of team = %v, want alice/Apply", o)
	}
	if o := owners(t, got, "spec", "componentMetadata", "version"); strings.Join(o, ",") != "alice/Apply" {
		t.Errorf("owners of spec.componentMetadata.version = %v", o)
	}
	if _, ok := got.GetAnnotations()["apply.wasmcanvas.io/managed-fields"]; ok {
		t.Error("managedFields are served as an annotation too")
	}

	// Another value of alice's field: a conflict naming it; nothing stored.
	_, err = apply("bob", false, config(map[string]string{"team": "b"}, nil))
	if !apierrors.IsConflict(err) {
		t.Fatalf("bob changes alice's label: %v, want 409 Conflict", err)
	}
	st := err.(apierrors.APIStatus).Status()
	if !strings.Contains(st.Message, `Apply failed with 1 conflict: conflict with "alice" using oda.tmforum.org/v1: .metadata.labels.team`) ||
		st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != metav1.CauseTypeFieldManagerConflict || st.Details.Causes[0].Field != ".metadata.labels.team" {
		t.Errorf("conflict status %+v", st)
	}

	// The same value: shared.
	if got, err = apply("bob", false, config(map[string]string{"shared": "x"}, nil)); err != nil {
		t.Fatalf("bob applies alice's value: %v", err)
	}
	if o := owners(t, got, "metadata", "labels", "shared"); strings.Join(o, ",") != "alice/Apply,bob/Apply" {
		t.Errorf("owners of shared = %v, want alice and bob", o)
	}

	// Force takes a field over.
	bobSpec := map[string]any{"componentMetadata": map[string]any{"version": "9.9.9"}}
	if _, err = apply("bob", false, config(map[string]string{"shared": "x"}, bobSpec)); !apierrors.IsConflict(err) {
		t.Fatalf("bob changes alice's spec field: %v, want 409", err)
	}
	if got, err = apply("bob", true, config(map[string]string{"shared": "x"}, bobSpec)); err != nil {
		t.Fatalf("bob forces: %v", err)
	}
	if v, _, _ := unstructured.NestedString(got.Object, "spec", "componentMetadata", "version"); v != "9.9.9" {
		t.Errorf("version after force = %q", v)
	}
	if o := owners(t, got, "spec", "componentMetadata", "version"); strings.Join(o, ",") != "bob/Apply" {
		t.Errorf("owners of version after force = %v, want bob only", o)
	}

	// Alice stops applying both labels: team (hers alone) goes, shared
	// (bob's too) stays. Her old version now conflicts with bob's.
	alice.SetLabels(nil)
	if _, err = apply("alice", false, alice); !apierrors.IsConflict(err) {
		t.Fatalf("alice reapplies the version bob took: %v, want 409", err)
	}
	_ = unstructured.SetNestedField(alice.Object, "9.9.9", "spec", "componentMetadata", "version")
	if got, err = apply("alice", false, alice); err != nil {
		t.Fatalf("alice drops her labels: %v", err)
	}
	if l := got.GetLabels(); l["team"] != "" || l["shared"] != "x" {
		t.Errorf("labels %v, want team gone and shared kept", l)
	}

	// An update takes the fields it changes from their appliers.
	got, err = res.Patch(e.ctx, "own", types.MergePatchType, []byte(`{"metadata":{"labels":{"shared":"y"}}}`), metav1.PatchOptions{FieldManager: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	if o := owners(t, got, "metadata", "labels", "shared"); strings.Join(o, ",") != "carol/Update" {
		t.Errorf("owners of shared after carol's patch = %v, want carol/Update only", o)
	}
}
