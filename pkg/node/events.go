package node

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/latticeadmin"
)

// Event names a host publishes on wasmbus.evt.{lattice}.{name}
// (CONTROL-INTERFACE.md, "Host events").
const (
	EventHostStarted          = "host_started"
	EventHostStopped          = "host_stopped"
	EventHostHeartbeat        = "host_heartbeat"
	EventLabelsChanged        = "labels_changed"
	EventComponentScaled      = "component_scaled"
	EventComponentScaleFailed = "component_scale_failed"
	EventProviderStarted      = "provider_started"
	EventProviderStartFailed  = "provider_start_failed"
	EventProviderStopped      = "provider_stopped"
	EventHealthCheckPassed    = "health_check_passed"
	EventHealthCheckStatus    = "health_check_status"
	EventLinkdefSet           = "linkdef_set"
	EventLinkdefSetFailed     = "linkdef_set_failed"
	EventLinkdefDeleted       = "linkdef_deleted"
	EventConfigSet            = "config_set"
	EventConfigDeleted        = "config_deleted"
)

// eventData is an event's data as a v1.9.2 host builds it: a
// serde_json::Value, whose objects are BTreeMaps, so every object's keys
// are written in sorted order whatever order the Rust code named them in.
// Go's maps encode the same way.
type eventData = map[string]any

// envelope is the CloudEvents 1.0 envelope of host event name with data,
// in the field order of the cloudevents crate's serializer.
func envelope(hostID, name string, at time.Time, id string, data any) ([]byte, error) {
	raw, err := serdeValue(data)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", name, err)
	}
	return latticeadmin.Marshal(latticeadmin.CloudEvent{
		SpecVersion: "1.0", ID: id, Type: subject.HostEventTypePrefix + name, Source: hostID,
		DataContentType: "application/json", Time: at.UTC().Format(time.RFC3339Nano), Data: raw,
	})
}

// serdeValue encodes v as serde_json::to_value followed by to_vec does
// (a heartbeat is already in that order):
// structs become objects with sorted keys, at every depth.
func serdeValue(v any) (json.RawMessage, error) {
	if h, ok := v.(heartbeat); ok {
		return latticeadmin.Marshal(h)
	}
	b, err := latticeadmin.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return latticeadmin.Marshal(generic)
}

