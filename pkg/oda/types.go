package oda

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// API versions of the Component resource this package reads. APIVersionV1 is
// the hub: Parse always returns it, Convert and Marshal produce the others.
const (
	Group             = "oda.tmforum.org"
	Kind              = "Component"
	APIVersionV1      = Group + "/v1"
	APIVersionV1beta4 = Group + "/v1beta4"
	APIVersionV1beta3 = Group + "/v1beta3"
)

// APIVersions lists the accepted apiVersion values, newest first.
var APIVersions = []string{APIVersionV1, APIVersionV1beta4, APIVersionV1beta3}

const (
	// DefaultNamespace is where a Component lands when metadata.namespace is
	// empty; the reference canvas installs components there.
	DefaultNamespace = "components"

	// AnnotationImplementations names where each `implementation` of the
	// Component comes from: a JSON object of implementation name to an OCI
	// reference or a file:// path of a Wasm component. The ODA spec has no
	// field for a Wasm artefact and must not change, hence an annotation.
	AnnotationImplementations = "wasmcanvas.io/implementations"

	// AnnotationPlacement says where the Component's implementations run:
	// replicas per edge site and/or per set of host labels, as JSON (see
	// Placement). Without it an implementation runs once, anywhere.
	AnnotationPlacement = "wasmcanvas.io/placement"

	// AnnotationManagedFields holds the Component's server-side apply field
	// ownership (metadata.managedFields as JSON), which the kube API keeps
	// and serves as metadata.managedFields: server bookkeeping, never
	// something a user applies.
	AnnotationManagedFields = "apply.wasmcanvas.io/managed-fields"

	// SiteLabel is the host label naming an edge site: `canvas edge
	// bootstrap --site NAME` gives the site's hosts site=NAME, and a
	// placement's sites select hosts by it.
	SiteLabel = "site"

	// LabelComponentName is the label the reference canvas puts on a
	// Component and on everything that belongs to it.
	LabelComponentName = "oda.tmforum.org/componentName"

	// MaxFileSize bounds the input Parse accepts. Real Components are a few
	// KiB; the bound keeps a stray binary or log file from being parsed.
	MaxFileSize = 4 << 20
	// MaxDepth is how deeply a Component's values may nest (no Component
	// is deeper than a dozen levels); Parse refuses deeper documents.
	MaxDepth = 64
)

// Component is an ODA Component in its oda.tmforum.org/v1 shape. JSON names
// follow the upstream CRD exactly. APIVersion records the version the value
// is rendered as by Marshal (see Convert); the fields are always v1.
type Component struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Metadata   ObjectMeta       `json:"metadata"`
	Spec       ComponentSpec    `json:"spec"`
	Status     *ComponentStatus `json:"status,omitzero"`
}

// Key is the key of the Component, with the namespace defaulted as Parse
// does. It is not validated: Parse has done that for a parsed Component.
func (c *Component) Key() Key {
	ns := c.Metadata.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	return Key{Namespace: ns, Name: c.Metadata.Name}
}

// DeepCopy returns an independent copy of c.
func (c *Component) DeepCopy() *Component {
	if c == nil {
		return nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("oda: DeepCopy: a Component must always marshal: %v", err))
	}
	out := new(Component)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		panic(fmt.Sprintf("oda: DeepCopy: a marshalled Component must always unmarshal: %v", err))
	}
	return out
}

// ObjectMeta is the subset of Kubernetes object metadata a Component file or
// the canvas API carries.
type ObjectMeta struct {
	Name                       string            `json:"name,omitzero"`
	GenerateName               string            `json:"generateName,omitzero"`
	Namespace                  string            `json:"namespace,omitzero"`
	UID                        string            `json:"uid,omitzero"`
	ResourceVersion            string            `json:"resourceVersion,omitzero"`
	Generation                 int64             `json:"generation,omitzero"`
	CreationTimestamp          string            `json:"creationTimestamp,omitzero"`
	DeletionTimestamp          string            `json:"deletionTimestamp,omitzero"`
	DeletionGracePeriodSeconds *int64            `json:"deletionGracePeriodSeconds,omitzero"`
	Labels                     map[string]string `json:"labels,omitzero"`
	Annotations                map[string]string `json:"annotations,omitzero"`
	Finalizers                 []string          `json:"finalizers,omitzero"`
	OwnerReferences            []OwnerReference  `json:"ownerReferences,omitzero"`
}

