package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// keycloakDouble answers the part of Keycloak's admin REST API (26.x) that
// KeycloakClients calls, from memory, as the API documents it: 201 on
// create, 409 on a duplicate, 401 without the admin token. It is not
// Keycloak: only a real one proves the integration.
type keycloakDouble struct {
	mu       sync.Mutex
	clients  map[string]*kcClient           // by id
	roles    map[string]map[string]kcRole   // client id → name → role
	mappings map[string]map[string][]string // user → client id → role names
	n        int
}

func newKeycloakDouble(t *testing.T) (*keycloakDouble, string) {
	d := &keycloakDouble{clients: map[string]*kcClient{}, roles: map[string]map[string]kcRole{}, mappings: map[string]map[string][]string{}}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return d, srv.URL + "/realms/canvas"
}

func (d *keycloakDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r.URL.Path == "/realms/canvas/protocol/openid-connect/token" {
		if id, secret, _ := r.BasicAuth(); id != "canvas-admin" || secret != "s3cret" {
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"error":"unauthorized_client"}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"admin-token","token_type":"Bearer","expires_in":60}`))
		return
	}
	if r.Header.Get("Authorization") != "Bearer admin-token" {
		w.WriteHeader(401)
		return
	}
	p, ok := strings.CutPrefix(r.URL.Path, "/admin/realms/canvas")
	if !ok {
		w.WriteHeader(404)
		return
	}
	parts := strings.Split(strings.Trim(p, "/"), "/")
	reply := func(v any) { _ = json.NewEncoder(w).Encode(v) }
	switch {
	case r.Method == "GET" && p == "/clients":
		out := []kcClient{}
		for _, c := range d.clients {
			if c.ClientID == r.URL.Query().Get("clientId") {
				out = append(out, *c)
			}
		}
		reply(out)
	case r.Method == "POST" && p == "/clients":
		var c kcClient
		_ = json.NewDecoder(r.Body).Decode(&c)
		for _, x := range d.clients {
			if x.ClientID == c.ClientID {
				w.WriteHeader(409)
				return
			}
		}
		d.n++
		c.ID = fmt.Sprintf("uuid-%d", d.n)
		d.clients[c.ID] = &c
		d.roles[c.ID] = map[string]kcRole{}
		w.Header().Set("Location", r.URL.String()+"/"+c.ID)
		w.WriteHeader(201)
	case len(parts) == 2 && parts[0] == "clients" && r.Method == "DELETE" && d.clients[parts[1]] != nil:
		delete(d.clients, parts[1])
		delete(d.roles, parts[1])
		w.WriteHeader(204)
	case len(parts) == 3 && parts[2] == "roles" && r.Method == "POST" && d.clients[parts[1]] != nil:
		var role kcRole
		_ = json.NewDecoder(r.Body).Decode(&role)
		if _, dup := d.roles[parts[1]][role.Name]; dup {
			w.WriteHeader(409)
			return
		}
		role.ID = parts[1] + "/" + role.Name
		d.roles[parts[1]][role.Name] = role
		w.WriteHeader(201)
	case len(parts) == 4 && parts[2] == "roles" && r.Method == "DELETE":
		if _, ok := d.roles[parts[1]][parts[3]]; !ok {
			w.WriteHeader(404)
			return
		}
		delete(d.roles[parts[1]], parts[3])
		w.WriteHeader(204)
	case len(parts) == 4 && parts[2] == "roles" && r.Method == "GET":
		role, ok := d.roles[parts[1]][parts[3]]
		if !ok {
			w.WriteHeader(404)
			return
		}
		reply(role)
	case len(parts) == 3 && parts[2] == "service-account-user" && d.clients[parts[1]] != nil && d.clients[parts[1]].ServiceAccountsEnabled:
		reply(map[string]string{"id": "user-" + parts[1]})
	case len(parts) == 5 && parts[0] == "users" && parts[2] == "role-mappings" && r.Method == "POST":
		var roles []kcRole
		_ = json.NewDecoder(r.Body).Decode(&roles)
		if d.mappings[parts[1]] == nil {
			d.mappings[parts[1]] = map[string][]string{}
		}
		for _, role := range roles {
			if _, ok := d.roles[parts[4]][role.Name]; !ok || role.ID == "" {
				w.WriteHeader(404)
				return
			}
			if !slices.Contains(d.mappings[parts[1]][parts[4]], role.Name) {
				d.mappings[parts[1]][parts[4]] = append(d.mappings[parts[1]][parts[4]], role.Name)
			}
		}
		w.WriteHeader(204)
	default:
		w.WriteHeader(404)
	}
}

func TestKeycloakClientsAgainstADouble(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, issuer := newKeycloakDouble(t)
	d.clients["sys"] = &kcClient{ID: "sys", ClientID: KeycloakSystemClient, ServiceAccountsEnabled: true}
	k := KeycloakClients{Issuer: issuer, Admin: ClientCredentials{TokenURL: KeycloakTokenURL(issuer), ClientID: "canvas-admin", Secret: "s3cret"}}
	comp := secured(oda.DefaultNamespace, "catalog")
	for range 2 { // idempotent
		st, err := k.Configure(ctx, comp)
		if err != nil {
			t.Fatal(err)
		}
		if st.IdentityProvider != KeycloakProvider || st.ClientID != "catalog" || !slices.Equal(st.Roles, []string{"reader", "writer"}) ||
			st.CanvasSystemRole != "Admin" || st.SystemClient != KeycloakSystemClient || st.Issuer != issuer {
			t.Fatalf("status %+v", st)
		}
	}
	var id string
	for _, c := range d.clients {
		if c.ClientID == "catalog" {
			id = c.ID
			if !c.ServiceAccountsEnabled || c.PublicClient || c.Attributes[ownerAttribute] != "components/catalog" {
				t.Fatalf("client %+v", c)
			}
		}
	}
	if len(d.roles[id]) != 3 || !slices.Equal(d.mappings["user-sys"][id], []string{"Admin"}) {
		t.Fatalf("roles %v, mappings %v", d.roles[id], d.mappings)
	}
	d.clients["theirs"] = &kcClient{ID: "theirs", ClientID: "ops"}
	if _, err := k.Configure(ctx, secured(oda.DefaultNamespace, "ops")); err == nil || !strings.Contains(err.Error(), "not made by the canvas") {
		t.Fatalf("a client the canvas did not make: %v", err)
	}
	if err := k.Remove(ctx, oda.DefaultNamespace, "ops"); err != nil || d.clients["theirs"] == nil {
		t.Fatalf("Remove deleted a client the canvas did not make: %v", err)
	}
	if err := k.Remove(ctx, oda.DefaultNamespace, "catalog"); err != nil || d.clients[id] != nil {
		t.Fatalf("Remove: %v", err)
	}
	bad := k
	bad.Admin = ClientCredentials{TokenURL: KeycloakTokenURL(issuer), ClientID: "canvas-admin", Secret: "wrong"}
	if _, err := bad.Configure(ctx, comp); err == nil || !strings.Contains(err.Error(), "admin token") {
		t.Fatalf("a wrong admin secret: %v", err)
	}
	if _, err := KeycloakAdminURL("https://kc.example.org/auth/realms/canvas"); err != nil {
		t.Fatal(err)
	}
	if _, err := KeycloakAdminURL("https://kc.example.org/canvas"); err == nil {
		t.Fatal("an issuer that is no realm")
	}
}

// SetDynamicRoles makes the role API's roles client roles and deletes
// removed ones, never a componentRole or the canvasSystemRole.
func TestKeycloakDynamicRolesAgainstADouble(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, issuer := newKeycloakDouble(t)
	d.clients["sys"] = &kcClient{ID: "sys", ClientID: KeycloakSystemClient, ServiceAccountsEnabled: true}
	k := KeycloakClients{Issuer: issuer, Admin: ClientCredentials{TokenURL: KeycloakTokenURL(issuer), ClientID: "canvas-admin", Secret: "s3cret"}}
	comp := secured(oda.DefaultNamespace, "catalog")
	if err := k.SetDynamicRoles(ctx, comp, []string{"Seller"}, nil); err == nil {
		t.Fatal("roles set on a client not made yet")
	}
	if _, err := k.Configure(ctx, comp); err != nil {
		t.Fatal(err)
	}
	if err := k.SetDynamicRoles(ctx, comp, []string{"Seller", "Buyer"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := k.SetDynamicRoles(ctx, comp, []string{"Buyer"}, []string{"Seller", "reader", "Admin", "Gone"}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range d.clients {
		if c.ClientID == "catalog" {
			for n := range d.roles[c.ID] {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"Admin", "Buyer", "reader", "writer"}) {
		t.Fatalf("client roles %v", names)
	}
}
