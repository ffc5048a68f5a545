package latticeadmin

import (
	"bytes"
	"encoding/json"
)

// The payload types below follow the upstream Rust structs field by field,
// in their declaration order, because serde writes fields in that order.
// Option<String> is a *string with omitempty (None is left out, Some("")
// is not); Option<map> is a map with omitzero (None is left out, an empty
// map is {}); a plain Option with no skip is written as null.

// CtlResponse is the envelope of every control interface reply.
type CtlResponse[T any] struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	// Response is left out when the host sent none.
	Response *T `json:"response,omitempty"`
}

// Host is one host's answer to host.ping.
type Host struct {
	RPCHost       *string           `json:"rpc_host,omitempty"`
	CtlHost       *string           `json:"ctl_host,omitempty"`
	FriendlyName  string            `json:"friendly_name"`
	ID            string            `json:"id"`
	JSDomain      *string           `json:"js_domain,omitempty"`
	Labels        map[string]string `json:"labels"`
	Lattice       string            `json:"lattice"`
	UptimeHuman   *string           `json:"uptime_human,omitempty"`
	UptimeSeconds uint64            `json:"uptime_seconds"`
	Version       *string           `json:"version,omitempty"`
}

// HostInventory is a host's answer to host.get, and the data of its
// host_heartbeat event.
type HostInventory struct {
	Components    []ComponentDescription `json:"components"`
	Providers     []ProviderDescription  `json:"providers"`
	HostID        string                 `json:"host_id"`
	FriendlyName  string                 `json:"friendly_name"`
	Labels        map[string]string      `json:"labels"`
	Version       string                 `json:"version"`
	UptimeHuman   string                 `json:"uptime_human"`
	UptimeSeconds uint64                 `json:"uptime_seconds"`
}

// UnmarshalJSON accepts "actors", the pre-1.0 name of "components", as
// upstream does.
func (inv *HostInventory) UnmarshalJSON(b []byte) error {
	type plain HostInventory
	var aux struct {
		plain
		Actors []ComponentDescription `json:"actors"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*inv = HostInventory(aux.plain)
	if inv.Components == nil && aux.Actors != nil {
		inv.Components = aux.Actors
	}
	return nil
}

// ComponentDescription is one component in a HostInventory.
type ComponentDescription struct {
	ID           string            `json:"id"`
	ImageRef     string            `json:"image_ref"`
	Name         *string           `json:"name,omitempty"`
	Annotations  map[string]string `json:"annotations,omitzero"`
	Revision     int32             `json:"revision"`
	MaxInstances uint32            `json:"max_instances"`
	// Limits is written as null when the component has none.
	Limits map[string]string `json:"limits"`
}

// ProviderDescription is one capability provider in a HostInventory.
type ProviderDescription struct {
	ID          string            `json:"id"`
	ImageRef    *string           `json:"image_ref,omitempty"`
	Name        *string           `json:"name,omitempty"`
	Revision    int32             `json:"revision"`
	Annotations map[string]string `json:"annotations,omitzero"`
}

// DefaultLinkName is the name of a link that was given none.
const DefaultLinkName = "default"

// Link is an interface link between a source and a target, as link.get
// lists them.
type Link struct {
	SourceID     string   `json:"source_id"`
	Target       string   `json:"target"`
	Name         string   `json:"name"`
	WitNamespace string   `json:"wit_namespace"`
	WitPackage   string   `json:"wit_package"`
	Interfaces   []string `json:"interfaces"`
	SourceConfig []string `json:"source_config"`
	TargetConfig []string `json:"target_config"`
}

// UnmarshalJSON defaults a missing name to DefaultLinkName as upstream does.
func (l *Link) UnmarshalJSON(b []byte) error {
	type plain Link
	p := plain{Name: DefaultLinkName}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*l = Link(p)
	return nil
}

// HostLabel is the body of label.put.
type HostLabel struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// HostLabelIdentifier is the body of label.del.
type HostLabelIdentifier struct {
	Key string `json:"key"`
}

// CloudEvent is the CloudEvents 1.0 envelope of every host event, with its
// data kept as sent.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Source          string          `json:"source"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Time            string          `json:"time,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
}

// Marshal encodes v as serde_json does: compact, in field order, without
// Go's escaping of <, > and &.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// AnnotationAppSpec is the annotation wadm puts on every component and
// provider it manages, naming the application (CONTROL-INTERFACE.md, the
// scale example).
const AnnotationAppSpec = "wasmcloud.dev/appspec"
