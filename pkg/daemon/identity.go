package daemon

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/bridge/identityrpc"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/reconcile"
	"github.com/wasmcanvas/wasmcanvas/pkg/service"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
)

// identityParts are who may call the API: set by the identity service.
type identityParts struct {
	issuer   *identity.Issuer       // nil with an external issuer
	verifier *identity.Verifier     // tokens for OIDCAudience
	authn    auth.Authenticator     // nil with NoAuth
	roles    *identity.RoleListener // nil without a component identity configurer

	srcMu   sync.Mutex
	sources map[string]auth.TokenSource // the bridge token service's, by client id
}

// apiRealm names canvasd's API in WWW-Authenticate challenges.
const apiRealm = "canvas"

// identityService writes the local admin credential, starts the embedded
// issuer (or reaches the external one) and builds the API's
// authenticator: the local admin credential, then bearer tokens.
func (d *Daemon) identityService() service.Service {
	o := d.opts
	return service.New("identity", service.Funcs{
		Start: func(ctx context.Context) error {
			if o.NoAuth {
				d.log.Warn("the API is served without authentication (--no-auth); anyone who reaches " + o.Listen + " may apply and delete Components")
				return nil
			}
			admin, err := auth.EnsureAdminToken(o.StateDir)
			if err != nil {
				return err
			}
			if o.OIDCIssuer != "" {
				d.id.verifier, err = identity.NewVerifier(identity.VerifierOptions{Issuer: o.OIDCIssuer, Audience: o.OIDCAudience})
			} else {
				d.id.issuer, err = identity.NewIssuer(ctx, d.js, identity.IssuerOptions{URL: d.embeddedIssuerURL(), Logger: d.log.Named("identity")})
				if err == nil {
					d.id.verifier = d.id.issuer.Verifier().ForAudience(o.OIDCAudience)
					err = d.registerCanvasClients(ctx, admin)
				}
			}
			if err != nil {
				return err
			}
			d.id.authn = auth.Chain(auth.LocalAdmin(admin), auth.Bearer(d.id.verifier))
			return nil
		},
		Run: func(ctx context.Context) error {
			if d.id.issuer == nil {
				<-ctx.Done()
				return nil
			}
			return d.id.issuer.Run(ctx)
		},
	})
}

// embeddedIssuer reports whether canvasd serves its own issuer.
func (o Options) embeddedIssuer() bool { return !o.NoAuth && o.OIDCIssuer == "" }

// embeddedIssuerURL is the embedded issuer's URL: --issuer-url, else the
// API's base URL + IssuerPath; "" before the API listens.
func (d *Daemon) embeddedIssuerURL() string {
	if d.opts.IssuerURL != "" {
		return d.opts.IssuerURL
	}
	if api := d.APIURL(); api != "" {
		return api + IssuerPath
	}
	return ""
}

// systemIssuer names the embedded issuer in canvas-bridge's config of the
// system application once the API's URL is known, so the bridge verifies
// wasmcanvas:identity tokens with it on a lattice too, and warns once
// when hosts elsewhere could not reach a loopback issuer URL.
func (d *Daemon) systemIssuer() error {
	// Without a system application (a Deployer of the caller's, canvas up)
	// no canvas-bridge runs on the hosts.
	if !d.opts.embeddedIssuer() || d.system == nil {
		return nil
	}
	iss := d.embeddedIssuerURL()
	if u, err := url.Parse(iss); err == nil && loopback(u.Hostname()) && d.remoteHosts() {
		d.log.Warn("the embedded issuer's URL is a loopback address, which canvas-bridge on other machines cannot reach to verify wasmcanvas:identity tokens; set --issuer-url to canvasd's API as hosts reach it",
			zap.String("issuer", iss))
	}
	if d.sysOpts.Issuer == iss {
		return nil
	}
	d.sysOpts.Issuer = iss
	m, err := translate.SystemApplication(d.sysOpts)
	if err != nil {
		return fmt.Errorf("system application with the issuer %s (--issuer-url): %w", iss, err)
	}
	d.system = m
	return nil
}

// remoteHosts reports whether hosts may run on other machines: the
// lattice's NATS is not on loopback, or edge sites are configured.
func (d *Daemon) remoteHosts() bool {
	if d.opts.LatticeDir != "" {
		return true
	}
	if d.opts.EmbeddedNATS {
		return false
	}
	for _, s := range strings.Split(d.opts.NATS.URLs, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || !loopback(u.Hostname()) {
			return true
		}
	}
	return false
}

// tokenService serves canvas-bridge's access-token requests on the
// lattice (identityrpc.ServeTokenService) with the embedded issuer: a
// token of the asking Component's client, issued in-process. Without the
// embedded issuer nothing answers and the bridge says so.
func (d *Daemon) tokenService() service.Service {
	var sub *nats.Subscription
	return service.New("bridge token service", service.Funcs{
		Start: func(context.Context) error {
			if d.id.issuer == nil {
				return nil
			}
			var err error
			sub, err = identityrpc.ServeTokenService(d.nc, d.opts.Lattice, d.issueForComponent, d.log.Named("bridge-tokens"))
			if err != nil {
				return fmt.Errorf("bridge token service on %s: %w", subject.BridgeTokens(d.opts.Lattice), err)
			}
			return nil
		},
		Stop: func(context.Context) error {
			if sub == nil {
				return nil
			}
			return sub.Unsubscribe()
		},
	})
}

