package kubeapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"

	"github.com/wasmcanvas/wasmcanvas/pkg/reconcile"
)

// The reconciler's events are core v1 Events: listed per namespace or in
// all, selected by the fields kubectl describe sends (so it shows them
// under Events), got by name, printed as kubectl get events prints them;
// read-only, and not watched.
func TestEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	created, err := e.components("v1", "components").Create(e.ctx, example(t, "productcatalog-v1.component.yaml", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	name, uid := created.GetName(), string(created.GetUID())
	record := func(key, uid, typ, reason, msg string) {
		t.Helper()
		if err := e.events.Record(e.ctx, key, uid, typ, reason, msg); err != nil {
			t.Fatal(err)
		}
	}
	record("components."+name, "earlier-incarnation", reconcile.EventNormal, reconcile.ReasonDeployed, "deployed v-0")
	record("components."+name, uid, reconcile.EventNormal, reconcile.ReasonDeployed, "deployed v-1")
	record("components."+name, uid, reconcile.EventWarning, reconcile.ReasonDeployFailed, "no host")
	record("components."+name, uid, reconcile.EventWarning, reconcile.ReasonDeployFailed, "no host")
	record("components.other", "uid-other", reconcile.EventNormal, reconcile.ReasonDeployed, "other deployed")
	record("elsewhere.x", "uid-x", reconcile.EventNormal, reconcile.ReasonDeployed, "x deployed")

	cs, err := kubernetes.NewForConfig(e.config)
	if err != nil {
		t.Fatal(err)
	}
	// What kubectl describe component NAME asks for.
	sel := "involvedObject.name=" + name + ",involvedObject.namespace=components,involvedObject.kind=Component,involvedObject.uid=" + uid
	got, err := cs.CoreV1().Events("components").List(e.ctx, metav1.ListOptions{FieldSelector: sel, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 2 {
		t.Fatalf("describe's events = %+v, want Deployed and DeployFailed x2 of this incarnation", got.Items)
	}
	ev := got.Items[1]
	if ev.Reason != reconcile.ReasonDeployFailed || ev.Type != "Warning" || ev.Count != 2 || ev.Message != "no host" ||
		ev.InvolvedObject.Kind != "Component" || ev.InvolvedObject.APIVersion != "oda.tmforum.org/v1" || string(ev.InvolvedObject.UID) != uid ||
		ev.Namespace != "components" || !strings.HasPrefix(ev.Name, name+".") || ev.Source.Component != "wasmcanvas" ||
		ev.LastTimestamp.Before(&ev.FirstTimestamp) || ev.ResourceVersion == "" || ev.UID == "" {
		t.Errorf("folded event = %+v", ev)
	}

	all, err := cs.CoreV1().Events("").List(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := cs.CoreV1().Events("components").List(e.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns.Items) != 4 || len(all.Items) != 5 || all.Items[4].Namespace != "elsewhere" {
		t.Errorf("events in components: %d, in all namespaces: %d (last in %s); want 4 and 5", len(ns.Items), len(all.Items), all.Items[len(all.Items)-1].Namespace)
	}
	warnings, err := cs.CoreV1().Events("components").List(e.ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err != nil || len(warnings.Items) != 1 {
		t.Errorf("type=Warning: %v, %v; want the one folded event", warnings, err)
	}
	if one, err := cs.CoreV1().Events("components").Get(e.ctx, ev.Name, metav1.GetOptions{}); err != nil || one.Count != 2 {
		t.Errorf("get %s: %+v, %v", ev.Name, one, err)
	}
	if _, err := cs.CoreV1().Events("components").Get(e.ctx, name+".0", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get an unknown event: %v, want NotFound", err)
	}
	if _, err := cs.CoreV1().Events("components").List(e.ctx, metav1.ListOptions{FieldSelector: "spec.x=1"}); !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "involvedObject.name") {
		t.Errorf("an unsupported field label: %v, want BadRequest listing the supported ones", err)
	}
	if l, err := cs.CoreV1().Events("components").List(e.ctx, metav1.ListOptions{LabelSelector: "a=b"}); err != nil || len(l.Items) != 0 {
		t.Errorf("a label selector: %v, %v; want no events (they carry no labels)", l, err)
	}
	if _, err := cs.CoreV1().Events("components").Watch(e.ctx, metav1.ListOptions{}); !apierrors.IsMethodNotSupported(err) {
		t.Errorf("watch: %v, want MethodNotAllowed", err)
	}
	if err := cs.CoreV1().Events("components").Delete(e.ctx, ev.Name, metav1.DeleteOptions{}); !apierrors.IsMethodNotSupported(err) {
		t.Errorf("delete: %v, want MethodNotAllowed", err)
	}

	tbl := e.table("/api/v1/namespaces/components/events?fieldSelector=involvedObject.uid%3D" + uid)
	var cols []string
	for _, c := range tbl.ColumnDefinitions {
		if c.Priority == 0 {
			cols = append(cols, c.Name)
		}
	}
	if strings.Join(cols, ",") != "Last Seen,Type,Reason,Object,Message" || len(tbl.Rows) != 2 {
		t.Fatalf("events table: columns %v, %d rows; want kubectl's Last Seen,Type,Reason,Object,Message and 2 rows", cols, len(tbl.Rows))
	}
	if c := tbl.Rows[1].Cells; !strings.Contains(c[0].(string), "(x2 over ") || c[3] != "component/"+name {
		t.Errorf("folded event's row = %v, want its repeats in Last Seen and component/%s as Object", c, name)
	}

	dc, err := discovery.NewDiscoveryClientForConfig(e.config)
	if err != nil {
		t.Fatal(err)
	}
	core, err := dc.ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(core.APIResources, func(r metav1.APIResource) bool { return r.Name == "events" && r.Namespaced }) {
		t.Errorf("core v1 discovery lacks namespaced events: %+v", core.APIResources)
	}
	for _, ns := range []string{"%3E", "%2A", "a.b", "Components"} { // a subject wildcard or dot must not widen the list
		if code, _, body := e.do(http.MethodGet, "/api/v1/namespaces/"+ns+"/events", "", nil); code != http.StatusBadRequest {
			t.Errorf("events in namespace %s: %d %s, want 400", ns, code, body)
		}
	}
	if code, _, body := e.do(http.MethodGet, "/api/v1/namespaces//events", "", nil); code == http.StatusOK {
		t.Errorf("events in an empty namespace: %d %s, want an error", code, body)
	}
	if code, _, _ := e.do(http.MethodPost, "/api/v1/namespaces/components/events", "", []byte(`{}`)); code != http.StatusMethodNotAllowed {
		t.Errorf("POST an event: %d, want 405", code)
	}
}
