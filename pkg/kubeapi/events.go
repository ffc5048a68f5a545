package kubeapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// The reconciler's events about Components are served as core v1 Events,
// read-only (get, list, watch), so `kubectl describe component` shows
// them under Events as it does on the Kubernetes canvas, and `kubectl get
// events` lists them. An event repeated is one Event whose count grows.

// EventSource lists the reconciler's events.
type EventSource interface {
	// ListEvents returns the events about every Component in namespace
	// ("": in every namespace), earlier incarnations' included, oldest
	// first.
	ListEvents(ctx context.Context, namespace string) ([]Event, error)
	// WatchEvents delivers the events recorded in namespace ("": in
	// every namespace) after Seq after, in order (a repeat comes again
	// with its count grown), until ctx ends or the source fails; the
	// channel is closed then.
	WatchEvents(ctx context.Context, namespace string, after uint64) (<-chan Event, error)
}

// Event is one recorded event about a Component.
type Event struct {
	// Namespace, Name and UID are the Component's (UID empty for an
	// event recorded once it was gone).
	Namespace, Name, UID string
	// Type is Normal or Warning.
	Type, Reason, Message         string
	Count                         int
	FirstTimestamp, LastTimestamp time.Time
	// Seq orders the events; it is their resourceVersion.
	Seq uint64
}

// eventResource is core v1's Event as discovery lists it.
var eventResource = metav1.APIResource{Name: "events", SingularName: "event", Namespaced: true, Kind: "Event",
	Verbs: metav1.Verbs{"get", "list", "watch"}, ShortNames: []string{"ev"}}

// eventSource is the Source and reporting controller of every event.
const eventSource = "wasmcanvas"

// eventFields are the field labels a fieldSelector on events may name (as
// the apiserver allows them): those eventFieldSet gives, sorted.
var eventFields = slices.Sorted(maps.Keys(eventFieldSet(&corev1.Event{})))

// name is the Event's name: the Component's, a dot and the hex of the
// first occurrence's Unix nanoseconds, as Kubernetes names events.
func (e Event) name() string { return fmt.Sprintf("%s.%x", e.Name, e.FirstTimestamp.UnixNano()) }

func (e Event) object() corev1.Event {
	sum := sha256.Sum256([]byte("event/" + e.Namespace + "/" + e.name() + "/" + e.UID))
	uid := fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	return corev1.Event{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Event"},
		ObjectMeta: metav1.ObjectMeta{Name: e.name(), Namespace: e.Namespace, UID: types.UID(uid),
			ResourceVersion: strconv.FormatUint(e.Seq, 10), CreationTimestamp: metav1.NewTime(e.FirstTimestamp)},
		InvolvedObject: corev1.ObjectReference{APIVersion: oda.Group + "/" + versions[0], Kind: oda.Kind,
			Namespace: e.Namespace, Name: e.Name, UID: types.UID(e.UID)},
		Reason: e.Reason, Message: e.Message, Type: e.Type, Count: int32(min(e.Count, 1<<31-1)),
		FirstTimestamp: metav1.NewTime(e.FirstTimestamp), LastTimestamp: metav1.NewTime(e.LastTimestamp),
		Source:              corev1.EventSource{Component: eventSource},
		ReportingController: eventSource,
	}
}

// eventFieldSet is what a fieldSelector sees of ev.
func eventFieldSet(ev *corev1.Event) fields.Set {
	return fields.Set{
		"metadata.name":                  ev.Name,
		"metadata.namespace":             ev.Namespace,
		"involvedObject.kind":            ev.InvolvedObject.Kind,
		"involvedObject.namespace":       ev.InvolvedObject.Namespace,
		"involvedObject.name":            ev.InvolvedObject.Name,
		"involvedObject.uid":             string(ev.InvolvedObject.UID),
		"involvedObject.apiVersion":      ev.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": ev.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       ev.InvolvedObject.FieldPath,
		"reason":                         ev.Reason,
		"reportingComponent":             ev.ReportingController,
		"source":                         ev.Source.Component,
		"type":                           ev.Type,
	}
}

// eventStatus is a Status about events (name may be empty).
func eventStatus(code int, name, msg string) *statusError {
	e := failure(code, nil, name, msg)
	if e.st.Details == nil {
		e.st.Details = &metav1.StatusDetails{Name: name}
	}
	e.st.Details.Kind, e.st.Details.Group = "events", ""
	return e
}

