package identity

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

func secured(ns, name string) *oda.Component {
	c := &oda.Component{}
	c.Metadata.Namespace, c.Metadata.Name = ns, name
	c.Spec.SecurityFunction = &oda.SecurityFunction{CanvasSystemRole: "Admin", ComponentRole: []oda.ComponentRole{{Name: "reader"}, {Name: "reader"}, {Name: "writer"}}}
	return c
}

// ComponentClients registers a client per Component, grants the system
// client its canvasSystemRole, refuses a second Component of the same
// name, and Remove undoes it all.
func TestComponentClients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := startIssuer(t, "", IssuerOptions{})
	cc := ComponentClients{Issuer: env.is}
	st, err := cc.Configure(ctx, secured(oda.DefaultNamespace, "catalog"))
	if err != nil {
		t.Fatal(err)
	}
	if st.ClientID != "catalog" || st.Issuer != env.is.URL() || !slices.Equal(st.Roles, []string{"reader", "writer"}) || st.CanvasSystemRole != "Admin" {
		t.Fatalf("status %+v", st)
	}
	if again, err := cc.Configure(ctx, secured(oda.DefaultNamespace, "catalog")); err != nil || again.ClientID != "catalog" {
		t.Fatalf("again: %+v %v", again, err)
	}
	tok, err := env.is.TokenSource(SystemClient).AccessToken(ctx, "catalog")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := env.is.Verifier().ForAudience("catalog").Verify(ctx, tok); err != nil || !slices.Equal(c.Roles, []string{"Admin"}) {
		t.Fatalf("system token: %+v %v", c, err)
	}
	if other, err := cc.Configure(ctx, secured("other", "catalog")); err != nil || other.ClientID != "other.catalog" {
		t.Fatalf("catalog of another namespace: %+v %v", other, err)
	}
	if err := env.is.Grant(ctx, "squatter", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Configure(ctx, secured(oda.DefaultNamespace, "squatter")); err == nil || !strings.Contains(err.Error(), "canvas itself") {
		t.Fatalf("a client of the canvas's own taken over: %v", err)
	}
	if _, err := cc.Configure(ctx, secured(oda.DefaultNamespace, CanvasAudience)); err == nil {
		t.Fatal("a Component named as the canvas API's audience was registered")
	}
	if err := cc.Remove(ctx, "other", "catalog"); err != nil {
		t.Fatal(err)
	}
	if c, _ := env.is.Client(ctx, "catalog"); c == nil {
		t.Fatal("Remove of another namespace's Component removed the client")
	}
	if err := cc.Remove(ctx, oda.DefaultNamespace, "catalog"); err != nil {
		t.Fatal(err)
	}
	if c, _ := env.is.Client(ctx, "catalog"); c != nil {
		t.Fatal("client still registered after Remove")
	}
	if sys, _ := env.is.Client(ctx, SystemClient); sys == nil || sys.Grants["catalog"] != nil {
		t.Fatalf("system client grants after Remove: %+v", sys)
	}
}
