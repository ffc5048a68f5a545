package translate

import (
	"fmt"

	"github.com/wasmcanvas/wasmcanvas/pkg/version"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// canvas-bridge, the capability provider of the system application
// (pkg/bridge, cmd/canvas-bridge): the one place its provider id and its
// provider archive are named. Every Component's manifest links to it by
// BridgeName as a shared component; the system application declares it
// with SystemBridge.
const (
	// BridgeID is canvas-bridge's provider id on the lattice, set
	// explicitly so it does not move with the system application's name:
	// a host hands it to the bridge as provider_key, and wRPC calls to the
	// bridge go to {lattice}.{BridgeID}.
	BridgeID = "wasmcanvas-canvas-bridge"
	// BridgeRepository is the OCI repository the provider archive that
	// `make bridge-par` builds (bin/canvas-bridge.par.gz) is pushed to.
	BridgeRepository = "ghcr.io/wasmcanvas/canvas-bridge"
)

// BridgeConfigIssuer is the key of canvas-bridge's provider config naming
// the OpenID issuer whose tokens it verifies for wasmcanvas:identity, each
// Component's for its own audience; without it the bridge answers
// wasmcanvas:identity calls unavailable.
const BridgeConfigIssuer = "identity-issuer"

// BridgeImage is the reference of canvas-bridge's archive for release v.
func BridgeImage(v string) string { return BridgeRepository + ":" + v }

// SystemBridge is canvas-bridge's component in the system application: a
// capability provider with id BridgeID running the archive at image, an
// OCI reference or a file:// URL of bin/canvas-bridge.par.gz (a host must
// allow file loads for the latter); "" means BridgeImage of this build's
// version.
func SystemBridge(image string) (wadm.Component, error) {
	if image == "" {
		image = BridgeImage(version.Version)
	}
	ref, err := Artefact(image, "")
	if err != nil {
		return wadm.Component{}, fmt.Errorf("canvas-bridge archive: %w", err)
	}
	return wadm.Component{
		Name:       BridgeName,
		Type:       wadm.ComponentTypeCapability,
		Properties: wadm.Properties{Image: ref, ID: BridgeID},
	}, nil
}
