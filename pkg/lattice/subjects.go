package lattice

import (
	"fmt"
	"strings"
)

// Every NATS subject and KV bucket name wasmcanvas uses lives in this file.
// Upstream names follow wadm 0.21 and the wasmCloud 1.x control interface
// (shared reference WADM-API.md and CONTROL-INTERFACE.md).

// DefaultLattice is wasmCloud's default lattice name.
const DefaultLattice = "default"

// wadm API (request/reply; wadm queue-subscribes to {prefix}.>).
const (
	// DefaultWadmAPIPrefix is wadm's default --api-prefix.
	DefaultWadmAPIPrefix = "wadm.api"
	// WadmStatusStream and WadmEventsStream are the JetStream streams wadm
	// keeps its status and event subjects in.
	WadmStatusStream = "wadm_status"
	WadmEventsStream = "wadm_events"
	// wadm's own events, published on WadmEventSubject.
	WadmEventManifestPublished   = "manifest_published"
	WadmEventManifestUnpublished = "manifest_unpublished"
)

// WadmModelOp is the operation token of a wadm model API subject.
type WadmModelOp string

// The wadm model operations. WadmList is deprecated upstream (a bare JSON
// array reply); WadmGet without a name lists models in the current shape.
const (
	WadmPut      WadmModelOp = "put"
	WadmGet      WadmModelOp = "get"
	WadmList     WadmModelOp = "list"
	WadmVersions WadmModelOp = "versions"
	WadmDeploy   WadmModelOp = "deploy"
	WadmUndeploy WadmModelOp = "undeploy"
	WadmDelete   WadmModelOp = "del"
	WadmStatus   WadmModelOp = "status"
)

// WadmModelSubject is {prefix}.{lattice}.model.{op}[.{name}]; an empty prefix
// means DefaultWadmAPIPrefix and an empty name leaves the last token off
// (model.put, model.get as list).
func WadmModelSubject(prefix, lattice string, op WadmModelOp, name string) string {
	if prefix == "" {
		prefix = DefaultWadmAPIPrefix
	}
	s := prefix + "." + lattice + ".model." + string(op)
	if name != "" {
		s += "." + name
	}
	return s
}

// WadmAPIWildcard matches every wadm API request under prefix (all lattices).
func WadmAPIWildcard(prefix string) string {
	if prefix == "" {
		prefix = DefaultWadmAPIPrefix
	}
	return prefix + ".>"
}

// WadmStatusSubject is where wadm publishes an application's status:
// wadm.status.{lattice}.{app}.
func WadmStatusSubject(lattice, app string) string {
	return "wadm.status." + lattice + "." + app
}

// WadmStatusWildcard matches the status of every application in lattice.
func WadmStatusWildcard(lattice string) string {
	return "wadm.status." + lattice + ".*"
}

// WadmEventSubject is wadm.evt.{lattice}.{event}.
func WadmEventSubject(lattice, event string) string {
	return "wadm.evt." + lattice + "." + event
}

// WadmEventWildcard matches every wadm event in lattice.
func WadmEventWildcard(lattice string) string {
	return "wadm.evt." + lattice + ".>"
}

// Host control interface, wasmbus.ctl.v1.{lattice}.{op}[.{target}].
const (
	CtlPrefix = "wasmbus.ctl.v1"

	CtlHostPing       = "host.ping"
	CtlHostGet        = "host.get"
	CtlHostStop       = "host.stop"
	CtlComponentScale = "component.scale"
	CtlComponentUpd   = "component.update"
	CtlProviderStart  = "provider.start"
	CtlProviderStop   = "provider.stop"
	CtlLinkPut        = "link.put"
	CtlLinkDel        = "link.del"
	CtlLinkGet        = "link.get"
	CtlClaimsGet      = "claims.get"
	CtlConfigPut      = "config.put"
	CtlConfigGet      = "config.get"
	CtlConfigDel      = "config.del"
	CtlLabelPut       = "label.put"
	CtlLabelDel       = "label.del"
)

// CtlSubject is wasmbus.ctl.v1.{lattice}.{op}, followed by target (a host id
// or config name) when it is not empty.
func CtlSubject(lattice, op, target string) string {
	s := CtlPrefix + "." + lattice + "." + op
	if target != "" {
		s += "." + target
	}
	return s
}

// HostEventSubject is wasmbus.evt.{lattice}.{event}, e.g. component_scaled.
func HostEventSubject(lattice, event string) string {
	return "wasmbus.evt." + lattice + "." + event
}

// HostEventWildcard matches every host event in lattice.
func HostEventWildcard(lattice string) string {
	return "wasmbus.evt." + lattice + ".>"
}

// The canvas's own API, served as a NATS micro service.
const (
	CanvasServiceName = "wasmcanvas"
	CanvasAPIPrefix   = "canvas.api"
	CanvasAPIWildcard = CanvasAPIPrefix + ".>"
)

// CanvasAPISubject is canvas.api.{tokens...}, e.g. CanvasAPISubject("component",
// "apply").
func CanvasAPISubject(tokens ...string) string {
	return strings.Join(append([]string{CanvasAPIPrefix}, tokens...), ".")
}

// JetStream KV buckets owned by the canvas.
const (
	// ComponentsBucket holds desired state: key {namespace}.{name}, value the
	// ODA Component as applied (pkg/store).
	ComponentsBucket = "CANVAS_COMPONENTS"
	// StatusBucket holds each Component's ODA status under the same key,
	// apart from desired state (like a Kubernetes status subresource).
	StatusBucket = "CANVAS_STATUS"
)

// The canvas's event log: one JetStream stream over canvas.events.>.
const (
	// EventStream is the stream that keeps Component events.
	EventStream = "CANVAS_EVENTS"
	// EventWildcard matches the events of every Component.
	EventWildcard = eventSubjectPrefix + ".>"

	eventSubjectPrefix = "canvas.events"
)

// EventSubject is canvas.events.{namespace}.{name}: the subject the events
// of the Component with key {namespace}.{name} are recorded on.
func EventSubject(key string) string { return eventSubjectPrefix + "." + key }

const maxLatticeLen = 128

// ValidateLattice checks that name can stand as one subject token and in
// wadm's {lattice}-{name} keys: 1-128 ASCII letters, digits, '-' or '_'.
func ValidateLattice(name string) error {
	if name == "" {
		return fmt.Errorf("lattice name is empty: use %q unless the hosts were started with another", DefaultLattice)
	}
	if len(name) > maxLatticeLen {
		return fmt.Errorf("lattice name %.20q... is %d characters long: the limit is %d", name, len(name), maxLatticeLen)
	}
	if err := nameChars(name); err != nil {
		return fmt.Errorf("lattice name %q: %w", name, err)
	}
	return nil
}

// ValidateBucketName checks a JetStream KV bucket name: ASCII letters,
// digits, '-' and '_' only.
func ValidateBucketName(name string) error {
	if name == "" {
		return fmt.Errorf("bucket name is empty")
	}
	if err := nameChars(name); err != nil {
		return fmt.Errorf("bucket name %q: %w", name, err)
	}
	return nil
}

func nameChars(name string) error {
	for i, r := range name {
		if !nameChar(r) {
			return fmt.Errorf("character %q at offset %d is not allowed: use ASCII letters, digits, '-' and '_'", r, i)
		}
	}
	return nil
}

func nameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}
