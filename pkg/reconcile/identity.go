package reconcile

import (
	"context"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// IdentityConfigurer registers a Component's identity with the issuer (an
// OAuth client named after it, the roles of its componentRole, its
// canvasSystemRole granted to the canvas's system client) and reports what
// it registered. Both methods are idempotent.
type IdentityConfigurer interface {
	Configure(ctx context.Context, c *oda.Component) (oda.IdentityConfigStatus, error)
	// Remove undoes Configure for a Component deleted or no longer
	// asking for security.
	Remove(ctx context.Context, namespace, name string) error
}