// serveNamespacedEvents answers /api/v1/namespaces/NS/events[/NAME] (parts
// after namespaces: NS, events[, NAME]).
func (s *Server) serveNamespacedEvents(w http.ResponseWriter, r *http.Request, parts []string) *statusError {
	name := ""
	if len(parts) == 3 {
		name = parts[2]
	}
	if err := oda.CheckDNSLabel(parts[0]); err != nil {
		return eventStatus(http.StatusBadRequest, name, fmt.Sprintf("namespace %q: %v", parts[0], err))
	}
	return s.serveEvents(w, r, parts[0], name)
}

// serveEvents answers the events of namespace ("": of all) or the one named.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request, namespace, name string) *statusError {
	if r.Method != http.MethodGet {
		return eventStatus(http.StatusMethodNotAllowed, name, "events are recorded by the canvas's reconciler and are read-only here")
	}
	q := r.URL.Query()
	match, bad := eventSelector(q.Get("fieldSelector"), q.Get("labelSelector"))
	if bad != nil {
		return bad
	}
	if wt := q.Get("watch"); wt == "true" || wt == "1" {
		return s.watchEvents(w, r, namespace, name, match)
	}
	var evs []Event
	if s.opts.Events != nil {
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
		defer cancel()
		var err error
		if evs, err = s.opts.Events.ListEvents(ctx, namespace); err != nil {
			s.log.Warn("list events", zap.String("namespace", namespace), zap.Error(err))
			return eventStatus(http.StatusServiceUnavailable, name, "list events: "+err.Error())
		}
	}
	var objs []corev1.Event
	var rv uint64
	for _, e := range evs {
		rv = max(rv, e.Seq)
		o := e.object()
		if (name == "" || o.Name == name) && match(&o) {
			objs = append(objs, o)
		}
	}
	if name != "" && len(objs) == 0 {
		return eventStatus(http.StatusNotFound, name, fmt.Sprintf("events %q not found", name))
	}
	switch {
	case asTable(r):
		writeJSON(w, http.StatusOK, s.eventTable(objs, rv))
	case name != "":
		writeJSON(w, http.StatusOK, objs[len(objs)-1])
	default:
		if objs == nil {
			objs = []corev1.Event{}
		}
		writeJSON(w, http.StatusOK, corev1.EventList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "EventList"},
			ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatUint(rv, 10)}, Items: objs})
	}
	return nil
}

// eventSelector parses a list's field and label selectors. Events carry no
// labels, so a label selector matches only when it asks for nothing.
func eventSelector(fieldSel, labelSel string) (func(*corev1.Event) bool, *statusError) {
	fs := fields.Everything()
	if fieldSel != "" {
		var err error
		if fs, err = fields.ParseSelector(fieldSel); err != nil {
			return nil, eventStatus(http.StatusBadRequest, "", fmt.Sprintf("fieldSelector %q: %v", fieldSel, err))
		}
		for _, rq := range fs.Requirements() {
			if _, found := slices.BinarySearch(eventFields, rq.Field); !found {
				return nil, eventStatus(http.StatusBadRequest, "", fmt.Sprintf("fieldSelector: field label %q not supported for events: use one of %s", rq.Field, strings.Join(eventFields, ", ")))
			}
		}
	}
	ls := labels.Everything()
	if labelSel != "" {
		var err error
		if ls, err = labels.Parse(labelSel); err != nil {
			return nil, eventStatus(http.StatusBadRequest, "", fmt.Sprintf("labelSelector %q: %v", labelSel, err))
		}
	}
	return func(ev *corev1.Event) bool { return fs.Matches(eventFieldSet(ev)) && ls.Matches(labels.Set(ev.Labels)) }, nil
}

