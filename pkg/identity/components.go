package identity

import (
	"context"
	"fmt"
	"slices"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// ProviderName is status.identityConfig.identityProvider of a Component
// registered with the embedded issuer.
const ProviderName = "wasmcanvas-oidc"

// ClientID is the OAuth client id, and so the audience of its APIs, of the
// Component namespace/name: its name in oda.DefaultNamespace (the reference
// canvas's client id), else {namespace}.{name} (oda.Key), so Components of
// one name in two namespaces do not share a client.
func ClientID(namespace, name string) string {
	if namespace == "" || namespace == oda.DefaultNamespace {
		return name
	}
	return oda.Key{Namespace: namespace, Name: name}.String()
}

// ComponentClients registers Components with the embedded issuer, as the
// reference canvas's identity-config operator does with Keycloak: a client
// per Component (ClientID) defining the roles of its
// componentRole, and its canvasSystemRole granted to SystemClient on its
// API. It is reconcile.IdentityConfigurer, and RoleApplier: the roles a
// Component's role API defines (RoleListener) are defined beside its
// componentRole and kept across Configure.
type ComponentClients struct{ Issuer *Issuer }

// Configure registers c (idempotent) and says what was registered.
func (cc ComponentClients) Configure(ctx context.Context, c *oda.Component) (oda.IdentityConfigStatus, error) {
	is := cc.Issuer
	sf := c.Spec.SecurityFunction
	st := oda.IdentityConfigStatus{IdentityProvider: ProviderName, Issuer: is.URL(), ClientID: ClientID(c.Metadata.Namespace, c.Metadata.Name)}
	if st.ClientID == CanvasAudience {
		return st, fmt.Errorf("metadata.name %q is the audience of the canvas API itself: rename the Component", st.ClientID)
	}
	for _, r := range sf.ComponentRole {
		if r.Name != "" && !slices.Contains(st.Roles, r.Name) {
			st.Roles = append(st.Roles, r.Name)
		}
	}
	old, err := is.Client(ctx, st.ClientID)
	if err != nil {
		return st, err
	}
	spec := ClientSpec{ID: st.ClientID, Roles: definedRoles(c, nil), Owner: owner(c.Metadata.Namespace, c.Metadata.Name)}
	if old != nil {
		spec.Grants = old.Grants // what it may call is granted elsewhere
		spec.DynamicRoles = old.DynamicRoles
		spec.Roles = definedRoles(c, old.DynamicRoles)
	}
	if _, err := is.RegisterClient(ctx, spec); err != nil {
		return st, err
	}
	if sf.CanvasSystemRole != "" {
		if err := is.Grant(ctx, SystemClient, st.ClientID, sf.CanvasSystemRole); err != nil {
			return st, err
		}
		st.CanvasSystemRole, st.SystemClient = sf.CanvasSystemRole, SystemClient
	}
	return st, nil
}

// SetDynamicRoles defines roles, read from c's role API, on its client
// beside its componentRole, keeping its grants.
func (cc ComponentClients) SetDynamicRoles(ctx context.Context, c *oda.Component, roles, _ []string) error {
	is := cc.Issuer
	id := ClientID(c.Metadata.Namespace, c.Metadata.Name)
	old, err := is.Client(ctx, id)
	if err != nil {
		return err
	}
	if old == nil {
		return fmt.Errorf("client %q is not registered yet", id)
	}
	dynamic := slices.Clone(roles)
	slices.Sort(dynamic)
	_, err = is.RegisterClient(ctx, ClientSpec{ID: id, Grants: old.Grants, Roles: definedRoles(c, dynamic), DynamicRoles: dynamic, Owner: old.Owner})
	return err
}

// definedRoles are the roles c's API defines: its componentRole, its
// canvasSystemRole, then dynamic (from its role API), without repeats.
func definedRoles(c *oda.Component, dynamic []string) []string {
	var out []string
	add := func(r string) {
		if r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	sf := c.Spec.SecurityFunction
	for _, r := range sf.ComponentRole {
		add(r.Name)
	}
	add(sf.CanvasSystemRole)
	for _, r := range dynamic {
		add(r)
	}
	return out
}

// Remove deletes the client of the Component namespace/name (if it owns
// one) and the system client's grant on its API.
func (cc ComponentClients) Remove(ctx context.Context, namespace, name string) error {
	is := cc.Issuer
	id := ClientID(namespace, name)
	c, err := is.Client(ctx, id)
	if err != nil || c == nil || c.Owner != owner(namespace, name) {
		return err
	}
	if err := is.revokeGrants(ctx, SystemClient, id); err != nil {
		return err
	}
	return is.DeleteClient(ctx, id)
}

func owner(namespace, name string) string { return namespace + "/" + name }

// revokeGrants drops clientID's roles on audience.
func (is *Issuer) revokeGrants(ctx context.Context, clientID, audience string) error {
	c, err := is.Client(ctx, clientID)
	if err != nil || c == nil {
		return err
	}
	if _, ok := c.Grants[audience]; !ok {
		return nil
	}
	grants := map[string][]string{}
	for a, rs := range c.Grants {
		if a != audience {
			grants[a] = rs
		}
	}
	_, err = is.RegisterClient(ctx, ClientSpec{ID: c.ID, Grants: grants, Roles: c.Roles, DynamicRoles: c.DynamicRoles, Owner: c.Owner})
	return err
}
