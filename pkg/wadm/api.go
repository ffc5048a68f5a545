package wadm

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Header and content types of a model put.
const (
	// ContentTypeHeader is the NATS header wadm reads to pick the manifest
	// format of a put.
	ContentTypeHeader = "Content-Type"
	// ContentTypeJSON and ContentTypeYAML are the two formats wadm accepts.
	ContentTypeJSON = "application/json"
	ContentTypeYAML = "application/yaml"
	// EventManifestPublished and EventManifestUnpublished are the cloudevent
	// types wadm emits on deploy and undeploy.
	EventManifestPublished   = "com.wadm.manifest_published"
	EventManifestUnpublished = "com.wadm.manifest_unpublished"
)

// ResultError is the result every wadm reply type may carry.
const ResultError = "error"

// PutResult is the outcome of a put.
type PutResult string

const (
	PutResultError      PutResult = ResultError
	PutResultCreated    PutResult = "created"
	PutResultNewVersion PutResult = "newversion"
)

// GetResult is the outcome of get, list and versions.
type GetResult string

const (
	GetResultError    GetResult = ResultError
	GetResultSuccess  GetResult = "success"
	GetResultNotFound GetResult = "notfound"
)

// DeployResult is the outcome of deploy and undeploy.
type DeployResult string

const (
	DeployResultError        DeployResult = ResultError
	DeployResultAcknowledged DeployResult = "acknowledged"
	DeployResultNotFound     DeployResult = "notfound"
)

// DeleteResult is the outcome of a delete.
type DeleteResult string

const (
	DeleteResultDeleted DeleteResult = "deleted"
	DeleteResultError   DeleteResult = ResultError
	DeleteResultNoop    DeleteResult = "noop"
)

// StatusResult is the outcome of a status request.
type StatusResult string

const (
	StatusResultError    StatusResult = ResultError
	StatusResultOK       StatusResult = "ok"
	StatusResultNotFound StatusResult = "notfound"
)

// Field order in the structs below is wadm's serialization order; the JSON
// is byte for byte what wadm (serde_json) writes.

// PutModelResponse answers model.put.
type PutModelResponse struct {
	Result         PutResult `json:"result"`
	TotalVersions  int       `json:"total_versions"`
	CurrentVersion string    `json:"current_version"`
	Message        string    `json:"message"`
	Name           string    `json:"name"`
}

// GetModelRequest asks model.get.{name} for one version ("" = current).
type GetModelRequest struct {
	Version string `json:"version,omitempty"`
}

// GetModelResponse answers model.get.{name}.
type GetModelResponse struct {
	Result   GetResult `json:"result"`
	Message  string    `json:"message"`
	Manifest *Manifest `json:"manifest,omitempty"`
}

// ListModelsResponse answers model.get (no name).
type ListModelsResponse struct {
	Result  GetResult      `json:"result"`
	Message string         `json:"message"`
	Models  []ModelSummary `json:"models"`
}

// MarshalJSON writes an empty list as [] as wadm does.
func (r ListModelsResponse) MarshalJSON() ([]byte, error) {
	type plain ListModelsResponse
	if r.Models == nil {
		r.Models = []ModelSummary{}
	}
	return marshalJSON(plain(r))
}

// ModelSummary describes one application in a list.
type ModelSummary struct {
	Name            string  `json:"name"`
	Version         string  `json:"version"`
	Description     *string `json:"description"`
	DeployedVersion *string `json:"deployed_version"`
	DetailedStatus  Status  `json:"detailed_status"`
	// Status is the deprecated summary; wadm shows waiting as undeployed.
	Status StatusType `json:"status"`
	// StatusMessage is deprecated alongside Status.
	StatusMessage *string `json:"status_message"`
}

// VersionResponse answers model.versions.{name}.
type VersionResponse struct {
	Result   GetResult     `json:"result"`
	Message  string        `json:"message"`
	Versions []VersionInfo `json:"versions"`
}

// MarshalJSON writes an empty list as [] as wadm does.
func (r VersionResponse) MarshalJSON() ([]byte, error) {
	type plain VersionResponse
	if r.Versions == nil {
		r.Versions = []VersionInfo{}
	}
	return marshalJSON(plain(r))
}

// VersionInfo is one stored version, in creation order.
type VersionInfo struct {
	Version  string `json:"version"`
	Deployed bool   `json:"deployed"`
}

// DeployModelRequest asks model.deploy.{name} for a version; nil (or
// "latest") means the current version.
type DeployModelRequest struct {
	Version *string `json:"version"`
}

// DeployModelResponse answers model.deploy and model.undeploy.
type DeployModelResponse struct {
	Result  DeployResult `json:"result"`
	Message string       `json:"message"`
	Name    string       `json:"name"`
	Version *string      `json:"version"`
}

// DeleteModelRequest asks model.del.{name} to delete one version; nil
// deletes them all.
type DeleteModelRequest struct {
	Version *string `json:"version"`
}

