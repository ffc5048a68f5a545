package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// KeycloakProvider is status.identityConfig.identityProvider of a Component
// registered in Keycloak (the reference canvas's value).
const KeycloakProvider = "Keycloak"

// KeycloakSystemClient is the reference canvas's system client in Keycloak.
const KeycloakSystemClient = "canvassystem"

// KeycloakClients registers Components in a Keycloak realm through its
// admin REST API, as the reference canvas's identity-config operator
// does: a confidential client per Component (clientId = ClientID), its
// componentRole and canvasSystemRole as client roles, canvasSystemRole
// mapped to the system client's service-account user. It is
// reconcile.IdentityConfigurer. Tested against a double of the admin API
// only (no Keycloak runs here).
type KeycloakClients struct {
	// Issuer is the realm's issuer URL, https://HOST/realms/REALM; the
	// admin API is https://HOST/admin/realms/REALM.
	Issuer string
	// Admin gets tokens for the admin API: a client of the realm with the
	// realm-management roles manage-clients and view-users.
	Admin auth.TokenSource
	// SystemClient is the canvas's client (default KeycloakSystemClient).
	SystemClient string
	HTTPClient   *http.Client
}

// KeycloakAdminURL is the admin API of the realm of issuer.
func KeycloakAdminURL(issuer string) (string, error) {
	u, err := url.Parse(strings.TrimRight(issuer, "/"))
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("issuer %q is not a URL", issuer)
	}
	dir, realm := path.Split(u.Path)
	if !strings.HasSuffix(dir, "/realms/") || realm == "" {
		return "", fmt.Errorf("issuer %q is not a Keycloak realm (want https://HOST/realms/REALM)", issuer)
	}
	u.Path = strings.TrimSuffix(dir, "realms/") + "admin/realms/" + realm
	return u.String(), nil
}

// KeycloakTokenURL is the token endpoint of the realm of issuer.
func KeycloakTokenURL(issuer string) string {
	return strings.TrimRight(issuer, "/") + "/protocol/openid-connect/token"
}

type kcClient struct {
	ID                     string            `json:"id,omitempty"`
	ClientID               string            `json:"clientId"`
	Enabled                bool              `json:"enabled"`
	PublicClient           bool              `json:"publicClient"`
	ServiceAccountsEnabled bool              `json:"serviceAccountsEnabled"`
	StandardFlowEnabled    bool              `json:"standardFlowEnabled"`
	Attributes             map[string]string `json:"attributes,omitempty"`
}

type kcRole struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// ownerAttribute marks the clients the canvas made, with their Component.
const ownerAttribute = "wasmcanvas.owner"

// errConflict is the admin API's 409 (the thing exists), errNotFound
// its 404.
var (
	errConflict = errors.New("exists")
	errNotFound = errors.New("not found")
)

func (k KeycloakClients) call(ctx context.Context, method, p string, in, out any) error {
	base, err := KeycloakAdminURL(k.Issuer)
	if err != nil {
		return err
	}
	tok, err := k.Admin.AccessToken(ctx, "")
	if err != nil {
		return fmt.Errorf("Keycloak admin token: %w", err)
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+p, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := k.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: fetchTimeout}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("Keycloak %s %s: %w", method, p, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxDocument))
	switch {
	case resp.StatusCode == http.StatusConflict:
		return errConflict
	case resp.StatusCode == http.StatusNotFound && method == http.MethodDelete:
		return errNotFound
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("Keycloak %s %s: %s %.200s", method, p, resp.Status, data)
	case out != nil:
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("Keycloak %s %s: %w", method, p, err)
		}
	}
	return nil
}

// find returns the client of clientId (nil when there is none).
func (k KeycloakClients) find(ctx context.Context, clientID string) (*kcClient, error) {
	var cs []kcClient
	if err := k.call(ctx, http.MethodGet, "/clients?clientId="+url.QueryEscape(clientID), nil, &cs); err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.ClientID == clientID {
			return &c, nil
		}
	}
	return nil, nil
}

func (k KeycloakClients) systemClient() string {
	if k.SystemClient == "" {
		return KeycloakSystemClient
	}
	return k.SystemClient
}

