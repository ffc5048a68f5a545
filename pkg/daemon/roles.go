package daemon

import (
	"context"

	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/service"
)

// roleService follows the role APIs (partyrole, userrolesandpermissions)
// of the Components registered with the issuer: it makes the listener
// once the identity service has the issuer (or Keycloak) and the API's
// URL is known, and runs it. Without a component identity configurer
// (--no-auth, an external issuer without Keycloak admin) there is none.
func (d *Daemon) roleService() service.Service {
	return service.New("role listener", service.Funcs{
		Start: func(context.Context) error {
			opts := identity.RoleListenerOptions{
				CallbackURL: d.APIURL() + identity.RoleEventsPath,
				Changed:     func(ns, name string) { d.ctrl.Enqueue(oda.Key{Namespace: ns, Name: name}.String()) },
				Logger:      d.log.Named("roles"),
			}
			switch ci := d.componentIdentity().(type) {
			case identity.KeycloakClients:
				opts.Apply = ci
			case lazyComponentClients:
				opts.Apply = identity.ComponentClients{Issuer: d.id.issuer}
				opts.Token = d.id.issuer.TokenSource(identity.SystemClient).AccessToken
			default:
				return nil
			}
			var err error
			d.id.roles, err = identity.NewRoleListener(opts)
			return err
		},
		Run: func(ctx context.Context) error {
			if d.id.roles == nil {
				<-ctx.Done()
				return nil
			}
			return d.id.roles.Run(ctx)
		},
	})
}

// lazyRoles is the controller's reconcile.RoleFollower: the listener
// exists only once the role service started, after the controller was
// built.
type lazyRoles struct{ d *Daemon }

func (l lazyRoles) Follow(c *oda.Component, apiName, url string) ([]string, bool, string) {
	if r := l.d.id.roles; r != nil {
		return r.Follow(c, apiName, url)
	}
	return nil, false, ""
}

func (l lazyRoles) Forget(namespace, name string) {
	if r := l.d.id.roles; r != nil {
		r.Forget(namespace, name)
	}
}