// OwnerReference points at the object that owns this one (Kubernetes shape).
type OwnerReference struct {
	APIVersion         string `json:"apiVersion"`
	Kind               string `json:"kind"`
	Name               string `json:"name"`
	UID                string `json:"uid"`
	Controller         *bool  `json:"controller,omitzero"`
	BlockOwnerDeletion *bool  `json:"blockOwnerDeletion,omitzero"`
}

// ComponentSpec is spec of a v1 Component.
type ComponentSpec struct {
	ComponentMetadata  *ComponentMetadata  `json:"componentMetadata,omitzero"`
	CoreFunction       *CoreFunction       `json:"coreFunction,omitzero"`
	ManagementFunction *ManagementFunction `json:"managementFunction,omitzero"`
	SecurityFunction   *SecurityFunction   `json:"securityFunction,omitzero"`
	EventNotification  *EventNotification  `json:"eventNotification,omitzero"`
}

// DependentAPIsByFunction returns the dependent APIs of the core,
// management and security functions, in that order (nil where a function
// is absent): the order the status lists them in.
func (s *ComponentSpec) DependentAPIsByFunction() [3][]DependentAPI {
	var out [3][]DependentAPI
	if s.CoreFunction != nil {
		out[0] = s.CoreFunction.DependentAPIs
	}
	if s.ManagementFunction != nil {
		out[1] = s.ManagementFunction.DependentAPIs
	}
	if s.SecurityFunction != nil {
		out[2] = s.SecurityFunction.DependentAPIs
	}
	return out
}

// ExposedAPIsByFunction is DependentAPIsByFunction for exposed APIs.
func (s *ComponentSpec) ExposedAPIsByFunction() [3][]ExposedAPI {
	var out [3][]ExposedAPI
	if s.CoreFunction != nil {
		out[0] = s.CoreFunction.ExposedAPIs
	}
	if s.ManagementFunction != nil {
		out[1] = s.ManagementFunction.ExposedAPIs
	}
	if s.SecurityFunction != nil {
		out[2] = s.SecurityFunction.ExposedAPIs
	}
	return out
}

// ComponentMetadata describes the component (informational; v1beta3 kept
// these fields directly under spec).
type ComponentMetadata struct {
	ID                  string    `json:"id,omitzero"`
	Name                string    `json:"name,omitzero"`
	Version             string    `json:"version,omitzero"`
	Description         string    `json:"description,omitzero"`
	FunctionalBlock     string    `json:"functionalBlock,omitzero"`
	PublicationDate     string    `json:"publicationDate,omitzero"`
	Status              string    `json:"status,omitzero"`
	ETOM                []string  `json:"eTom,omitzero"`
	SID                 []string  `json:"SID,omitzero"`
	FunctionalFramework []string  `json:"functionalFramework,omitzero"`
	Maintainers         []Contact `json:"maintainers,omitzero"`
	Owners              []Contact `json:"owners,omitzero"`
}

// Contact is a maintainer or owner.
type Contact struct {
	Name  string `json:"name,omitzero"`
	Email string `json:"email,omitzero"`
	URL   string `json:"url,omitzero"`
}

// CoreFunction holds the component's business APIs.
type CoreFunction struct {
	ExposedAPIs   []ExposedAPI   `json:"exposedAPIs,omitzero"`
	DependentAPIs []DependentAPI `json:"dependentAPIs,omitzero"`
}

// ManagementFunction holds metrics and other management APIs.
type ManagementFunction struct {
	ExposedAPIs   []ExposedAPI   `json:"exposedAPIs,omitzero"`
	DependentAPIs []DependentAPI `json:"dependentAPIs,omitzero"`
}