// eventTable is the Table kubectl get events prints: the apiserver's
// columns, those of priority 1 only with -o wide.
func (s *Server) eventTable(objs []corev1.Event, rv uint64) metav1.Table {
	t := metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}, ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatUint(rv, 10)},
		ColumnDefinitions: []metav1.TableColumnDefinition{
			{Name: "Last Seen", Type: "string", Description: "The time at which the most recent occurrence of this event was recorded"},
			{Name: "Type", Type: "string", Description: "Type of this event (Normal, Warning)"},
			{Name: "Reason", Type: "string", Description: "Why the action was taken"},
			{Name: "Object", Type: "string", Description: "The object that this event is about"},
			{Name: "Subobject", Type: "string", Priority: 1, Description: "The part of the object this event is about"},
			{Name: "Source", Type: "string", Priority: 1, Description: "The component reporting this event"},
			{Name: "Message", Type: "string", Description: "A human-readable description of the status of this operation"},
			{Name: "First Seen", Type: "string", Priority: 1, Description: "The time at which the event was first recorded"},
			{Name: "Count", Type: "string", Priority: 1, Description: "The number of times this event has occurred"},
			{Name: "Name", Type: "string", Priority: 1, Description: "Name of the event"},
		}}
	now := s.opts.Now()
	since := func(ts metav1.Time) string { return duration.HumanDuration(now.Sub(ts.Time)) }
	for i := range objs {
		o := &objs[i]
		last, first := since(o.LastTimestamp), since(o.FirstTimestamp)
		if o.Count > 1 {
			last = fmt.Sprintf("%s (x%d over %s)", last, o.Count, first)
		}
		pm, _ := json.Marshal(metav1.PartialObjectMetadata{
			TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadata"}, ObjectMeta: o.ObjectMeta})
		t.Rows = append(t.Rows, metav1.TableRow{
			Cells: []any{last, o.Type, o.Reason, strings.ToLower(o.InvolvedObject.Kind) + "/" + o.InvolvedObject.Name, "",
				o.Source.Component, strings.TrimSpace(o.Message), first, strconv.Itoa(int(o.Count)), o.Name},
			Object: runtime.RawExtension{Raw: pm},
		})
	}
	return t
}

// watchEvents streams events as a watch of the Kubernetes API does: from a
// resourceVersion a list gave, the events after it; without one (or "0"),
// the current events as ADDED first. An event seen again (a repeat folded
// into it) is MODIFIED. With sendInitialEvents=true (client-go's watch
// list) the current events come first whatever the resourceVersion, then
// a BOOKMARK marking their end; no other BOOKMARKs. The stream ends at
// timeoutSeconds, on a write that stalls, or when the event stream cannot
// be read, and the client lists again.
func (s *Server) watchEvents(w http.ResponseWriter, r *http.Request, namespace, name string, match func(*corev1.Event) bool) *statusError {
	if s.opts.Events == nil {
		return eventStatus(http.StatusMethodNotAllowed, name, "this canvas records no events to watch")
	}
	var initial []Event
	q := r.URL.Query()
	initialEnd := q.Get("sendInitialEvents") == "true" // client-go's watch list
	after, err := strconv.ParseUint(q.Get("resourceVersion"), 10, 64)
	if err != nil || after == 0 || initialEnd {
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
		initial, err = s.opts.Events.ListEvents(ctx, namespace)
		cancel()
		if err != nil {
			return eventStatus(http.StatusServiceUnavailable, name, "list events: "+err.Error())
		}
		after = 0
		for _, e := range initial {
			after = max(after, e.Seq)
		}
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ch, err := s.opts.Events.WatchEvents(ctx, namespace, after)
	if err != nil {
		return eventStatus(http.StatusServiceUnavailable, name, "watch events: "+err.Error())
	}
	table := asTable(r)
	write, timeout := watchResponse(w, r)
	seen := map[string]bool{}
	send := func(e Event) bool {
		o := e.object()
		if (name != "" && o.Name != name) || !match(&o) {
			return true
		}
		typ := "ADDED"
		if seen[o.Name] {
			typ = "MODIFIED"
		}
		seen[o.Name] = true
		var raw []byte
		var merr error
		if table {
			raw, merr = json.Marshal(s.eventTable([]corev1.Event{o}, e.Seq))
		} else {
			raw, merr = json.Marshal(o)
		}
		return merr == nil && write(typ, raw)
	}
	for _, e := range initial {
		if !send(e) {
			return nil
		}
	}
	if initialEnd {
		bm, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Event",
			"metadata": map[string]any{"resourceVersion": strconv.FormatUint(after, 10), "annotations": map[string]string{"k8s.io/initial-events-end": "true"}}})
		if !write("BOOKMARK", bm) {
			return nil
		}
	}
	follow(ctx, timeout, ch, send)
	return nil
}
