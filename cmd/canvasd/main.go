// Command canvasd is the wasmcanvas control plane: it keeps ODA Components
// as desired state in JetStream KV, reconciles them into wadm applications
// on a NATS lattice and serves the canvas API. Flag parsing only; the
// wiring is package daemon.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/wasmcanvas/wasmcanvas/pkg/daemon"
	"github.com/wasmcanvas/wasmcanvas/pkg/identity"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/embedded"
	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/version"
)

const usage = `canvasd: the wasmcanvas control plane.

It keeps ODA Components (oda.tmforum.org/v1) as desired state in a JetStream
KV bucket, publishes each as a wadm application on a wasmCloud lattice and
writes status in the Kubernetes reference canvas's shape. It keeps the shared
system application those applications reference (the http-server ingress,
http-client, NATS messaging and keyvalue providers and canvas-bridge; see
canvas render --system) deployed at its version. The canvas CLI
(canvas apply/get/describe/delete/watch) talks to its HTTP API; lattice tools
can use the same operations as the NATS micro service under canvas.api.>
(guarded by NATS permissions, not by tokens).

The HTTP API's /v1 routes need a bearer token with the role canvas:read
(GET) or canvas:write (changes): the local admin credential canvasd writes
0600 to --state-dir/admin-token (the canvas CLI sends it by itself), or a
token of the embedded OpenID issuer served at the API's /oidc (or of
--oidc-issuer). /healthz, /readyz, /metrics and /canvas-info stay open.

canvas-bridge serves wasmcanvas:identity to components on the lattice:
verify checks the issuer's tokens (the embedded one at --issuer-url, which
canvasd writes into the system application's bridge config; it warns when
that URL is loopback and hosts may be elsewhere), and access-token asks
canvasd, which issues the Component's client-credentials token in-process
on canvas.bridge-tokens.<lattice> (only the bridge role may ask there on a
secured lattice).

Usage:
  canvasd [flags]

Every flag can also be set through the environment: CANVASD_ and the flag
name in upper case with '-' as '_' (--nats-creds => CANVASD_NATS_CREDS).
A flag given on the command line wins over the environment.

Examples:
  # Everything on this machine: embedded nats-server with JetStream
  canvasd --embedded-nats

  # Against a NATS cluster running wadm and wasmCloud hosts
  canvasd --nats-url nats://nats-1:4222,nats://nats-2:4222 --nats-creds canvasd.creds \
          --lattice default --ingress-url https://components.example.org

  # A secured lattice from canvas lattice init: warn about placements naming
  # sites that lattice/lattice.json does not have (or has revoked)
  canvasd --nats-url nats://hub:4222 --nats-creds lattice/creds/canvasd.creds \
          --lattice-dir lattice

  # Any free port; the bound address is logged and written to
  # $XDG_STATE_HOME/wasmcanvas/canvasd.json
  canvasd --embedded-nats --nats-port -1 --listen 127.0.0.1:0

Flags:
`

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	var (
		opts     daemon.Options
		logLevel string
	)
	fs := pflag.NewFlagSet("canvasd", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	opts.NATS.AddFlags(fs)
	fs.BoolVar(&opts.EmbeddedNATS, "embedded-nats", false, "run nats-server with JetStream in-process, storing under --state-dir/nats")
	fs.IntVar(&opts.EmbeddedNATSPort, flagNATSPort, embedded.DefaultPort, "with --embedded-nats: its client port on 127.0.0.1 (-1: any free port), as canvas up's --nats-port")
	// Earlier spellings keep working for scripts; --help shows one.
	for old, now := range deprecated {
		f := fs.Lookup(now)
		fs.AddFlag(&pflag.Flag{Name: old, Usage: f.Usage, Value: f.Value, DefValue: f.DefValue})
		_ = fs.MarkDeprecated(old, "use --"+now)
	}
	fs.StringVar(&opts.Lattice, "lattice", subject.DefaultLattice, "wasmCloud lattice name")
	fs.StringVar(&opts.StateDir, "state-dir", "", "directory for state and the runtime file (default $XDG_STATE_HOME/wasmcanvas)")
	fs.StringVar(&opts.Listen, "listen", daemon.DefaultListen, "HTTP API address (port 0: any free port)")
	fs.StringVar(&opts.KubeListen, "kube-listen", daemon.DefaultKubeListen, "TLS address of the Kubernetes-style API for kubectl (port 0: any free port, recorded in the runtime file; off: none); CA and certificate in --state-dir")
	fs.StringVar(&opts.IngressURL, "ingress-url", "", "base URL of the HTTP ingress, for the API urls in status")
	fs.StringVar(&opts.SystemApp, "system-app", "", "shared wadm application of ingress, messaging and canvas-bridge, which canvasd keeps deployed (default wasmcanvas-system)")
	fs.StringVar(&opts.BridgeImage, "bridge-image", "", "canvas-bridge provider archive in the system application: an OCI reference or a file:// URL of canvas-bridge.par.gz (default "+translate.BridgeImage(version.Version)+")")
	fs.StringVar(&opts.IngressAddress, "ingress-address", translate.DefaultIngressAddress, "HOST:PORT the system application's http-server provider listens on, on each host")
	fs.IntVar(&opts.Workers, "workers", 0, "Components reconciled at once (default 4)")
	fs.DurationVar(&opts.Resync, "resync", 0, "re-examine every Component this often (default 30s)")
	fs.DurationVar(&opts.WadmTimeout, "wadm-timeout", 0, "timeout of each wadm API request (default 5s)")
	fs.StringVar(&opts.LatticeDir, "lattice-dir", "", "lattice `DIR` written by canvas lattice init: warn in a Component's events about placement sites it does not list (checked on each pass)")
	fs.StringArrayVar(&opts.PeerCanvases, "peer-canvas", nil, "base `URL` of another canvas's canvas-info service (repeatable): register this canvas's exposed APIs there and resolve dependent APIs against the APIs it lists")
	fs.DurationVar(&opts.PeerInterval, "peer-interval", 0, "how often each --peer-canvas is read and registered with (default 10s)")
	fs.StringVar(&opts.OIDCIssuer, "oidc-issuer", "", "accept bearer tokens of this external OpenID Provider (discovery + JWKS; e.g. https://keycloak.example.org/realms/canvas) instead of the embedded issuer at the API's /oidc")
	fs.StringVar(&opts.IssuerURL, "issuer-url", "", "the embedded issuer's URL as hosts reach it, http(s)://HOST[:PORT]"+daemon.IssuerPath+" (its iss; canvas-bridge verifies tokens against it; default the API's URL + "+daemon.IssuerPath+")")
	fs.StringVar(&opts.OIDCAudience, "oidc-audience", "", "the aud tokens for canvasd's API must carry (default "+identity.CanvasAudience+")")
	fs.StringVar(&opts.KeycloakAdminClient, "keycloak-admin-client", "", "with --oidc-issuer a Keycloak realm: register each Component with a securityFunction there (admin REST API) as this client (realm-management manage-clients, view-users)")
	fs.StringVar(&opts.KeycloakAdminSecretFile, "keycloak-admin-secret-file", "", "file holding --keycloak-admin-client's secret")
	fs.StringVar(&opts.KeycloakSystemClient, "keycloak-system-client", "", "the canvas's client in the Keycloak realm, granted each canvasSystemRole (default "+identity.KeycloakSystemClient+")")
	fs.BoolVar(&opts.NoAuth, "no-auth", false, "serve the API without authentication (refused unless --listen is a loopback address)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	showVersion := fs.Bool("version", false, "print the version and exit")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "canvasd: %v (see --help)\n", err)
		return 2
	}
	if err := fromEnv(fs, os.LookupEnv); err != nil {
		fmt.Fprintln(stderr, "canvasd:", err)
		return 2
	}
	if *showVersion {
		fmt.Fprintln(os.Stdout, "canvasd", version.Version)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "canvasd: unexpected arguments %q (see --help)\n", fs.Args())
		return 2
	}
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fmt.Fprintf(stderr, "canvasd: --log-level %q: use debug, info, warn or error\n", logLevel)
		return 2
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(level)
	log, err := cfg.Build()
	if err != nil {
		fmt.Fprintln(stderr, "canvasd: logger:", err)
		return 1
	}
	defer func() { _ = log.Sync() }()
	opts.Logger = log

	d, err := daemon.New(opts)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 2*daemon.DefaultShutdownTimeout)
	err = d.Start(startCtx)
	cancel()
	if err != nil {
		log.Error("start failed", zap.Error(err))
		return 1
	}
	select {
	case <-ctx.Done():
		log.Info("signal received; shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), daemon.DefaultShutdownTimeout)
		defer cancel()
		if err := d.Shutdown(sctx); err != nil {
			log.Error("shutdown", zap.Error(err))
			return 1
		}
	case <-d.Done():
	}
	if err := d.Wait(); err != nil {
		log.Error("stopped", zap.Error(err))
		return 1
	}
	return 0
}

// flagNATSPort is the embedded nats-server's port, spelt as canvas up
// spells it.
const flagNATSPort = "nats-port"

// deprecated maps earlier flag spellings to the flag that replaced them.
var deprecated = map[string]string{"nats": lattice.FlagURL, "embedded-nats-port": flagNATSPort}

// aliases are flags bound to one value: the environment must not override
// one of them when the other was given on the command line.
var aliases = func() map[string]string {
	m := map[string]string{}
	for old, now := range deprecated {
		m[old], m[now] = now, old
	}
	return m
}()

// fromEnv sets every flag not given on the command line from CANVASD_<NAME>.
func fromEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		if alias := fs.Lookup(aliases[f.Name]); alias != nil && alias.Changed {
			return
		}
		env := "CANVASD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := lookup(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	})
	return errors.Join(errs...)
}