// eventID is a UUID holding a ULID (48 bits of milliseconds, 80 random),
// as upstream's Uuid::from_u128(Ulid::new()).
func eventID(at time.Time) string {
	var u [16]byte
	ms := uint64(at.UnixMilli())
	binary.BigEndian.PutUint16(u[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(u[2:6], uint32(ms))
	_, _ = rand.Read(u[6:])
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func annotationsOrEmpty(a map[string]string) map[string]string {
	if a == nil {
		return map[string]string{}
	}
	return maps.Clone(a)
}

// componentScaled is the data of component_scaled for a component without
// embedded claims (this node reads none): no public_key, no claims.
func componentScaled(annotations map[string]string, hostID, imageRef, componentID string, maxInstances uint32) eventData {
	return eventData{
		"annotations":   annotationsOrEmpty(annotations),
		"host_id":       hostID,
		"image_ref":     imageRef,
		"max_instances": maxInstances,
		"component_id":  componentID,
	}
}

func componentScaleFailed(annotations map[string]string, hostID, imageRef, componentID string, maxInstances uint32, err error) eventData {
	d := componentScaled(annotations, hostID, imageRef, componentID, maxInstances)
	d["error"] = err.Error()
	return d
}

func providerStarted(annotations map[string]string, hostID, imageRef, providerID string) eventData {
	return eventData{"host_id": hostID, "image_ref": imageRef, "provider_id": providerID, "annotations": annotationsOrEmpty(annotations)}
}

func providerStartFailed(providerRef, providerID, hostID string, err error) eventData {
	return eventData{"provider_ref": providerRef, "provider_id": providerID, "host_id": hostID, "error": err.Error(), "link_name": latticeadmin.DefaultLinkName}
}

func providerStopped(annotations map[string]string, hostID, providerID, reason string) eventData {
	return eventData{"host_id": hostID, "provider_id": providerID, "annotations": annotationsOrEmpty(annotations), "reason": reason}
}

// healthCheck is the data of health_check_passed and health_check_status.
func healthCheck(hostID, providerID string) eventData {
	return eventData{"host_id": hostID, "provider_id": providerID}
}

func linkdefSet(l latticeadmin.Link) eventData {
	return eventData{
		"source_id": l.SourceID, "target": l.Target, "name": l.Name,
		"wit_namespace": l.WitNamespace, "wit_package": l.WitPackage,
		"interfaces": nonNil(l.Interfaces), "source_config": nonNil(l.SourceConfig), "target_config": nonNil(l.TargetConfig),
	}
}

func linkdefSetFailed(l latticeadmin.Link, err error) eventData {
	d := linkdefSet(l)
	d["error"] = err.Error()
	return d
}

// linkdefDeleted names the deleted link; target and interfaces only when
// the link existed.
func linkdefDeleted(req linkDelete, deleted *latticeadmin.Link) eventData {
	d := eventData{"source_id": req.SourceID, "name": req.Name, "wit_namespace": req.WitNamespace, "wit_package": req.WitPackage}
	if deleted != nil {
		d["target"] = deleted.Target
		d["interfaces"] = nonNil(deleted.Interfaces)
	}
	return d
}

func configEvent(name string) eventData { return eventData{"config_name": name} }

func labelsChanged(hostID string, labels map[string]string) eventData {
	return eventData{"host_id": hostID, "labels": maps.Clone(labels)}
}

func hostStarted(friendlyName string, labels map[string]string, version string) eventData {
	return eventData{"friendly_name": friendlyName, "labels": maps.Clone(labels), "uptime_seconds": 0, "version": version}
}

func hostStopped(labels map[string]string) eventData {
	return eventData{"labels": maps.Clone(labels)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// heartbeat is a HostInventory as serde_json::to_value writes it (the
// host_heartbeat data): the same fields with every object's keys sorted.
// It is what serdeValue(inventory) gives, without its decode and re-encode
// (a 1,000-component heartbeat costs a fraction of it).
type heartbeat struct {
	Components    []heartbeatComponent `json:"components"`
	FriendlyName  string               `json:"friendly_name"`
	HostID        string               `json:"host_id"`
	Labels        map[string]string    `json:"labels"`
	ProvidersOut  []heartbeatProvider  `json:"providers"`
	UptimeHuman   string               `json:"uptime_human"`
	UptimeSeconds uint64               `json:"uptime_seconds"`
	Version       string               `json:"version"`
}

type heartbeatComponent struct {
	Annotations  map[string]string `json:"annotations,omitzero"`
	ID           string            `json:"id"`
	ImageRef     string            `json:"image_ref"`
	Limits       map[string]string `json:"limits"`
	MaxInstances uint32            `json:"max_instances"`
	Name         *string           `json:"name,omitempty"`
	Revision     int32             `json:"revision"`
}

type heartbeatProvider struct {
	Annotations map[string]string `json:"annotations,omitzero"`
	ID          string            `json:"id"`
	ImageRef    *string           `json:"image_ref,omitempty"`
	Name        *string           `json:"name,omitempty"`
	Revision    int32             `json:"revision"`
}

func heartbeatOf(inv latticeadmin.HostInventory) heartbeat {
	h := heartbeat{
		Components: make([]heartbeatComponent, len(inv.Components)), ProvidersOut: make([]heartbeatProvider, len(inv.Providers)),
		FriendlyName: inv.FriendlyName, HostID: inv.HostID, Labels: inv.Labels,
		UptimeHuman: inv.UptimeHuman, UptimeSeconds: inv.UptimeSeconds, Version: inv.Version,
	}
	for i, c := range inv.Components {
		h.Components[i] = heartbeatComponent{Annotations: c.Annotations, ID: c.ID, ImageRef: c.ImageRef, Limits: c.Limits, MaxInstances: c.MaxInstances, Name: c.Name, Revision: c.Revision}
	}
	for i, p := range inv.Providers {
		h.ProvidersOut[i] = heartbeatProvider{Annotations: p.Annotations, ID: p.ID, ImageRef: p.ImageRef, Name: p.Name, Revision: p.Revision}
	}
	return h
}