// issueForComponent is a client-credentials token of c's client for
// audience; identityrpc.ErrNoClient when c has none.
func (d *Daemon) issueForComponent(ctx context.Context, c identityrpc.Component, audience string) (string, error) {
	id := identity.ClientID(c.Namespace, c.Name)
	cl, err := d.id.issuer.Client(ctx, id)
	if err != nil {
		return "", err
	}
	if cl == nil {
		return "", fmt.Errorf("%w (Component %s/%s, client %q)", identityrpc.ErrNoClient, c.Namespace, c.Name, id)
	}
	if audience != identity.CanvasAudience {
		api, err := d.id.issuer.Client(ctx, audience)
		if err != nil {
			return "", err
		}
		if api == nil {
			return "", &auth.Error{Code: "invalid_request", Reason: fmt.Sprintf("audience %q: no such API registered with the canvas's issuer", audience)}
		}
	}
	d.id.srcMu.Lock()
	src, ok := d.id.sources[id]
	if !ok {
		if d.id.sources == nil {
			d.id.sources = map[string]auth.TokenSource{}
		}
		src = d.id.issuer.TokenSource(id)
		d.id.sources[id] = src
	}
	d.id.srcMu.Unlock()
	return src.AccessToken(ctx, audience)
}

// componentIdentity registers Components with the embedded issuer, which
// the identity service starts after the controller is built and before it
// runs; nil without the embedded issuer.
func (d *Daemon) componentIdentity() reconcile.IdentityConfigurer {
	o := d.opts
	switch {
	case o.NoAuth:
		return nil
	case o.KeycloakAdminClient != "":
		return identity.KeycloakClients{Issuer: o.OIDCIssuer, SystemClient: o.KeycloakSystemClient,
			Admin: identity.ClientCredentials{TokenURL: identity.KeycloakTokenURL(o.OIDCIssuer), ClientID: o.KeycloakAdminClient, Secret: o.keycloakSecret}}
	case o.OIDCIssuer != "":
		return nil
	}
	return lazyComponentClients{d}
}

type lazyComponentClients struct{ d *Daemon }

func (l lazyComponentClients) Configure(ctx context.Context, c *oda.Component) (oda.IdentityConfigStatus, error) {
	return identity.ComponentClients{Issuer: l.d.id.issuer}.Configure(ctx, c)
}

func (l lazyComponentClients) Remove(ctx context.Context, namespace, name string) error {
	return identity.ComponentClients{Issuer: l.d.id.issuer}.Remove(ctx, namespace, name)
}

// registerCanvasClients registers the admin client (its secret is the
// local admin credential, so `canvas token` needs no other) and the
// canvas's system client.
func (d *Daemon) registerCanvasClients(ctx context.Context, admin string) error {
	aud := d.opts.OIDCAudience
	if _, err := d.id.issuer.RegisterClient(ctx, identity.ClientSpec{ID: identity.AdminClient, Secret: admin,
		Grants: map[string][]string{aud: {auth.RoleWrite}}}); err != nil {
		return fmt.Errorf("registering %s: %w", identity.AdminClient, err)
	}
	if err := d.id.issuer.Grant(ctx, identity.SystemClient, aud, auth.RoleRead); err != nil {
		return fmt.Errorf("registering %s: %w", identity.SystemClient, err)
	}
	d.log.Info("embedded OpenID issuer ready", zap.String("issuer", d.id.issuer.URL()))
	return nil
}

// handler is the API guarded by the authenticator, and the embedded
// issuer. /healthz, /readyz and /metrics stay open for probes and
// scrapers (they say nothing a caller could act on); so does the canvas
// info service, which components reach for dependent-API discovery (it
// lists the URLs the gateway exposes anyway).
func (d *Daemon) handler() http.Handler {
	api := d.apiSrv.Handler()
	mux := http.NewServeMux()
	if d.id.authn == nil {
		mux.Handle("/", api)
	} else {
		read := auth.Require(d.id.authn, apiRealm, auth.RoleRead, api)
		write := auth.Require(d.id.authn, apiRealm, auth.RoleWrite, api)
		mux.Handle("/", api)
		mux.Handle(apiPrefix, guard(read, write))
		d.clientRoutes(mux, func(h http.Handler) http.Handler { return auth.Require(d.id.authn, apiRealm, auth.RoleWrite, h) })
	}
	if d.id.issuer != nil {
		mux.Handle(IssuerPath+"/", d.id.issuer.Handler())
	}
	if d.id.roles != nil {
		// Unauthenticated: the path's token binds an event to its Component.
		mux.Handle(identity.RoleEventsPath+"/", d.id.roles.Handler())
	}
	return mux
}

// apiPrefix is every route of the Component API (wire.PathComponents).
const apiPrefix = "/v1/"

// guard picks read for safe methods and write for the others.
func guard(read, write http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			read.ServeHTTP(w, r)
		default:
			write.ServeHTTP(w, r)
		}
	})
}

// Authenticator is what canvasd's API accepts (the local admin
// credential, then bearer tokens of the issuer); nil before Start and with
// NoAuth.
func (d *Daemon) Authenticator() auth.Authenticator { return d.id.authn }

// Verifier verifies the configured issuer's tokens for canvasd's API;
// ForAudience gives one for an exposed API. Nil before Start and with
// NoAuth.
func (d *Daemon) Verifier() *identity.Verifier { return d.id.verifier }

// Issuer is the embedded issuer; nil with an external one (OIDCIssuer),
// with NoAuth, and before Start.
func (d *Daemon) Issuer() *identity.Issuer { return d.id.issuer }

// TokenSource gets client-credentials tokens for clientID in-process from
// the embedded issuer (nil without it).
func (d *Daemon) TokenSource(clientID string) auth.TokenSource {
	if d.id.issuer == nil {
		return nil
	}
	return d.id.issuer.TokenSource(clientID)
}

// IssuerURL is the issuer whose tokens the API accepts ("" with NoAuth).
func (d *Daemon) IssuerURL() string {
	if d.id.verifier == nil {
		return ""
	}
	return strings.TrimRight(d.id.verifier.Issuer(), "/")
}