// DeleteModelResponse answers model.del.{name}.
type DeleteModelResponse struct {
	Result   DeleteResult `json:"result"`
	Message  string       `json:"message"`
	Undeploy bool         `json:"undeploy"`
}

// StatusResponse answers model.status.{name}.
type StatusResponse struct {
	Result  StatusResult `json:"result"`
	Message string       `json:"message"`
	Status  *Status      `json:"status,omitempty"`
}

// Status is an application's status, as replied and as published on
// wadm.status.{lattice}.{name}.
type Status struct {
	Info    StatusInfo     `json:"status"`
	Scalers []ScalerStatus `json:"scalers,omitempty"`
	// Version is deprecated upstream and always written as "".
	Version string `json:"version"`
	// Components is deprecated upstream and always written as [].
	Components []ComponentStatus `json:"components"`
}

// MarshalJSON writes the deprecated components list as [] as wadm does.
func (s Status) MarshalJSON() ([]byte, error) {
	type plain Status
	if s.Components == nil {
		s.Components = []ComponentStatus{}
	}
	return marshalJSON(plain(s))
}

// NewStatus builds a Status the way wadm does (deprecated fields empty).
func NewStatus(info StatusInfo, scalers []ScalerStatus) Status {
	return Status{Info: info, Scalers: scalers}
}

// ComponentStatus is the deprecated per-component status.
type ComponentStatus struct {
	Name   string        `json:"name"`
	Type   string        `json:"type"`
	Info   StatusInfo    `json:"status"`
	Traits []TraitStatus `json:"traits,omitempty"`
}

// TraitStatus is the deprecated per-trait status.
type TraitStatus struct {
	Type string     `json:"type"`
	Info StatusInfo `json:"status"`
}

// ScalerStatus is the status of one of wadm's scalers. Kind and Name come
// from wadm's scaler implementations and are opaque.
type ScalerStatus struct {
	ID   string     `json:"id"`
	Kind string     `json:"kind"`
	Name string     `json:"name"`
	Info StatusInfo `json:"status"`
}

// Scaler kinds wadm reports.
const (
	ScalerKindSpread = "SpreadScaler"
	ScalerKindDaemon = "DaemonScaler"
	ScalerKindLink   = "LinkScaler"
	ScalerKindConfig = "ConfigScaler"
	ScalerKindSecret = "SecretScaler"
)

// SpreadUnsatisfied starts the message of a failed spreadscaler for each
// spread it cannot place: "Could not satisfy spread NAME for REF, n/m
// eligible hosts found." (wadm joins several with a space).
const SpreadUnsatisfied = "Could not satisfy spread "

// StatusInfo is a status type with an optional message.
type StatusInfo struct {
	Type    StatusType `json:"type"`
	Message string     `json:"message,omitempty"`
}

// UnmarshalJSON requires the type, as wadm's serde does (it always writes
// one): a message on a status subject without it is not wadm's.
func (s *StatusInfo) UnmarshalJSON(b []byte) error {
	var raw struct {
		Type    *StatusType `json:"type"`
		Message string      `json:"message"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw.Type == nil {
		return errors.New(`wadm status: no "type" (wadm writes one of waiting, undeployed, reconciling, deployed, failed, unhealthy)`)
	}
	*s = StatusInfo{Type: *raw.Type, Message: raw.Message}
	return nil
}

// StatusType is wadm's status vocabulary.
type StatusType string

const (
	StatusWaiting     StatusType = "waiting"
	StatusUndeployed  StatusType = "undeployed"
	StatusReconciling StatusType = "reconciling"
	StatusDeployed    StatusType = "deployed"
	StatusFailed      StatusType = "failed"
	StatusUnhealthy   StatusType = "unhealthy"
)

// UnmarshalJSON accepts wadm's input aliases (compensating, ready) and
// rejects unknown types, as wadm does.
func (s *StatusType) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("wadm status type: %w", err)
	}
	switch StatusType(v) {
	case StatusWaiting, StatusUndeployed, StatusReconciling, StatusDeployed, StatusFailed, StatusUnhealthy:
		*s = StatusType(v)
	case "compensating":
		*s = StatusReconciling
	case "ready":
		*s = StatusDeployed
	default:
		return fmt.Errorf("wadm status type: unknown %q", v)
	}
	return nil
}

// statusRank orders types by how much they dominate an aggregate (wadm's
// `Add` for StatusType): failed > undeployed > waiting > reconciling >
// unhealthy > deployed.
func statusRank(t StatusType) int {
	switch t {
	case StatusFailed:
		return 5
	case StatusUndeployed:
		return 4
	case StatusWaiting:
		return 3
	case StatusReconciling:
		return 2
	case StatusUnhealthy:
		return 1
	default:
		return 0
	}
}

// AggregateStatus combines scaler statuses into an application status as
// wadm does; no statuses at all is undeployed.
func AggregateStatus(types ...StatusType) StatusType {
	if len(types) == 0 {
		return StatusUndeployed
	}
	agg := types[0]
	for _, t := range types[1:] {
		if statusRank(t) > statusRank(agg) {
			agg = t
		}
	}
	return agg
}
