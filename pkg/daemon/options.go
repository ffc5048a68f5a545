package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/api"
	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/deploy"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
)

// Defaults of Options.
const (
	DefaultListen          = "127.0.0.1:7443"
	DefaultShutdownTimeout = 30 * time.Second
	// RuntimeFile is written into StateDir once the API listens: the bound
	// addresses and the process id (see RuntimeInfo).
	RuntimeFile = "canvasd.json"
)

// Options configure a Daemon. New fills in defaults, then validates.
type Options struct {
	// NATS says how to reach the lattice. With EmbeddedNATS, URLs must be
	// empty: the daemon connects to the server it starts.
	NATS lattice.Config
	// EmbeddedNATS starts nats-server with JetStream in-process, storing
	// under StateDir/nats.
	EmbeddedNATS bool
	// EmbeddedNATSPort is its client port: 0 means 4222, -1 a random port.
	EmbeddedNATSPort int
	// Lattice is the wasmCloud lattice name (default "default").
	Lattice string
	// StateDir holds the runtime file and the embedded server's store
	// (default $XDG_STATE_HOME/wasmcanvas).
	StateDir string
	// Listen is the HTTP API address (default 127.0.0.1:7443; port 0 picks
	// a free port, reported in the runtime file and the log).
	Listen string
	// KubeListen is the kube API's TLS address (default
	// DefaultKubeListen; KubeListenOff turns it off). Its CA and serving
	// certificate live in StateDir (pkg/kubeapi.EnsureTLS).
	KubeListen string
	// KubeAuth verifies the kube API's callers; nil means canvasd's API
	// authenticator (the local admin credential and the issuer's bearer
	// tokens for the audience canvas), or the local admin credential alone
	// under NoAuth.
	KubeAuth auth.Authenticator
	// IngressURL is the base of the API urls written to status.
	IngressURL string
	// SystemApp is the shared wadm application (translate.DefaultSystemApp).
	SystemApp string
	// BridgeImage is canvas-bridge's provider archive in the system
	// application ("" means translate.BridgeImage of this version).
	BridgeImage string
	// IngressAddress is where the system application's http-server
	// provider listens on each host (translate.DefaultIngressAddress).
	IngressAddress string
	// Workers and Resync tune the reconcile loop (0 = its defaults).
	Workers int
	Resync  time.Duration
	// WadmTimeout bounds each wadm API request (0 = the client's default).
	WadmTimeout time.Duration
	// LatticeDir is a lattice directory written by `canvas lattice init`;
	// when set, a Component whose placement names a site its lattice.json
	// does not list (or lists as revoked) gets a Warning event and is
	// deployed all the same. The file is checked on every reconcile pass,
	// so sites bootstrapped later count without a restart.
	LatticeDir string
	// Deployer replaces the wadm lattice backend; `canvas up` passes the
	// embedded runtime's local deployer, which serves the system
	// application's parts in-process. Nil means wadm on Lattice, and then
	// canvasd keeps the system application deployed.
	Deployer deploy.Deployer
	// PeerCanvases are other canvases' base URLs (their canvas-info
	// routes): canvasd registers its exposed APIs with each and resolves
	// its Components' dependent APIs against the APIs each lists
	// (pkg/peer). Registrations from peers are accepted either way.
	PeerCanvases []string
	// PeerInterval is how often each peer is read and registered with
	// (0 = peer.DefaultInterval).
	PeerInterval time.Duration
	// Checks are readiness checks added to canvasd's own (/readyz, Ready);
	// canvas up adds one that waits for the stored Components to serve
	// again after a restart.
	Checks []api.Check
	// Registry collects canvasd's metrics and is what /metrics serves; a
	// caller embedding canvasd passes its own to add collectors (canvas up
	// adds the gateway's). Nil means a fresh one.
	Registry *prometheus.Registry
	// OIDCIssuer is an external OpenID Provider (Keycloak in production)
	// whose tokens the API accepts; "" means the embedded issuer, served at
	// the API's base URL + IssuerPath.
	OIDCIssuer string
	// IssuerURL is the embedded issuer's URL as hosts reach it, its iss
	// and the issuer canvas-bridge verifies wasmcanvas:identity tokens
	// against (the system application's bridge config); its path must be
	// IssuerPath, where canvasd serves the issuer. "" means the API's
	// base URL + IssuerPath. Not with OIDCIssuer or NoAuth.
	IssuerURL string
	// OIDCAudience is the aud tokens for canvasd's API carry (default
	// identity.CanvasAudience).
	OIDCAudience string
	// NoAuth serves the API without authentication; refused unless Listen
	// is a loopback address.
	NoAuth bool
	// KeycloakAdminClient, with OIDCIssuer a Keycloak realm, registers
	// each Component with a securityFunction in that realm through the
	// admin REST API (identity.KeycloakClients), authenticating as this
	// client with the secret in KeycloakAdminSecretFile.
	KeycloakAdminClient     string
	KeycloakAdminSecretFile string
	// KeycloakSystemClient is the canvas's client in the realm (default
	// identity.KeycloakSystemClient).
	KeycloakSystemClient string
	keycloakSecret       string // read by provision
	Logger               *zap.Logger
}

// IssuerPath is where the embedded issuer is served on canvasd's API.
const IssuerPath = "/oidc"

