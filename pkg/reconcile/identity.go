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

// RoleFollower follows the roles a Component's role API (a security
// exposed API named partyrole or userrolesandpermissions) defines, once
// the API is up (identity.RoleListener).
type RoleFollower interface {
	// Follow starts or keeps following the API apiName of c at url and
	// says what is known now; it does not block on the network.
	Follow(c *oda.Component, apiName, url string) (roles []string, listenerRegistered bool, updates string)
	// Forget stops following the Component namespace/name.
	Forget(namespace, name string)
}

// followRoles follows comp's role API once the issuer registered comp and
// its APIs are up (identityConfig set), and writes what is known into st;
// a Component without a role API (or without security) is forgotten.
func (c *Controller) followRoles(comp *oda.Component, in statusInput, st *oda.ComponentStatus) {
	rf := c.opts.Roles
	if rf == nil {
		return
	}
	api, ok := oda.RoleAPI(comp)
	switch {
	case !ok:
		rf.Forget(comp.Metadata.Namespace, comp.Metadata.Name)
	case in.identity != nil && st.IdentityConfig != nil && api.EffectivePath() != "":
		ics := st.IdentityConfig
		ics.DynamicRoles, ics.ListenerRegistered, ics.RoleUpdates = rf.Follow(comp, api.Name, in.url(api.EffectivePath()))
	}
}
