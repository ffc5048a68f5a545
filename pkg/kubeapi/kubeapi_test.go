package kubeapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

const pc = "ctk-productcatalogmanagement"

// completeStatus is the status the reconciler writes for productcatalog-v1
// once deployed (entry names as the reference canvas names its children).
func completeStatus(ready bool) oda.ComponentStatus {
	entry := func(name, impl, path string, port int) oda.APIStatus {
		return oda.APIStatus{Name: pc + "-" + name, UID: "uid-" + name, Implementation: impl, Path: path, Port: port, URL: "http://canvas.test" + path, Ready: ready}
	}
	st := oda.ComponentStatus{
		CoreAPIs:                  []oda.APIStatus{entry("productcatalogmanagement-v4", "ctk-prodcatapi", "/"+pc+"/tmf-api/productCatalogManagement/v4", 8080)},
		ManagementAPIs:            []oda.APIStatus{entry("metrics", pc+"-sm", "/"+pc+"/metrics", 4000)},
		SecurityAPIs:              []oda.APIStatus{entry("userrolesandpermissions-v5", "ctk-permissionspecapi", "/"+pc+"/rolesAndPermissionsManagement/v5", 8080)},
		CoreDependentAPIs:         []oda.DependentAPIStatus{},
		Summary:                   &oda.StatusSummary{DeploymentStatus: oda.DeploymentInProgressCompCon},
		SecuritySecretsManagement: &oda.SecretsManagementStatus{},
	}
	if ready {
		st.Summary.DeploymentStatus = oda.DeploymentComplete
	}
	return st
}

// TestDiscoveryAndAuth: client-go's discovery finds the three resources
// through the kubeconfig; no or a wrong credential is 401 as a Status.
func TestDiscoveryAndAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dc, err := discovery.NewDiscoveryClientForConfig(e.config)
	if err != nil {
		t.Fatal(err)
	}
	// kubectl api-resources (through a cached client): every group
	// version answers, none is empty.
	if _, _, err := memory.NewMemCacheClient(dc).ServerGroupsAndResources(); err != nil {
		t.Errorf("discovery is incomplete: %v", err)
	}
	list, err := dc.ServerResourcesForGroupVersion(oda.Group + "/v1")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range list.APIResources {
		names = append(names, r.Name)
	}
	for _, want := range []string{"components", "components/status", "exposedapis", "dependentapis"} {
		if !slices.Contains(names, want) {
			t.Errorf("discovery of v1 lacks %s: %v", want, names)
		}
	}
	groups, err := dc.ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(groups.Groups, func(g metav1.APIGroup) bool { return g.Name == oda.Group })
	if i < 0 || groups.Groups[i].PreferredVersion.Version != "v1" || len(groups.Groups[i].Versions) != 3 {
		t.Errorf("groups = %+v, want oda.tmforum.org at v1, v1beta4, v1beta3 (v1 preferred)", groups.Groups)
	}

	readOnly := rest.CopyConfig(e.config)
	readOnly.BearerToken = readerToken
	rdyn, err := dynamic.NewForConfig(readOnly)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rdyn.Resource(componentsV1).Namespace("components").List(e.ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("a reader lists: %v", err)
	}
	if _, err := rdyn.Resource(componentsV1).Namespace("components").Create(e.ctx, example(t, "productcatalog-v1.component.yaml", nil), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("a reader creates: %v, want Forbidden", err)
	}

	for _, token := range []string{"", "wcadm_" + strings.Repeat("x", 43)} {
		cfg := rest.CopyConfig(e.config)
		cfg.BearerToken = token
		hc, err := rest.HTTPClientFor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Get(e.url + "/apis/oda.tmforum.org/v1/namespaces/components/components")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var st metav1.Status
		if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal(body, &st) != nil || st.Kind != "Status" || st.Reason != metav1.StatusReasonUnauthorized {
			t.Errorf("token %q: %d %s, want 401 with an Unauthorized Status", token, resp.StatusCode, body)
		}
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("token %q: no Bearer challenge: %q", token, resp.Header.Get("WWW-Authenticate"))
		}
	}
}

