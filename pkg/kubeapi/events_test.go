package kubeapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"

	"github.com/wasmcanvas/wasmcanvas/pkg/reconcile"
)

// The reconciler's events are core v1 Events: listed per namespace or in
// all, selected by the fields kubectl describe sends (so it shows them
// under Events), got by name, printed as kubectl get events prints them;
// read-only; watched from a resourceVersion or from now.
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

	// A watch from the list's resourceVersion sees what is recorded after
	// it, in its selection: a new event ADDED, its repeat MODIFIED.
	w, err := cs.CoreV1().Events("components").Watch(e.ctx, metav1.ListOptions{ResourceVersion: ns.ResourceVersion, FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// From no resourceVersion, the current events come first, as ADDED.
	w0, err := cs.CoreV1().Events("").Watch(e.ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err != nil {
		t.Fatal(err)
	}
	defer w0.Stop()
	record("components.other", "uid-other", reconcile.EventNormal, reconcile.ReasonDeployed, "other again")
	record("components."+name, uid, reconcile.EventNormal, reconcile.ReasonReady, "ready")
	record("components."+name, uid, reconcile.EventNormal, reconcile.ReasonReady, "ready")
	next := func(w watch.Interface) (watch.EventType, *corev1.Event) {
		t.Helper()
		select {
		case we, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the watch ended")
			}
			ev, isEvent := we.Object.(*corev1.Event)
			if !isEvent {
				t.Fatalf("watched %s %T, want an Event", we.Type, we.Object)
			}
			return we.Type, ev
		case <-time.After(20 * time.Second):
			t.Fatal("no event watched")
		}
		return "", nil
	}
	if typ, ev := next(w); typ != watch.Added || ev.Reason != reconcile.ReasonReady || ev.Count != 1 {
		t.Errorf("first watched: %s %+v, want the Ready event ADDED", typ, ev)
	}
	if typ, ev := next(w); typ != watch.Modified || ev.Reason != reconcile.ReasonReady || ev.Count != 2 {
		t.Errorf("second watched: %s %+v, want the Ready event MODIFIED with count 2", typ, ev)
	}
	if typ, ev := next(w0); typ != watch.Added || ev.Reason != reconcile.ReasonDeployFailed || ev.Count != 2 {
		t.Errorf("a watch without resourceVersion began with %s %+v, want the current warning ADDED", typ, ev)
	}
	if err := cs.CoreV1().Events("components").Delete(e.ctx, ev.Name, metav1.DeleteOptions{}); !apierrors.IsMethodNotSupported(err) {
		t.Errorf("delete: %v, want MethodNotAllowed", err)
	}

	// client-go's watch list: the current events, then a BOOKMARK ending
	// them.
	_, _, body := e.do(http.MethodGet, "/api/v1/namespaces/components/events?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1", "", nil)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if n := len(lines); n < 2 || !strings.HasPrefix(lines[n-1], `{"type":"BOOKMARK"`) || !strings.Contains(lines[n-1], `"k8s.io/initial-events-end":"true"`) ||
		strings.Count(string(body), `{"type":"ADDED"`) != n-1 {
		t.Errorf("watch list: %s; want ADDED events, then the initial-events-end BOOKMARK", body)
	}

	tbl := e.table("/api/v1/namespaces/components/events?fieldSelector=involvedObject.uid%3D" + uid)
	var cols []string
	for _, c := range tbl.ColumnDefinitions {
		if c.Priority == 0 {
			cols = append(cols, c.Name)
		}
	}
	if strings.Join(cols, ",") != "Last Seen,Type,Reason,Object,Message" || len(tbl.Rows) != 3 {
		t.Fatalf("events table: columns %v, %d rows; want kubectl's Last Seen,Type,Reason,Object,Message and 3 rows (Deployed, DeployFailed x2, Ready x2)", cols, len(tbl.Rows))
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