// SecurityFunction holds the identity-related part of the component.
type SecurityFunction struct {
	// CanvasSystemRole is the role the canvas itself is granted on the
	// component's APIs (controllerRole before v1beta4).
	CanvasSystemRole  string             `json:"canvasSystemRole,omitzero"`
	ComponentRole     []ComponentRole    `json:"componentRole,omitzero"`
	ExposedAPIs       []ExposedAPI       `json:"exposedAPIs,omitzero"`
	DependentAPIs     []DependentAPI     `json:"dependentAPIs,omitzero"`
	SecretsManagement *SecretsManagement `json:"secretsManagement,omitzero"`
}

// ComponentRole is a statically declared role of the component.
type ComponentRole struct {
	Name        string `json:"name,omitzero"`
	Description string `json:"description,omitzero"`
}

// SecretsManagement asks the canvas for a secrets side-car. The CRD keeps
// unknown fields at this level (x-kubernetes-preserve-unknown-fields), so
// they are kept in Extra and written back as they came.
type SecretsManagement struct {
	Type        string              `json:"type,omitzero"`
	SideCar     *SecretsSideCar     `json:"sideCar,omitzero"`
	PodSelector *SecretsPodSelector `json:"podSelector,omitzero"`
	Extra       map[string]any      `json:"-"`
}

// SecretsSideCar configures the injected side-car.
type SecretsSideCar struct {
	Port *int `json:"port,omitzero"`
}

// SecretsPodSelector selects the pods that get the side-car.
type SecretsPodSelector struct {
	Namespace      string `json:"namespace,omitzero"`
	Name           string `json:"name,omitzero"`
	ServiceAccount string `json:"serviceaccount,omitzero"`
}

// ExposedAPI is an API the component serves. apiType, implementation, path
// and port may be given here or in Specification[0] (CRD rule); use the
// Effective* methods to read the value that applies.
type ExposedAPI struct {
	Name                 string                `json:"name"`
	ID                   string                `json:"id,omitzero"`
	Specification        []APISpecification    `json:"specification,omitzero"`
	APIType              string                `json:"apiType,omitzero"`
	APISDO               string                `json:"apiSDO,omitzero"`
	GatewayConfiguration *GatewayConfiguration `json:"gatewayConfiguration,omitzero"`
	Implementation       string                `json:"implementation,omitzero"`
	Path                 string                `json:"path,omitzero"`
	DeveloperUI          string                `json:"developerUI,omitzero"`
	Port                 *int                  `json:"port,omitzero"`
	Resources            []Resource            `json:"resources,omitzero"`
	Required             *bool                 `json:"required,omitzero"`
}

// APISpecification is one specification of an exposed API (one per OAS
// generation, e.g. TMF620 v4 and v5).
type APISpecification struct {
	URL                  string                `json:"url,omitzero"`
	Version              string                `json:"version,omitzero"`
	APIType              string                `json:"apiType,omitzero"`
	APISDO               string                `json:"apiSDO,omitzero"`
	GatewayConfiguration *GatewayConfiguration `json:"gatewayConfiguration,omitzero"`
	Implementation       string                `json:"implementation,omitzero"`
	Path                 string                `json:"path,omitzero"`
	DeveloperUI          string                `json:"developerUI,omitzero"`
	Port                 *int                  `json:"port,omitzero"`
	Resources            []Resource            `json:"resources,omitzero"`
}

// Resource is an item of `resources`. The CRD declares it as an object
// without properties, which Kubernetes treats as closed: only {} is valid.
type Resource map[string]any

// DependentAPI is an API the component calls. apiType may be given here or
// in Specification[0].
type DependentAPI struct {
	Name          string                      `json:"name"`
	ID            string                      `json:"id,omitzero"`
	Specification []DependentAPISpecification `json:"specification,omitzero"`
	APIType       string                      `json:"apiType,omitzero"`
	APISDO        string                      `json:"apiSDO,omitzero"`
	Resources     []Resource                  `json:"resources,omitzero"`
	Required      *bool                       `json:"required,omitzero"`
}