// Configure makes (or keeps) the Component's client and roles and maps
// canvasSystemRole to the system client.
func (k KeycloakClients) Configure(ctx context.Context, c *oda.Component) (oda.IdentityConfigStatus, error) {
	sf := c.Spec.SecurityFunction
	own := owner(c.Metadata.Namespace, c.Metadata.Name)
	st := oda.IdentityConfigStatus{IdentityProvider: KeycloakProvider, Issuer: k.Issuer, ClientID: ClientID(c.Metadata.Namespace, c.Metadata.Name)}
	cl, err := k.find(ctx, st.ClientID)
	if err != nil {
		return st, err
	}
	if cl == nil {
		spec := kcClient{ClientID: st.ClientID, Enabled: true, ServiceAccountsEnabled: true, Attributes: map[string]string{ownerAttribute: own}}
		if err := k.call(ctx, http.MethodPost, "/clients", spec, nil); err != nil && !errors.Is(err, errConflict) {
			return st, err
		}
		if cl, err = k.find(ctx, st.ClientID); err != nil || cl == nil {
			return st, errors.Join(err, fmt.Errorf("Keycloak client %q not found after creating it", st.ClientID))
		}
	}
	if cl.Attributes[ownerAttribute] != own {
		return st, fmt.Errorf("Keycloak client %q exists and was not made by the canvas for %s: rename one", st.ClientID, own)
	}
	roles := []kcRole{}
	for _, r := range sf.ComponentRole {
		if r.Name != "" && !slices.ContainsFunc(roles, func(x kcRole) bool { return x.Name == r.Name }) {
			roles = append(roles, kcRole{Name: r.Name, Description: r.Description})
			st.Roles = append(st.Roles, r.Name)
		}
	}
	if sf.CanvasSystemRole != "" && !slices.Contains(st.Roles, sf.CanvasSystemRole) {
		roles = append(roles, kcRole{Name: sf.CanvasSystemRole, Description: "the canvas's role on this component's APIs"})
	}
	for _, r := range roles {
		if err := k.call(ctx, http.MethodPost, "/clients/"+cl.ID+"/roles", r, nil); err != nil && !errors.Is(err, errConflict) {
			return st, err
		}
	}
	if sf.CanvasSystemRole == "" {
		return st, nil
	}
	sys, err := k.find(ctx, k.systemClient())
	if err != nil || sys == nil {
		return st, errors.Join(err, fmt.Errorf("Keycloak has no system client %q in the realm: create it with a service account", k.systemClient()))
	}
	var user struct {
		ID string `json:"id"`
	}
	if err := k.call(ctx, http.MethodGet, "/clients/"+sys.ID+"/service-account-user", nil, &user); err != nil {
		return st, err
	}
	var role kcRole
	if err := k.call(ctx, http.MethodGet, "/clients/"+cl.ID+"/roles/"+url.PathEscape(sf.CanvasSystemRole), nil, &role); err != nil {
		return st, err
	}
	if err := k.call(ctx, http.MethodPost, "/users/"+user.ID+"/role-mappings/clients/"+cl.ID, []kcRole{role}, nil); err != nil {
		return st, err
	}
	st.CanvasSystemRole, st.SystemClient = sf.CanvasSystemRole, k.systemClient()
	return st, nil
}

// Remove deletes the client the canvas made for namespace/name (its roles
// and their mappings go with it).
func (k KeycloakClients) Remove(ctx context.Context, namespace, name string) error {
	cl, err := k.find(ctx, ClientID(namespace, name))
	if err != nil || cl == nil || cl.Attributes[ownerAttribute] != owner(namespace, name) {
		return err
	}
	return k.call(ctx, http.MethodDelete, "/clients/"+cl.ID, nil, nil)
}

// SetDynamicRoles defines roles, read from c's role API, as client roles
// of its Keycloak client, and deletes the removed ones that its
// componentRole and canvasSystemRole do not define.
func (k KeycloakClients) SetDynamicRoles(ctx context.Context, c *oda.Component, roles, removed []string) error {
	id := ClientID(c.Metadata.Namespace, c.Metadata.Name)
	cl, err := k.find(ctx, id)
	if err != nil {
		return err
	}
	if cl == nil || cl.Attributes[ownerAttribute] != owner(c.Metadata.Namespace, c.Metadata.Name) {
		return fmt.Errorf("Keycloak client %q is not the canvas's for this Component (yet)", id)
	}
	sf := c.Spec.SecurityFunction
	static := []string{sf.CanvasSystemRole}
	for _, r := range sf.ComponentRole {
		static = append(static, r.Name)
	}
	for _, r := range roles {
		role := kcRole{Name: r, Description: "defined by the Component's role API"}
		if err := k.call(ctx, http.MethodPost, "/clients/"+cl.ID+"/roles", role, nil); err != nil && !errors.Is(err, errConflict) {
			return err
		}
	}
	for _, r := range removed {
		if slices.Contains(static, r) || slices.Contains(roles, r) {
			continue
		}
		if err := k.call(ctx, http.MethodDelete, "/clients/"+cl.ID+"/roles/"+url.PathEscape(r), nil, nil); err != nil && !errors.Is(err, errNotFound) {
			return err
		}
	}
	return nil
}