// TestWritesAndErrors walks create, get, list with selectors, patches of
// each kind, replace, stale resourceVersion, invalid input and delete.
func TestWritesAndErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	comps := e.components("v1", "components")
	created, err := comps.Create(e.ctx, example(t, "productcatalog-v1.component.yaml", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.GetResourceVersion() == "" || created.GetUID() == "" || created.GetGeneration() != 1 {
		t.Errorf("created metadata = rv %q uid %q generation %d", created.GetResourceVersion(), created.GetUID(), created.GetGeneration())
	}
	if _, err := comps.Create(e.ctx, example(t, "productcatalog-v1.component.yaml", nil), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}

	// Lists: by label, by field, unfiltered; another namespace is empty.
	for sel, want := range map[string]int{oda.LabelComponentName + "=" + pc: 1, oda.LabelComponentName + "=other": 0} {
		l, err := comps.List(e.ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil || len(l.Items) != want {
			t.Errorf("labelSelector %s: %v items, err %v; want %d", sel, len(l.Items), err, want)
		}
	}
	for sel, want := range map[string]int{"metadata.name=" + pc: 1, "metadata.name=nope": 0} {
		l, err := comps.List(e.ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil || len(l.Items) != want {
			t.Errorf("fieldSelector %s: %v items, err %v; want %d", sel, len(l.Items), err, want)
		}
	}
	if l, err := e.components("v1", "elsewhere").List(e.ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("other namespace: %v items, err %v", len(l.Items), err)
	}
	if l, err := e.dyn.Resource(componentsV1).List(e.ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 1 {
		t.Errorf("all namespaces: %v, %v", l, err)
	}

	// Patches.
	merge, err := comps.Patch(e.ctx, pc, types.MergePatchType, []byte(`{"metadata":{"labels":{"tier":"gold"}}}`), metav1.PatchOptions{})
	if err != nil || merge.GetLabels()["tier"] != "gold" || merge.GetGeneration() != 2 {
		t.Fatalf("merge patch: %v labels %v generation %d", err, merge.GetLabels(), merge.GetGeneration())
	}
	jp, err := comps.Patch(e.ctx, pc, types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/coreFunction/exposedAPIs/0/port","value":8081}]`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("JSON patch: %v", err)
	}
	if port, _, _ := unstructured.NestedSlice(jp.Object, "spec", "coreFunction", "exposedAPIs"); fmt.Sprint(port[0].(map[string]any)["port"]) != "8081" {
		t.Errorf("JSON patch did not change the port: %v", port[0])
	}
	smp, err := comps.Patch(e.ctx, pc, types.StrategicMergePatchType, []byte(`{"metadata":{"labels":{"tier":null,"$patch":"merge"}}}`), metav1.PatchOptions{})
	if err != nil || smp.GetLabels()["tier"] != "" {
		t.Errorf("strategic merge patch (as merge patch): %v, labels %v", err, smp.GetLabels())
	}

	// A patch that breaks validation: 422 with the ODA field path, nothing stored.
	before, _ := comps.Get(e.ctx, pc, metav1.GetOptions{})
	_, err = comps.Patch(e.ctx, pc, types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/coreFunction/exposedAPIs/0/port","value":"x"}]`), metav1.PatchOptions{})
	assertInvalid(t, err, "spec.coreFunction.exposedAPIs[0].port")
	after, _ := comps.Get(e.ctx, pc, metav1.GetOptions{})
	if after.GetResourceVersion() != before.GetResourceVersion() {
		t.Errorf("an invalid patch stored something: rv %s -> %s", before.GetResourceVersion(), after.GetResourceVersion())
	}

	// A JSON patch whose copies double the object 40 times (a few
	// hundred bytes asking for terabytes) is refused once its copies pass
	// the largest Component, and one of more than 10,000 operations
	// before it runs: nothing stored either way.
	var doubling []string
	for i := range 40 {
		doubling = append(doubling, fmt.Sprintf(`{"op":"copy","from":"/spec","path":"/spec/x%d"}`, i))
	}
	_, err = comps.Patch(e.ctx, pc, types.JSONPatchType, []byte("["+strings.Join(doubling, ",")+"]"), metav1.PatchOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "copy") {
		t.Fatalf("doubling JSON patch: %v, want 422 naming the copies", err)
	}
	many := "[" + strings.Repeat(`{"op":"test","path":"/kind","value":"Component"},`, 10000) + `{"op":"test","path":"/kind","value":"Component"}]`
	_, err = comps.Patch(e.ctx, pc, types.JSONPatchType, []byte(many), metav1.PatchOptions{})
	if !apierrors.IsRequestEntityTooLargeError(err) || !strings.Contains(err.Error(), "10001 operations") {
		t.Fatalf("JSON patch of 10,001 operations: %v, want 413 naming the count", err)
	}
	if after, _ := comps.Get(e.ctx, pc, metav1.GetOptions{}); after.GetResourceVersion() != before.GetResourceVersion() {
		t.Errorf("a refused JSON patch stored something: rv %s -> %s", before.GetResourceVersion(), after.GetResourceVersion())
	}

	// Wrong apiVersion and kind in a body: 422 with causes.
	wrong := example(t, "productcatalog-v1.component.yaml", func(s string) string {
		return strings.Replace(strings.Replace(s, "apiVersion: oda.tmforum.org/v1", "apiVersion: oda.tmforum.org/v1beta4", 1), "name: ctk-productcatalogmanagement\n", "name: other\n", 1)
	})
	_, err = comps.Create(e.ctx, wrong, metav1.CreateOptions{})
	assertInvalid(t, err, "apiVersion")
	wrong.SetAPIVersion(oda.APIVersionV1)
	wrong.SetKind("Widget")
	_, err = comps.Create(e.ctx, wrong, metav1.CreateOptions{})
	assertInvalid(t, err, "kind")
	if _, err := comps.Get(e.ctx, "other", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("an invalid create stored something: %v", err)
	}

	// Replace at a stale resourceVersion: 409 Conflict, nothing stored.
	stale := before.DeepCopy()
	stale.SetResourceVersion(created.GetResourceVersion())
	stale.SetLabels(map[string]string{"stale": "true"})
	if _, err := comps.Update(e.ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("stale replace: %v, want Conflict", err)
	}
	cur, _ := comps.Get(e.ctx, pc, metav1.GetOptions{})
	if cur.GetLabels()["stale"] != "" {
		t.Error("a stale replace was stored")
	}
	cur.SetLabels(map[string]string{"fresh": "true", oda.LabelComponentName: pc})
	if upd, err := comps.Update(e.ctx, cur, metav1.UpdateOptions{}); err != nil || upd.GetLabels()["fresh"] != "true" {
		t.Errorf("current replace: %v", err)
	}

	// Unknown resource and read-only children.
	if _, err := e.dyn.Resource(componentsV1.GroupVersion().WithResource("widgets")).Namespace("components").List(e.ctx, metav1.ListOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("unknown resource: %v, want NotFound", err)
	}
	if _, err := e.dyn.Resource(exposedV1).Namespace("components").Create(e.ctx, created, metav1.CreateOptions{}); !apierrors.IsMethodNotSupported(err) {
		t.Errorf("creating an ExposedAPI: %v, want MethodNotAllowed", err)
	}
	if _, err := comps.UpdateStatus(e.ctx, cur, metav1.UpdateOptions{}); !apierrors.IsMethodNotSupported(err) {
		t.Errorf("writing status: %v, want MethodNotAllowed", err)
	}

	// Server-side apply creates and updates.
	applied := example(t, "productcatalog-v1.component.yaml", renamed("ssa"))
	data, _ := json.Marshal(applied.Object)
	if _, err := comps.Patch(e.ctx, "ssa", types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "test"}); err != nil {
		t.Fatalf("server-side apply (create): %v", err)
	}
	applied.SetLabels(map[string]string{"applied": "twice", oda.LabelComponentName: "ssa"})
	data, _ = json.Marshal(applied.Object)
	if got, err := comps.Patch(e.ctx, "ssa", types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "test"}); err != nil || got.GetLabels()["applied"] != "twice" {
		t.Errorf("server-side apply (update): %v", err)
	}
	// Another writer's label stays; the manager's own, no longer applied, goes.
	if _, err := comps.Patch(e.ctx, "ssa", types.MergePatchType, []byte(`{"metadata":{"labels":{"other":"writer"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	applied.SetLabels(map[string]string{oda.LabelComponentName: "ssa"})
	data, _ = json.Marshal(applied.Object)
	got, err := comps.Patch(e.ctx, "ssa", types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "test"})
	if err != nil || got.GetLabels()["applied"] != "" || got.GetLabels()["other"] != "writer" || got.GetLabels()[oda.LabelComponentName] != "ssa" {
		t.Errorf("server-side apply dropping a label: %v, labels %v", err, got.GetLabels())
	}
	if _, err := comps.Patch(e.ctx, "ssa", types.ApplyPatchType, data, metav1.PatchOptions{}); !apierrors.IsBadRequest(err) {
		t.Errorf("server-side apply without a field manager: %v, want BadRequest", err)
	}

	// Delete: gone from get and list at once.
	if err := comps.Delete(e.ctx, pc, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := comps.Get(e.ctx, pc, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: %v, want NotFound", err)
	}
	if err := comps.Delete(e.ctx, pc, metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: %v, want NotFound", err)
	}
}

// renamed edits an example's Component name (metadata.name and the
// componentName label) to name.
func renamed(name string) func(string) string {
	return func(s string) string { return strings.ReplaceAll(s, ": "+pc+"\n", ": "+name+"\n") }
}

func assertInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Fatalf("err = %v, want 422 Invalid", err)
	}
	st := err.(apierrors.APIStatus).Status()
	for _, c := range st.Details.Causes {
		if c.Field == field {
			return
		}
	}
	t.Errorf("no cause names %s: %+v", field, st.Details.Causes)
}

// TestTableAndChildren: the table of kubectl get has the reference
// columns; ExposedAPIs and DependentAPIs follow the status.
func TestTableAndChildren(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	comps := e.components("v1", "components")
	c, err := comps.Create(e.ctx, example(t, "productcatalog-v1.component.yaml", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := e.dyn.Resource(exposedV1).Namespace("components").List(e.ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Fatalf("ExposedAPIs before the reconciler wrote status: %v, %v", l, err)
	}
	e.writeStatus("components", pc, completeStatus(true))

	var table metav1.Table
	e.eventually("table shows Complete", func() error {
		table = e.table("/apis/oda.tmforum.org/v1/namespaces/components/components")
		if len(table.Rows) != 1 || table.Rows[0].Cells[1] != oda.DeploymentComplete {
			return fmt.Errorf("rows %+v", table.Rows)
		}
		return nil
	})
	var cols []string
	for _, c := range table.ColumnDefinitions {
		cols = append(cols, c.Name)
	}
	if strings.Join(cols, ",") != "Name,deployment_status,Age" {
		t.Errorf("columns = %v, want the reference CRD's Name,deployment_status,Age", cols)
	}

	exposed, err := e.dyn.Resource(exposedV1).Namespace("components").List(e.ctx, metav1.ListOptions{LabelSelector: oda.LabelComponentName + "=" + pc})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range exposed.Items {
		names = append(names, x.GetName())
		if own := x.GetOwnerReferences(); len(own) != 1 || own[0].UID != c.GetUID() || own[0].Kind != "Component" {
			t.Errorf("%s ownerReferences = %+v", x.GetName(), own)
		}
		if ready, _, _ := unstructured.NestedBool(x.Object, "status", "implementation", "ready"); !ready {
			t.Errorf("%s not ready", x.GetName())
		}
		if url, _, _ := unstructured.NestedString(x.Object, "status", "apiStatus", "url"); !strings.HasPrefix(url, "http://canvas.test/") {
			t.Errorf("%s url = %q", x.GetName(), url)
		}
	}
	want := []string{pc + "-metrics", pc + "-productcatalogmanagement-v4", pc + "-userrolesandpermissions-v5"}
	if !slices.Equal(names, want) {
		t.Errorf("ExposedAPIs = %v, want %v", names, want)
	}
	core, err := e.dyn.Resource(exposedV1).Namespace("components").Get(e.ctx, pc+"-productcatalogmanagement-v4", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if seg, _, _ := unstructured.NestedString(core.Object, "spec", "segment"); seg != "core" {
		t.Errorf("segment = %q", seg)
	}
	if specs, _, _ := unstructured.NestedSlice(core.Object, "spec", "specification"); len(specs) != 1 || !strings.Contains(fmt.Sprint(specs[0]), "TMF620") {
		t.Errorf("specification = %v", specs)
	}
	if l, err := e.dyn.Resource(exposedV1).Namespace("components").List(e.ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + pc + "-metrics"}); err != nil || len(l.Items) != 1 {
		t.Errorf("fieldSelector on ExposedAPIs: %v, %v", l, err)
	}
	if got := e.table("/apis/oda.tmforum.org/v1/namespaces/components/exposedapis"); len(got.Rows) != 3 || got.ColumnDefinitions[1].Name != "API_endpoint" {
		t.Errorf("ExposedAPI table = %+v", got)
	}

	// A dependent API appears with its status.
	st := completeStatus(true)
	st.CoreDependentAPIs = []oda.DependentAPIStatus{{Name: "dep-downstreamproductcatalog-v4", UID: "u", Ready: true, URL: "http://canvas.test/r-cat/v4"}}
	dep := example(t, "productcatalog-dependent-api-v1.component.yaml", renamed("dep"))
	if _, err := comps.Create(e.ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.writeStatus("components", dep.GetName(), st)
	e.eventually("DependentAPI resolved", func() error {
		l, err := e.dyn.Resource(dependentV1).Namespace("components").List(e.ctx, metav1.ListOptions{LabelSelector: oda.LabelComponentName + "=" + dep.GetName()})
		if err != nil || len(l.Items) != 1 {
			return fmt.Errorf("%v, %v", l, err)
		}
		if url, _, _ := unstructured.NestedString(l.Items[0].Object, "status", "depapiStatus", "url"); url != "http://canvas.test/r-cat/v4" {
			return fmt.Errorf("url %q", url)
		}
		return nil
	})
	dt := e.table("/apis/oda.tmforum.org/v1/namespaces/components/dependentapis")
	cols = nil
	for _, c := range dt.ColumnDefinitions {
		cols = append(cols, c.Name)
	}
	if strings.Join(cols, ",") != "Name,ready,Age,svcInvID" || len(dt.Rows) != 1 || dt.Rows[0].Cells[1] != "true" {
		t.Errorf("DependentAPI table: columns %v, rows %+v; want the reference CRD's Name,ready,Age,svcInvID", cols, dt.Rows)
	}
}

func (e *env) table(path string) metav1.Table {
	e.t.Helper()
	_, _, body := e.do(http.MethodGet, path, "application/json;as=Table;v=v1;g=meta.k8s.io,application/json", nil)
	var t metav1.Table
	if err := json.Unmarshal(body, &t); err != nil || t.Kind != "Table" {
		e.t.Fatalf("%s: not a Table (%v)", path, err)
	}
	return t
}

// do sends a request with the kubeconfig's credentials and returns the
// answer's code, header and body.
func (e *env) do(method, path, accept string, body []byte) (int, http.Header, []byte) {
	e.t.Helper()
	hc, err := rest.HTTPClientFor(e.config)
	if err != nil {
		e.t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(e.ctx, method, e.url+path, bytes.NewReader(body))
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// TestVersions: written at v1beta3, read at v1 and v1beta4; written at
// v1, read at v1beta3 (UC013).
func TestVersions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := example(t, "productcatalog-v1beta3.component.yaml", renamed("old"))
	if _, err := e.components("v1beta3", "components").Create(e.ctx, old, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	v1, err := e.components("v1", "components").Get(e.ctx, old.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v1.GetAPIVersion() != oda.APIVersionV1 {
		t.Errorf("apiVersion = %s", v1.GetAPIVersion())
	}
	if id, _, _ := unstructured.NestedString(v1.Object, "spec", "componentMetadata", "id"); id == "" {
		t.Errorf("v1 read of a v1beta3 write lacks spec.componentMetadata.id: %v", v1.Object["spec"])
	}
	if b4, err := e.components("v1beta4", "components").Get(e.ctx, old.GetName(), metav1.GetOptions{}); err != nil || b4.GetAPIVersion() != oda.APIVersionV1beta4 {
		t.Errorf("v1beta4 read: %v", err)
	}

	if _, err := e.components("v1", "components").Create(e.ctx, example(t, "productcatalog-v1.component.yaml", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b3, err := e.components("v1beta3", "components").Get(e.ctx, pc, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if id, _, _ := unstructured.NestedString(b3.Object, "spec", "id"); id == "" {
		t.Errorf("v1beta3 read of a v1 write lacks spec.id: %v", b3.Object["spec"])
	}
	if specs, _, _ := unstructured.NestedSlice(b3.Object, "spec", "coreFunction", "exposedAPIs"); len(specs) == 0 {
		t.Error("no exposed APIs at v1beta3")
	} else if _, isURL := specs[0].(map[string]any)["specification"].([]any)[0].(string); !isURL {
		t.Errorf("v1beta3 specification items are URL strings: %v", specs[0])
	}
	l, err := e.components("v1beta3", "components").List(e.ctx, metav1.ListOptions{})
	if err != nil || len(l.Items) != 2 {
		t.Errorf("v1beta3 list: %v", err)
	}
}

// TestWatch: a watch streams ADDED, status MODIFIED and DELETED for
// Components and their ExposedAPIs.
func TestWatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	comps := e.components("v1", "components")
	w, err := comps.Watch(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	xw, err := e.dyn.Resource(exposedV1).Namespace("components").Watch(e.ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + pc + "-metrics"})
	if err != nil {
		t.Fatal(err)
	}
	defer xw.Stop()
	if _, err := comps.Create(e.ctx, example(t, "productcatalog-v1.component.yaml", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	next := func(w watch.Interface, want watch.EventType) *unstructured.Unstructured {
		t.Helper()
		select {
		case ev, ok := <-w.ResultChan():
			if !ok || ev.Type != want {
				t.Fatalf("event %v (open %v), want %s", ev, ok, want)
			}
			return ev.Object.(*unstructured.Unstructured)
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s event", want)
		}
		return nil
	}
	next(w, watch.Added)
	e.writeStatus("components", pc, completeStatus(true))
	got := next(w, watch.Modified)
	if s, _, _ := unstructured.NestedString(got.Object, "status", "summary/status", "deployment_status"); s != oda.DeploymentComplete {
		t.Errorf("MODIFIED status = %q", s)
	}
	if x := next(xw, watch.Added); x.GetName() != pc+"-metrics" {
		t.Errorf("ExposedAPI watch got %s", x.GetName())
	}
	if err := comps.Delete(e.ctx, pc, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	next(w, watch.Deleted)
	next(xw, watch.Deleted)
}

// TestWatchList: client-go's watch list (sendInitialEvents) gets the
// current objects, then a BOOKMARK marking their end; timeoutSeconds ends
// the stream.
func TestWatchList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.components("v1", "components").Create(e.ctx, example(t, "productcatalog-v1.component.yaml", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(e.config)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := hc.Get(e.url + "/apis/oda.tmforum.org/v1/namespaces/components/components?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // ends with timeoutSeconds
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the watch lasted %s despite timeoutSeconds=1", d)
	}
	var types []string
	dec := json.NewDecoder(strings.NewReader(string(body)))
	for dec.More() {
		var ev struct {
			Type   string                    `json:"type"`
			Object unstructured.Unstructured `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		types = append(types, ev.Type)
		if ev.Type == "BOOKMARK" && ev.Object.GetAnnotations()["k8s.io/initial-events-end"] != "true" {
			t.Errorf("bookmark without k8s.io/initial-events-end: %v", ev.Object.Object)
		}
	}
	if strings.Join(types, ",") != "ADDED,BOOKMARK" {
		t.Errorf("events %v, want ADDED,BOOKMARK", types)
	}
}

// TestWatchResumes: a watch from a list's resourceVersion gets the
// deletions and writes made after that list, as a client-go reflector
// needs; the DELETED object carries the revision of its delete.
func TestWatchResumes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	comps := e.components("v1", "components")
	for _, name := range []string{"gone", "kept"} {
		if _, err := comps.Create(e.ctx, example(t, "productcatalog-v1.component.yaml", renamed(name)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.writeStatus("components", "gone", completeStatus(true))
	e.eventually("gone's ExposedAPIs", func() error {
		if l, err := e.dyn.Resource(exposedV1).Namespace("components").List(e.ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 3 {
			return fmt.Errorf("%v", err)
		}
		return nil
	})
	list, err := comps.List(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	xlist, err := e.dyn.Resource(exposedV1).Namespace("components").List(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := comps.Delete(e.ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := comps.Patch(e.ctx, "kept", types.MergePatchType, []byte(`{"metadata":{"labels":{"after":"list"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	var listRV uint64
	fmt.Sscan(list.GetResourceVersion(), &listRV)

	w, err := comps.Watch(e.ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	got := firstEvents(t, w, 2, func(ev watch.Event, o *unstructured.Unstructured) {
		if ev.Type == watch.Deleted && revisionOf(t, o) <= listRV {
			t.Errorf("DELETED carries rv %s, not the delete's (after the list's %d)", o.GetResourceVersion(), listRV)
		}
	})
	if strings.Join(got, ",") != "DELETED gone,MODIFIED kept" { // kept existed at the list: MODIFIED, as in Kubernetes
		t.Errorf("events %v", got)
	}
	xw, err := e.dyn.Resource(exposedV1).Namespace("components").Watch(e.ctx, metav1.ListOptions{ResourceVersion: xlist.GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer xw.Stop()
	for range 3 {
		select {
		case ev := <-xw.ResultChan():
			if ev.Type != watch.Deleted {
				t.Errorf("ExposedAPI event %s, want DELETED", ev.Type)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the ExposedAPIs' deletions were not replayed")
		}
	}
}

// TestStatusBumpsResourceVersion: a status-only change gives the Component
// a new resourceVersion (combined from the desired-state and status
// revisions); a write at the one before it conflicts, as for a custom
// resource with a status subresource in Kubernetes; a watch resumed from
// before it replays it as MODIFIED (and a Component created since as
// ADDED); a resourceVersion the server never issued is 410 Expired, so
// client-go lists again.
func TestStatusBumpsResourceVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	comps := e.components("v1", "components")
	created, err := comps.Create(e.ctx, example(t, "productcatalog-v1.component.yaml", renamed("sv")), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := comps.List(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.writeStatus("components", "sv", completeStatus(true))
	var withStatus *unstructured.Unstructured
	e.eventually("the status shows", func() error {
		withStatus, err = comps.Get(e.ctx, "sv", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if _, ok, _ := unstructured.NestedMap(withStatus.Object, "status"); !ok {
			return errors.New("no status yet")
		}
		return nil
	})
	if revisionOf(t, withStatus) <= revisionOf(t, created) {
		t.Errorf("after a status change resourceVersion %s, want above %s", withStatus.GetResourceVersion(), created.GetResourceVersion())
	}

	stale := created.DeepCopy()
	stale.SetLabels(map[string]string{"tier": "gold"})
	if _, err := comps.Update(e.ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("update at the resourceVersion before the status change: %v, want 409 Conflict", err)
	}
	fresh := withStatus.DeepCopy()
	fresh.SetLabels(map[string]string{"tier": "gold"})
	updated, err := comps.Update(e.ctx, fresh, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update at the current resourceVersion: %v", err)
	}
	if updated.GetLabels()["tier"] != "gold" || revisionOf(t, updated) <= revisionOf(t, withStatus) {
		t.Errorf("updated: labels %v rv %s", updated.GetLabels(), updated.GetResourceVersion())
	}
	if _, err := comps.Create(e.ctx, example(t, "productcatalog-v1.component.yaml", renamed("sv-new")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	w, err := comps.Watch(e.ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	got := firstEvents(t, w, 2, func(_ watch.Event, o *unstructured.Unstructured) {
		if _, ok, _ := unstructured.NestedMap(o.Object, "status"); o.GetName() == "sv" && !ok {
			t.Errorf("replayed sv has no status")
		}
	})
	if strings.Join(got, ",") != "MODIFIED sv,ADDED sv-new" {
		t.Errorf("events %v, want MODIFIED sv,ADDED sv-new", got)
	}

	_, err = comps.Watch(e.ctx, metav1.ListOptions{ResourceVersion: "999999999"})
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Errorf("watch from a resourceVersion never issued: %v, want 410 Expired", err)
	}

	// A delete precondition is checked the same way.
	staleRV := withStatus.GetResourceVersion()
	if err := comps.Delete(e.ctx, "sv", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &staleRV}}); !apierrors.IsConflict(err) {
		t.Errorf("delete at a stale resourceVersion: %v, want 409", err)
	}
	curRV := updated.GetResourceVersion()
	if err := comps.Delete(e.ctx, "sv", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &curRV}}); err != nil {
		t.Errorf("delete at the current resourceVersion: %v", err)
	}
}

// firstEvents reads n events of w ("TYPE name" each), checking each.
func firstEvents(t *testing.T, w watch.Interface, n int, check func(watch.Event, *unstructured.Unstructured)) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		select {
		case ev := <-w.ResultChan():
			o := ev.Object.(*unstructured.Unstructured)
			got = append(got, fmt.Sprintf("%s %s", ev.Type, o.GetName()))
			check(ev, o)
		case <-time.After(5 * time.Second):
			t.Fatalf("events %v, want %d", got, n)
		}
	}
	return got
}

func revisionOf(t *testing.T, o *unstructured.Unstructured) uint64 {
	t.Helper()
	var n uint64
	if _, err := fmt.Sscan(o.GetResourceVersion(), &n); err != nil {
		t.Fatalf("resourceVersion %q: %v", o.GetResourceVersion(), err)
	}
	return n
}

// TestConversionRefusal: a Component using a field v1beta3 cannot hold is
// refused at v1beta3 with a 422 naming the field, and served at v1.
func TestConversionRefusal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := example(t, "productcatalog-v1.component.yaml", nil)
	apis, _, _ := unstructured.NestedSlice(c.Object, "spec", "coreFunction", "exposedAPIs")
	apis[0].(map[string]any)["specification"].([]any)[0].(map[string]any)["version"] = "4.0.0"
	if err := unstructured.SetNestedSlice(c.Object, apis, "spec", "coreFunction", "exposedAPIs"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.components("v1", "components").Create(e.ctx, c, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := e.components("v1beta3", "components").Get(e.ctx, c.GetName(), metav1.GetOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("v1beta3 read: %v, want 422 Invalid", err)
	}
	causes := err.(apierrors.APIStatus).Status().Details.Causes
	if len(causes) != 1 || causes[0].Field != "spec.coreFunction.exposedAPIs[0].specification[0].version" {
		t.Errorf("causes %+v, want the specification version v1beta3 lacks", causes)
	}
	if _, err := e.components("v1", "components").Get(e.ctx, c.GetName(), metav1.GetOptions{}); err != nil {
		t.Errorf("v1 read: %v", err)
	}
}

// TestDryRun: every write with dryRun=All (create, update, patch,
// server-side apply, delete) answers what it would store after the same
// checks a write makes (AlreadyExists, a stale resourceVersion, NotFound,
// an invalid object), and stores nothing.
func TestDryRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	comps := e.components("v1", "components")
	dry := []string{metav1.DryRunAll}
	obj := example(t, "productcatalog-v1.component.yaml", nil)
	made, err := comps.Create(e.ctx, obj.DeepCopy(), metav1.CreateOptions{DryRun: dry})
	if err != nil || made.GetName() != pc || made.GetGeneration() != 1 || made.GetResourceVersion() != "" {
		t.Fatalf("dry-run create: %v, generation %d, rv %q", err, made.GetGeneration(), made.GetResourceVersion())
	}
	if _, err := comps.Get(e.ctx, pc, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after a dry-run create: %v, want NotFound", err)
	}
	if _, err := comps.Update(e.ctx, obj.DeepCopy(), metav1.UpdateOptions{DryRun: dry}); !apierrors.IsNotFound(err) {
		t.Errorf("dry-run update of nothing: %v, want NotFound", err)
	}
	created, err := comps.Create(e.ctx, obj.DeepCopy(), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := comps.Create(e.ctx, obj.DeepCopy(), metav1.CreateOptions{DryRun: dry}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("dry-run create of an existing Component: %v, want AlreadyExists", err)
	}
	changed := created.DeepCopy()
	changed.SetLabels(map[string]string{"tier": "gold"})
	upd, err := comps.Update(e.ctx, changed.DeepCopy(), metav1.UpdateOptions{DryRun: dry})
	if err != nil || upd.GetLabels()["tier"] != "gold" || upd.GetGeneration() != 2 || upd.GetResourceVersion() != created.GetResourceVersion() {
		t.Errorf("dry-run update: %v, labels %v, generation %d, rv %q (current %q)", err, upd.GetLabels(), upd.GetGeneration(), upd.GetResourceVersion(), created.GetResourceVersion())
	}
	patched, err := comps.Patch(e.ctx, pc, types.MergePatchType, []byte(`{"metadata":{"labels":{"tier":"silver"}}}`), metav1.PatchOptions{DryRun: dry})
	if err != nil || patched.GetLabels()["tier"] != "silver" {
		t.Errorf("dry-run merge patch: %v, labels %v", err, patched.GetLabels())
	}
	_, err = comps.Patch(e.ctx, pc, types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/coreFunction/exposedAPIs/0/port","value":"x"}]`), metav1.PatchOptions{DryRun: dry})
	assertInvalid(t, err, "spec.coreFunction.exposedAPIs[0].port")
	applied := obj.DeepCopy()
	applied.SetLabels(map[string]string{"tier": "bronze"})
	body, _ := applied.MarshalJSON()
	ssa, err := comps.Patch(e.ctx, pc, types.ApplyPatchType, body, metav1.PatchOptions{DryRun: dry, FieldManager: "dry", Force: ptrTo(true)})
	if err != nil || ssa.GetLabels()["tier"] != "bronze" {
		t.Errorf("dry-run server-side apply: %v, labels %v", err, ssa.GetLabels())
	}
	if err := comps.Delete(e.ctx, pc, metav1.DeleteOptions{DryRun: dry}); err != nil {
		t.Errorf("dry-run delete: %v", err)
	}
	now, err := comps.Get(e.ctx, pc, metav1.GetOptions{})
	if err != nil || now.GetResourceVersion() != created.GetResourceVersion() || len(now.GetLabels()) != len(created.GetLabels()) || now.GetGeneration() != 1 {
		t.Errorf("after the dry runs: %v, rv %q (was %q), labels %v, generation %d: something was stored", err, now.GetResourceVersion(), created.GetResourceVersion(), now.GetLabels(), now.GetGeneration())
	}
	if _, err := comps.Patch(e.ctx, pc, types.MergePatchType, []byte(`{"metadata":{"labels":{"tier":"iron"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := comps.Update(e.ctx, changed.DeepCopy(), metav1.UpdateOptions{DryRun: dry}); !apierrors.IsConflict(err) {
		t.Errorf("dry-run update at a stale resourceVersion: %v, want Conflict", err)
	}
	staleRV := created.GetResourceVersion()
	if err := comps.Delete(e.ctx, pc, metav1.DeleteOptions{DryRun: dry, Preconditions: &metav1.Preconditions{ResourceVersion: &staleRV}}); !apierrors.IsConflict(err) {
		t.Errorf("dry-run delete at a stale resourceVersion: %v, want Conflict", err)
	}
	if _, err := comps.Get(e.ctx, pc, metav1.GetOptions{}); err != nil {
		t.Errorf("after a dry-run delete: %v", err)
	}
}

func ptrTo[T any](v T) *T { return &v }

// A query that does not parse whole is refused before anything is done:
// Go would drop `dryRun=All;` and store.
func TestMalformedQueryStoresNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body, err := example(t, "productcatalog-v1.component.yaml", nil).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"?dryRun=All;", "?dryRun=All&x=%zz"} {
		code, _, data := e.do(http.MethodPost, "/apis/oda.tmforum.org/v1/namespaces/components/components"+q, "application/json", body)
		if code != http.StatusBadRequest || !strings.Contains(string(data), "query string") {
			t.Errorf("POST %s: %d %s, want 400 naming the query string", q, code, data)
		}
	}
	if _, err := e.components("v1", "components").Get(e.ctx, pc, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after refused requests: %v, want NotFound", err)
	}
}