// DependentAPISpecification is one acceptable specification of a dependency.
type DependentAPISpecification struct {
	URL       string     `json:"url,omitzero"`
	Version   string     `json:"version,omitzero"`
	APIType   string     `json:"apiType,omitzero"`
	APISDO    string     `json:"apiSDO,omitzero"`
	Resources []Resource `json:"resources,omitzero"`
}

// GatewayConfiguration holds API gateway policies. Pointers keep the
// difference between "false"/"" and absent, which the upstream examples use.
type GatewayConfiguration struct {
	APIKeyVerification *APIKeyVerification `json:"apiKeyVerification,omitzero"`
	RateLimit          *RateLimit          `json:"rateLimit,omitzero"`
	Quota              *Quota              `json:"quota,omitzero"`
	OASValidation      *OASValidation      `json:"OASValidation,omitzero"`
	CORS               *CORS               `json:"CORS,omitzero"`
	Template           *string             `json:"template,omitzero"`
}

// APIKeyVerification enforces an API key.
type APIKeyVerification struct {
	Enabled  *bool   `json:"enabled,omitzero"`
	Location *string `json:"location,omitzero"`
}

// RateLimit limits requests per identifier and interval.
type RateLimit struct {
	Enabled    *bool   `json:"enabled,omitzero"`
	Identifier *string `json:"identifier,omitzero"`
	Limit      *string `json:"limit,omitzero"`
	Interval   *string `json:"interval,omitzero"`
}

// Quota limits the total requests per identifier.
type Quota struct {
	Identifier *string `json:"identifier,omitzero"`
	Limit      *string `json:"limit,omitzero"`
}

// OASValidation validates requests/responses against the API's OAS.
type OASValidation struct {
	RequestEnabled              *bool `json:"requestEnabled,omitzero"`
	ResponseEnabled             *bool `json:"responseEnabled,omitzero"`
	AllowUnspecifiedHeaders     *bool `json:"allowUnspecifiedHeaders,omitzero"`
	AllowUnspecifiedQueryParams *bool `json:"allowUnspecifiedQueryParams,omitzero"`
	AllowUnspecifiedCookies     *bool `json:"allowUnspecifiedCookies,omitzero"`
}

// CORS configures cross-origin requests.
type CORS struct {
	Enabled                 *bool                    `json:"enabled,omitzero"`
	AllowCredentials        *bool                    `json:"allowCredentials,omitzero"`
	AllowOrigins            *string                  `json:"allowOrigins,omitzero"`
	HandlePreflightRequests *HandlePreflightRequests `json:"handlePreflightRequests,omitzero"`
}

// HandlePreflightRequests configures CORS preflight answers.
type HandlePreflightRequests struct {
	Enabled      *bool   `json:"enabled,omitzero"`
	AllowHeaders *string `json:"allowHeaders,omitzero"`
	AllowMethods *string `json:"allowMethods,omitzero"`
	MaxAge       *int    `json:"maxAge,omitzero"`
}

// EventNotification lists the events the component publishes and consumes.
type EventNotification struct {
	PublishedEvents  []PublishedEvent  `json:"publishedEvents,omitzero"`
	SubscribedEvents []SubscribedEvent `json:"subscribedEvents,omitzero"`
}

// PublishedEvent is an event the component publishes through a hub.
type PublishedEvent struct {
	Name          string                        `json:"name,omitzero"`
	Description   string                        `json:"description,omitzero"`
	Specification []PublishedEventSpecification `json:"specification,omitzero"`
}

// PublishedEventSpecification locates the hub of a published event.
type PublishedEventSpecification struct {
	URL            string `json:"url,omitzero"`
	Version        string `json:"version,omitzero"`
	APIType        string `json:"apiType,omitzero"`
	Implementation string `json:"implementation,omitzero"`
	DeveloperUI    string `json:"developerUI,omitzero"`
	Hub            string `json:"hub,omitzero"`
	Port           *int   `json:"port,omitzero"`
}

// SubscribedEvent is an event the component consumes through a callback.
type SubscribedEvent struct {
	Name          string                         `json:"name,omitzero"`
	Description   string                         `json:"description,omitzero"`
	Specification []SubscribedEventSpecification `json:"specification,omitzero"`
}

