package wire

import (
	"fmt"
	"strings"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// HTTP paths and headers of the API. Routes are documented on api.Server.
const (
	PathComponents = "/v1/components"
	PathHealthz    = "/healthz"
	PathReadyz     = "/readyz"
	PathMetrics    = "/metrics"
	// PathCanvasInfo is the canvas's dependent-API discovery service (the
	// reference canvas's UC007): TMF638 Service Inventory entries, one per
	// dependent API of the Component named by ?componentName=.
	PathCanvasInfo = "/canvas-info/tmf-api/serviceInventoryManagement/v5/service"
	// PathCanvasInfoRoot is the prefix the info service is routed under.
	PathCanvasInfoRoot = "/canvas-info"

	// HeaderFileName carries the client's name for the request body (the
	// file a Component came from); 422 errors then name that file.
	HeaderFileName = "Canvas-File"

	// ContentTypeProblem is RFC 9457's media type for error bodies.
	ContentTypeProblem = "application/problem+json"
	ContentTypeJSON    = "application/json"
	ContentTypeYAML    = "application/yaml"
	ContentTypeSSE     = "text/event-stream"

	// MaxBodySize bounds request bodies; larger ones get 413.
	MaxBodySize = oda.MaxFileSize

	// BodyFileName is the file name of a request body whose client named none.
	BodyFileName = "request body"

	// HeaderCreated is "true" on a NATS micro apply reply that created the
	// Component (HTTP answers 201 instead).
	HeaderCreated = "Canvas-Created"

	// DryRunAll asks an apply to check everything and store nothing: the
	// value of the HTTP API's query parameter QueryDryRun (as Kubernetes
	// spells it) and of the NATS micro API's header HeaderDryRun.
	DryRunAll    = "All"
	QueryDryRun  = "dryRun"
	HeaderDryRun = "Canvas-Dry-Run"
)

// ComponentList is the reply of a list: every Component with its status.
type ComponentList struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Items      []*oda.Component `json:"items"`
}

// KindComponentList is ComponentList.Kind.
const KindComponentList = "ComponentList"

// Watch event types, as Kubernetes watch names them. Bookmark marks the end
// of the initial state: every event before it is an Added of a Component
// that existed when the watch began.
const (
	WatchAdded    = "ADDED"
	WatchModified = "MODIFIED"
	WatchDeleted  = "DELETED"
	WatchBookmark = "BOOKMARK"
)

// WatchEvent is one server-sent event of a watch: the SSE event name is
// Type and the data line is the JSON of the whole WatchEvent. Object is nil
// for a Bookmark.
type WatchEvent struct {
	Type   string         `json:"type"`
	Object *oda.Component `json:"object,omitzero"`
	// Revision is the canvas's combined revision of the change, for
	// in-process subscribers (the kube API's resourceVersion), not sent:
	// the desired-state store's revision plus the status store's, as the
	// fan-out had seen them when it emitted the event, so a status-only
	// change raises it too and it never decreases while the process runs.
	// An event of Subscribe's snapshot carries its object's own desired
	// and status revisions summed (at most the snapshot's), its BOOKMARK
	// the snapshot's.
	Revision uint64 `json:"-"`
}

// Event is one thing the reconciler did or saw for a Component, as
// Kubernetes events read: repeats of the same event are folded into one
// with a Count and the first and last time seen.
type Event struct {
	Type           string    `json:"type"`
	Reason         string    `json:"reason"`
	Message        string    `json:"message"`
	Count          int       `json:"count"`
	FirstTimestamp time.Time `json:"firstTimestamp"`
	LastTimestamp  time.Time `json:"lastTimestamp"`
}

// Event types.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// EventList is the reply of GET /v1/components/{ns}/{name}/events.
type EventList struct {
	Items []Event `json:"items"`
}

// Problem is an RFC 9457 problem details body, with two extensions: Errors
// (the field errors of an invalid Component) and the resource versions of
// a conflict.
type Problem struct {
	Type     string `json:"type,omitzero"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitzero"`
	Instance string `json:"instance,omitzero"`

	Errors                 oda.ErrorList `json:"errors,omitzero"`
	CurrentResourceVersion string        `json:"currentResourceVersion,omitzero"`
	GivenResourceVersion   string        `json:"givenResourceVersion,omitzero"`
}

// Error makes a Problem usable as an error: the detail, then each field
// error on its own line.
func (p *Problem) Error() string {
	var b strings.Builder
	if p.Detail != "" {
		b.WriteString(p.Detail)
	} else {
		fmt.Fprintf(&b, "%d %s", p.Status, p.Title)
	}
	for i := range p.Errors {
		b.WriteString("\n")
		b.WriteString(p.Errors[i].Error())
	}
	return b.String()
}

// Problem types (RFC 9457 "type" URIs, relative to the API).
const (
	ProblemInvalid     = "/problems/invalid-component"
	ProblemConflict    = "/problems/conflict"
	ProblemNotFound    = "/problems/not-found"
	ProblemTooLarge    = "/problems/body-too-large"
	ProblemBadInput    = "/problems/bad-request"
	ProblemInternal    = "/problems/internal"
	ProblemUnavailable = "/problems/unavailable"
)

// Readiness is the body of /readyz: each named check and its error, if any.
type Readiness struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

// Micro API (NATS) endpoint names under subject.CanvasAPIPrefix: the
// subject of an operation is canvas.api.components.{op}.
const (
	MicroGroup  = "components"
	MicroGet    = "get"
	MicroList   = "list"
	MicroApply  = "apply"
	MicroDelete = "delete"
	MicroEvents = "events"
	MicroStatus = "status"
)

// MicroRef names one Component in a micro request (get, delete, events).
type MicroRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// ResourceVersion, when set on delete, makes it conditional.
	ResourceVersion string `json:"resourceVersion,omitzero"`
}

// MicroListRequest is the body of a micro list; empty Namespace lists all.
type MicroListRequest struct {
	Namespace string `json:"namespace,omitzero"`
}

// WatchSubject is the core NATS subject on which the server publishes every
// WatchEvent after it happened, for clients of the micro API that watch:
// canvas.api.watch.components.{namespace}.{name}. No micro endpoint listens
// there, so the events never reach the service.
func WatchSubject(namespace, name string) string {
	return subject.CanvasAPI("watch", MicroGroup, namespace, name)
}

// WatchWildcard matches the watch events of every Component.
var WatchWildcard = subject.CanvasAPI("watch", MicroGroup, ">")

// WatchEndedSubject is where the server announces that its stream of watch
// events broke or (re)started, so changes may have gone unpublished: every
// NATS watcher subscribes to it beside its watch subject and, on a message
// there, ends its watch with the same error as an HTTP stream that ended,
// and its caller lists again. It lies outside WatchWildcard.
var WatchEndedSubject = subject.CanvasAPI("watch", "ended")
