package wire

// TM Forum Open API shapes the canvas-info service answers (TMF638 Service
// Inventory, TMF639 Resource Inventory), trimmed to what the reference
// canvas's services write. Peers exchange them too (pkg/peer).

// Paths of the canvas-info service (all under PathCanvasInfoRoot, answered
// without authentication as the reference canvas's in-cluster info service).
const (
	// PathResourceInventory is the TMF639 Resource Inventory of what the
	// canvas hosts: each Component a resource of category
	// CategoryODAComponent, each exposed API one of CategoryAPI.
	PathResourceInventory = "/canvas-info/tmf-api/resourceInventoryManagement/v5/resource"

	// HeaderTotalCount and HeaderResultCount are TMF630's paging headers:
	// the matches in all, and the items in this page.
	HeaderTotalCount  = "X-Total-Count"
	HeaderResultCount = "X-Result-Count"
)

// TMF639 resource categories.
const (
	CategoryODAComponent = "ODAComponent"
	CategoryAPI          = "API"
)

// TMF639 resource states (resourceStatus) the inventory reports: a
// Component Complete or an API ready is available; one in progress is
// standby; a Failed Component is alarm.
const (
	ResourceAvailable = "available"
	ResourceStandby   = "standby"
	ResourceAlarm     = "alarm"
)

// Characteristic names the inventory writes on API resources and a peer
// reads to resolve a dependency: the specification URL it is matched by,
// and the URL it is served at.
const (
	CharSpecification = "specification"
	CharURL           = "url"
	CharComponentName = "componentName"
	CharNamespace     = "namespace"
	CharSegment       = "segment"
	// CharCanvas names the canvas a registered (peer) service comes from.
	CharCanvas = "canvas"
	// CharOASSpecification is the TMF638 info service's name for the
	// specification URL (CharSpecification's twin).
	CharOASSpecification = "OAS Specification"
)

// Characteristic is one TMF6xx characteristic (StringCharacteristic).
type Characteristic struct {
	Name      string `json:"name"`
	ValueType string `json:"valueType,omitzero"`
	Value     string `json:"value"`
	Type      string `json:"@type,omitzero"`
}

// StringCharacteristic builds a Characteristic of value type string.
func StringCharacteristic(name, value string) Characteristic {
	return Characteristic{Name: name, ValueType: "string", Value: value, Type: "StringCharacteristic"}
}

// CharacteristicValue is the value of the characteristic named name ("" if none).
func CharacteristicValue(l []Characteristic, name string) string {
	for _, c := range l {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// Resource is one TMF639 Resource (a LogicalResource).
type Resource struct {
	ID                     string                 `json:"id"`
	Href                   string                 `json:"href"`
	Name                   string                 `json:"name"`
	Description            string                 `json:"description,omitzero"`
	Category               string                 `json:"category"`
	ResourceStatus         string                 `json:"resourceStatus"`
	ResourceSpecification  *ResourceRef           `json:"resourceSpecification,omitzero"`
	ResourceCharacteristic []Characteristic       `json:"resourceCharacteristic"`
	ResourceRelationship   []ResourceRelationship `json:"resourceRelationship,omitzero"`
	Type                   string                 `json:"@type"`
	BaseType               string                 `json:"@baseType,omitzero"`
}

// ResourceRef refers to a resource or resource specification.
type ResourceRef struct {
	ID   string `json:"id"`
	Href string `json:"href,omitzero"`
	Name string `json:"name,omitzero"`
	Type string `json:"@type"`
}

// ResourceRelationship ties a resource to another (an API to the Component
// exposing it: "exposedBy"; a Component to its APIs: "exposes").
type ResourceRelationship struct {
	RelationshipType string      `json:"relationshipType"`
	Resource         ResourceRef `json:"resource"`
	Type             string      `json:"@type,omitzero"`
}

// Service is one TMF638 Service: a dependent API of a Component (what a
// Component asks the info service for), or an API a peer canvas
// registered.
type Service struct {
	ID                    string           `json:"id"`
	Href                  string           `json:"href,omitzero"`
	Name                  string           `json:"name"`
	ServiceType           string           `json:"serviceType"`
	State                 string           `json:"state"`
	ServiceCharacteristic []Characteristic `json:"serviceCharacteristic"`
	Type                  string           `json:"@type"`
}

// TMF638 service states: resolved (a url the component may call) or not yet.
const (
	ServiceActive   = "active"
	ServiceInactive = "inactive"
)
