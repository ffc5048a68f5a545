package up_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wasmcanvas/wasmcanvas/internal/testref/examples"
	"github.com/wasmcanvas/wasmcanvas/pkg/api/wire"
	"github.com/wasmcanvas/wasmcanvas/pkg/client"
	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/up"
)

// TestProductCatalogWithEmbeddedIssuer is issue #11's first "must show"
// under canvas up with nothing configured: the productcatalog example
// with its securityFunction answers 401 without a token, 200 to a token
// from the embedded issuer for a client granted pcadmin on its audience
// (registered through canvasd's client API, as `canvas client create`
// does), 403 to a client without the role and to a token for another
// audience; GET .../whoami answers the caller's roles read through
// wasmcanvas:identity; the metrics API needs no token.
func TestProductCatalogWithEmbeddedIssuer(t *testing.T) {
	comp, wasm := examples.ProductCatalog(t)
	comp.Metadata.Annotations[oda.AnnotationImplementations] = `{"productcatalog-api": "file://` + wasm + `"}`
	body, err := oda.Marshal(comp, "json")
	if err != nil {
		t.Fatal(err)
	}

	c := startWith(t, up.Options{StateDir: t.TempDir(), ArtefactRoots: testRoots})
	info := c.Info()
	cl, err := client.NewHTTP(info.API, admin(t, info.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, _, err := cl.Apply(ctx, "component.json", body); err != nil {
		t.Fatal(err)
	}
	// A cold compile of the ~14 MB component takes tens of seconds.
	var st *oda.ComponentStatus
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		st, err = cl.Status(ctx, oda.DefaultNamespace, "productcatalog")
		if err == nil && st.Summary != nil && st.Summary.DeploymentStatus == oda.DeploymentComplete {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("productcatalog not Complete: %+v, %v", st, err)
		}
	}
	if ic := st.IdentityConfig; ic == nil || ic.ClientID != "productcatalog" || ic.Issuer != info.API+daemon.IssuerPath ||
		!reflect.DeepEqual(ic.Roles, []string{"pcadmin"}) {
		t.Errorf("status identityConfig %+v: want client productcatalog of %s defining pcadmin", st.IdentityConfig, info.API+daemon.IssuerPath)
	}

	admins, err := cl.CreateClient(ctx, wire.ClientRequest{ID: "shop", Grants: map[string][]string{"productcatalog": {"pcadmin"}}})
	if err != nil || admins.Secret == "" {
		t.Fatalf("CreateClient(shop) = %+v, %v", admins, err)
	}
	nobody, err := cl.CreateClient(ctx, wire.ClientRequest{ID: "visitor"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{identity.AdminClient, identity.SystemClient} {
		if _, err := cl.GrantClient(ctx, id, wire.GrantRequest{Audience: "productcatalog", Roles: []string{"pcadmin"}}); client.StatusCode(err) != http.StatusConflict {
			t.Errorf("granting the canvas's own %s: %v, want 409", id, err)
		}
	}
	if _, err := cl.DeleteClient(ctx, "productcatalog"); client.StatusCode(err) != http.StatusConflict {
		t.Errorf("deleting the Component's client: %v, want 409", err)
	}
	md, err := identity.Discover(ctx, nil, info.API+daemon.IssuerPath)
	if err != nil {
		t.Fatal(err)
	}
	token := func(id, secret, audience string) string {
		t.Helper()
		tok, err := identity.ClientCredentials{TokenURL: md.TokenEndpoint, ClientID: id, Secret: secret}.AccessToken(ctx, audience)
		if err != nil {
			t.Fatalf("token for %s on %s: %v", id, audience, err)
		}
		return tok
	}
	shop := token("shop", admins.Secret, "productcatalog")
	api := st.CoreAPIs[0].URL
	tests := []struct {
		name, authz string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"garbage", "Bearer not-a-token", http.StatusUnauthorized},
		{"pcadmin on productcatalog", "Bearer " + shop, http.StatusOK},
		{"no role", "Bearer " + token("visitor", nobody.Secret, "productcatalog"), http.StatusForbidden},
		{"the canvas API's audience", "Bearer " + token("shop", admins.Secret, identity.CanvasAudience), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/productOffering", nil)
		if tt.authz != "" {
			req.Header.Set("Authorization", tt.authz)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, res.StatusCode, tt.want)
		}
		if tt.want == http.StatusUnauthorized && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("%s: WWW-Authenticate %q, want a Bearer challenge", tt.name, res.Header.Get("WWW-Authenticate"))
		}
	}

	code, who := getWith(t, api+"/whoami", "Bearer "+shop)
	var me struct {
		Subject, Issuer string
		Roles           []string
	}
	if err := json.Unmarshal([]byte(who), &me); code != http.StatusOK || err != nil {
		t.Fatalf("whoami: %d %s (%v)", code, who, err)
	}
	if me.Subject != "shop" || me.Issuer != info.API+daemon.IssuerPath || !reflect.DeepEqual(me.Roles, []string{"pcadmin"}) {
		t.Errorf("whoami answered %s: want subject shop, the embedded issuer, roles [pcadmin]", who)
	}
	if code, body := get(t, st.ManagementAPIs[0].URL); code != http.StatusOK || !strings.Contains(body, "# TYPE wasmcanvas_") {
		t.Errorf("metrics API without a token: %d, want 200 with the Component's series: %.300s", code, body)
	}
}
