package oda

// Deployment states written to status["summary/status"].deployment_status.
// The first five are the reference canvas's vocabulary, in the order its
// state machine walks them; DeploymentFailed is a wasmcanvas extension (the
// reference canvas has no failed state, it stays In-Progress: upstream #180).
const (
	DeploymentInProgressCompCon   = "In-Progress-CompCon"
	DeploymentInProgressIDConfOp  = "In-Progress-IDConfOp"
	DeploymentInProgressSecretMan = "In-Progress-SecretMan"
	DeploymentInProgressDepAPI    = "In-Progress-DepApi"
	DeploymentComplete            = "Complete"
	DeploymentFailed              = "Failed"
)

// StatusSummaryKey is the JSON key of the summary; it really contains a slash.
const StatusSummaryKey = "summary/status"

// ComponentStatus is status of a Component in the shape the reference canvas
// writes it, plus the wasmCloud key owned by wasmcanvas. Lists keep the
// difference between nil (key absent) and empty (written as []), as the
// reference canvas writes empty lists.
type ComponentStatus struct {
	CoreAPIs                  []APIStatus              `json:"coreAPIs,omitzero"`
	ManagementAPIs            []APIStatus              `json:"managementAPIs,omitzero"`
	SecurityAPIs              []APIStatus              `json:"securityAPIs,omitzero"`
	CoreDependentAPIs         []DependentAPIStatus     `json:"coreDependentAPIs,omitzero"`
	ManagementDependentAPIs   []DependentAPIStatus     `json:"managementDependentAPIs,omitzero"`
	SecurityDependentAPIs     []DependentAPIStatus     `json:"securityDependentAPIs,omitzero"`
	SecuritySecretsManagement *SecretsManagementStatus `json:"securitySecretsManagement,omitzero"`
	PublishedEvents           []EventStatus            `json:"publishedEvents,omitzero"`
	SubscribedEvents          []EventStatus            `json:"subscribedEvents,omitzero"`
	IdentityConfig            *IdentityConfigStatus    `json:"identityConfig,omitzero"`
	Summary                   *StatusSummary           `json:"summary/status,omitzero"`
	WasmCloud                 *WasmCloudStatus         `json:"wasmCloud,omitzero"`
}

// APIStatus is one exposed API entry (coreAPIs, managementAPIs, securityAPIs).
type APIStatus struct {
	Name           string `json:"name"`
	UID            string `json:"uid,omitzero"`
	Implementation string `json:"implementation,omitzero"`
	Path           string `json:"path,omitzero"`
	Port           int    `json:"port,omitzero"`
	IP             string `json:"ip,omitzero"`
	URL            string `json:"url,omitzero"`
	DeveloperUI    string `json:"developerUI,omitzero"`
	Ready          bool   `json:"ready"`
}

// DependentAPIStatus is one dependent API entry; URL is the resolved
// address of the providing API once ready. Message (a wasmcanvas
// extension) says why it is not ready when the canvas knows more than
// "not found yet", e.g. that a peer canvas's provider is gone.
type DependentAPIStatus struct {
	Name    string `json:"name"`
	UID     string `json:"uid,omitzero"`
	Ready   bool   `json:"ready"`
	URL     string `json:"url,omitzero"`
	Message string `json:"message,omitzero"`
}

// EventStatus is one published or subscribed event entry.
type EventStatus struct {
	Name  string `json:"name"`
	UID   string `json:"uid,omitzero"`
	Ready bool   `json:"ready"`
	URL   string `json:"url,omitzero"`
}

// SecretsManagementStatus is {} when secrets management is not requested.
type SecretsManagementStatus struct {
	Ready bool `json:"ready,omitzero"`
}

// IdentityConfigStatus says which identity provider configured the
// component and whether the role listener is registered.
type IdentityConfigStatus struct {
	IdentityProvider   string `json:"identityProvider"`
	ListenerRegistered bool   `json:"listenerRegistered"`
	// wasmcanvas extensions, set when the canvas registered the
	// component with its issuer: where, and what.
	Issuer   string `json:"issuer,omitzero"`
	ClientID string `json:"clientId,omitzero"`
	// Roles are the componentRole names registered for its API.
	Roles []string `json:"roles,omitzero"`
	// CanvasSystemRole was granted to SystemClient on its API.
	CanvasSystemRole string `json:"canvasSystemRole,omitzero"`
	SystemClient     string `json:"systemClient,omitzero"`
	// DynamicRoles are the roles read from its role API (partyrole or
	// userrolesandpermissions), registered beside Roles; RoleUpdates
	// says how their changes arrive: "hub" (the listener
	// ListenerRegistered names) or "polling" (the hub refused it).
	DynamicRoles []string `json:"dynamicRoles,omitzero"`
	RoleUpdates  string   `json:"roleUpdates,omitzero"`
}