// SubscribedEventSpecification locates the callback of a subscribed event.
type SubscribedEventSpecification struct {
	URL            string `json:"url,omitzero"`
	Version        string `json:"version,omitzero"`
	APIType        string `json:"apiType,omitzero"`
	Implementation string `json:"implementation,omitzero"`
	DeveloperUI    string `json:"developerUI,omitzero"`
	Callback       string `json:"callback,omitzero"`
	Port           *int   `json:"port,omitzero"`
	Query          string `json:"query,omitzero"`
}

// first returns Specification[0] or nil.
func (a *ExposedAPI) first() *APISpecification {
	if len(a.Specification) == 0 {
		return nil
	}
	return &a.Specification[0]
}

// APITypePrometheus is the apiType of a metrics API (Prometheus text
// format). Scrapers carry no tokens: such an API is never guarded.
const APITypePrometheus = "prometheus"

// Metrics reports whether e is a metrics API (apiType prometheus).
func (a *ExposedAPI) Metrics() bool {
	return strings.EqualFold(a.EffectiveAPIType(), APITypePrometheus)
}

// EffectiveAPIType is apiType at the root, else in specification[0].
func (a *ExposedAPI) EffectiveAPIType() string {
	if a.APIType != "" {
		return a.APIType
	}
	if s := a.first(); s != nil {
		return s.APIType
	}
	return ""
}

// EffectiveImplementation is implementation at the root, else in
// specification[0].
func (a *ExposedAPI) EffectiveImplementation() string {
	if a.Implementation != "" {
		return a.Implementation
	}
	if s := a.first(); s != nil {
		return s.Implementation
	}
	return ""
}

// EffectivePath is path at the root, else in specification[0].
func (a *ExposedAPI) EffectivePath() string {
	if a.Path != "" {
		return a.Path
	}
	if s := a.first(); s != nil {
		return s.Path
	}
	return ""
}

// EffectivePort is port at the root, else in specification[0]; 0 if none.
func (a *ExposedAPI) EffectivePort() int {
	if a.Port != nil {
		return *a.Port
	}
	if s := a.first(); s != nil && s.Port != nil {
		return *s.Port
	}
	return 0
}

// EffectiveDeveloperUI is developerUI at the root, else in specification[0].
func (a *ExposedAPI) EffectiveDeveloperUI() string {
	if a.DeveloperUI != "" {
		return a.DeveloperUI
	}
	if s := a.first(); s != nil {
		return s.DeveloperUI
	}
	return ""
}

// EffectiveAPIType is apiType at the root, else in specification[0].
func (a *DependentAPI) EffectiveAPIType() string {
	if a.APIType != "" {
		return a.APIType
	}
	if len(a.Specification) > 0 {
		return a.Specification[0].APIType
	}
	return ""
}

// MarshalJSON writes the known fields, then Extra.
func (s SecretsManagement) MarshalJSON() ([]byte, error) {
	type known SecretsManagement
	b, err := json.Marshal(known(s))
	if err != nil || len(s.Extra) == 0 {
		return b, err
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range s.Extra {
		if _, ok := m[k]; ok {
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("secretsManagement.%s: %w", k, err)
		}
		m[k] = raw
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads the known fields strictly and keeps the rest in Extra.
func (s *SecretsManagement) UnmarshalJSON(b []byte) error {
	type known SecretsManagement
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	knownFields := map[string]json.RawMessage{}
	extra := map[string]any{}
	for k, v := range all {
		switch k {
		case "type", "sideCar", "podSelector":
			knownFields[k] = v
		default:
			var x any
			dec := json.NewDecoder(bytes.NewReader(v))
			dec.UseNumber()
			if err := dec.Decode(&x); err != nil {
				return err
			}
			extra[k] = x
		}
	}
	kb, err := json.Marshal(knownFields)
	if err != nil {
		return err
	}
	var k known
	dec := json.NewDecoder(bytes.NewReader(kb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&k); err != nil {
		return err
	}
	*s = SecretsManagement(k)
	if len(extra) > 0 {
		s.Extra = extra
	}
	return nil
}
