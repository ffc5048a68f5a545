package daemon_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm/wadmtest"
)

// TestDynamicRolesInStatus: the productcatalog example's
// userrolesandpermissions API (TMF672, played here on 127.0.0.1 behind
// the ingress URL) lists its permissionSpecificationSets; once the
// Component is up canvasd reads them, registers its listener on the
// API's /hub and shows both in status.identityConfig; an event posted to
// the callback adds a role there, and the system client was the caller.
func TestDynamicRolesInStatus(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	roles := []string{"Viewer"}
	var callback, authz string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/permissionSpecificationSet"):
			authz = r.Header.Get("Authorization")
			out := []map[string]string{}
			for _, n := range roles {
				out = append(out, map[string]string{"name": n, "@type": "PermissionSpecificationSet"})
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/hub"):
			var body map[string]string
			_ = json.NewDecoder(r.Body).Decode(&body)
			callback = body["callback"]
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"1"}`))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(fake.Close)

	dir := t.TempDir()
	ctx := daemontest.Context(t, time.Minute)
	d := startDaemon(ctx, t, daemon.Options{EmbeddedNATS: true, EmbeddedNATSPort: -1, StateDir: dir, Listen: "127.0.0.1:0",
		IngressURL: fake.URL, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	nc, err := nats.Connect(d.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	wadmtest.Run(t, nc, subject.DefaultLattice)
	if err := d.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	cl := mustHTTP(t, d.APIURL(), dir)
	if _, _, err := cl.Apply(ctx, "pc.yaml", []byte(productCatalog(t))); err != nil {
		t.Fatal(err)
	}
	const ns, name = "components", "ctk-productcatalogmanagement"
	waitIdentity := func(want []string) *oda.IdentityConfigStatus {
		t.Helper()
		var ic *oda.IdentityConfigStatus
		err := daemontest.WaitFor(20*time.Second, func() error {
			st, err := cl.Status(ctx, ns, name)
			if err != nil {
				return err
			}
			ic = st.IdentityConfig
			if ic == nil || !ic.ListenerRegistered || !slices.Equal(ic.DynamicRoles, want) {
				return daemontest.ErrNotYet
			}
			return nil
		})
		if err != nil {
			t.Fatalf("identityConfig %+v, want listenerRegistered and dynamic roles %v: %v", ic, want, err)
		}
		return ic
	}
	ic := waitIdentity([]string{"Viewer"})
	mu.Lock()
	cb, bearer := callback, authz
	mu.Unlock()
	if ic.RoleUpdates != identity.RoleUpdatesHub || !strings.HasPrefix(cb, d.APIURL()+identity.RoleEventsPath+"/") {
		t.Fatalf("roleUpdates %q, callback %q", ic.RoleUpdates, cb)
	}
	claims, err := d.Verifier().ForAudience(name).Verify(ctx, strings.TrimPrefix(bearer, "Bearer "))
	if err != nil || claims.Subject != identity.SystemClient || !slices.Contains(claims.Roles, "Admin") {
		t.Fatalf("the role API was called with %+v %v, want the system client with Admin", claims, err)
	}

	event := []byte(`{"eventType":"PermissionSpecificationSetCreationNotification","event":{"permissionSpecificationSet":{"name":"Editor","@baseType":"PermissionSpecificationSet"}}}`)
	resp, err := http.Post(cb, "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("event: %s", resp.Status)
	}
	waitIdentity([]string{"Viewer", "Editor"})
	// Without a token, canvasd's callback path answers nothing.
	resp, err = http.Post(d.APIURL()+identity.RoleEventsPath+"/x", "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("an unknown token: %s", resp.Status)
	}
}
