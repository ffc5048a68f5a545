package edge

import (
	"github.com/nats-io/jwt/v2"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// Role is what a user of the lattice account does; it decides the user's
// publish and subscribe permissions.
type Role string

// The roles `canvas lattice init` issues credentials for. Sites get
// RoleHost's permissions plus their own edge subjects.
const (
	RoleCanvasd Role = "canvasd"
	RoleWadm    Role = "wadm"
	RoleBridge  Role = "bridge"
	RoleHost    Role = "host"
	// RoleClient is a person or tool using the lattice: the canvas CLI
	// over NATS, natscli, the lattice admin commands.
	RoleClient Role = "client"
)

// Roles in the order init writes their credentials.
var Roles = []Role{RoleCanvasd, RoleWadm, RoleBridge, RoleHost, RoleClient}

// Permissions returns the allow and deny lists of role in lattice. JetStream's
// management API is account-wide, so the roles that keep their own streams
// (canvasd, wadm) get all of $JS.API; hosts get read access to their config
// bucket only.
func Permissions(role Role, lattice string) jwt.Permissions {
	var p jwt.Permissions
	allow := func(l *jwt.Permission, subjects ...string) { l.Allow.Add(subjects...) }
	deny := func(l *jwt.Permission, subjects ...string) { l.Deny.Add(subjects...) }
	switch role {
	case RoleCanvasd:
		// The canvas's API and its KV state; wadm's API and the control
		// interface as a client. It may not act as a host: no host events,
		// no control-interface subscription, no wRPC serving.
		allow(&p.Pub, subject.JSAPIAll, subject.JSAckAll, subject.JSFlowAll,
			subject.KVAll(subject.ComponentsBucket), subject.KVAll(subject.StatusBucket), subject.KVAll(subject.APIKeysBucket),
			subject.KVAll(subject.IdentityKeysBucket), subject.KVAll(subject.IdentityClientsBucket), subject.KVAll(subject.IdentityRevokedBucket),
			subject.ComponentEventsAll, subject.WadmLatticeAPI("", lattice), subject.CtlLatticeAll("", lattice), subject.InboxAll,
			canvasWatchAll)
		deny(&p.Pub, subject.HostEventsAll(lattice))
		allow(&p.Sub, subject.InboxAll, subject.CanvasAPIAll, subject.ServiceAll, subject.BridgeTokens(lattice),
			subject.WadmAppStatus(lattice, ">"), subject.WadmEvent(lattice, ">"), subject.HostEventsAll(lattice))
		deny(&p.Sub, subject.CtlLatticeAll("", lattice), subject.WRPCLatticeAll(lattice))
	case RoleWadm:
		allow(&p.Pub, subject.JSAPIAll, subject.JSAckAll, subject.JSFlowAll,
			subject.KVAll(subject.WadmManifestBucket), subject.WadmLatticeAll(lattice), subject.CtlLatticeAll("", lattice), subject.InboxAll)
		allow(&p.Sub, subject.InboxAll, subject.WadmLatticeAll(lattice), subject.HostEventsAll(lattice))
		deny(&p.Sub, subject.CtlLatticeAll("", lattice))
	case RoleBridge:
		// canvas-bridge serves the canvas's WIT interfaces over wRPC and
		// answers into the callers' inboxes; it alone asks canvasd's token
		// service for a Component's access token (access-token).
		allow(&p.Pub, subject.WRPCLatticeAll(lattice), subject.InboxAll, subject.BridgeTokens(lattice))
		allow(&p.Sub, subject.WRPCLatticeAll(lattice), subject.InboxAll)
	case RoleHost:
		// A wasmCloud host and its providers: answers the control
		// interface, publishes host events, serves and makes wRPC calls,
		// talks to its providers, keeps the hosts' two KV buckets. It may
		// not put wadm models, touch other streams nor answer the canvas
		// API. (From the upstream notes; not yet run against a real
		// wasmCloud host.)
		allow(&p.Pub, subject.HostEventsAll(lattice), subject.WRPCLatticeAll(lattice), subject.ProviderRPCAll(lattice),
			subject.InboxAll, subject.JSAPIInfo, subject.JSFlowAll)
		for _, bucket := range []string{subject.HostConfigBucket(lattice), subject.HostDataBucket(lattice)} {
			allow(&p.Pub, subject.JSReadStream(subject.KVStream(bucket))...)
			allow(&p.Pub, subject.JSCreateStream(subject.KVStream(bucket)), subject.KVAll(bucket))
		}
		deny(&p.Pub, subject.WadmLatticeAPI("", lattice), subject.CanvasAPIAll)
		allow(&p.Sub, subject.CtlLatticeAll("", lattice), subject.WRPCLatticeAll(lattice), subject.ProviderRPCAll(lattice), subject.InboxAll)
		deny(&p.Sub, subject.CanvasAPIAll, subject.WadmLatticeAll(lattice))
	case RoleClient:
		// Calls the canvas API, wadm's API and the control interface and
		// watches events; serves nothing.
		// Watch events come from canvasd only.
		allow(&p.Pub, subject.CanvasAPIAll, subject.ServiceAll, subject.WadmLatticeAPI("", lattice), subject.CtlLatticeAll("", lattice))
		deny(&p.Pub, canvasWatchAll)
		allow(&p.Sub, subject.InboxAll, subject.HostEventsAll(lattice), canvasWatchAll,
			subject.WadmAppStatus(lattice, ">"), subject.WadmEvent(lattice, ">"))
	}
	return p
}

// canvasWatchAll matches the watch events canvasd publishes for the clients
// of its NATS API (pkg/api/wire.WatchSubject and WatchEndedSubject).
var canvasWatchAll = subject.CanvasAPI("watch", ">")

// sitePermissions are a host's plus the site's own subjects.
func sitePermissions(lattice, site string) jwt.Permissions {
	p := Permissions(RoleHost, lattice)
	p.Pub.Allow.Add(subject.EdgeSiteAll(lattice, site))
	p.Sub.Allow.Add(subject.EdgeSiteAll(lattice, site))
	return p
}