// StatusSummary is status["summary/status"]. The *summary strings are
// space-joined URLs with a trailing space, as the reference canvas writes
// them. FailureReason and FailedPart are wasmcanvas extensions set only
// with DeploymentFailed.
type StatusSummary struct {
	CoreAPISummary                   string `json:"coreAPIsummary"`
	CoreDependentAPISummary          string `json:"coreDependentAPIsummary"`
	ManagementDependentAPISummary    string `json:"managementDependentAPIsummary"`
	SecurityDependentAPISummary      string `json:"securityDependentAPIsummary"`
	SecuritySecretsManagementSummary string `json:"securitySecretsManagementSummary"`
	ManagementAPISummary             string `json:"managementAPIsummary"`
	SecurityAPISummary               string `json:"securityAPIsummary"`
	DeveloperUISummary               string `json:"developerUIsummary"`
	DeploymentStatus                 string `json:"deployment_status"`
	FailureReason                    string `json:"failureReason,omitzero"`
	FailedPart                       string `json:"failedPart,omitzero"`
}

// WasmCloudStatus is the wasmCloud view of the Component: the wadm
// application it became and wadm's status of it, in wadm's vocabulary
// (deployed, reconciling, waiting, failed, unhealthy, undeployed).
type WasmCloudStatus struct {
	App                string   `json:"app"`
	Version            string   `json:"version,omitzero"`
	Status             string   `json:"status,omitzero"`
	Message            string   `json:"message,omitzero"`
	Hosts              []string `json:"hosts,omitzero"`
	ObservedGeneration int64    `json:"observedGeneration,omitzero"`
	// Sites is the replicas per site (per spread) of each implementation
	// with a placement, absent without one.
	Sites []SiteStatus `json:"sites,omitzero"`
	// Code is the compiled code each implementation serves from, when the
	// canvas compiles it itself (canvas up); absent on a lattice.
	Code []CodeStatus `json:"code,omitzero"`
}

// CodeStatus is the code one implementation serves from: baseline code,
// compiled quickly when the artefact was new, while the optimised code
// compiles, then the optimised code.
type CodeStatus struct {
	Implementation string `json:"implementation"`
	// Tier is "baseline" or "optimized".
	Tier string `json:"tier"`
	// BaselineCompile and OptimizedCompile are how long each compile took
	// (Go duration strings); absent when it did not run here or has not
	// finished.
	BaselineCompile  string `json:"baselineCompile,omitzero"`
	OptimizedCompile string `json:"optimizedCompile,omitzero"`
	// BaselineCompiler is what compiled the baseline code: winch
	// (wasmtime's baseline compiler) or cranelift.
	BaselineCompiler string `json:"baselineCompiler,omitzero"`
	// Cached says the code serving was not compiled for this
	// implementation: another of the same artefact, or this canvas's
	// compile cache, had it.
	Cached bool `json:"cached,omitzero"`
	// Error says why the optimised compile failed (the baseline code goes
	// on serving).
	Error string `json:"error,omitzero"`
	// StreamAdapter says the implementation's request and response bodies
	// cross into the canvas in bulk, through the runtime's stream adapter.
	StreamAdapter bool `json:"streamAdapter,omitzero"`
	// StreamsRetyped says the implementation's own types were retyped so
	// that its bodies reach the adapter whole; with StreamAdapter alone
	// they reach it element by element (the canvas log says why).
	StreamsRetyped bool `json:"streamsRetyped,omitzero"`
}

// Site states besides wadm's status types (deployed, reconciling, failed,
// ...), which a SiteStatus takes from the spreadscaler wadm reports.
const (
	// SiteRequested: wadm has reported nothing about this site's replicas
	// yet; Replicas is what was asked for.
	SiteRequested = "requested"
	// SiteIgnored: the backend runs every component on one node (the
	// embedded canvas) and does not place replicas on sites.
	SiteIgnored = "ignored"
)

// SiteStatus is the replicas of one implementation on one site or label
// selector (one wadm spread).
type SiteStatus struct {
	Implementation string `json:"implementation"`
	// Site is the spread's name: the site, or the selector's name.
	Site string `json:"site"`
	// Requirements are the host labels the replicas need.
	Requirements map[string]string `json:"requirements,omitzero"`
	// Replicas is the number asked for there.
	Replicas int `json:"replicas"`
	// State is wadm's status of the spread (deployed: Replicas run there;
	// failed: Message says why), or SiteRequested, or SiteIgnored.
	State   string `json:"state"`
	Message string `json:"message,omitzero"`
}
