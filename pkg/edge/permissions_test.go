package edge_test

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// TestRolePermissions connects to a hub started from lattice init's config
// with each role's generated credentials and checks what the hub lets the
// role publish and subscribe to.
func TestRolePermissions(t *testing.T) {
	t.Parallel()
	h := startHub(t)
	const lat = subject.DefaultLattice
	modelPut := subject.WadmModel("", lat, subject.WadmPut, "")
	hostEvent := under(subject.HostEventsAll(lat), "host_heartbeat")
	ctlPing := under(subject.CtlLatticeAll("", lat), "host.ping")
	wrpcCall := subject.WRPCInvoke(subject.WRPCPrefix(lat, "comp"), "wasi:http/incoming-handler@0.2.0", "handle")
	canvasList := subject.CanvasAPI("components", "list")
	otherLattice := under(subject.CtlLatticeAll("", "other"), "host.ping")
	tests := []struct {
		role    string
		sub     bool // subscribe rather than publish
		subject string
		allowed bool
	}{
		{"canvasd", false, modelPut, true},
		{"canvasd", false, ctlPing, true},
		{"canvasd", false, subject.ComponentEvents("ns.c"), true},
		{"canvasd", false, under(subject.KVAll(subject.APIKeysBucket), "0123abcd"), true}, // canvas apikey create|revoke
		{"canvasd", false, under(subject.KVAll(subject.IdentityKeysBucket), "kid"), true},
		{"client", false, under(subject.KVAll(subject.IdentityKeysBucket), "kid"), false},
		{"host", false, under(subject.KVAll(subject.IdentityClientsBucket), "c"), false},
		{"canvasd", true, subject.CanvasAPIAll, true},
		{"canvasd", true, subject.HostEventsAll(lat), true},
		{"canvasd", false, hostEvent, false},                     // cannot publish as a host
		{"canvasd", true, subject.CtlLatticeAll("", lat), false}, // cannot serve the control interface
		{"canvasd", true, subject.WRPCLatticeAll(lat), false},    // nor wRPC
		{"canvasd", false, otherLattice, false},
		{"wadm", false, ctlPing, true},
		{"wadm", true, subject.WadmLatticeAPI("", lat), true},
		{"wadm", false, under(subject.KVAll(subject.WadmManifestBucket), "default-app"), true},
		{"wadm", false, canvasList, false},
		{"wadm", true, subject.CtlLatticeAll("", lat), false},
		{"wadm", false, otherLattice, false},
		{"bridge", true, subject.WRPCLatticeAll(lat), true},
		{"bridge", false, modelPut, false},
		{"bridge", true, subject.CanvasAPIAll, false},
		{"host", false, hostEvent, true},
		{"host", true, subject.CtlLatticeAll("", lat), true},
		{"host", true, subject.WRPCLatticeAll(lat), true},
		{"host", false, wrpcCall, true},
		{"host", false, subject.JSReadStream(subject.KVStream(subject.HostConfigBucket(lat)))[0], true},
		{"host", false, under(subject.KVAll(subject.HostDataBucket(lat)), "LINKS"), true},
		{"host", true, subject.ProviderRPCAll(lat), true},
		{"host", false, subject.JSCreateStream(subject.KVStream(subject.WadmManifestBucket)), false},
		{"host", false, modelPut, false}, // cannot put wadm models
		{"host", false, under(subject.KVAll(subject.WadmManifestBucket), "default-app"), false},
		{"host", false, under(subject.JSAPIAll, "STREAM.DELETE.KV_"+subject.WadmManifestBucket), false},
		{"host", true, subject.CanvasAPIAll, false},
		{"host", false, canvasList, false},
		{"host", true, subject.EdgeSiteAll(lat, "a"), false},
		{"canvasd", false, subject.CanvasAPI("watch", "ended"), true},
		{"client", true, subject.CanvasAPI("watch", ">"), true},
		{"client", false, subject.CanvasAPI("watch", "ended"), false}, // cannot fake canvasd's watch events
		{"client", false, canvasList, true},
		{"client", false, modelPut, true},
		{"client", true, subject.CanvasAPIAll, false},
		{"client", true, subject.CtlLatticeAll("", lat), false},
		// canvasd's token service for canvas-bridge: only the bridge asks.
		{"bridge", false, subject.BridgeTokens(lat), true},
		{"canvasd", true, subject.BridgeTokens(lat), true},
		{"host", false, subject.BridgeTokens(lat), false},
		{"client", false, subject.BridgeTokens(lat), false},
		{"wadm", false, subject.BridgeTokens(lat), false},
		{"bridge", false, subject.BridgeTokens("other"), false},
	}
	for _, tt := range tests {
		op := "publish"
		if tt.sub {
			op = "subscribe"
		}
		t.Run(tt.role+" "+op+" "+tt.subject, func(t *testing.T) {
			t.Parallel()
			nc := connect(t, h.url, nats.UserCredentials(h.creds(tt.role)), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
			var err error
			if tt.sub {
				_, err = nc.SubscribeSync(tt.subject)
			} else {
				err = nc.Publish(tt.subject, []byte("x"))
			}
			if err != nil {
				t.Fatal(err)
			}
			// The server answers a violation before the PONG of this
			// flush, so LastError holds it once Flush returns.
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			err = nc.LastError()
			denied := err != nil && strings.Contains(err.Error(), "Permissions Violation")
			if denied == tt.allowed {
				t.Errorf("%s %s %s: allowed=%v, want %v (last error: %v)", tt.role, op, tt.subject, !denied, tt.allowed, err)
			}
		})
	}
}
