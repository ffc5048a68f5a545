package daemon_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon/daemontest"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
)

// TestAPIAuthentication: the /v1 API answers 401 without credentials,
// serves the local admin credential and the embedded issuer's tokens with
// their roles (403 for a write with read only), keeps probes, metrics and
// the canvas info service open, and keeps the admin client across a
// restart.
func TestAPIAuthentication(t *testing.T) {
	t.Parallel()
	ctx := daemontest.Context(t, time.Minute)
	dir := t.TempDir()
	d := startDaemon(ctx, t, daemon.Options{EmbeddedNATS: true, EmbeddedNATSPort: -1, StateDir: dir, Listen: "127.0.0.1:0"})
	api := d.APIURL()
	admin, err := auth.ReadAdminToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.IssuerURL(), api+daemon.IssuerPath; got != want {
		t.Fatalf("issuer %q, want %q", got, want)
	}
	var md identity.Metadata
	if status := getJSON(t, api+daemon.IssuerPath+identity.DiscoveryPath, &md); status != 200 || md.Issuer != d.IssuerURL() || md.TokenEndpoint == "" {
		t.Fatalf("discovery: %d %+v", status, md)
	}
	token := func(id, secret string) string {
		t.Helper()
		tok, err := identity.ClientCredentials{TokenURL: md.TokenEndpoint, ClientID: id, Secret: secret}.AccessToken(ctx, identity.CanvasAudience)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	readerSecret, err := d.Issuer().RegisterClient(ctx, identity.ClientSpec{ID: "reader", Grants: map[string][]string{identity.CanvasAudience: {auth.RoleRead}}})
	if err != nil {
		t.Fatal(err)
	}
	reader := token("reader", readerSecret)
	adminJWT := token(identity.AdminClient, admin)

	components := api + wire.PathComponents
	tests := []struct {
		name, method, url, token string
		status                   int
	}{
		{"no credentials", "GET", components, "", 401},
		{"garbage", "GET", components, "garbage", 401},
		{"a wrong admin credential", "GET", components, admin[:len(admin)-2] + "xx", 401},
		{"admin credential reads", "GET", components, admin, 200},
		{"admin credential writes", "DELETE", components + "/default/nothing", admin, 404},
		{"admin client's token writes", "DELETE", components + "/default/nothing", adminJWT, 404},
		{"reader reads", "GET", components + "/default/nothing", reader, 404},
		{"reader may not write", "DELETE", components + "/default/nothing", reader, 403},
		{"clients need credentials", "GET", api + wire.PathClients, "", 401},
		{"clients need canvas:write", "GET", api + wire.PathClients, reader, 403},
		{"admin lists clients", "GET", api + wire.PathClients, admin, 200},
		{"the canvas's own client is not deleted", "DELETE", api + wire.PathClients + "/" + identity.SystemClient, admin, 409},
		{"healthz open", "GET", api + wire.PathHealthz, "", 200},
		{"metrics open", "GET", api + wire.PathMetrics, "", 200},
		{"canvas info open (no such component)", "GET", api + wire.PathCanvasInfo + "?componentName=x", "", 404},
	}
	for _, tc := range tests {
		req, _ := http.NewRequestWithContext(ctx, tc.method, tc.url, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s %s: %d, want %d", tc.name, tc.method, tc.url, resp.StatusCode, tc.status)
		}
		if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="canvas"`) {
			t.Errorf("%s: challenge %q", tc.name, resp.Header.Get("WWW-Authenticate"))
		}
	}

	// A restart on the same state: the same admin credential, and the
	// tokens signed before it still verify.
	if err := d.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	d2 := startDaemon(ctx, t, daemon.Options{EmbeddedNATS: true, EmbeddedNATSPort: -1, StateDir: dir, Listen: strings.TrimPrefix(api, "http://")})
	if again, _ := auth.ReadAdminToken(dir); again != admin {
		t.Fatal("restart made a new admin credential")
	}
	if _, err := d2.Verifier().Verify(ctx, reader); err != nil {
		t.Fatalf("a token of before the restart: %v", err)
	}
	token(identity.AdminClient, admin)
}

// checkIdentityConfig: a Component with a securityFunction is registered
// with the embedded issuer, its status says so, and the canvas's system
// client gets tokens for its API carrying its canvasSystemRole (Admin in
// the reference example).
func checkIdentityConfig(ctx context.Context, t *testing.T, d *daemon.Daemon, cl *client.HTTP, ns, name string) {
	t.Helper()
	st, err := cl.Status(ctx, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	ic := st.IdentityConfig
	aud := identity.ClientID(ns, name)
	if ic == nil || ic.IdentityProvider != identity.ProviderName || ic.Issuer != d.IssuerURL() || ic.ClientID != aud ||
		ic.CanvasSystemRole != "Admin" || ic.SystemClient != identity.SystemClient || ic.ListenerRegistered {
		t.Fatalf("identityConfig %+v", ic)
	}
	tok, err := d.TokenSource(identity.SystemClient).AccessToken(ctx, aud)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Verifier().ForAudience(aud).Verify(ctx, tok)
	if err != nil || !slices.Contains(c.Roles, "Admin") {
		t.Fatalf("the system client's token for %s: %+v %v", name, c, err)
	}
}

func TestNoAuthOnlyOnLoopback(t *testing.T) {
	t.Parallel()
	_, err := daemon.New(daemon.Options{StateDir: t.TempDir(), Listen: "0.0.0.0:7443", NoAuth: true})
	if err == nil || !strings.Contains(err.Error(), "--no-auth") {
		t.Fatalf("--no-auth on 0.0.0.0: %v", err)
	}
	if _, err := daemon.New(daemon.Options{StateDir: t.TempDir(), Listen: "127.0.0.1:0", NoAuth: true}); err != nil {
		t.Fatal(err)
	}
	// Keycloak registration needs a realm issuer, a client and its secret.
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, o := range []daemon.Options{
		{KeycloakAdminClient: "admin", KeycloakAdminSecretFile: secret},
		{KeycloakAdminClient: "admin", OIDCIssuer: "https://kc.example.org/realms/canvas"},
		{KeycloakAdminClient: "admin", KeycloakAdminSecretFile: secret, OIDCIssuer: "https://kc.example.org/canvas"},
	} {
		o.StateDir = t.TempDir()
		if _, err := daemon.New(o); err == nil || !strings.Contains(err.Error(), "--keycloak-admin-client") {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if _, err := daemon.New(daemon.Options{StateDir: t.TempDir(), KeycloakAdminClient: "admin", KeycloakAdminSecretFile: secret,
		OIDCIssuer: "https://kc.example.org/realms/canvas"}); err != nil {
		t.Fatal(err)
	}
}

// TestClientsOfAnExternalIssuer: with --oidc-issuer, canvasd registers no
// clients: its client API says they are managed in that issuer (501).
func TestClientsOfAnExternalIssuer(t *testing.T) {
	t.Parallel()
	ctx := daemontest.Context(t, time.Minute)
	dir := t.TempDir()
	const issuer = "https://issuer.invalid/realms/canvas"
	d := startDaemon(ctx, t, daemon.Options{EmbeddedNATS: true, EmbeddedNATSPort: -1, StateDir: dir, Listen: "127.0.0.1:0", OIDCIssuer: issuer})
	admin, err := auth.ReadAdminToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.NewHTTP(d.APIURL(), client.WithToken(admin))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.CreateClient(ctx, wire.ClientRequest{ID: "ci"})
	if client.StatusCode(err) != http.StatusNotImplemented || !strings.Contains(err.Error(), "managed in that issuer") || !strings.Contains(err.Error(), issuer) {
		t.Fatalf("create with an external issuer: %v, want 501 naming it", err)
	}
}

func getJSON(t *testing.T, u string, out any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(out)
	return resp.StatusCode
}