// DefaultStateDir is $XDG_STATE_HOME/wasmcanvas, or ~/.local/state/wasmcanvas
// when XDG_STATE_HOME is unset (XDG base directory specification).
func DefaultStateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "wasmcanvas"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no XDG_STATE_HOME and no home directory: set --state-dir: %w", err)
	}
	return filepath.Join(home, ".local", "state", "wasmcanvas"), nil
}

// provision fills in defaults (Caddy's order: provision, then validate).
func (o Options) provision() (Options, error) {
	if o.Lattice == "" {
		o.Lattice = subject.DefaultLattice
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.KubeListen == "" {
		o.KubeListen = DefaultKubeListen
	}
	if o.SystemApp == "" {
		o.SystemApp = translate.DefaultSystemApp
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.OIDCAudience == "" {
		o.OIDCAudience = identity.CanvasAudience
	}
	if o.KeycloakAdminSecretFile != "" {
		b, err := os.ReadFile(o.KeycloakAdminSecretFile)
		if err != nil {
			return o, fmt.Errorf("--keycloak-admin-secret-file: %w", err)
		}
		o.keycloakSecret = strings.TrimSpace(string(b))
	}
	if o.StateDir == "" {
		d, err := DefaultStateDir()
		if err != nil {
			return o, err
		}
		o.StateDir = d
	}
	abs, err := filepath.Abs(o.StateDir)
	if err != nil {
		return o, fmt.Errorf("--state-dir %q: %w", o.StateDir, err)
	}
	o.StateDir = abs
	// With EmbeddedNATS the URL default is replaced by the embedded
	// server's URL at Start; the other connection defaults still apply.
	o.NATS = o.NATS.WithDefaults()
	return o, nil
}

// loopback reports whether host names this machine only.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validate checks the final values; every error names the flag to change.
func (o Options) validate(natsURLsGiven bool) error {
	var errs []error
	if o.EmbeddedNATS && natsURLsGiven {
		errs = append(errs, fmt.Errorf("--embedded-nats and --%s exclude each other: drop one", lattice.FlagURL))
	}
	if err := o.NATS.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.EmbeddedNATSPort < -1 || o.EmbeddedNATSPort > 65535 {
		errs = append(errs, fmt.Errorf("--nats-port %d: use 1-65535, -1 for a random port, 0 for 4222", o.EmbeddedNATSPort))
	}
	if err := subject.ValidateLattice(o.Lattice); err != nil {
		errs = append(errs, fmt.Errorf("--lattice: %w", err))
	}
	if host, _, err := net.SplitHostPort(o.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q: want HOST:PORT such as %s (port 0 picks a free one): %w", o.Listen, DefaultListen, err))
	} else if o.NoAuth && !loopback(host) {
		errs = append(errs, fmt.Errorf("--listen %q with --no-auth: an unauthenticated API may only listen on a loopback address (127.0.0.1, ::1, localhost); drop --no-auth", o.Listen))
	}
	if o.KeycloakAdminClient != "" || o.KeycloakAdminSecretFile != "" {
		if _, err := identity.KeycloakAdminURL(o.OIDCIssuer); err != nil || o.KeycloakAdminClient == "" || o.keycloakSecret == "" {
			errs = append(errs, fmt.Errorf("--keycloak-admin-client and --keycloak-admin-secret-file (not empty) go together, with --oidc-issuer https://HOST/realms/REALM"))
		}
	}
	if o.OIDCIssuer != "" {
		if u, err := url.Parse(o.OIDCIssuer); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname()))) || u.Host == "" {
			errs = append(errs, fmt.Errorf("--oidc-issuer %q: want the issuer URL (https://, or http:// on loopback), e.g. https://keycloak.example.org/realms/canvas", o.OIDCIssuer))
		}
	}
	if o.IssuerURL != "" {
		u, err := url.Parse(o.IssuerURL)
		switch {
		case o.OIDCIssuer != "" || o.NoAuth:
			errs = append(errs, fmt.Errorf("--issuer-url %q names the embedded issuer's URL: drop it with --oidc-issuer or --no-auth", o.IssuerURL))
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != IssuerPath || u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, fmt.Errorf("--issuer-url %q: want http(s)://HOST[:PORT]%s, canvasd's API as hosts reach it, e.g. http://canvas.example.org:7443%s", o.IssuerURL, IssuerPath, IssuerPath))
		}
	}
	if _, _, err := net.SplitHostPort(o.KubeListen); err != nil && o.KubeListen != KubeListenOff {
		errs = append(errs, fmt.Errorf("--kube-listen %q: want HOST:PORT such as %s (port 0 picks a free one), or %s: %w", o.KubeListen, DefaultKubeListen, KubeListenOff, err))
	}
	if o.IngressURL != "" {
		if u, err := url.Parse(o.IngressURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--ingress-url %q: want the ingress base URL, e.g. https://components.example.org", o.IngressURL))
		}
	}
	if o.Workers < 0 {
		errs = append(errs, fmt.Errorf("--workers %d: use a positive number (0 for the default)", o.Workers))
	}
	for _, p := range o.PeerCanvases {
		if u, err := url.Parse(p); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--peer-canvas %q: want the base URL of another canvas's canvas-info service, e.g. http://canvas-b:7443", p))
		}
	}
	if o.Resync < 0 || o.WadmTimeout < 0 {
		errs = append(errs, fmt.Errorf("--resync %s and --wadm-timeout %s must not be negative", o.Resync, o.WadmTimeout))
	}
	return errors.Join(errs...)
}
