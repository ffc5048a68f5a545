package deploy

import (
	"context"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// Deployer stores, starts and stops wadm applications and reports their
// status.
//
// # Notes
//
//   - Idempotence: every method may be called again with the same
//     arguments. Put of a version that is already stored is not an error
//     (PutResult.Created is false); Deploy of the deployed version,
//     Undeploy of an undeployed application and Delete of an absent one
//     succeed without changing anything.
//   - Versions are immutable: a name and version always denote the same
//     manifest. Callers derive the version from the manifest's content
//     (translate does), so an unchanged spec never yields a new version.
//   - Deploy is asynchronous: a nil error means the backend accepted the
//     request. The outcome shows up in Status and on Watch.
//   - Concurrency: implementations are safe for concurrent use. Calls for
//     different applications are independent; the caller serialises calls
//     for one application (reconcile never works on one key from two
//     workers), so a backend need not order them.
//   - Errors name the application and the operation, wrap the cause with
//     %w, and say what to check. A missing backend (no wadm answering) is
//     an error, never an empty status.
type Deployer interface {
	// Put stores m under m.Metadata.Name at version m.Version().
	Put(ctx context.Context, m *wadm.Manifest) (PutResult, error)
	// Deploy makes version the one deployed version of the application.
	Deploy(ctx context.Context, name, version string) error
	// Undeploy stops the application and keeps its stored versions.
	Undeploy(ctx context.Context, name string) error
	// Delete removes every stored version (undeploying the application);
	// an absent application is not an error.
	Delete(ctx context.Context, name string) error
	// Status reports the application's current status. An application
	// that does not exist reports Exists false and type undeployed.
	Status(ctx context.Context, name string) (AppStatus, error)
	// Watch delivers status changes of every application until ctx ends;
	// then the channel is closed. Events are hints to look again (level
	// triggering): a consumer must not rely on seeing every change, and
	// events carry no DeployedVersion.
	Watch(ctx context.Context) (<-chan StatusEvent, error)
}

// PutResult is the outcome of Put.
type PutResult struct {
	// Version is the stored version.
	Version string
	// Created is false when that version was already stored.
	Created bool
}

// AppStatus is an application's status in wadm's vocabulary.
type AppStatus struct {
	// Type is the aggregate status (wadm.StatusDeployed, ...).
	Type wadm.StatusType
	// Message is the backend's explanation, verbatim ("" when none).
	Message string
	// Scalers is the status of each scaler (wadm's per-part status).
	Scalers []wadm.ScalerStatus
	// Exists is false when no version of the application is stored.
	Exists bool
	// DeployedVersion is the deployed version, "" when none is deployed.
	DeployedVersion string
	// Hosts names the hosts running the application when the backend
	// knows them (nil otherwise).
	Hosts []string
	// IgnoresPlacement is true when the backend runs every component on
	// one node and accepts spread requirements without placing anything
	// (the embedded canvas).
	IgnoresPlacement bool
	// Code is the compiled code of each component, when the backend
	// compiles them itself (the embedded canvas; nil otherwise).
	Code []CodeStatus
}

// CodeStatus is the code one component serves from (runtime.Info).
type CodeStatus struct {
	// Component is the manifest's component name.
	Component string
	// Tier is runtime.TierBaseline (compiled quickly; the optimised code
	// is on its way) or runtime.TierOptimized.
	Tier string
	// BaselineCompile and OptimizedCompile are how long each compile
	// took; zero when it did not run here (optimised code from the
	// cache has its load time), or has not finished.
	BaselineCompile, OptimizedCompile time.Duration
	// BaselineCompiler is what compiled the baseline code, "winch" or
	// "cranelift" (runtime.Info.BaselineCompiler).
	BaselineCompiler string
	// CacheHit says the code serving was not compiled for this component
	// (runtime.Info.CacheHit).
	CacheHit bool
	// Error says why the optimised compile failed.
	Error string
	// StreamAdapter says the component's stream bytes cross into the host
	// in bulk (runtime.Info.StreamAdapter); StreamsRetyped that they
	// reach the adapter whole too (runtime.Info.StreamsRetyped).
	StreamAdapter, StreamsRetyped bool
}

// StatusEvent is one status change seen by Watch.
type StatusEvent struct {
	// App is the application name.
	App string
	// Status is the new status (DeployedVersion and Exists unset).
	Status AppStatus
}
